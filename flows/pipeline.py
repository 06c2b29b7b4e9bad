"""The stages in order, as plain functions: discover -> read -> field integrity -> outputs.

The CLI calls them directly (no Prefect start-up cost); `flows/adhoc.py` wraps the same
functions as Prefect tasks. Nothing here logs or raises claim values: errors name files,
counts and rule ids only.
"""

from __future__ import annotations

import functools
import logging
import math
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property
from pathlib import Path

import polars as pl

from cleanclaim.flows.extract import MAX_BYTES, MAX_ROWS, Extract, read_extract, read_notes
from cleanclaim.flows.report import (
    files_table,
    sheet_rows,
    structural_rules,
    write_findings_file,
    write_report,
)
from cleanclaim.flows.x12 import ICD9_KIND
from cleanclaim.validators import findings as fnd
from cleanclaim.validators import summary
from cleanclaim.validators.catalog import Catalog
from cleanclaim.validators.checks import run_starts
from cleanclaim.validators.checks.context import index_notes
from cleanclaim.validators.codesets import Icd10cmEditions
from cleanclaim.validators.config import RunConfig
from cleanclaim.validators.engine import HISTORY_COLUMNS, run_rules
from cleanclaim.validators.errors import FAULTS, ExtractError
from cleanclaim.validators.integrity import check_integrity, rejected_row_findings
from cleanclaim.validators.notes import NoteIndex

log = logging.getLogger("cleanclaim")

EXTRACT_SUFFIXES = {".csv", ".tsv", ".txt", ".xlsx", ".parquet", ".837", ".x12", ".edi", ".dat"}
SIDECAR_SUFFIXES = (".notes.csv", ".mapping.yaml")

Progress = Callable[[str, str], None]  # (stage, file name)


@dataclass(frozen=True)
class InputFile:
    path: Path
    mapping: Path | None = None
    notes: Path | None = None


@dataclass
class FileOutcome:
    input: InputFile
    facts: dict = field(default_factory=dict)
    lines: pl.DataFrame | None = (
        None  # typed lines, OUTCOME_COLUMNS (PHI stays in memory, never in logs)
    )
    findings: pl.DataFrame = field(default_factory=fnd.empty)
    error: ExtractError | None = None


# What the workbook reports of each file (Run.files): its reader's and checker's facts.
FILE_FACTS = {
    "format": pl.String,
    "encoding": pl.String,
    "lines": pl.Int64,
    "claims": pl.Int64,
    "findings": pl.Int64,
    "rejected_rows": pl.Int64,
    "mapping_file": pl.String,
    "notes_file": pl.String,
}
FILES_SCHEMA = {
    "file": pl.String,
    "reason": pl.String,
    "problem": pl.String,
    "expected": pl.String,
    **FILE_FACTS,
}


@dataclass
class Run:
    outcomes: list[FileOutcome]
    catalog: Catalog
    as_of: date
    started: datetime
    seconds: float = 0.0

    # The latest decision per finding key (validators/decisions.py DECISION_SCHEMA), from the run
    # history; none for a run without one.
    decisions: pl.DataFrame | None = None
    filing_days: dict[str, int] = field(default_factory=dict)  # RunConfig.timely_filing_days

    @cached_property
    def line_claims(self) -> pl.Series:
        """Each line's claim as an integer (summary.line_claims): what scoring joins on."""
        return summary.line_claims(self.lines)

    @cached_property
    def worked(self) -> pl.DataFrame:
        """What scoring reads of each finding, with its decision, its claim's number and `_f`,
        its row in the findings."""
        return summary.worked(self.findings, self.lines, self.line_claims, self.decisions)

    @cached_property
    def named(self) -> pl.DataFrame:
        """The lines each finding names: the join the claims and the Summary's dollars need."""
        return summary.finding_lines(self.lines, self.line_claims, self.worked)

    @cached_property
    def scored(self) -> pl.DataFrame:
        """The claims table with each claim's number, `_claim`, which the work order joins on."""
        return summary.claims(
            self.lines,
            self.line_claims,
            self.worked,
            self.named,
            self.catalog,
            as_of=self.as_of,
            filing_days=self.filing_days,
        )

    @cached_property
    def claims(self) -> pl.DataFrame:
        """Scored claims, dollars first (validators/scoring.py, validators/summary.py)."""
        return self.scored.drop("_claim")

    @cached_property
    def ordered(self) -> pl.DataFrame:
        """The findings in the order they are worked, with their attributed dollars: what the
        Summary counts by (summary.ORDER_COLUMNS), each finding's row in the findings `_f`."""
        ordered = summary.work_order(self.worked, self.scored, self.named)
        del self.__dict__["worked"]  # the claims and the work order hold what scoring needed of it
        return ordered

    def to_work(self, limit: int) -> tuple[pl.DataFrame, int]:
        """The first `limit` findings the Findings sheet lists (summary.to_work), whole, and how
        many it lists in all."""
        listed = summary.to_work(self.ordered, self.claims)
        first = self.ordered[listed.head(limit)]
        return summary.shown(self.findings, self.lines, self.decisions, first), listed.len()

    def in_order(self, rule_ids: list[str]) -> pl.DataFrame:
        """The findings of `rule_ids`, whole and as text, in the order they are worked."""
        return fnd.as_text(
            self.findings[self.ordered.filter(pl.col("rule_id").is_in(rule_ids))["_f"]]
        )

    @cached_property
    def files(self) -> pl.DataFrame:
        """One row per input file: how it was read (its facts), or why it was not (`reason`,
        `problem`, `expected` of its ExtractError)."""
        rows = [
            {
                "file": o.input.path.name,
                "reason": o.error.reason if o.error else None,
                "problem": o.error.problem if o.error else None,
                "expected": o.error.expected if o.error else None,
                **{k: o.facts.get(k) for k in FILE_FACTS},
            }
            for o in self.outcomes
        ]
        return pl.DataFrame(rows, schema=FILES_SCHEMA)

    @cached_property
    def tables(self) -> dict[str, pl.DataFrame]:
        return {
            "Files": files_table(self.files),
            **summary.summarize(self.claims, self.ordered, self.named, self.catalog, self.as_of),
        }

    @property
    def read(self) -> list[FileOutcome]:
        return [o for o in self.outcomes if o.error is None]

    @property
    def failed(self) -> list[FileOutcome]:
        return [o for o in self.outcomes if o.error is not None]

    @cached_property
    def lines(self) -> pl.DataFrame:
        frames = [o.lines for o in self.read if o.lines is not None and o.lines.height]
        return (
            pl.concat(frames, how="diagonal_relaxed")
            if frames
            else pl.DataFrame(schema=summary.LINES_SCHEMA)
        )

    @cached_property
    def findings(self) -> pl.DataFrame:
        read = [o.findings for o in self.read]
        names = [o.input.path.name for o in self.read]
        if len(set(names)) < len(names):  # two files of one name (two folders): rows may tie
            return fnd.ordered(pl.concat([fnd.empty(), *read], how="vertical_relaxed"))
        # each file's findings are in order already (check_parts)
        return fnd.merge_ordered(read)


def _sidecar(path: Path, suffix: str) -> Path | None:
    candidate = path.with_name(path.name[: -len(path.suffix)] + suffix)
    return candidate if candidate.is_file() else None


def discover(
    paths: list[str | Path], mapping: str | Path | None = None, notes: str | Path | None = None
) -> list[InputFile]:
    """Files and folders -> extracts, each with its mapping and notes.

    A folder contributes every extract in it (not its sidecars). A sidecar `X.mapping.yaml` or
    `X.notes.csv` beside `X.csv` is used unless --mapping / --notes name one for all files. A path
    that is neither a folder nor a file is kept: reading it sets it aside with its reason, and the
    other files are still validated.
    """
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            try:
                found += sorted(
                    p
                    for p in path.iterdir()
                    if p.is_file()
                    and not p.name.startswith(".")
                    and p.suffix.lower() in EXTRACT_SUFFIXES
                    and not p.name.lower().endswith(SIDECAR_SUFFIXES)
                )
            except OSError as exc:
                raise ExtractError(
                    str(path),
                    f"the folder cannot be listed ({exc.strerror or type(exc).__name__})",
                    "Check that you may read it.",
                    reason="unreadable",
                ) from None
        else:  # a file, or what is not one (a missing path, a pipe): set aside when it is read
            found.append(path)
    return [
        InputFile(
            p,
            Path(mapping) if mapping else _sidecar(p, ".mapping.yaml"),
            Path(notes) if notes else _sidecar(p, ".notes.csv"),
        )
        for p in found
    ]


def fault(path: Path, stage: str, exc: BaseException) -> ExtractError:
    """An unexpected exception as the file's reason: its type and where it was raised, never its
    message (library messages quote cell values)."""
    frames = traceback.extract_tb(exc.__traceback__) if exc.__traceback__ else []
    ours = [f for f in frames if Path(f.filename).parent.name in ("flows", "validators", "checks")]
    where = (ours or frames)[-1:]  # the line of cleanclaim's that called into the library
    at = f" at {Path(where[0].filename).name}:{where[0].lineno}" if where else ""
    return ExtractError(
        path,
        f"cleanclaim could not {stage} this file ({type(exc).__name__}{at})",
        "The other files were validated. Check that this one is a claim extract; if it is, "
        "report the problem with the text above (not the file: it holds PHI).",
        reason=f"{stage}_failed",
    )


def file_boundary(stage: str):
    """Whatever but an ExtractError leaves the decorated stage as the file's ExtractError (`fault`),
    raised outside the handler so that it chains nothing: Prefect keeps a failed task's exception
    text in its state, and library messages quote cell values."""

    def wrap(fn):
        @functools.wraps(fn)
        def inner(item: InputFile, *args, **kwargs):
            try:
                return fn(item, *args, **kwargs)
            except ExtractError:
                raise
            except FAULTS as exc:
                error = fault(item.path, stage, exc)
            raise error

        return inner

    return wrap


# A notes file up to this size is read beside the lines (much of reading either is one core's work:
# decoding, the field count, trimming); a larger one before them, so that its text and the lines'
# are never held at once.
NOTES_BESIDE_BYTES = 128 * 2**20


@file_boundary("read")
def load(
    item: InputFile,
    catalog: Catalog,
    *,
    encoding: str = "auto",
    max_rows: int = MAX_ROWS,
    threads: int = 1,
    max_bytes: int = MAX_BYTES,
) -> Extract:
    """Stage 1: read the file losslessly into the canonical frame (ExtractError if unusable), and its
    notes file into the index of what the rules read notes for: the note text is not kept, and does
    not travel with the lines into the parts of a large file."""

    def lines() -> Extract:
        return read_extract(
            item.path,
            mapping=item.mapping,
            encoding=encoding,
            max_rows=max_rows,
            max_bytes=max_bytes,
        )

    def notes() -> tuple[int, NoteIndex]:
        try:
            by_claim = read_notes(item.notes, encoding=encoding, max_bytes=max_bytes)
        except ExtractError as exc:  # the extract is set aside: say it is its notes file's fault
            raise ExtractError(
                item.notes,
                f"its notes file {item.notes.name} cannot be used: {exc.problem}",
                exc.expected,
                reason=exc.reason,
            ) from None
        return by_claim.height, index_notes(
            by_claim.select("claim_id", pl.col("clinical_note").alias("text")),
            catalog,
            key="claim_id",
            threads=threads,
        )

    if item.notes is None:
        return lines()
    if item.notes.is_file() and item.notes.stat().st_size > NOTES_BESIDE_BYTES:
        noted, index = notes()
        extract = lines()
    else:
        with ThreadPoolExecutor(max_workers=1) as pool:
            indexing = pool.submit(notes)
            extract = lines()
            noted, index = indexing.result()
    extract.notes = index
    extract.facts |= {"notes_file": item.notes.name, "claims_with_notes": noted}
    return extract


# Lines checked at once. A larger file is checked in parts of whole patients, so the memory a check
# needs follows the part, not the file; the findings are those of checking it whole
# (tests/test_history.py). The run's `threads` parts are checked at a time, in all the files of a
# run together: polars runs much of a check on one core (string kernels, the Python between
# operations), so parts overlap on several cores, each holding its part's memory.
CHECK_PART_LINES = 250_000

# What later stages read of the validated lines (the claims table and the run history); the other
# 30-odd columns are let go with the part, which at 5M lines is gigabytes.
OUTCOME_COLUMNS = list(dict.fromkeys([*summary.LINES_SCHEMA, *HISTORY_COLUMNS, "_failed"]))


def check(
    item: InputFile,
    extract: Extract,
    catalog: Catalog,
    as_of: date,
    config: RunConfig | None = None,
    history: pl.DataFrame | None = None,
    timings: dict[str, float] | None = None,
) -> FileOutcome:
    """Stage 2: field integrity (and the rows the reader set aside), then the coding rules.
    `history`: earlier runs' lines (validators/engine.py HISTORY_COLUMNS) for the duplicate and
    frequency rules. `timings`, when given, receives seconds for "field integrity" and each rule
    (summed over the parts). `config.threads` parts, or rules of a file in one part, at a time."""
    return check_parts(
        item,
        split_by_patient(extract, parts_needed(extract)),
        catalog,
        as_of,
        config,
        history,
        timings,
    )


def parts_needed(extract: Extract, lines_per_part: int | None = None) -> int:
    """Parts of at most `lines_per_part` lines (CHECK_PART_LINES, read when called)."""
    return max(1, math.ceil(extract.lines.height / (lines_per_part or CHECK_PART_LINES)))


@file_boundary("check")
def check_parts(
    item: InputFile,
    parts: list[Extract],
    catalog: Catalog,
    as_of: date,
    config: RunConfig | None = None,
    history: pl.DataFrame | None = None,
    timings: dict[str, float] | None = None,
    progress: Progress | None = None,
    parts_at_once: threading.BoundedSemaphore | None = None,
) -> FileOutcome:
    """`check` over an extract already split by patient; each part is let go once checked.
    `config.threads` parts are checked at a time, or, when there is one part, its rules;
    `parts_at_once` is the run's, when the files of a run share it (run).
    `timings` sums each stage over the parts, which overlap: more than the wall time."""
    config = config or RunConfig()
    if len(parts) == 1:  # a part checked alone runs its rules `threads` at a time instead
        return _check_part(
            item, parts.pop(), catalog, as_of, config, history, timings, config.threads
        )
    parts_at_once = parts_at_once or threading.BoundedSemaphore(config.threads)
    total, spent, said, done = len(parts), [{} for _ in parts], threading.Lock(), [0]

    def one(number: int, part: Extract) -> FileOutcome:
        with parts_at_once:
            outcome = _check_part(item, part, catalog, as_of, config, history, spent[number - 1])
        with said:  # a large file takes a while: say how far it is (parts finish in any order)
            done[0] += 1
            if progress:
                progress(f"checked {done[0]} of {total} parts of", item.path.name)
        return outcome

    with ThreadPoolExecutor(max_workers=config.threads) as pool:
        pending = [pool.submit(one, number, part) for number, part in enumerate(parts, 1)]
        parts.clear()  # only the pending checks hold the parts now, and each lets its part go when done
        outcomes = [future.result() for future in pending]
    if timings is not None:
        for part_timings in spent:
            for key, seconds in part_timings.items():
                timings[key] = timings.get(key, 0.0) + seconds
    return merge_outcomes(item, outcomes)


def _check_part(
    item: InputFile,
    extract: Extract,
    catalog: Catalog,
    as_of: date,
    config: RunConfig,
    history: pl.DataFrame | None,
    timings: dict[str, float] | None,
    rule_threads: int = 1,
) -> FileOutcome:
    name = item.path.name
    started = time.perf_counter()
    integrity = check_integrity(extract.lines, catalog, as_of)
    if timings is not None:
        timings["field integrity"] = time.perf_counter() - started
    rejected = rejected_row_findings(catalog, extract.rejected, name)
    coding = run_rules(
        integrity.lines,
        catalog,
        as_of,
        config,
        history,
        timings,
        threads=rule_threads,
        file_notes=extract.notes,
    )
    found = pl.concat(
        [_one_icd9_owner(integrity.findings, extract, catalog), rejected], how="vertical_relaxed"
    )
    # Field-integrity findings obey select/ignore too (per-payer settings apply to engine rules).
    found = found.filter(pl.col("rule_id").is_in([r for r in catalog.rules if config.selects(r)]))
    found = fnd.ordered(pl.concat([found, coding], how="vertical_relaxed"))
    fnd.FindingsModel.validate(found)  # the contract every later stage relies on
    facts = {
        **extract.facts,
        "lines": integrity.lines.height,
        "claims": integrity.lines["claim_id"].n_unique(),
        "findings": found.height,
    }
    log.info("validated %s: %d lines, %d findings", name, facts["lines"], found.height)
    return FileOutcome(
        item, facts=facts, lines=integrity.lines.select(OUTCOME_COLUMNS), findings=found
    )


def validate_file(
    item: InputFile,
    catalog: Catalog,
    as_of: date,
    *,
    config: RunConfig | None = None,
    encoding: str = "auto",
    max_rows: int = MAX_ROWS,
    max_bytes: int = MAX_BYTES,
    progress: Progress | None = None,
    history: pl.DataFrame | None = None,
    timings: dict[str, float] | None = None,
    parts_at_once: threading.BoundedSemaphore | None = None,
) -> FileOutcome:
    """One extract through every stage. A file that cannot be used is an outcome, not a crash:
    whatever goes wrong reading or checking it sets it aside with a reason, and the other files of
    the run complete. `timings`, when given, receives seconds for "load", "field integrity" and
    each rule; `parts_at_once`: the run's limit on parts checked at a time (check_parts)."""
    name = item.path.name
    started = time.perf_counter()
    stage = "read"
    try:
        if progress:
            progress("reading", name)
        extract = load(
            item,
            catalog,
            encoding=encoding,
            max_rows=max_rows,
            max_bytes=max_bytes,
            threads=(config or RunConfig()).threads,
        )
        if progress:
            progress("checking", name)
        if timings is not None:
            timings["load"] = time.perf_counter() - started
        stage = "check"
        parts = split_by_patient(extract, parts_needed(extract))
        # the parts hold the rows now: the text frame is not kept while they are checked
        del extract
        return check_parts(
            item, parts, catalog, as_of, config, history, timings, progress, parts_at_once
        )
    except ExtractError as exc:
        error = exc
    except FAULTS as exc:  # the file's boundary: any fault sets it aside
        error = fault(item.path, stage, exc)
    log.warning("file set aside: %s (%s)", name, error.reason)
    return FileOutcome(item, facts={"file": name}, error=error)


# Columns moved into the parts at once: polars gathers the columns of a select side by side on
# several cores, while only these columns are held twice.
SPLIT_COLUMNS = 6


def split_by_patient(extract: Extract, parts: int) -> list[Extract]:
    """One extract as `parts` extracts, each holding whole patients, so that the rules which need a
    patient's claims together (duplicates, NCCI across claims, frequency) still see them. A claim
    goes with its first line's patient; the rows the reader set aside go with the first part, and
    each part takes the notes file's index of its own claims.

    The extract's lines are consumed: they move into the parts a few columns at a time, so a large file
    is never held twice (a 5M-line file's text frame is gigabytes); afterwards `extract.lines` is empty."""
    if parts <= 1:
        return [extract]
    lines = extract.lines
    # An extract writes a claim's lines together, and then a claim is its run of rows: each run's
    # first row gives its patient's part to the rows below it (forward fill), with no grouping at all,
    # when no claim id (nor the rows without one) starts two runs, as their hashes show: distinct
    # hashes are distinct ids, and a collision only sends the file the slower way (finding out is
    # cheaper than grouping the ids). Otherwise the ids are grouped.
    claim = pl.col("claim_id")
    start = run_starts("claim_id")
    runs = lines.select(claim.filter(start), pl.col("patient_id").filter(start))
    part = pl.col("patient_id").hash(seed=7) % parts
    if runs.select(claim.hash().n_unique() == pl.len()).item():
        key = lines.select(pl.when(start).then(part).forward_fill().alias("_part"))["_part"]
        claim_parts = runs.select("claim_id", part.alias("_part"))
    else:
        key = lines.select(part.first().over(claim).alias("_part"))["_part"]
        claim_parts = lines.select("claim_id", key).unique("claim_id")
    del runs
    rows = [(key == i).arg_true() for i in range(parts)]
    pieces: list[list[pl.DataFrame]] = [[] for _ in range(parts)]
    names = lines.columns
    for start_at in range(0, len(names), SPLIT_COLUMNS):
        group = names[start_at : start_at + SPLIT_COLUMNS]
        columns = lines.select(group)
        extract.lines = lines = lines.drop(
            group
        )  # the only other reference, so the columns go below
        for i in range(parts):
            pieces[i].append(
                columns[rows[i]]
            )  # a frame's take: gather expressions cost twice as much
        del columns
    empty = extract.rejected.clear()
    split = [
        Extract(
            pl.concat(pieces[i], how="horizontal"),
            extract.rejected if i == 0 else empty,
            extract.facts,
        )
        for i in range(parts)
    ]
    if extract.notes is not None:  # a part sent to a Dask worker takes only its claims' notes
        for piece, notes in zip(
            split, extract.notes.partitioned(claim_parts.drop_nulls("claim_id"), parts), strict=True
        ):
            piece.notes = notes
    return split


def merge_outcomes(item: InputFile, parts: list[FileOutcome]) -> FileOutcome:
    """The parts of one extract checked separately, as if checked whole. A problem reported for
    the file rather than a row (no source row) is reported once. The parts' findings are moved
    out of them (fnd.merge_ordered)."""
    pieces = [p.findings for p in parts]
    for part in parts:
        part.findings = fnd.empty()
    # no part holds another's rows: only a problem of the file's own is found in several
    per_file = [f.filter(pl.col("source_row").is_null()) for f in pieces]
    if any(f.height for f in per_file):
        once = pl.concat(per_file, how="vertical_relaxed").unique(maintain_order=True)
        pieces = [f.filter(pl.col("source_row").is_not_null()) for f in pieces]
        pieces.append(fnd.ordered(once))
    findings = fnd.merge_ordered(pieces)
    lines = pl.concat([p.lines for p in parts], how="diagonal_relaxed")
    facts = {
        **parts[0].facts,
        "lines": lines.height,
        "claims": sum(p.facts["claims"] for p in parts),
        "findings": findings.height,
    }
    return FileOutcome(item, facts=facts, lines=lines, findings=findings)


def check_duplicates_across(
    outcome: FileOutcome,
    catalog: Catalog,
    as_of: date,
    config: RunConfig,
    history: pl.DataFrame,
) -> FileOutcome:
    """A checked file's duplicate rules (check kind duplicate_service) run again over its lines,
    with `history` -- earlier runs' lines and those of the files before it in the same nightly
    run -- as the lines they compare with; its other findings stand. The lines are numbered
    again as one part (`_row`, `_claim_first`: what the engine keys findings by)."""
    rules = [
        r.id
        for r in catalog.by_stage("engine")
        if r.check == "duplicate_service" and config.selects(r.id)
    ]
    if not rules:
        return outcome
    row = pl.int_range(pl.len(), dtype=pl.Int64)
    lines = outcome.lines.with_columns(row.alias("_row")).with_columns(
        pl.col("_row").min().over("source_file", "claim_id").alias("_claim_first")
    )
    again = run_rules(lines, catalog, as_of, config.model_copy(update={"select": rules}), history)
    kept = outcome.findings.filter(~pl.col("rule_id").is_in(rules))
    findings = fnd.ordered(pl.concat([kept, again], how="vertical_relaxed"))
    return FileOutcome(
        outcome.input,
        facts={**outcome.facts, "findings": findings.height},
        lines=outcome.lines,
        findings=findings,
    )


def run(
    inputs: list[InputFile],
    catalog: Catalog,
    as_of: date,
    *,
    config: RunConfig | None = None,
    encoding: str = "auto",
    max_rows: int = MAX_ROWS,
    max_bytes: int = MAX_BYTES,
    progress: Progress | None = None,
) -> Run:
    """Every input through every stage, `config.threads` files at a time; the parts of large files
    share one limit of `config.threads` parts at a time across the run."""
    started, clock = datetime.now(), time.perf_counter()
    config = config or RunConfig()
    catalog = catalog.with_weights(config.weights)
    parts_at_once = threading.BoundedSemaphore(config.threads)
    # Files are independent; polars releases the GIL inside its operations, so several workers
    # overlap one file's Python overhead with another's work. Results keep the order of the inputs.
    with ThreadPoolExecutor(max_workers=min(config.threads, max(len(inputs), 1))) as pool:
        outcomes = list(
            pool.map(
                lambda item: validate_file(
                    item,
                    catalog,
                    as_of,
                    config=config,
                    encoding=encoding,
                    max_rows=max_rows,
                    max_bytes=max_bytes,
                    progress=progress,
                    parts_at_once=parts_at_once,
                ),
                inputs,
            )
        )
    return Run(
        outcomes,
        catalog,
        as_of,
        started,
        time.perf_counter() - clock,
        filing_days=config.timely_filing_days,
    )


def _one_icd9_owner(findings: pl.DataFrame, extract: Extract, catalog: Catalog) -> pl.DataFrame:
    """An 837P claim whose HI marks its diagnoses ICD-9-CM is reported once, by the rule of that
    problem (COD005): the same codes failing the ICD-10-CM format (FLD020) are the same defect."""
    icd9 = extract.rejected.filter(pl.col("kind") == ICD9_KIND)["claim_id"]
    if icd9.is_empty():
        return findings
    format_rules = [
        r.id
        for r in catalog.rules.values()
        if r.check == "field_integrity" and "icd10cm_format" in catalog.params[r.id].checks
    ]
    return findings.filter(
        ~(pl.col("rule_id").is_in(format_rules) & pl.col("claim_id").is_in(icd9.implode()))
    )


def write_outputs(
    result: Run,
    report: str | Path | None,
    findings_file: str | Path | None,
    trend: pl.DataFrame | None = None,
    progress: Progress | None = None,
    extra_sheets: Callable | None = None,
) -> dict:
    """The findings file (all findings) and the workbook (the most urgent claims and findings, bounded;
    a Trend sheet when the run history gives one; `extra_sheets`, report.write_workbook's, after
    them). `progress` hears of each stage as it starts."""
    step = progress or (lambda stage, name: None)
    out: dict = {}
    if findings_file:
        step("writing", "the findings file")
        started = time.perf_counter()
        out["findings_file"] = str(write_findings_file(result.findings, findings_file))
        log.info(
            "wrote %d findings in %.1f s", result.findings.height, time.perf_counter() - started
        )
    if report:
        step("scoring", "the claims")
        started = time.perf_counter()
        result.tables  # noqa: B018 -- claims, scores and Summary tables (cached): the workbook's input
        log.info("scored %d claims in %.1f s", result.claims.height, time.perf_counter() - started)
        step("writing", "the workbook")
        started = time.perf_counter()
        listed, total = result.to_work(sheet_rows())
        out |= write_report(
            report,
            files=result.files,
            claims=result.claims,
            findings=listed,
            findings_total=total,
            rejected=result.in_order(structural_rules(result.catalog)),
            tables=result.tables,
            catalog=result.catalog,
            as_of=result.as_of,
            started=result.started,
            seconds=result.seconds,
            line_count=result.lines.height,
            code_tables=Icd10cmEditions.of_catalog(result.catalog).used_for(
                result.lines["_service_date"], result.as_of
            ),
            findings_file=Path(findings_file).name
            if findings_file
            else "(not written: use --findings)",
            trend=trend,
            extra_sheets=extra_sheets,
        )
        log.info("wrote the workbook in %.1f s", time.perf_counter() - started)
        out["report"] = str(report)
    return out
