"""The stages in order, as plain functions: discover -> read -> field integrity -> outputs.

The CLI calls them directly (no Prefect start-up cost); `flows/adhoc.py` wraps the same
functions as Prefect tasks. Nothing here logs or raises claim values: errors name files,
counts and rule ids only.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import polars as pl

from flows.extract import MAX_ROWS, Extract, read_extract
from flows.report import write_findings_file, write_workbook
from validators import findings as fnd
from validators.catalog import Catalog
from validators.config import RunConfig
from validators.engine import run_rules
from validators.errors import ExtractError
from validators.integrity import check_integrity, rejected_row_findings
from validators.summary import summarize

log = logging.getLogger("cleanclaim")

EXTRACT_SUFFIXES = {".csv", ".tsv", ".txt", ".xlsx", ".parquet"}
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
    lines: pl.DataFrame | None = None  # typed lines (PHI stays in memory, never in logs)
    findings: pl.DataFrame = field(default_factory=fnd.empty)
    error: ExtractError | None = None


@dataclass
class Run:
    outcomes: list[FileOutcome]
    catalog: Catalog
    as_of: date
    started: datetime
    seconds: float = 0.0

    @property
    def read(self) -> list[FileOutcome]:
        return [o for o in self.outcomes if o.error is None]

    @property
    def failed(self) -> list[FileOutcome]:
        return [o for o in self.outcomes if o.error is not None]

    @property
    def lines(self) -> pl.DataFrame:
        frames = [o.lines for o in self.read if o.lines is not None and o.lines.height]
        return pl.concat(frames, how="diagonal_relaxed") if frames else pl.DataFrame(
            schema={"source_file": pl.String, "source_row": pl.Int64, "claim_id": pl.String,
                    "_line_number": pl.Int64, "_charge": pl.Float64})

    @property
    def findings(self) -> pl.DataFrame:
        return fnd.ordered(pl.concat([fnd.empty(), *(o.findings for o in self.read)], how="vertical_relaxed"))


def _sidecar(path: Path, suffix: str) -> Path | None:
    candidate = path.with_name(path.name[: -len(path.suffix)] + suffix)
    return candidate if candidate.is_file() else None


def discover(paths: list[str | Path], mapping: str | Path | None = None,
             notes: str | Path | None = None) -> list[InputFile]:
    """Files and folders -> extracts, each with its mapping and notes.

    A folder contributes every extract in it (not its sidecars). A sidecar `X.mapping.yaml` or
    `X.notes.csv` beside `X.csv` is used unless --mapping / --notes name one for all files.
    """
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found += sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith(".")
                            and p.suffix.lower() in EXTRACT_SUFFIXES
                            and not p.name.lower().endswith(SIDECAR_SUFFIXES))
        elif path.exists():
            found.append(path)
        else:
            raise ExtractError(str(path), "no such file or folder", "Check the path.", reason="unreadable")
    return [InputFile(p, Path(mapping) if mapping else _sidecar(p, ".mapping.yaml"),
                      Path(notes) if notes else _sidecar(p, ".notes.csv")) for p in found]


def load(item: InputFile, *, encoding: str = "auto", max_rows: int = MAX_ROWS) -> Extract:
    """Stage 1: read the file losslessly into the canonical frame (ExtractError if unusable)."""
    return read_extract(item.path, mapping=item.mapping, notes=item.notes, encoding=encoding, max_rows=max_rows)


def check(item: InputFile, extract: Extract, catalog: Catalog, as_of: date,
          config: RunConfig | None = None) -> FileOutcome:
    """Stage 2: field integrity (and the rows the reader set aside), then the coding rules."""
    config = config or RunConfig()
    name = item.path.name
    integrity = check_integrity(extract.lines, catalog, as_of)
    rejected = rejected_row_findings(catalog, extract.rejected, name)
    coding = run_rules(integrity.lines, catalog, as_of, config)
    found = pl.concat([integrity.findings, rejected], how="vertical_relaxed")
    # Field-integrity findings obey select/ignore too (per-payer settings apply to engine rules).
    found = found.filter(pl.col("rule_id").is_in([r for r in catalog.rules if config.selects(r)]))
    found = fnd.ordered(pl.concat([found, coding], how="vertical_relaxed"))
    fnd.FindingsModel.validate(found)  # the contract every later stage relies on
    facts = {**extract.facts, "lines": integrity.lines.height,
             "claims": integrity.lines["claim_id"].n_unique(), "findings": found.height}
    log.info("validated %s: %d lines, %d findings", name, facts["lines"], found.height)
    return FileOutcome(item, facts=facts, lines=integrity.lines, findings=found)


def validate_file(item: InputFile, catalog: Catalog, as_of: date, *, config: RunConfig | None = None,
                  encoding: str = "auto", max_rows: int = MAX_ROWS, progress: Progress | None = None) -> FileOutcome:
    """One extract through every stage. A file that cannot be used is an outcome, not a crash."""
    name = item.path.name
    try:
        if progress:
            progress("reading", name)
        extract = load(item, encoding=encoding, max_rows=max_rows)
    except ExtractError as exc:
        log.warning("file set aside: %s (%s)", name, exc.reason)
        return FileOutcome(item, facts={"file": name}, error=exc)
    if progress:
        progress("checking", name)
    return check(item, extract, catalog, as_of, config)


def run(inputs: list[InputFile], catalog: Catalog, as_of: date, *, config: RunConfig | None = None,
        encoding: str = "auto", max_rows: int = MAX_ROWS, progress: Progress | None = None) -> Run:
    started, clock = datetime.now(), time.perf_counter()
    # Files are independent; polars releases the GIL inside its operations, so two workers overlap
    # one file's Python overhead with another's work. Results keep the order of the inputs.
    with ThreadPoolExecutor(max_workers=min(2, max(len(inputs), 1))) as pool:
        outcomes = list(pool.map(lambda item: validate_file(item, catalog, as_of, config=config, encoding=encoding,
                                                            max_rows=max_rows, progress=progress), inputs))
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
        ("NCCI PTP edits", f"{result.catalog.codesets['ncci_ptp_curated'].table.height} curated + "
                           f"{result.catalog.codesets['ncci_ptp_cms'].table.height:,} imported from CMS"),
        ("MUE values", f"{result.catalog.codesets['mue_cms'].table.height:,} imported from CMS"
         if result.catalog.codesets["mue_cms"].table.height else
         "none imported: MUE001-MUE003 checked nothing (run `cleanclaim codesets import`)"),
        ("Files read", f"{len(result.read)} of {len(result.outcomes)}"),
        ("Claim lines validated", lines.height),
        ("Claims", lines.select(pl.struct("source_file", "claim_id").n_unique()).item() if lines.height else 0),
        ("Rows set aside (finding FLD025)", sum(o.facts.get("rejected_rows", 0) for o in result.read)),
        ("Full findings list", findings_file),
    ]
    warnings = [f"NOT READ: {o.input.path.name}: {o.error.problem}. {o.error.expected} "
                f"Its claims are not in this report." for o in result.failed]
    return {"facts": facts, "warnings": warnings, "findings_file": findings_file}


def files_table(result: Run) -> pl.DataFrame:
    """One row per input file: how it was read, or why it was not."""
    rows = []
    for o in result.outcomes:
        f = o.facts
        rows.append({
            "File": o.input.path.name,
            "Status": "read" if o.error is None else f"NOT READ: {o.error.reason}",
            "Format": f.get("format"), "Encoding": f.get("encoding"),
            "Lines": f.get("lines"), "Claims": f.get("claims"), "Findings": f.get("findings"),
            "Rows set aside": f.get("rejected_rows"),
            "Mapping": f.get("mapping_file"), "Notes": f.get("notes_file"),
        })
    return pl.DataFrame(rows, schema={"File": pl.String, "Status": pl.String, "Format": pl.String,
                                      "Encoding": pl.String, "Lines": pl.Int64, "Claims": pl.Int64,
                                      "Findings": pl.Int64, "Rows set aside": pl.Int64,
                                      "Mapping": pl.String, "Notes": pl.String})


def write_outputs(result: Run, report: str | Path | None, findings_file: str | Path | None) -> dict:
    """The findings file (all findings) and the workbook (Summary + the most urgent findings)."""
    out: dict = {}
    findings = result.findings
    if findings_file:
        out["findings_file"] = str(write_findings_file(findings, findings_file))
    if report:
        tables = {"Files": files_table(result), **summarize(result.lines, findings, result.catalog)}
        facts = run_facts(result, Path(findings_file).name if findings_file else "(not written: use --findings)")
        out |= write_workbook(report, facts, tables, findings)
        out["report"] = str(report)
    return out
