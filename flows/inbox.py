"""The nightly inbox, as plain filesystem steps the Prefect flow wraps (flows/nightly.py).

Every file in the inbox gets an outcome (`survey`): an extract is validated, quarantined with a
reason file, already processed, or left to settle (modified less than `settle_seconds` ago: still
being uploaded); anything else is ignored by a rule docs/nightly.md lists, and named.

Crash safety comes from the order of the steps for each extract (`publish`): its reports are
written (atomically, under names taken from the whole file name), its history rows and its outcome
for the day's consolidated workbook are staged, the file moves to archive/, and only then is its
content hash appended to the ledger. A run that dies between any two steps is finished by the next
one: a file still in the inbox is validated again and its reports rewritten under the same names; a
day whose consolidated workbook was never written is written from the staged outcomes. The ledger
never names a file whose claims reached no report.

No claim data passes through here: paths, hashes, counts and reasons only. Sender file names can
carry patient identifiers, so what reaches logs and Prefect names a file by its position and type
(`label`), never by its name.
"""

from __future__ import annotations

import contextlib
import fcntl
import filecmp
import hashlib
import json
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import polars as pl

from cleanclaim.flows import pipeline
from cleanclaim.flows.history import History, file_meta, private_folder
from cleanclaim.flows.pipeline import EXTRACT_SUFFIXES, SIDECAR_SUFFIXES, InputFile
from cleanclaim.validators.catalog import Catalog
from cleanclaim.validators.errors import ExtractError

LOCK_NAME = ".cleanclaim-nightly.lock"
LEDGER_NAME = "processed.jsonl"
SETTLE_SECONDS = 60
FOLDERS = ("archive", "quarantine")  # the inbox's own subfolders


class InboxBusyError(RuntimeError):
    """Another nightly run is working on this inbox."""


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@contextlib.contextmanager
def inbox_lock(inbox: Path) -> Iterator[Path]:
    """One nightly run at a time per inbox: an exclusive flock on LOCK_NAME. The kernel drops it
    when the holding process ends, however it ends, so a crashed run's lock is free at once and two
    runs can never both hold it. The file is never deleted: a run that deleted it could let the
    next lock a new file while a third still holds the old one."""
    lock = inbox / LOCK_NAME
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise InboxBusyError(
                f"another nightly run is working on {inbox} (it holds {lock.name}); wait for it "
                "to finish. A run that crashed holds nothing."
            ) from None
        holder = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}
        os.ftruncate(fd, 0)  # who holds it, for a person looking: the flock is the lock
        os.pwrite(fd, json.dumps(holder).encode(), 0)
        yield lock
    finally:
        os.close(fd)  # releases the flock


class Ledger:
    """Content hashes of the extracts already validated, one JSON line each (append-only, fsynced)."""

    def __init__(self, out: Path):
        self.path = private_folder(out / ".cleanclaim") / LEDGER_NAME

    def done(self) -> dict[str, dict]:
        if not self.path.exists():
            return {}
        entries = {}
        for line in self.path.read_text().splitlines():
            with contextlib.suppress(ValueError):  # a line torn by a crash: the file is redone
                entry = json.loads(line)
                entries[entry["sha256"]] = entry
        return entries

    def record(self, sha256: str, name: str, report: str) -> None:
        line = json.dumps(
            {
                "sha256": sha256,
                "file": name,
                "report": report,
                "at": datetime.now().isoformat(timespec="seconds"),
            }
        )
        with open(self.path, "a") as handle:
            handle.write(line + "\n")
            handle.flush()
            os.fsync(handle.fileno())


# --------------------------------------------------------------------------- what is in the inbox


@dataclass(frozen=True)
class Outcome:
    """What a run did with one inbox file. `name` may carry PHI: it is printed by the CLI and kept
    in the flow's in-memory result, never logged or sent to Prefect."""

    name: str
    outcome: str
    detail: str = ""
    attention: bool = False  # an ignored file somebody must deal with: the run ends Failed


@dataclass
class Survey:
    extracts: list[InputFile] = field(default_factory=list)  # to validate now
    refused: list[tuple[InputFile, ExtractError]] = field(default_factory=list)  # to quarantine
    others: list[Outcome] = field(default_factory=list)  # left to settle, ignored, sidecars
    positions: dict[str, int] = field(default_factory=dict)  # name -> place in the listing


def label(survey: Survey, name: str) -> str:
    """How logs and Prefect name a file: its place in the inbox listing and a known type only."""
    suffix = Path(name).suffix.lower()
    kind = suffix if suffix in EXTRACT_SUFFIXES | {".xls", ".gz"} else "other type"
    return f"file {survey.positions.get(name, 0)} of {len(survey.positions)} ({kind})"


def _members(item: InputFile) -> list[Path]:
    """The extract and the sidecars that travel with it."""
    return [
        p
        for p in (item.path, item.mapping, item.notes)
        if p is not None and p.parent == item.path.parent
    ]


def _ignored_because(path: Path) -> str:
    """Why the inbox does not read a file that is not an extract (docs/nightly.md)."""
    name = path.name.lower()
    if path.name.startswith("."):
        return "hidden (its name starts with a dot, as upload tools name files in transit)"
    if not path.is_file():
        return "not a regular file (a folder, link to nothing, pipe or device)"
    if name.endswith((".gz", ".zip", ".bz2", ".xz", ".7z")):
        return "compressed: unpack it into the inbox (cleanclaim reads .csv, .xlsx, .837 ...)"
    if not Path(name).suffix:
        return "no extension: name it .csv, .tsv, .txt, .xlsx, .parquet, .837, .x12, .edi or .dat"
    return "not a type the inbox reads (.csv, .tsv, .txt, .xlsx, .parquet, .837, .x12, .edi, .dat)"


def xls_refusal(path: Path) -> ExtractError:
    return ExtractError(
        path.name,
        "a legacy Excel .xls workbook is not read",
        "Save it as Excel Workbook (.xlsx) or CSV UTF-8 and put it back in the inbox.",
        reason="encrypted_or_xls",
    )


def survey(inbox: Path, settle_seconds: float = SETTLE_SECONDS, now: float | None = None) -> Survey:
    """Every entry of the inbox, sorted by name, with what this run does with it."""
    now = time.time() if now is None else now
    entries = sorted(
        p for p in inbox.iterdir() if p.name != LOCK_NAME and not (p.is_dir() and p.name in FOLDERS)
    )
    found = Survey(positions={p.name: i for i, p in enumerate(entries, 1)})
    # files that arrive or leave while the inbox is listed (an upload renamed into place) are
    # the next run's: only what both listings saw is taken
    extracts = [i for i in pipeline.discover([inbox]) if i.path.name in found.positions]
    carried = {}
    for item in extracts:
        members = _members(item)
        for sidecar in members[1:]:
            carried.setdefault(sidecar.name, []).append(item.path.name)
        try:
            age = now - max(p.stat().st_mtime for p in members)
        except OSError:  # gone since it was listed
            age = -1.0
        if age < settle_seconds:
            found.others.append(
                Outcome(
                    item.path.name,
                    "left to settle",
                    f"modified {max(age, 0):.0f} s ago (or its sidecar was): still being "
                    f"written? The next run takes it once it is {settle_seconds:.0f} s old",
                )
            )
        else:
            found.extracts.append(item)
    taken = {item.path.name for item in extracts}
    for path in entries:
        if path.name in taken:
            continue
        if path.name in carried:
            found.others.append(
                Outcome(path.name, "sidecar", f"travels with {', '.join(carried[path.name])}")
            )
        elif path.name.lower().endswith(SIDECAR_SUFFIXES) and path.is_file():
            found.others.append(
                Outcome(
                    path.name,
                    "ignored",
                    "a notes or mapping file without its extract (X.notes.csv goes with X.csv, "
                    "X.xlsx ...): left in the inbox until its extract arrives",
                    attention=True,
                )
            )
        elif path.suffix.lower() == ".xls" and path.is_file() and not path.name.startswith("."):
            found.refused.append((InputFile(path), xls_refusal(path)))
        else:
            found.others.append(
                Outcome(
                    path.name,
                    "ignored",
                    _ignored_because(path),
                    attention=path.is_file() and not path.name.startswith("."),
                )
            )
    return found


def signature(item: InputFile) -> tuple:
    """Size and modification time of an extract and its sidecars: a change means still uploading."""
    return tuple((p.stat().st_size, p.stat().st_mtime_ns) for p in _members(item) if p.exists())


# --------------------------------------------------------------------------- moving files


def _place(path: Path, folder: Path, tag: str, *, keep: bool) -> Path:
    """Move (or copy, `keep`) into folder; returns where it is. A different file already there under
    the name gets the content tag, so nothing is overwritten; the same content is not placed twice."""
    target = folder / path.name
    if not path.exists():  # placed by an earlier attempt of this step
        return target
    folder.mkdir(parents=True, exist_ok=True)
    if target.exists() and not filecmp.cmp(path, target, shallow=False):
        target = folder / f"{path.stem}.{tag}{path.suffix}"
    if target.exists() and filecmp.cmp(path, target, shallow=False):
        if not keep:
            path.unlink()
    elif keep:
        shutil.copy2(path, target)
    else:
        shutil.move(path, target)
    return target


def _still_needed(sidecar: Path, item: InputFile) -> bool:
    """A sidecar another extract in the inbox also uses (X.notes.csv beside X.csv and X.xlsx)."""
    return any(
        sidecar in (other.mapping, other.notes)
        for other in pipeline.discover([item.path.parent])
        if other.path != item.path
    )


def _move_with_sidecars(item: InputFile, folder: Path, sha256: str) -> Path:
    """Sidecars are copied first, the extract moved, then a sidecar no other extract in the inbox
    uses is removed: while the extract is in the inbox its sidecars are too, so a rerun after a
    crash sees the file whole, and a shared sidecar stays for the other extract."""
    tag = sha256[:12]
    sidecars = _members(item)[1:]
    for sidecar in sidecars:
        _place(sidecar, folder, tag, keep=True)
    moved = _place(item.path, folder, tag, keep=False)
    for sidecar in sidecars:
        if sidecar.exists() and not _still_needed(sidecar, item):
            sidecar.unlink()
    return moved


def archive(item: InputFile, inbox: Path, sha256: str) -> Path:
    return _move_with_sidecars(item, inbox / "archive", sha256)


def quarantine(item: InputFile, inbox: Path, sha256: str, error: ExtractError) -> Path:
    """Set the file aside with a reason file next to it saying what is wrong and what to do."""
    moved = _move_with_sidecars(item, inbox / "quarantine", sha256)
    reason = moved.with_name(moved.name + ".reason.txt")
    reason.write_text(
        f"{item.path.name} could not be validated ({error.reason}).\n\n"
        f"Problem: {error.problem}\nWhat to do: {error.expected}\n\n"
        f"Put the corrected file back in {inbox} and the next run picks it up.\n"
    )
    return moved


def internal_error(item: InputFile, stage: str, exc: BaseException) -> ExtractError:
    """A file that makes cleanclaim itself fail is that file's problem, named by the error's type
    only (library messages quote cell values)."""
    return ExtractError(
        item.path.name,
        f"cleanclaim failed while {stage} it ({type(exc).__name__})",
        "Report it to your cleanclaim maintainers with the file's type and size (not its "
        "contents); put the file back in the inbox once they have fixed it.",
        reason="internal_error",
    )


# --------------------------------------------------------------------------- reports


def report_paths(folder: Path, name: str) -> tuple[Path, Path]:
    """A file's reports, named after its whole name: X.csv, X.xlsx and X.837 never share one, and
    none can be named like the consolidated report (`consolidated_paths`: no extract suffix)."""
    return folder / f"{name}.denial-risk.xlsx", folder / f"{name}.findings.csv"


def consolidated_paths(folder: Path, as_of: date, run: int = 1) -> tuple[Path, Path]:
    """The day's consolidated reports; a later run of the same day writes `nightly-AS_OF-2...`."""
    stem = f"nightly-{as_of.isoformat()}" + (f"-{run}" if run > 1 else "")
    return folder / f"{stem}.denial-risk.xlsx", folder / f"{stem}.findings.csv"


def day_folder(out: Path, as_of: date) -> Path:
    """Where a run's reports go: one folder per as-of date."""
    return out / as_of.isoformat()


class DayOutcomes:
    """Each file's outcome staged for its day's consolidated workbook, until that is written:
    OUT/.cleanclaim/consolidate/AS_OF/SHA/ (Parquet and JSON, renamed into place whole). A run
    that crashes before the workbook is written leaves them, and the next run writes it."""

    def __init__(self, out: Path):
        self.folder = Path(out) / ".cleanclaim" / "consolidate"

    def save(self, as_of: date, sha256: str, outcome: pipeline.FileOutcome) -> None:
        private_folder(self.folder.parent)
        day = self.folder / as_of.isoformat()
        day.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(dir=day, prefix=f".{sha256[:12]}-"))
        error = outcome.error
        meta = {
            "name": outcome.input.path.name,
            "facts": outcome.facts,
            "error": None
            if error is None
            else {
                "path": error.path,
                "problem": error.problem,
                "expected": error.expected,
                "reason": error.reason,
            },
        }
        (scratch / "outcome.json").write_text(json.dumps(meta, default=str))
        outcome.findings.write_parquet(scratch / "findings.parquet")
        if outcome.lines is not None:
            outcome.lines.write_parquet(scratch / "lines.parquet")
        final = day / sha256
        shutil.rmtree(final, ignore_errors=True)  # an earlier attempt's outcome of the same content
        os.replace(scratch, final)

    def days(self) -> list[date]:
        if not self.folder.exists():
            return []
        return sorted(date.fromisoformat(p.name) for p in self.folder.iterdir() if p.is_dir())

    def load(self, as_of: date) -> list[pipeline.FileOutcome]:
        outcomes = []
        for folder in (self.folder / as_of.isoformat()).iterdir():
            if folder.name.startswith("."):  # a save that did not finish
                continue
            meta = json.loads((folder / "outcome.json").read_text())
            error = meta["error"]
            lines = folder / "lines.parquet"
            outcomes.append(
                pipeline.FileOutcome(
                    InputFile(Path(meta["name"])),
                    facts=meta["facts"],
                    lines=pl.read_parquet(lines) if lines.exists() else None,
                    findings=pl.read_parquet(folder / "findings.parquet"),
                    error=None
                    if error is None
                    else ExtractError(
                        error["path"], error["problem"], error["expected"], reason=error["reason"]
                    ),
                )
            )
        return sorted(outcomes, key=lambda o: o.input.path.name)

    def clear(self, as_of: date) -> None:
        shutil.rmtree(self.folder / as_of.isoformat(), ignore_errors=True)


def publish(
    outcome: pipeline.FileOutcome,
    sha256: str,
    read_signature: tuple,
    inbox: Path,
    out: Path,
    as_of: date,
    catalog: Catalog,
    run_id: str,
) -> str:
    """One validated file's steps in their crash-safe order; returns its outcome: "validated", or
    "left to settle" when the file changed since it was read (the sender was still writing it)."""
    item = outcome.input
    report, findings = report_paths(day_folder(out, as_of), item.path.name)
    if not item.path.exists() and _archived(item, inbox, sha256):  # a retry after the move
        archive(item, inbox, sha256)  # its sidecars, if the move was cut short
        Ledger(out).record(sha256, item.path.name, str(report))
        return "validated"
    if signature(item) != read_signature:
        return "left to settle"
    decided = History(out).latest_decisions()
    result = pipeline.Run([outcome], catalog, as_of, datetime.now(), decisions=decided)
    pipeline.write_outputs(result, report, findings)
    if signature(item) != read_signature:  # reports of a partial upload: rewritten next run
        report.unlink(missing_ok=True)
        findings.unlink(missing_ok=True)
        return "left to settle"
    History(out).stage(
        sha256,
        file_meta(item.path.name, run_id, as_of, result.claims.height, result.findings.height),
        result.lines,
        result.claims,
        result.findings,
    )
    DayOutcomes(out).save(as_of, sha256, outcome)
    archive(item, inbox, sha256)
    Ledger(out).record(sha256, item.path.name, str(report))
    return "validated"


def _archived(item: InputFile, inbox: Path, sha256: str) -> bool:
    """This content is in the archive under the extract's name (or its content-tagged name)."""
    folder, path = inbox / "archive", item.path
    return any(
        p.is_file() and file_sha256(p) == sha256
        for p in (folder / path.name, folder / f"{path.stem}.{sha256[:12]}{path.suffix}")
    )


def set_aside(
    item: InputFile, sha256: str, error: ExtractError, inbox: Path, out: Path, as_of: date
) -> None:
    """A file that cannot be used: its outcome staged for the day's workbook, then quarantined."""
    DayOutcomes(out).save(
        as_of, sha256, pipeline.FileOutcome(item, {"file": item.path.name}, error=error)
    )
    quarantine(item, inbox, sha256, error)


def staged_days(
    out: Path, catalog: Catalog, started: datetime, seconds: float
) -> dict[date, pipeline.Run]:
    """Every day with staged outcomes, as the run its consolidated workbook shows: tonight's, and
    any day whose workbook a crashed run never wrote."""
    days, decided = DayOutcomes(out), History(out).latest_decisions()
    return {
        day: pipeline.Run(days.load(day), catalog, day, started, seconds, decisions=decided)
        for day in days.days()
    }


def write_consolidated(
    out: Path, result: pipeline.Run, trend: pl.DataFrame | None, extra_sheets=None
) -> tuple[Path, Path] | None:
    """A day's consolidated workbook and findings, beside (never over) an earlier run's of the same
    day, with `extra_sheets` (the night's remittance outcomes) after its own; its staged outcomes
    are let go once written. Returns the paths written."""
    written = None
    if result.outcomes:
        folder = day_folder(out, result.as_of)
        run = 1
        while any(p.exists() for p in consolidated_paths(folder, result.as_of, run)):
            run += 1
        written = consolidated_paths(folder, result.as_of, run)
        pipeline.write_outputs(result, *written, trend=trend, extra_sheets=extra_sheets)
    DayOutcomes(out).clear(result.as_of)
    return written
