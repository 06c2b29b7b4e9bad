"""The nightly inbox's filesystem steps, without Prefect: lock, survey, publish, crash safety.

`night` below drives the steps in the order the flow (flows/nightly.py) runs them, in one process,
so that every crash point can be tested in seconds; tests/test_flows.py runs the flow itself.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest

from cleanclaim.flows import inbox as box
from cleanclaim.flows import pipeline
from cleanclaim.flows.history import History
from cleanclaim.flows.pipeline import discover
from cleanclaim.validators.contract import CANONICAL
from cleanclaim.validators.errors import ExtractError
from tests.conftest import AS_OF, REPO, write_csv

OLD = time.time() - 3600  # a modification time well past any settle time


class Crash(BaseException):
    """A process dying between two steps: nothing after it runs, no handler catches it."""


def age(folder: Path) -> None:
    for path in folder.iterdir():
        if path.is_file():
            os.utime(path, (OLD, OLD))


def night(catalog, inbox: Path, out: Path, settle: float = 0) -> dict[str, str]:
    """One nightly run's steps in the flow's order; returns each inbox file's outcome by name."""
    found = box.survey(inbox, settle)
    outcomes = {o.name: o.outcome for o in found.others}
    with box.inbox_lock(inbox):
        History(out).ingest()
        for item, error in found.refused:
            box.set_aside(item, box.file_sha256(item.path), error, inbox, out, AS_OF)
            outcomes[item.path.name] = "quarantined"
        done = box.Ledger(out).done()
        for item in found.extracts:
            before, sha = box.signature(item), box.file_sha256(item.path)
            if sha in done:
                box.archive(item, inbox, sha)
                outcomes[item.path.name] = "already processed"
                continue
            try:
                extract = pipeline.load(item, catalog)
            except ExtractError as exc:
                box.set_aside(item, sha, exc, inbox, out, AS_OF)
                outcomes[item.path.name] = "quarantined"
                continue
            outcome = pipeline.check(item, extract, catalog, AS_OF)
            outcomes[item.path.name] = box.publish(
                outcome, sha, before, inbox, out, AS_OF, catalog, "run"
            )
        History(out).ingest()
        for result in box.staged_days(out, catalog, datetime.now(), 0.0).values():
            box.write_consolidated(out, result, None)
    return outcomes


def claims_in(findings_csv: Path) -> set[str]:
    return set(pl.read_csv(findings_csv, infer_schema=False)["claim_id"].drop_nulls())


@pytest.fixture
def same_stem(tmp_path):
    """X.csv, X.xlsx and X.837 in one inbox sharing X.notes.csv, and a file named like the
    consolidated report: every one of them must reach its own report."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    write_csv(
        inbox / "X.csv", [{"claim_id": "CSV1", "procedure_code": "9921"}, {"claim_id": "CSV2"}]
    )
    shutil.copy(REPO / "sample_claims" / "front_desk_typos.xlsx", inbox / "X.xlsx")
    shutil.copy(REPO / "sample_claims" / "clearinghouse_batch.837", inbox / "X.837")
    shutil.copy(REPO / "sample_claims" / "spine_pain_clinic.notes.csv", inbox / "X.notes.csv")
    write_csv(
        inbox / f"nightly-{AS_OF.isoformat()}.csv",
        [{"claim_id": "NIGHT1", "procedure_code": "9921"}, {"claim_id": "NIGHT2"}],
    )
    age(inbox)
    return inbox


# --------------------------------------------------------------------------- the lock


def test_a_second_run_is_refused_while_the_first_holds_the_lock(tmp_path):
    with (
        box.inbox_lock(tmp_path),
        pytest.raises(box.InboxBusyError, match="another nightly run"),
        box.inbox_lock(tmp_path),
    ):
        pass
    with box.inbox_lock(tmp_path):  # released when the run ends
        pass


def test_a_lock_held_by_a_process_that_was_killed_is_free_at_once(tmp_path):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from cleanclaim.flows.inbox import inbox_lock\n"
            "with inbox_lock(Path(sys.argv[1])):\n    print('held', flush=True); time.sleep(60)",
            str(tmp_path),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(box.InboxBusyError), box.inbox_lock(tmp_path):
        pass
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    with box.inbox_lock(tmp_path) as lock:
        assert json.loads(lock.read_text())["pid"] == os.getpid()


def _take(inbox: str, start, log: str) -> None:
    start.wait()
    try:
        with box.inbox_lock(Path(inbox)):
            with open(log, "a") as handle:
                handle.write("in\n")
            time.sleep(0.02)
            with open(log, "a") as handle:
                handle.write("out\n")
    except box.InboxBusyError:
        pass


def test_many_takers_of_a_left_lock_never_hold_it_together(tmp_path):
    """8 processes released at once on a lock file a dead run left behind, 25 times: the old
    takeover (read, judge stale, unlink, create) let two hold it in 17 of 100 trials of 4."""
    context = multiprocessing.get_context("fork")
    worst, holders = 0, 0
    for trial in range(25):
        inbox = tmp_path / str(trial)
        inbox.mkdir()
        (inbox / box.LOCK_NAME).write_text(json.dumps({"pid": 999999, "host": "x", "since": 0}))
        log = inbox / "log.txt"
        log.touch()
        start = context.Barrier(8)
        takers = [
            context.Process(target=_take, args=(str(inbox), start, str(log))) for _ in range(8)
        ]
        for taker in takers:
            taker.start()
        for taker in takers:
            taker.join()
        depth = 0
        for line in log.read_text().split():
            depth += 1 if line == "in" else -1
            worst = max(worst, depth)
            holders += line == "in"
    assert worst == 1, f"{worst} processes held the lock at once"
    assert holders >= 25  # every trial had a holder


# --------------------------------------------------------------------------- every file named


def test_every_file_in_the_inbox_gets_an_outcome(catalog, tmp_path):
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    inbox.mkdir()
    write_csv(inbox / "good.csv", [{"claim_id": "G1"}])
    write_csv(inbox / "fresh.csv", [{"claim_id": "F1"}])
    (inbox / "old.xls").write_bytes(b"\xd0\xcf\x11\xe0" + b"\0" * 100)
    (inbox / "README").write_text("no extension")
    (inbox / "claims.csv.gz").write_bytes(b"\x1f\x8b")
    (inbox / ".upload.csv.part").write_text("in transit")
    (inbox / "lonely.notes.csv").write_text("claim_id,note_text\n")
    (inbox / "sub").mkdir()
    age(inbox)
    os.utime(inbox / "fresh.csv")  # still being written
    found = box.survey(inbox, 60)
    assert [i.path.name for i in found.extracts] == ["good.csv"]
    outcomes = night(catalog, inbox, out, settle=60)
    assert outcomes == {
        ".upload.csv.part": "ignored",
        "README": "ignored",
        "claims.csv.gz": "ignored",
        "fresh.csv": "left to settle",
        "good.csv": "validated",
        "lonely.notes.csv": "ignored",
        "old.xls": "quarantined",
        "sub": "ignored",
    }
    why = {o.name: o.detail for o in found.others}
    assert "compressed" in why["claims.csv.gz"] and "no extension" in why["README"]
    assert "dot" in why[".upload.csv.part"] and "without its extract" in why["lonely.notes.csv"]
    assert "s ago" in why["fresh.csv"]
    # what ends the run Failed for somebody to look: files it will never read, not dot-names
    assert {o.name for o in found.others if o.attention} == {
        "README",
        "claims.csv.gz",
        "lonely.notes.csv",
    }
    reason = (inbox / "quarantine" / "old.xls.reason.txt").read_text()
    assert "legacy Excel .xls" in reason and "Save it as Excel Workbook (.xlsx)" in reason
    assert sorted(p.name for p in inbox.iterdir()) == [
        ".cleanclaim-nightly.lock",
        ".upload.csv.part",
        "README",
        "archive",
        "claims.csv.gz",
        "fresh.csv",
        "lonely.notes.csv",
        "quarantine",
        "sub",
    ]
    # what reaches logs and Prefect: a place and a known type, never the name
    labels = [box.label(found, name) for name in found.positions]
    assert labels[0] == "file 1 of 8 (other type)" and labels[4] == "file 5 of 8 (.csv)"
    assert not any(name in label for name in found.positions for label in labels)


def test_a_file_that_settles_is_taken_by_the_next_run(catalog, tmp_path):
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    inbox.mkdir()
    write_csv(inbox / "a.csv", [{"claim_id": "A1"}])
    write_csv(inbox / "a.notes.csv.tmp", [])  # not its sidecar: ignored
    (inbox / "a.notes.csv").write_text("claim_id,note_text\nA1,seen today\n")
    os.utime(inbox / "a.csv", (OLD, OLD))  # the extract is old, its notes still arriving
    assert night(catalog, inbox, out, settle=60)["a.csv"] == "left to settle"
    assert not (out / AS_OF.isoformat()).exists() and not box.Ledger(out).done()
    age(inbox)
    assert night(catalog, inbox, out, settle=60)["a.csv"] == "validated"


def test_a_file_renamed_into_the_inbox_while_it_is_listed_is_the_next_runs(tmp_path, monkeypatch):
    write_csv(tmp_path / "a.csv", [{"claim_id": "A1"}])
    age(tmp_path)
    real = pipeline.discover

    def upload_lands(paths, *args, **kwargs):
        write_csv(tmp_path / ".b.csv.part", [{"claim_id": "B1"}])
        os.replace(tmp_path / ".b.csv.part", tmp_path / "b.csv")
        os.utime(tmp_path / "b.csv", (OLD, OLD))
        return real(paths, *args, **kwargs)

    monkeypatch.setattr(pipeline, "discover", upload_lands)
    found = box.survey(tmp_path, 60)
    assert [i.path.name for i in found.extracts] == ["a.csv"] and list(found.positions) == ["a.csv"]


def test_a_file_that_grows_while_it_is_validated_is_not_archived(catalog, tmp_path, monkeypatch):
    """The sender appends while the file is checked: its partial reports are removed, nothing is
    recorded, and the file stays for the next run."""
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    inbox.mkdir()
    write_csv(inbox / "a.csv", [{"claim_id": f"A{i}"} for i in range(20)])
    age(inbox)
    real = pipeline.write_outputs

    def appending(result, report, findings, trend=None):
        written = real(result, report, findings, trend)
        with open(inbox / "a.csv", "a") as handle:
            handle.write(",".join(["A99"] + [""] * (len(CANONICAL) - 1)) + "\n")
        return written

    monkeypatch.setattr(pipeline, "write_outputs", appending)
    assert night(catalog, inbox, out)["a.csv"] == "left to settle"
    assert (inbox / "a.csv").exists() and not box.Ledger(out).done()
    assert not list((out / AS_OF.isoformat()).glob("a.csv.*"))
    assert not (out / ".cleanclaim" / "pending").exists() or not list(
        (out / ".cleanclaim" / "pending").iterdir()
    )


# --------------------------------------------------------------------------- names and sidecars


def test_same_stem_files_and_a_shared_sidecar_each_reach_their_own_report(
    catalog, same_stem, tmp_path
):
    out = tmp_path / "out"
    outcomes = night(catalog, same_stem, out)
    assert outcomes == {
        "X.837": "validated",
        "X.csv": "validated",
        "X.notes.csv": "sidecar",
        "X.xlsx": "validated",
        "nightly-2026-09-30.csv": "validated",
    }
    day = out / AS_OF.isoformat()
    names = ["X.837", "X.csv", "X.xlsx", "nightly-2026-09-30.csv"]
    assert sorted(p.name for p in day.glob("*.findings.csv")) == sorted(
        [f"{n}.findings.csv" for n in names] + ["nightly-2026-09-30.findings.csv"]
    )
    per_file = {n: claims_in(day / f"{n}.findings.csv") for n in names}
    assert "CSV1" in per_file["X.csv"] and "NIGHT1" in per_file["nightly-2026-09-30.csv"]
    assert per_file["X.xlsx"] and per_file["X.837"] and per_file["X.xlsx"] != per_file["X.837"]
    consolidated = claims_in(day / "nightly-2026-09-30.findings.csv")
    assert consolidated == set().union(*per_file.values())
    assert sorted(p.name for p in (same_stem / "archive").iterdir()) == [
        "X.837",
        "X.csv",
        "X.notes.csv",
        "X.xlsx",
        "nightly-2026-09-30.csv",
    ]
    assert not [p for p in same_stem.iterdir() if p.is_file() and p.name != box.LOCK_NAME]
    ledger = box.Ledger(out).done().values()
    assert sorted(e["file"] for e in ledger) == sorted(names)
    assert all(Path(e["report"]).exists() for e in ledger)


def test_quarantine_moves_the_file_and_its_sidecars_with_a_reason(tmp_path):
    (tmp_path / "x.csv").write_text("")
    (tmp_path / "x.notes.csv").write_text("claim_id,note_text\n")
    (item,) = discover([tmp_path / "x.csv"])
    error = ExtractError(
        "x.csv", "the file is empty", "Export it again with its header row.", reason="empty_file"
    )
    moved = box.quarantine(item, tmp_path, "f" * 64, error)
    reason = (tmp_path / "quarantine" / "x.csv.reason.txt").read_text()
    assert (
        moved == tmp_path / "quarantine" / "x.csv"
        and (tmp_path / "quarantine" / "x.notes.csv").exists()
    )
    assert "the file is empty" in reason and "Export it again" in reason
    assert sorted(p.name for p in tmp_path.iterdir()) == ["quarantine"]


def test_archive_never_overwrites_an_earlier_file_of_the_same_name(tmp_path):
    for content in ("first", "second"):
        (tmp_path / "x.csv").write_text(content)
        (item,) = discover([tmp_path / "x.csv"])
        box.archive(item, tmp_path, box.file_sha256(item.path))
    kept = {p.read_text() for p in (tmp_path / "archive").iterdir()}
    assert kept == {"first", "second"}


def test_ledger_ignores_a_line_torn_by_a_crash(tmp_path):
    ledger = box.Ledger(tmp_path)
    ledger.record("a" * 64, "x.csv", "r.xlsx")
    with open(ledger.path, "a") as handle:
        handle.write('{"sha256": "b')  # the crash
    assert set(box.Ledger(tmp_path).done()) == {"a" * 64}


# --------------------------------------------------------------------------- crash points


def _crash_at(monkeypatch, owner, name: str, when, before: bool = False) -> None:
    """Crash after (or `before`) the first call of owner.name for which `when` holds."""
    real = getattr(owner, name)

    def then_crash(*args, **kwargs):
        if before and when(*args, **kwargs):
            raise Crash(name)
        done = real(*args, **kwargs)
        if when(*args, **kwargs):
            raise Crash(name)
        return done

    monkeypatch.setattr(owner, name, then_crash)


def _consolidated(result, report, *args, **kwargs) -> bool:
    return Path(report).name.startswith("nightly-2026-09-30.denial")


CRASH_POINTS = {
    "after the reports": (
        pipeline,
        "write_outputs",
        lambda r, report, *a, **k: "X." in str(report),
    ),
    "after the history rows": (History, "stage", lambda *a, **k: True),
    "after the day's outcome": (box.DayOutcomes, "save", lambda *a, **k: True),
    "mid-archive, sidecar copied": (shutil, "copy2", lambda *a, **k: True),
    "after the archive move": (box, "archive", lambda *a, **k: True),
    "after the ledger": (box.Ledger, "record", lambda *a, **k: True),
    "during the consolidated workbook": (pipeline, "write_outputs", _consolidated, True),
    "after the consolidated workbook": (pipeline, "write_outputs", _consolidated),
}


@pytest.mark.parametrize("point", list(CRASH_POINTS))
def test_a_crash_at_any_step_is_finished_by_the_next_run(catalog, same_stem, tmp_path, point):
    """Crash once at `point` (on the first file that reaches it), run again: every file's claims
    are in its report and in the day's consolidated report, each file is archived once, its
    history rows are kept once, and the ledger names no file whose report is missing."""
    out = tmp_path / "out"
    with pytest.MonkeyPatch.context() as patch:
        _crash_at(patch, *CRASH_POINTS[point])
        with pytest.raises(Crash):
            night(catalog, same_stem, out)
    for entry in box.Ledger(out).done().values():  # recorded only once reported and archived
        assert Path(entry["report"]).exists() and (same_stem / "archive" / entry["file"]).exists()
        assert not (same_stem / entry["file"]).exists()
    night(catalog, same_stem, out)
    day = out / AS_OF.isoformat()
    names = ["X.837", "X.csv", "X.xlsx", "nightly-2026-09-30.csv"]
    per_file = [claims_in(day / f"{n}.findings.csv") for n in names]
    assert claims_in(day / "nightly-2026-09-30.findings.csv") == set().union(*per_file)
    assert sorted(p.name for p in (same_stem / "archive").iterdir()) == [
        "X.837",
        "X.csv",
        "X.notes.csv",
        "X.xlsx",
        "nightly-2026-09-30.csv",
    ]
    assert not [p for p in same_stem.iterdir() if p.is_file() and p.name != box.LOCK_NAME]
    assert not list((out / ".cleanclaim" / "consolidate").iterdir())
    lines = History(out).lines(AS_OF)
    assert lines["_sha256"].n_unique() == 4
    assert lines.group_by("_sha256", "claim_id", "_line_number").len()["len"].max() == 1
    for entry in box.Ledger(out).done().values():
        assert Path(entry["report"]).exists()


def test_a_publish_retried_after_the_move_records_the_file(catalog, tmp_path, monkeypatch):
    """The ledger write fails (a full disk) after the file was archived; Prefect retries the task:
    the retry finds the file in the archive and records it, rather than losing track of it."""
    inbox, out = tmp_path / "inbox", tmp_path / "out"
    inbox.mkdir()
    write_csv(inbox / "a.csv", [{"claim_id": "A1"}])
    (inbox / "a.notes.csv").write_text("claim_id,note_text\nA1,seen\n")
    (item,) = discover([inbox])
    before, sha = box.signature(item), box.file_sha256(item.path)
    outcome = pipeline.check(item, pipeline.load(item, catalog), catalog, AS_OF)
    real = box.Ledger.record
    monkeypatch.setattr(box.Ledger, "record", lambda *a: (_ for _ in ()).throw(OSError(28, "full")))
    with pytest.raises(OSError):
        box.publish(outcome, sha, before, inbox, out, AS_OF, catalog, "run")
    monkeypatch.setattr(box.Ledger, "record", real)
    assert box.publish(outcome, sha, before, inbox, out, AS_OF, catalog, "run") == "validated"
    assert set(box.Ledger(out).done()) == {sha}
    assert sorted(p.name for p in (inbox / "archive").iterdir()) == ["a.csv", "a.notes.csv"]
    assert not list(inbox.glob("a.*"))


# --------------------------------------------------------------------------- the CLI's part


def test_the_temporary_prefect_server_sends_no_telemetry():
    """What `cleanclaim nightly` and `serve` set before Prefect loads its settings."""
    code = (
        "import os; os.environ.pop('PREFECT_SERVER_ANALYTICS_ENABLED', None)\n"
        "from cleanclaim.flows.cli import quiet_prefect_server; quiet_prefect_server()\n"
        "from prefect.settings import get_current_settings\n"
        "print(get_current_settings().server.analytics_enabled)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "False"


def test_the_settle_time_is_an_option_of_nightly():
    from cleanclaim.flows.cli import build_parser

    args = build_parser().parse_args(["nightly", "--inbox", "i", "--out", "o"])
    assert args.settle_seconds is None  # the flow's default, box.SETTLE_SECONDS
    args = build_parser().parse_args(
        ["nightly", "--inbox", "i", "--out", "o", "--settle-seconds", "0"]
    )
    assert args.settle_seconds == 0
