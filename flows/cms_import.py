"""Import CMS's quarterly NCCI files (practitioner PTP edits, practitioner MUEs) in their published layout.

CMS publishes each table as a workbook and as tab-delimited text: a few title and copyright lines,
then a header row, then the edits. PTP: `Column 1, Column 2, *=in existence prior to 1996,
Effective Date, Deletion Date *=no data, Modifier 0=not allowed 1=allowed 9=not applicable,
PTP Edit Rationale`, dates as YYYYMMDD. MUE: `HCPCS/CPT Code, Practitioner Services MUE Values,
MUE Adjudication Indicator ("2 Date of Service Edit: Policy"), MUE Rationale`. The PFS Relative
Value File (PPRRVU): `HCPCS, MOD, DESCRIPTION, ..., GLOB DAYS, ...`, of which the code's global
period (000, 010, 090, XXX, YYY, ZZZ, MMM) is kept for rows without a modifier. The header row is
found by its words, so the title lines may change without breaking the import.

`cleanclaim codesets import FILE...` replaces rules/codesets/ncci_ptp_cms.parquet and
mue_cms.parquet with what the files hold (the practitioner PTP table comes in several files:
give them all at once).
"""

from __future__ import annotations

import io
from pathlib import Path

import fastexcel
import polars as pl

from cleanclaim.flows.extract import normalise_header, sniff_format
from cleanclaim.flows.report import atomic_path
from cleanclaim.validators.errors import ExtractError

PTP_COLUMNS = {
    "column_1": "column_1",
    "column_2": "column_2",
    "effective_date": "effective_date",
    "deletion_date": "deletion_date",
    "modifier": "modifier_indicator",
    "ptp_edit_rationale": "rationale",
}
RVU_COLUMNS = {"hcpcs": "code", "mod": "modifier", "glob_days": "global_days"}
MUE_COLUMNS = {
    "hcpcs_cpt_code": "code",
    "practitioner_services_mue_values": "mue",
    "mue_adjudication_indicator": "adjudication_indicator",
    "mue_rationale": "rationale",
}


def _frame(path: Path) -> pl.DataFrame:
    """The file's first table as text columns, title lines included (they are found and cut below)."""
    if sniff_format(str(path)) == "xlsx":
        return (
            fastexcel.read_excel(str(path))
            .load_sheet(0, header_row=None, dtypes="string")
            .to_polars()
        )
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp1252")
    sep = "\t" if "\t" in text[:65536] else ","
    width = max(line.count(sep) for line in text[:65536].splitlines()) + 1
    # Title lines are shorter than the table: an explicit schema keeps every column of the table.
    return pl.read_csv(
        io.StringIO(text),
        has_header=False,
        separator=sep,
        quote_char='"',
        schema={f"c{i}": pl.String for i in range(width)},
        missing_columns="insert",
        truncate_ragged_lines=True,
    )


def _table(path: Path, frame: pl.DataFrame, wanted: dict[str, str]) -> pl.DataFrame:
    """Find the header row among the first rows by its words; return the rows below it, renamed."""
    for index, row in enumerate(frame.head(50).iter_rows()):
        found: dict[int, str] = {}
        for pos, cell in enumerate(row):
            name = normalise_header(cell or "")
            target = next((t for prefix, t in wanted.items() if name.startswith(prefix)), None)
            if target and target not in found.values():
                found[pos] = target
        if len(found) == len(wanted):
            body = frame.slice(index + 1)
            return body.select(
                pl.col(body.columns[pos]).fill_null("").alias(t) for pos, t in found.items()
            )
    raise ExtractError(
        str(path),
        "no header row with the CMS column names was found",
        f"Expected a CMS practitioner PTP or MUE file with columns like {', '.join(wanted)}.",
        reason="not_cms_file",
    )


def _date(column: str) -> pl.Expr:
    c = pl.col(column).str.strip_chars()
    return pl.coalesce(
        c.str.to_date("%Y%m%d", strict=False), c.str.to_date("%Y-%m-%d", strict=False)
    )


def parse(path: str | Path) -> tuple[str, pl.DataFrame]:
    """One CMS file -> ("ptp" | "mue" | "rvu", typed table). Raises ExtractError for anything else."""
    path = Path(path)
    frame = _frame(path)
    flat = " ".join(normalise_header(c or "") for r in frame.head(50).iter_rows() for c in r)
    if "column_1" in flat:
        table = _table(path, frame, PTP_COLUMNS).filter(
            pl.col("column_1").str.contains(r"^[0-9A-Z]{5}$")
        )
        return "ptp", table.select(
            "column_1",
            "column_2",
            _date("effective_date").alias("effective_date"),
            _date("deletion_date").alias("deletion_date"),  # "*" means no deletion date: null
            pl.col("modifier_indicator").str.strip_chars().cast(pl.Int8, strict=False),
            pl.col("rationale").str.strip_chars(),
        )
    if "glob_days" in flat:  # the PFS RVU file (PPRRVU): one row per code and modifier
        table = _table(path, frame, RVU_COLUMNS).filter(
            pl.col("code").str.contains(r"^[0-9A-Z]{5}$")
            & (pl.col("modifier").str.strip_chars() == "")
        )
        return "rvu", table.select("code", pl.col("global_days").str.strip_chars()).unique(
            "code", maintain_order=True
        )
    table = _table(path, frame, MUE_COLUMNS).filter(pl.col("code").str.contains(r"^[0-9A-Z]{5}$"))
    return "mue", table.select(
        "code",
        pl.col("mue").str.strip_chars().cast(pl.Int64, strict=False),
        pl.col("adjudication_indicator").str.extract(r"^\s*([123])").cast(pl.Int8),
        pl.col("rationale").str.strip_chars(),
    )


def import_files(paths: list[str | Path], codeset_dir: Path) -> dict[str, int]:
    """Parse every file, then replace the imported tables. Returns rows written per table."""
    parsed: dict[str, list[pl.DataFrame]] = {"ptp": [], "mue": [], "rvu": []}
    for path in paths:
        kind, table = parse(path)
        parsed[kind].append(table)
    written = {}
    targets = (
        ("ptp", "ncci_ptp_cms.parquet"),
        ("mue", "mue_cms.parquet"),
        ("rvu", "global_days_cms.parquet"),
    )
    for kind, target in targets:
        if parsed[kind]:
            table = pl.concat(parsed[kind]).unique(maintain_order=True)
            with atomic_path(codeset_dir / target) as tmp:
                table.write_parquet(tmp)
            written[kind] = table.height
    return written
