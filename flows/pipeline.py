"""The stages in order, as plain functions: discover -> read -> field integrity -> outputs.

The CLI calls them directly (no Prefect start-up cost); `flows/adhoc.py` wraps the same
functions as Prefect tasks. Nothing here logs or raises claim values: errors name files,
counts and rule ids only.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property
from pathlib import Path

import polars as pl

from flows.extract import MAX_ROWS, Extract, read_extract, read_notes
from flows.report import write_findings_file, write_workbook
from validators import findings as fnd
from validators import summary
from validators.catalog import Catalog
from validators.checks import run_starts
from validators.config import RunConfig
from validators.engine import HISTORY_COLUMNS, index_notes, run_rules
from validators.errors import ExtractError
from validators.integrity import check_integrity, rejected_row_findings
from validators.notes import NoteIndex
from validators.scoring import claim_key

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


@dataclass
class Run:
    outcomes: list[FileOutcome]
    catalog: Catalog
    as_of: date
    started: datetime
    seconds: float = 0.0

    @cached_property
    def affected(self) -> pl.DataFrame:
        """The lines each rule puts at risk: the join both the claims and the Summary's dollars need."""
        return summary.affected_lines(self.lines, self.findings)

    @cached_property
    def claims(self) -> pl.DataFrame:
        """Scored claims, most urgent first (validators/scoring.py)."""
        return summary.claims(self.lines, self.findings, self.affected, self.catalog)

    @cached_property
    def tables(self) -> dict[str, pl.DataFrame]:
        return {
            "Files": files_table(self),
            **summary.summarize(self.claims, self.findings, self.affected, self.catalog),
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
        if (
            len(read) == 1
        ):  # each file's findings are in order already (check_parts): not sorted again
            return read[0]
        return fnd.ordered(pl.concat([fnd.empty(), *read], how="vertical_relaxed"))


def _sidecar(path: Path, suffix: str) -> Path | None:
    candidate = path.with_name(path.name[: -len(path.suffix)] + suffix)
    return candidate if candidate.is_file() else None


def discover(
    paths: list[str | Path], mapping: str | Path | None = None, notes: str | Path | None = None
) -> list[InputFile]:
    """Files and folders -> extracts, each with its mapping and notes.

    A folder contributes every extract in it (not its sidecars). A sidecar `X.mapping.yaml` or
    `X.notes.csv` beside `X.csv` is used unless --mapping / --notes name one for all files.
    """
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found += sorted(
                p
                for p in path.iterdir()
                if p.is_file()
                and not p.name.startswith(".")
                and p.suffix.lower() in EXTRACT_SUFFIXES
                and not p.name.lower().endswith(SIDECAR_SUFFIXES)
            )
        elif path.exists():
            found.append(path)
        else:
            raise ExtractError(
                str(path), "no such file or folder", "Check the path.", reason="unreadable"
            )
    return [
        InputFile(
            p,
            Path(mapping) if mapping else _sidecar(p, ".mapping.yaml"),
            Path(notes) if notes else _sidecar(p, ".notes.csv"),
        )
        for p in found
    ]


# A notes file up to this size is read beside the lines (much of reading either is one core's work:
# decoding, the field count, trimming; 1M lines and their notes 2.7 -> 2.55 s); a larger one before
# them, so that its text and the lines' are never held at once (1M lines with 0.6 GB of real-length
# notes read together peaked at 2.2 GB).
NOTES_BESIDE_BYTES = 128 * 2**20


def load(
    item: InputFile, catalog: Catalog, *, encoding: str = "auto", max_rows: int = MAX_ROWS
) -> Extract:
    """Stage 1: read the file losslessly into the canonical frame (ExtractError if unusable), and its
    notes file into the index of what the rules read notes for: the note text is not kept, and does
    not travel with the lines into the parts of a large file."""

    def lines() -> Extract:
        return read_extract(item.path, mapping=item.mapping, encoding=encoding, max_rows=max_rows)

    def notes() -> tuple[int, NoteIndex]:
        by_claim = read_notes(item.notes, encoding=encoding)
        return by_claim.height, index_notes(
            by_claim.select("claim_id", pl.col("clinical_note").alias("text")),
            catalog,
            key="claim_id",
        )

    if item.notes is None:
        return lines()
    if item.notes.stat().st_size > NOTES_BESIDE_BYTES:
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
# needs follows the part, not the file (1M lines: 3.7 GB peak whole); the findings are those of
# checking it whole (tests/test_history.py). Two parts are checked at a time, in all the files of a
# run together: polars runs much of a check on one core (string kernels, the Python between
# operations), so two overlap on two cores (1M lines: 13.2 -> 11.0 s, 1.67 GB peak; 200k parts
# 11.2 s, 1.48 GB; 334k parts no faster, 1.94 GB).
CHECK_PART_LINES = 250_000
PARTS_AT_ONCE = threading.BoundedSemaphore(2)

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
    (summed over the parts)."""
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


def check_parts(
    item: InputFile,
    parts: list[Extract],
    catalog: Catalog,
    as_of: date,
    config: RunConfig | None = None,
    history: pl.DataFrame | None = None,
    timings: dict[str, float] | None = None,
    progress: Progress | None = None,
) -> FileOutcome:
    """`check` over an extract already split by patient; each part is let go once checked.
    `timings` sums each stage over the parts, which overlap (PARTS_AT_ONCE): more than the wall time."""
    if (
        len(parts) == 1
    ):  # a part checked alone runs its rules two at a time instead of two parts at a time
        return _check_part(
            item, parts.pop(), catalog, as_of, config, history, timings, rule_threads=2
        )
    total, spent, said, done = len(parts), [{} for _ in parts], threading.Lock(), [0]

    def one(number: int, part: Extract) -> FileOutcome:
        with PARTS_AT_ONCE:
            outcome = _check_part(item, part, catalog, as_of, config, history, spent[number - 1])
        with said:  # a 5M-line file takes a minute: say how far it is (parts finish in any order)
            done[0] += 1
            if progress:
                progress(f"checked {done[0]} of {total} parts of", item.path.name)
        return outcome

    with ThreadPoolExecutor(max_workers=2) as pool:
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
    config: RunConfig | None,
    history: pl.DataFrame | None,
    timings: dict[str, float] | None,
    rule_threads: int = 1,
) -> FileOutcome:
    config = config or RunConfig()
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
    found = pl.concat([integrity.findings, rejected], how="vertical_relaxed")
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
    progress: Progress | None = None,
    history: pl.DataFrame | None = None,
    timings: dict[str, float] | None = None,
) -> FileOutcome:
    """One extract through every stage. A file that cannot be used is an outcome, not a crash.
    `timings`, when given, receives seconds for "load", "field integrity" and each rule."""
    name = item.path.name
    started = time.perf_counter()
    try:
        if progress:
            progress("reading", name)
        extract = load(item, catalog, encoding=encoding, max_rows=max_rows)
    except ExtractError as exc:
        log.warning("file set aside: %s (%s)", name, exc.reason)
        return FileOutcome(item, facts={"file": name}, error=exc)
    if progress:
        progress("checking", name)
    if timings is not None:
        timings["load"] = time.perf_counter() - started
    parts = split_by_patient(extract, parts_needed(extract))
    del (
        extract
    )  # the parts hold the rows now: the whole text frame is not kept while they are checked
    return check_parts(item, parts, catalog, as_of, config, history, timings, progress)


# Columns moved into the parts at once: polars gathers the columns of a select side by side on both
# cores (1M lines in 4 parts: the split 1.05 -> 0.76 s), while only these columns are held twice
# (5M lines in 20 parts: no faster, +0.14 GB peak).
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
    # hashes are distinct ids, and a collision only sends the file the slower way (1M lines: 124 ->
    # 45 ms to find out, against grouping the ids). Otherwise the ids are grouped.
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
    the file rather than a row (no source row) is reported once."""
    findings = pl.concat([p.findings for p in parts], how="vertical_relaxed")
    per_file = findings.filter(pl.col("source_row").is_null()).unique(maintain_order=True)
    findings = fnd.ordered(
        pl.concat([findings.filter(pl.col("source_row").is_not_null()), per_file])
    )
    lines = pl.concat([p.lines for p in parts], how="diagonal_relaxed")
    facts = {
        **parts[0].facts,
        "lines": lines.height,
        "claims": sum(p.facts["claims"] for p in parts),
        "findings": findings.height,
    }
    return FileOutcome(item, facts=facts, lines=lines, findings=findings)


def run(
    inputs: list[InputFile],
    catalog: Catalog,
    as_of: date,
    *,
    config: RunConfig | None = None,
    encoding: str = "auto",
    max_rows: int = MAX_ROWS,
    progress: Progress | None = None,
) -> Run:
    started, clock = datetime.now(), time.perf_counter()
    catalog = catalog.with_weights(config.weights if config else {})
    # Files are independent; polars releases the GIL inside its operations, so two workers overlap
    # one file's Python overhead with another's work. Results keep the order of the inputs.
    with ThreadPoolExecutor(max_workers=min(2, max(len(inputs), 1))) as pool:
        outcomes = list(
            pool.map(
                lambda item: validate_file(
                    item,
                    catalog,
                    as_of,
                    config=config,
                    encoding=encoding,
                    max_rows=max_rows,
                    progress=progress,
                ),
                inputs,
            )
        )
    return Run(outcomes, catalog, as_of, started, time.perf_counter() - clock)


def run_facts(result: Run, findings_file: str) -> dict:
    """What the Summary says about the run: counts and versions, never claim values."""
    lines = result.lines
    facts = [
        ("Run at", result.started.isoformat(sep=" ", timespec="seconds")),
        ("Took (seconds)", round(result.seconds, 2)),
        ("As-of date", result.as_of.isoformat()),
        ("Rules", len(result.catalog.rules)),
        ("Rule catalog version", result.catalog.version),
        ("ICD-10-CM release", result.catalog.codesets["icd10cm"].info.version),
        ("Place-of-service code set", result.catalog.codesets["place_of_service"].info.version),
        (
            "NCCI PTP edits",
            f"{result.catalog.codesets['ncci_ptp_curated'].table.height} curated + "
            f"{result.catalog.codesets['ncci_ptp_cms'].table.height:,} imported from CMS",
        ),
        (
            "MUE values",
            f"{result.catalog.codesets['mue_cms'].table.height:,} imported from CMS"
            if result.catalog.codesets["mue_cms"].table.height
            else "none imported: MUE001-MUE003 checked nothing (run `cleanclaim codesets import`)",
        ),
        ("Files read", f"{len(result.read)} of {len(result.outcomes)}"),
        ("Claim lines validated", lines.height),
        ("Claims", result.claims.height),
        (
            "Clean-claim rate",
            f"{(result.claims['status'] == 'clean').mean() or 0:.0%} of claims have no high or "
            f"medium finding",
        ),
        (
            "Rows set aside (finding FLD025)",
            sum(o.facts.get("rejected_rows", 0) for o in result.read),
        ),
        ("Full findings list", findings_file),
    ]
    warnings = [
        f"NOT READ: {o.input.path.name}: {o.error.problem}. {o.error.expected} "
        f"Its claims are not in this report."
        for o in result.failed
    ]
    return {"facts": facts, "warnings": warnings, "findings_file": findings_file}


def files_table(result: Run) -> pl.DataFrame:
    """One row per input file: how it was read, or why it was not."""
    rows = []
    for o in result.outcomes:
        f = o.facts
        rows.append(
            {
                "File": o.input.path.name,
                "Status": "read" if o.error is None else f"NOT READ: {o.error.reason}",
                "Format": f.get("format"),
                "Encoding": f.get("encoding"),
                "Lines": f.get("lines"),
                "Claims": f.get("claims"),
                "Findings": f.get("findings"),
                "Rows set aside": f.get("rejected_rows"),
                "Mapping": f.get("mapping_file"),
                "Notes": f.get("notes_file"),
            }
        )
    return pl.DataFrame(
        rows,
        schema={
            "File": pl.String,
            "Status": pl.String,
            "Format": pl.String,
            "Encoding": pl.String,
            "Lines": pl.Int64,
            "Claims": pl.Int64,
            "Findings": pl.Int64,
            "Rows set aside": pl.Int64,
            "Mapping": pl.String,
            "Notes": pl.String,
        },
    )


def rules_sheet(catalog: Catalog) -> pl.DataFrame:
    """The catalog as the Rules sheet: what each rule checks, its denial codes in words, its policy."""
    carc, rarc = catalog.codesets["carc"], catalog.codesets["rarc"]
    rows = []
    for r in catalog.rules.values():
        wording = [f"{r.carc}: {carc.wording(r.denial.carc)}"] if r.denial else []
        wording += [f"{code}: {rarc.wording(code)}" for code in (r.denial.rarc if r.denial else [])]
        rows.append(
            {
                "Rule": r.id,
                "Name": r.name,
                "Title": r.title,
                "Category": r.category,
                "Severity": r.severity,
                "Status": r.status,
                "Weight": r.weight,
                "Denial": f"{r.carc} {r.rarc}".strip(),
                "Denial wording": " ".join(wording),
                "Explanation": " ".join(r.explanation.replace("**", "").split()),
                "Policy": "; ".join(c.source for c in r.citation),
            }
        )
    return pl.DataFrame(rows)


def findings_sheet(result: Run, rules: pl.DataFrame) -> pl.DataFrame:
    """Findings of the claims that need action (hold or review), most dollars at risk first."""
    action = result.claims.filter(pl.col("status") != "clean").select("source_file", "claim")
    # keyed like the claims table, so a row without a claim id (its own claim) keeps its findings
    return (
        result.findings.with_columns(claim_key().alias("claim"))
        .join(action, on=["source_file", "claim"], how="semi")
        .join(
            rules.select(
                pl.col("Rule").alias("rule_id"),
                "Denial wording",
                pl.col("Policy").str.split("; ").list.first().alias("Policy"),
            ),
            on="rule_id",
            how="left",
        )
        .sort(
            pl.col("charge_at_risk").fill_null(0.0),
            pl.col("severity").replace_strict(fnd.SEVERITY_ORDER),
            "source_file",
            "source_row",
            descending=[True, False, False, False],
        )
        .select(
            pl.col("claim_id").alias("Claim ID"),
            pl.col("line_number").alias("Line"),
            pl.col("rule_id").alias("Rule"),
            pl.col("category").alias("Category"),
            pl.col("severity").alias("Severity"),
            pl.col("carc").alias("CARC"),
            pl.col("rarc").alias("RARC"),
            "Denial wording",
            pl.col("message").alias("Message"),
            pl.col("fix").alias("Fix"),
            "Policy",
            pl.col("charge_at_risk").alias("At risk"),
            pl.col("source_file").alias("File"),
            pl.col("source_row").alias("Row"),
        )
    )


def claims_sheet(result: Run) -> pl.DataFrame:
    """One row per claim, most urgent first: the identifiers, money and reasons an analyst works from
    (minimum necessary: no names, no dates of birth, no note text)."""
    return result.claims.select(
        pl.col("claim_id").alias("Claim ID"),
        pl.col("patient_id").alias("Patient ID"),
        pl.col("payer_id").alias("Payer"),
        pl.col("payer_name").alias("Payer name"),
        pl.col("provider").alias("Provider NPI"),
        pl.col("first_service").alias("First service"),
        pl.col("last_service").alias("Last service"),
        pl.col("lines").alias("Lines"),
        pl.col("billed").alias("Billed"),
        pl.col("at_risk").alias("At risk"),
        pl.col("score").alias("Score"),
        pl.col("status").alias("Status"),
        pl.col("top_reasons").alias("Top reasons"),
        pl.col("source_file").alias("File"),
    )


def problems_sheet(result: Run) -> pl.DataFrame:
    """Files and rows that could not be used, with the reason and what to do."""
    rows = [
        {
            "File": o.input.path.name,
            "Row": None,
            "Claim ID": None,
            "Problem": o.error.problem,
            "What to do": o.error.expected,
        }
        for o in result.failed
    ]
    frame = pl.DataFrame(
        rows,
        schema={
            "File": pl.String,
            "Row": pl.Int64,
            "Claim ID": pl.String,
            "Problem": pl.String,
            "What to do": pl.String,
        },
    )
    # rows set aside and structural problems: the row_structure rules of field integrity (FLD025, FLD027)
    structural = [
        r.id
        for r in result.catalog.rules.values()
        if r.check == "row_structure" and r.category == "field-integrity"
    ]
    rejected = result.findings.filter(pl.col("rule_id").is_in(structural)).select(
        pl.col("source_file").alias("File"),
        pl.col("source_row").alias("Row"),
        pl.col("claim_id").alias("Claim ID"),
        pl.col("message").alias("Problem"),
        pl.col("fix").alias("What to do"),
    )
    return pl.concat([frame, rejected])


def write_outputs(
    result: Run,
    report: str | Path | None,
    findings_file: str | Path | None,
    trend: pl.DataFrame | None = None,
) -> dict:
    """The findings file (all findings) and the workbook (the most urgent claims and findings, bounded;
    a Trend sheet when the run history gives one)."""
    out: dict = {}
    if findings_file:
        out["findings_file"] = str(write_findings_file(result.findings, findings_file))
    if report:
        facts = run_facts(
            result, Path(findings_file).name if findings_file else "(not written: use --findings)"
        )
        rules = rules_sheet(result.catalog)
        out |= write_workbook(
            report,
            facts,
            result.tables,
            claims_sheet(result),
            findings_sheet(result, rules),
            rules,
            problems_sheet(result),
            trend,
        )
        out["report"] = str(report)
    return out
