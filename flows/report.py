"""Frames -> the files people open: the denial-risk workbook and the full findings file.

Safety (../shared/RELIABILITY.md T1-T4, T18): every text cell is written as text (a value
starting with = + - @ TAB or CR never becomes a formula, error literals such as #N/A stay text),
control characters are replaced, over-long text is cut with a count, and files are written to a
temporary name and renamed into place, so a crash never leaves a half-written report.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import polars as pl
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.formatting.rule import CellIsRule
from openpyxl.utils import get_column_letter

from validators.findings import FINDINGS_COLUMNS

EXCEL_MAX_ROWS = 1_048_576
EXCEL_MAX_TEXT = 32_767
FINDINGS_SHEET_LIMIT = 100_000  # the workbook is for people; the full list goes to the findings file
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n")
ERROR_LITERAL = re.compile(r"^#(N/A|NULL!|DIV/0!|VALUE!|REF!|NAME\?|NUM!|GETTING_DATA|SPILL!|CALC!)$")

HEADER_FONT = Font(bold=True, color="FFFFFF")
HEADER_FILL = PatternFill("solid", fgColor="1F4E78")
SEVERITY_FILLS = {"high": "F8CBAD", "medium": "FFE699", "low": "DDEBF7"}
MONEY = '"$"#,##0.00'


class SafeText:
    """Writes text cells that stay text, counting what had to be changed."""

    def __init__(self, ws):
        self.ws = ws
        self.truncated = 0

    def __call__(self, value):
        if not isinstance(value, str):
            return value
        text = ILLEGAL_CHARACTERS_RE.sub("\ufffd", value)  # openpyxl raises, quoting the cell (T4)
        if len(text) > EXCEL_MAX_TEXT:
            text = text[: EXCEL_MAX_TEXT - 1] + "\u2026"
            self.truncated += 1
        if text.startswith(FORMULA_TRIGGERS) or ERROR_LITERAL.match(text):
            cell = WriteOnlyCell(self.ws, value=text)
            cell.data_type = "s"  # text, not formula or error (T1)
            cell.quotePrefix = True  # and it stays text if someone edits it
            return cell
        return text

    def styled(self, value, *, number_format: str | None = None, alignment: Alignment | None = None):
        """A styled cell, with the same text safety. Only for the few cells that need a style:
        per-cell styles make openpyxl 5x slower (STACK_NOTES.md 3.1)."""
        safe = self(value)
        cell = safe if isinstance(safe, Cell) else WriteOnlyCell(self.ws, value=safe)
        if number_format:
            cell.number_format = number_format
        if alignment:
            cell.alignment = alignment
        return cell


def _header_row(ws, names: list[str]) -> list[WriteOnlyCell]:
    cells = []
    for name in names:
        cell = WriteOnlyCell(ws, value=name)
        cell.font, cell.fill = HEADER_FONT, HEADER_FILL
        cell.alignment = Alignment(vertical="top", wrap_text=True)
        cells.append(cell)
    return cells


@contextlib.contextmanager
def atomic_path(final: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `final`; on success fsync and rename it into place (T18)."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=final.suffix, dir=final.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as handle:
            os.fsync(handle.fileno())
        # mkstemp makes 0600 files; give the report the permissions a plain open() would, so the
        # site's umask (077 on a PHI host) decides who may read it.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)
        os.replace(tmp_path, final)
        with contextlib.suppress(OSError):  # not every filesystem lets a directory be fsynced
            dir_fd = os.open(final.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
    finally:
        tmp_path.unlink(missing_ok=True)


# --------------------------------------------------------------------------- findings file


def neutralise_csv_text(column: str) -> pl.Expr:
    """OWASP CSV-injection guard for a text column: a leading = + - @ TAB CR LF gets a ' (T2)."""
    c = pl.col(column)
    return pl.when(c.str.contains(r"^[=+\-@\t\r\n]")).then(pl.lit("'") + c).otherwise(c).alias(column)


def write_findings_file(findings: pl.DataFrame, path: str | Path) -> Path:
    """All findings, unbounded: Parquet when the name ends in .parquet, CSV otherwise."""
    path = Path(path)
    with atomic_path(path) as tmp:
        if path.suffix.lower() == ".parquet":
            findings.write_parquet(tmp)
        else:
            text = [c for c, t in findings.schema.items() if t == pl.String]
            findings.with_columns(neutralise_csv_text(c) for c in text).write_csv(
                tmp, quote_style="non_numeric")
    return path


# --------------------------------------------------------------------------- workbook


def _sheet(wb: Workbook, title: str, widths: list[int]):
    """A write-only sheet with its layout set up front: openpyxl writes <sheetPr> and <cols>
    before the first row, so widths and fit-to-page set after appending are silently lost."""
    ws = wb.create_sheet(title)
    for i, width in enumerate(widths, 1):
        ws.column_dimensions[get_column_letter(i)].width = width
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0  # as many pages tall as needed, never wider than one
    ws.print_options.gridLines = False
    return ws


def _summary_sheet(wb: Workbook, run: dict, tables: dict[str, pl.DataFrame]) -> SafeText:
    ws = _sheet(wb, "Summary", [34, 24, 14, 14, 14, 16, 14, 24, 24])
    safe = SafeText(ws)
    title = WriteOnlyCell(ws, value="cleanclaim denial-risk report")
    title.font = Font(bold=True, size=14)
    ws.append([title])
    ws.append([])
    left = Alignment(horizontal="left")  # numbers and text line up under each other
    for key, value in run["facts"]:
        ws.append([safe(key), safe.styled(value, alignment=left)])
    if run["warnings"]:
        ws.append([])
        for warning in run["warnings"]:
            cell = WriteOnlyCell(ws, value=ILLEGAL_CHARACTERS_RE.sub("\ufffd", warning))
            cell.font = Font(bold=True, color="C00000")
            ws.append([cell])
    for heading, frame in tables.items():
        ws.append([])
        label = WriteOnlyCell(ws, value=heading)
        label.font = Font(bold=True, size=12)
        ws.append([label])
        ws.append(_header_row(ws, frame.columns))
        money = {i for i, c in enumerate(frame.columns) if "dollars" in c.lower() or "at risk" in c.lower()
                 or c.lower() == "billed"}
        for row in frame.iter_rows():
            ws.append([safe.styled(v, number_format=MONEY) if i in money and v is not None else safe(v)
                       for i, v in enumerate(row)])
    return safe


def _findings_sheet(wb: Workbook, findings: pl.DataFrame) -> SafeText:
    ws = _sheet(wb, "Findings", [14, 8, 9, 16, 9, 8, 10, 70, 70, 13, 26, 10])
    safe = SafeText(ws)
    names = list(FINDINGS_COLUMNS)
    ws.freeze_panes = "A2"
    ws.print_title_rows = "1:1"  # the header repeats on every printed page
    last = get_column_letter(len(names))
    ws.auto_filter.ref = f"A1:{last}{max(findings.height + 1, 2)}"
    money_col = names.index("charge_at_risk")
    sev_col = get_column_letter(names.index("severity") + 1)
    for severity, colour in SEVERITY_FILLS.items():  # one rule per colour, not a style per cell
        ws.conditional_formatting.add(
            f"{sev_col}2:{sev_col}{max(findings.height + 1, 2)}",
            CellIsRule(operator="equal", formula=[f'"{severity}"'], fill=PatternFill("solid", bgColor=colour)))
    ws.append(_header_row(ws, names))
    for row in findings.select(names).iter_rows():
        cells = [safe(v) for v in row]
        if row[money_col] is not None:
            cells[money_col] = safe.styled(row[money_col], number_format=MONEY)
        ws.append(cells)
    return safe


def write_workbook(path: str | Path, run: dict, tables: dict[str, pl.DataFrame], findings: pl.DataFrame) -> dict:
    """Summary + Findings (the most urgent first, bounded: Excel's row limit is never reached).

    `run` holds `facts` (label, value pairs), `warnings` and `findings_file`, where the full list is.
    """
    shown = findings.head(min(FINDINGS_SHEET_LIMIT, EXCEL_MAX_ROWS - 1))
    if shown.height < findings.height:
        run = {**run, "warnings": [*run["warnings"], (
            f"The Findings sheet shows the {shown.height:,} most urgent of {findings.height:,} findings; "
            f"all of them are in {run['findings_file']}.")]}
    wb = Workbook(write_only=True)
    summary = _summary_sheet(wb, run, tables)
    sheet = _findings_sheet(wb, shown)
    with atomic_path(path) as tmp:
        wb.save(tmp)
    return {"rows_not_shown": findings.height - shown.height, "texts_truncated": summary.truncated + sheet.truncated,
            "written_at": datetime.now().isoformat(timespec="seconds")}

