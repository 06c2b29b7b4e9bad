"""Frames -> the files people open: the denial-risk workbook and the full findings file.

Safety: every text cell is written as text (a value starting with = + - @ TAB or CR never becomes
a formula, error literals such as #N/A stay text), control characters are replaced, over-long text
is cut with a count, and files are written to a temporary name and renamed into place, so a crash
never leaves a half-written report.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import os
import re
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from copy import copy
from datetime import date, datetime
from pathlib import Path

import polars as pl
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.formatting.rule import CellIsRule
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.hyperlink import Hyperlink
from openpyxl.worksheet.table import Table, TableColumn, TableStyleInfo

from cleanclaim.validators import decisions
from cleanclaim.validators import findings as fnd
from cleanclaim.validators.catalog import Catalog

EXCEL_MAX_ROWS = 1_048_576
EXCEL_MAX_TEXT = 32_767
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n")
ERROR_LITERAL = re.compile(
    r"^#(N/A|NULL!|DIV/0!|VALUE!|REF!|NAME\?|NUM!|GETTING_DATA|SPILL!|CALC!)$"
)

HEADER_FONT = Font(bold=True, color="FFFFFF")
HEADER_FILL = PatternFill("solid", fgColor="1F4E78")
SEVERITY_FILLS = {"high": "F8CBAD", "medium": "FFE699", "low": "DDEBF7"}
MONEY = '"$"#,##0.00'
LINK_FONT = Font(color="0563C1", underline="single")


class SafeText:
    """Writes text cells that stay text, counting what had to be changed."""

    def __init__(self, ws):
        self.ws = ws
        self.truncated = 0
        # A style set on a cell is looked up in the workbook's style lists by hashing it, which cost
        # more than writing the cell: each combination is set once and its style ids copied after.
        self._styles: dict[tuple, tuple] = {}

    def __call__(self, value):
        if isinstance(value, datetime) and value.tzinfo is not None:
            # openpyxl raises TypeError on an aware datetime inside save() (T4): show local wall time
            return value.astimezone().replace(tzinfo=None)
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

    def styled(
        self,
        value,
        *,
        number_format: str | None = None,
        alignment: Alignment | None = None,
        font: Font | None = None,
    ):
        """A styled cell, with the same text safety. Only for the cells that need a style: per-cell
        styles make openpyxl several times slower."""
        safe = self(value)
        if isinstance(safe, Cell):  # text kept text carries its own quote prefix: styled in full
            return _style(safe, number_format, alignment, font)
        cell = WriteOnlyCell(self.ws, value=safe)
        # keyed by identity: the styles passed are module constants, kept alive by the entry
        key = (number_format, id(alignment), id(font))
        known = self._styles.get(key)
        if known is None or known[0] is not alignment or known[1] is not font:
            _style(cell, number_format, alignment, font)
            self._styles[key] = (alignment, font, copy(cell._style))
        else:
            cell._style = copy(known[2])
        return cell


def _style(cell: Cell, number_format: str | None, alignment: Alignment | None, font: Font | None):
    if number_format:
        cell.number_format = number_format
    if alignment:
        cell.alignment = alignment
    if font:
        cell.font = font
    return cell


def _header_row(ws, frame: pl.DataFrame) -> list[WriteOnlyCell]:
    """Bold white-on-blue headers, right-aligned over numbers so each sits above its column."""
    cells = []
    for name, dtype in frame.schema.items():
        cell = WriteOnlyCell(ws, value=name)
        cell.font, cell.fill = HEADER_FONT, HEADER_FILL
        cell.alignment = Alignment(
            vertical="top", wrap_text=True, horizontal="right" if dtype.is_numeric() else "left"
        )
        cells.append(cell)
    return cells


# A temporary file of a write that was killed is swept by the next write of the same output once it
# is this old: a write in progress keeps touching its file, so one untouched this long is debris.
STALE_TEMP_SECONDS = 600


def sweep_temp(final: Path) -> int:
    """Remove the stale temporary files a killed write of `final` left beside it; -> how many."""
    swept = 0
    for debris in final.parent.glob(f".tmp-{glob.escape(final.name)}.*"):
        with contextlib.suppress(OSError):  # another run may be sweeping it too
            if time.time() - debris.lstat().st_mtime > STALE_TEMP_SECONDS and debris.is_file():
                debris.unlink()
                swept += 1
    return swept


@contextlib.contextmanager
def atomic_path(final: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `final`; on success fsync and rename it into place (T18).
    Earlier writes' debris is swept first."""
    final = Path(final)
    if final.exists() and not final.is_file():  # never rename over a folder, a device or a pipe
        raise OSError(errno.EEXIST, "the output exists and is not a regular file", str(final))
    final.parent.mkdir(parents=True, exist_ok=True)
    sweep_temp(final)
    fd, tmp = tempfile.mkstemp(prefix=f".tmp-{final.name}.", suffix=final.suffix, dir=final.parent)
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
    return (
        pl.when(c.str.contains(r"^[=+\-@\t\r\n]")).then(pl.lit("'") + c).otherwise(c).alias(column)
    )


def write_findings_file(findings: pl.DataFrame, path: str | Path) -> Path:
    """All findings, unbounded: Parquet when the name ends in .parquet, CSV otherwise."""
    path = Path(path)
    # streamed: a categorical column becomes text a batch at a time, never a copy of every finding's
    plain = fnd.as_text(findings.lazy())
    with atomic_path(path) as tmp:
        if path.suffix.lower() == ".parquet":
            plain.sink_parquet(tmp, engine="streaming")
        else:
            text = [c for c, t in plain.collect_schema().items() if t == pl.String]
            plain.with_columns(neutralise_csv_text(c) for c in text).sink_csv(
                tmp, quote_style="non_numeric", engine="streaming"
            )
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


# Rows per sheet, for people: weeks of an analyst's work, most urgent first; everything is in the
# findings file. Also what keeps a large run's workbook quick to write: openpyxl writes cell by cell.
SHEET_ROW_LIMIT = 10_000
STATUS_FILLS = {"hold": "F8CBAD", "review": "FFE699", "clean": "C6EFCE"}
DATE = "yyyy-mm-dd"
# A finding's line charges overlap with other findings' (two findings on one line both name it);
# the dollars counted once at each finding (validators/summary.py work_order) add up.
LINE_CHARGE = "Line charge (not additive)"
COUNTED_ONCE = "At risk (counted once)"
MONEY_COLUMNS = frozenset(
    {
        "Billed",
        "At risk",
        "Dollars at risk",
        "Dollars named (not additive)",
        LINE_CHARGE,
        COUNTED_ONCE,
    }
)  # shown as currency wherever they appear
PERCENT_COLUMNS = frozenset({"Clean-claim rate", "Override rate", "False-positive rate"})
# Long text wraps within its column (a style per cell: only these columns).
WRAPPED_COLUMNS = frozenset({"Message", "Fix", "Denial wording", "Top reasons", "Reason"})
DECISION_LIST = '"' + ",".join(decisions.STATUSES) + '"'
SUM_COLUMNS = frozenset({"Lines", "Billed", "At risk", COUNTED_ONCE})  # the totals row's sums


def sheet_rows() -> int:
    """Rows a sheet shows at most (SHEET_ROW_LIMIT, read when called): Excel's limit is never reached."""
    return min(SHEET_ROW_LIMIT, EXCEL_MAX_ROWS - 1)


def _number_formats(frame: pl.DataFrame) -> dict[int, str]:
    """Column index -> number format: currency by column name, dates by type."""
    formats = {i: MONEY for i, c in enumerate(frame.columns) if c in MONEY_COLUMNS}
    formats |= {i: "0%" for i, c in enumerate(frame.columns) if c in PERCENT_COLUMNS}
    return (
        formats
        | {i: DATE for i, t in enumerate(frame.dtypes) if t == pl.Date}
        | {i: "yyyy-mm-dd hh:mm" for i, t in enumerate(frame.dtypes) if t == pl.Datetime}
    )


WRAP = Alignment(wrap_text=True, vertical="top")


def _cells(
    safe: SafeText, values: tuple, formats: dict[int, str], wrapped: frozenset[int] = frozenset()
) -> list:
    """One row's cells: text made safe, and a style only where a column needs a number format or
    wraps its text."""
    return [
        safe.styled(v, number_format=formats[i])
        if i in formats and v is not None
        else safe.styled(v, alignment=WRAP)
        if i in wrapped and v is not None
        else safe(v)
        for i, v in enumerate(values)
    ]


def _table_block(
    ws, safe: SafeText, row: int, heading: str, frame: pl.DataFrame
) -> tuple[int, int]:
    """A titled table on the Summary; returns (first data row, last data row)."""
    label = WriteOnlyCell(ws, value=heading)
    label.font = Font(bold=True, size=12)
    ws.append([])
    ws.append([label])
    ws.append(_header_row(ws, frame))
    formats = _number_formats(frame)
    for values in frame.iter_rows():
        ws.append(_cells(safe, values, formats))
    first = row + 4  # after a blank row, the title and the header
    return first, first + frame.height - 1


def _bar_chart(
    ws, title: str, labels_col: int, values_col: int, rows: tuple[int, int], anchor: str
) -> None:
    if rows[1] < rows[0]:
        return
    chart = BarChart()
    chart.type, chart.title, chart.legend = "bar", title, None
    chart.height, chart.width = 7, 14
    chart.x_axis.scaling.orientation = "maxMin"  # first row at the top, as in the table beside it
    chart.x_axis.delete = chart.y_axis.delete = (
        False  # openpyxl 3.1 hides both axes in Excel otherwise
    )
    data = Reference(ws, min_col=values_col, min_row=rows[0] - 1, max_row=rows[1])
    chart.add_data(data, titles_from_data=True)
    chart.set_categories(Reference(ws, min_col=labels_col, min_row=rows[0], max_row=rows[1]))
    ws.add_chart(chart, anchor)


def _summary_sheet(wb: Workbook, run: dict, tables: dict[str, pl.DataFrame]) -> SafeText:
    ws = _sheet(wb, "Summary", [34, 24, 14, 14, 14, 16, 14, 24, 24])
    safe = SafeText(ws)
    title = WriteOnlyCell(ws, value="cleanclaim denial-risk report")
    title.font = Font(bold=True, size=14)
    ws.append([title])
    ws.append([])
    row = 2
    left = Alignment(horizontal="left")  # numbers and text line up under each other
    for key, value in run["facts"]:
        ws.append([safe(key), safe.styled(value, alignment=left)])
        row += 1
    for warning in run["warnings"]:
        cell = WriteOnlyCell(ws, value=ILLEGAL_CHARACTERS_RE.sub("\ufffd", warning))
        cell.font = Font(bold=True, color="C00000")
        ws.append([cell])
        row += 1
    placed = {}
    for heading, frame in tables.items():
        placed[heading] = _table_block(ws, safe, row, heading, frame)
        row += 3 + frame.height
    # Pictures where a picture reads better than a table: claims by status, findings by category.
    status, category = placed.get("Claims by status"), placed.get("Findings by category")
    if status:
        _bar_chart(ws, "Claims by status", 1, 2, status, "K3")
    if category:
        _bar_chart(ws, "Findings by category", 1, 5, category, "K20")
    return safe


def _data_sheet(
    wb: Workbook,
    title: str,
    frame: pl.DataFrame,
    widths: list[int],
    *,
    links: dict[str, list[str | None]] | None = None,
    fills: dict[str, dict[str, str]] | None = None,
    table: str | None = None,
    freeze: str = "A2",
    totals: bool = False,
    choices: dict[str, str] | None = None,
) -> SafeText:
    """A bounded sheet of rows: frozen header (and the columns left of `freeze`), filters (or an
    Excel table), currency and date formats, long text wrapped, colours by conditional-formatting
    rule. `links` gives a column's cells a place to jump to, row by row ("'Rules'!A3");
    `totals` adds a row summing SUM_COLUMNS over the rows a filter leaves visible; `choices` gives
    a column a drop-down list (a data-validation formula). An empty Billed is written "unknown"."""
    ws = _sheet(wb, title, widths)
    safe = SafeText(ws)
    names = frame.columns
    last_col = get_column_letter(len(names))
    last_row = max(frame.height + 1, 2)
    ws.freeze_panes = freeze
    ws.print_title_rows = "1:1"
    sums = {
        names.index(c): get_column_letter(names.index(c) + 1) for c in SUM_COLUMNS if c in names
    }
    if table:
        ref_last = last_row + 1 if totals else last_row
        t = Table(displayName=table, ref=f"A1:{last_col}{ref_last}")
        t.tableColumns = [
            TableColumn(id=i, name=n) for i, n in enumerate(names, 1)
        ]  # write-only needs them
        if totals:
            t.totalsRowCount = 1
            t.tableColumns[0].totalsRowLabel = "Total"
            for i in sums:
                t.tableColumns[i].totalsRowFunction = "sum"
        t.tableStyleInfo = TableStyleInfo(name="TableStyleLight9", showRowStripes=True)
        with warnings.catch_warnings():
            warnings.simplefilter(
                "ignore"
            )  # "In write-only mode you must add table columns manually": done
            ws.add_table(t)
    else:
        ws.auto_filter.ref = f"A1:{last_col}{last_row}"
    for column, colours in (fills or {}).items():  # one rule per colour, not a style per cell
        letter = get_column_letter(names.index(column) + 1)
        for value, colour in colours.items():
            ws.conditional_formatting.add(
                f"{letter}2:{letter}{last_row}",
                CellIsRule(
                    operator="equal",
                    formula=[f'"{value}"'],
                    fill=PatternFill("solid", bgColor=colour),
                ),
            )
    for column, formula in (choices or {}).items():
        letter = get_column_letter(names.index(column) + 1)
        rule = DataValidation(type="list", formula1=formula, allow_blank=True)
        rule.add(f"{letter}2:{letter}{last_row}")
        ws.data_validations.append(rule)  # write-only sheets have no add_data_validation
    ws.append(_header_row(ws, frame))
    formats = _number_formats(frame)
    wrapped = frozenset(i for i, c in enumerate(names) if c in WRAPPED_COLUMNS)
    unknown = names.index("Billed") if "Billed" in names else None
    link_at = {
        names.index(c): (get_column_letter(names.index(c) + 1), targets)
        for c, targets in (links or {}).items()
    }
    for row_number, values in enumerate(frame.iter_rows(), 2):
        cells = _cells(safe, values, formats, wrapped)
        for i, (letter, targets) in link_at.items():
            if targets[row_number - 2] is not None:
                cell = safe.styled(values[i], font=LINK_FONT)
                cell.hyperlink = Hyperlink(
                    ref=f"{letter}{row_number}", location=targets[row_number - 2]
                )
                cells[i] = cell
        if unknown is not None and values[unknown] is None:
            cells[unknown] = safe.styled("unknown", alignment=RIGHT)
        ws.append(cells)
    if totals:
        ws.append(_totals_row(ws, names, sums, frame.height))
    return safe


RIGHT = Alignment(horizontal="right")


def _totals_row(ws, names: list[str], sums: dict[int, str], rows: int) -> list:
    """Total of each summed column over the rows a filter leaves visible (SUBTOTAL 109), so a
    filtered sum never adds the hidden rows."""
    cells: list = [None] * len(names)
    label = WriteOnlyCell(ws, value="Total")
    label.font = Font(bold=True)
    cells[0] = label
    for i, letter in sums.items():
        cell = WriteOnlyCell(ws, value=f"=SUBTOTAL(109,{letter}2:{letter}{max(rows + 1, 2)})")
        cell.font = Font(bold=True)
        cell.number_format = MONEY if names[i] in MONEY_COLUMNS else "#,##0"
        cells[i] = cell
    return cells


def _claim_links(claims: pl.DataFrame, findings: pl.DataFrame) -> list[str | None]:
    """Each claim's first row on the Findings sheet (none when its findings are not shown)."""
    keys = ["File", "Claim ID"]
    if not all(k in claims.columns and k in findings.columns for k in keys):
        return [None] * claims.height
    first = (
        findings.select(keys)
        .with_row_index("_row", offset=2)
        .group_by(keys)
        .agg(pl.col("_row").min())
    )
    rows = claims.select(keys).join(first, on=keys, how="left", maintain_order="left")["_row"]
    return [None if r is None else f"'Findings'!A{r}" for r in rows]


def _trend_sheet(wb: Workbook, trend: pl.DataFrame) -> SafeText:
    """One row per nightly run, oldest first, and the clean-claim rate drawn over them."""
    safe = _data_sheet(wb, "Trend", trend, [19, 11, 7, 12, 8, 9, 9, 10, 9, 16, 10, 14, 16])
    if trend.height:
        ws = safe.ws
        chart = LineChart()
        chart.title, chart.legend, chart.height, chart.width = (
            "Clean-claim rate by run",
            None,
            7,
            18,
        )
        chart.y_axis.number_format, chart.y_axis.scaling.min, chart.y_axis.scaling.max = "0%", 0, 1
        chart.x_axis.delete = chart.y_axis.delete = False  # openpyxl 3.1 hides both axes otherwise
        rate = trend.columns.index("Clean-claim rate") + 1
        chart.add_data(
            Reference(ws, min_col=rate, min_row=1, max_row=trend.height + 1), titles_from_data=True
        )
        chart.set_categories(Reference(ws, min_col=2, min_row=2, max_row=trend.height + 1))
        ws.add_chart(chart, f"A{trend.height + 4}")
    return safe


def write_workbook(
    path: str | Path,
    run: dict,
    tables: dict[str, pl.DataFrame],
    claims: pl.DataFrame,
    findings: pl.DataFrame,
    rules: pl.DataFrame,
    problems: pl.DataFrame,
    trend: pl.DataFrame | None = None,
    extra_sheets: Callable[[Workbook], list[SafeText]] | None = None,
    findings_total: int | None = None,
) -> dict:
    """The analyst's workbook: Summary, (Trend: the last nightly runs, when `trend` is given), Claims,
    Findings, Rules, Input problems, and after them `extra_sheets` (a night's remittance outcomes).

    `claims` and `findings` arrive most urgent first; each sheet shows at most sheet_rows() rows and
    the Summary says where the rest is. `findings` may be the first rows only of `findings_total`.
    `run` holds `facts` (label, value pairs), `warnings` and `findings_file`.
    """
    limit = sheet_rows()
    shown_of = findings.height if findings_total is None else findings_total
    totals = (("Claims", claims.height), ("Findings", shown_of))
    cut = {name: height - limit for name, height in totals if height > limit}
    notes = [
        f"The {name} sheet shows the {limit:,} most urgent of {limit + extra:,} rows; "
        f"every finding is in {run['findings_file']}."
        for name, extra in cut.items()
    ]
    run = {**run, "warnings": [*run["warnings"], *notes]}
    claims, findings = claims.head(limit), findings.head(limit)
    rule_rows = {rule: f"'Rules'!A{i}" for i, rule in enumerate(rules["Rule"].to_list(), 2)}
    wb = Workbook(write_only=True)
    wb.properties.creator = "cleanclaim"
    parts = [_summary_sheet(wb, run, tables)]
    if trend is not None:  # second: how tonight compares is the next thing a manager asks
        parts.append(_trend_sheet(wb, trend))
    parts += [
        _data_sheet(
            wb,
            "Claims",
            claims,
            [14, 9, 12, 12, 9, 7, 10, 22, 13, 12, 11, 11, 7, 60, 26],
            links={"Claim ID": _claim_links(claims, findings)},
            fills={"Status": STATUS_FILLS},
            table="Claims",
            freeze="B2",
            totals=True,
        ),
        _data_sheet(
            wb,
            "Findings",
            findings,
            [
                14,
                6,
                9,
                9,
                16,
                8,
                8,
                50,
                50,
                45,
                40,
                13,
                13,
                10,
                20,
                13,
                26,
                7,
                14,
                14,
                30,
                14,
                9,
                40,
            ],
            links={
                "Rule": [rule_rows.get(r) for r in findings["Rule"]]
                if "Rule" in findings.columns
                else []
            },
            fills={"Severity": SEVERITY_FILLS},
            freeze="B2",
            totals=True,
            choices={"Status": DECISION_LIST} if "Status" in findings.columns else None,
        ),
        _data_sheet(
            wb,
            "Rules",
            rules,
            [9, 34, 50, 18, 9, 9, 8, 14, 60, 100, 60],
            fills={"Severity": SEVERITY_FILLS},
        ),
        _data_sheet(wb, "Input problems", problems, [28, 8, 14, 90, 90]),
    ]
    if extra_sheets is not None:
        parts += extra_sheets(wb)
    with atomic_path(path) as tmp:
        wb.save(tmp)
    return {
        "rows_not_shown": cut.get("Findings", 0),  # what the findings file holds beyond the sheet
        "texts_truncated": sum(p.truncated for p in parts),
        "written_at": datetime.now().isoformat(timespec="seconds"),
    }


# --------------------------------------------------------------------------- the run's sheets
# Built from the run's tables (flows/pipeline.py Run: files, claims, findings and the summary
# tables), never from the Run itself, so the pipeline imports this module and not the reverse.


def run_facts(
    files: pl.DataFrame,
    claims: pl.DataFrame,
    catalog: Catalog,
    *,
    as_of: date,
    started: datetime,
    seconds: float,
    line_count: int,
    findings_file: str,
    code_tables: str,
) -> dict:
    """What the Summary says about the run: counts and versions, never claim values; `code_tables`
    names the ICD-10-CM table used for each fiscal year of the run's service dates."""
    read = files.filter(pl.col("reason").is_null())
    facts = [
        ("Run at", started.isoformat(sep=" ", timespec="seconds")),
        ("Took (seconds)", round(seconds, 2)),
        ("As-of date", as_of.isoformat()),
        ("Rules", len(catalog.rules)),
        ("Rule catalog version", catalog.version),
        ("ICD-10-CM table by fiscal year", code_tables),
        ("Place-of-service code set", catalog.codesets["place_of_service"].info.version),
        (
            "NCCI PTP edits",
            f"{catalog.codesets['ncci_ptp_curated'].table.height} curated + "
            f"{catalog.codesets['ncci_ptp_cms'].table.height:,} imported from CMS",
        ),
        (
            "MUE values",
            f"{catalog.codesets['mue_cms'].table.height:,} imported from CMS"
            if catalog.codesets["mue_cms"].table.height
            else "none imported: MUE001-MUE003 checked nothing (run `cleanclaim codesets import`)",
        ),
        ("Files read", f"{read.height} of {files.height}"),
        ("Claim lines validated", line_count),
        ("Claims", claims.height),
        (
            "Clean-claim rate",
            f"{(claims['status'] == 'clean').mean() or 0:.0%} of claims have no high or "
            f"medium finding",
        ),
        ("Rows set aside (finding FLD025)", read["rejected_rows"].sum()),
        ("Full findings list", findings_file),
    ]
    warnings = [
        f"NOT READ: {name}: {problem}. {expected} Its claims are not in this report."
        for name, problem, expected in files.filter(pl.col("reason").is_not_null())
        .select("file", "problem", "expected")
        .iter_rows()
    ]
    return {"facts": facts, "warnings": warnings, "findings_file": findings_file}


def files_table(files: pl.DataFrame) -> pl.DataFrame:
    """One row per input file: how it was read, or why it was not."""
    return files.select(
        pl.col("file").alias("File"),
        pl.when(pl.col("reason").is_null())
        .then(pl.lit("read"))
        .otherwise(pl.lit("NOT READ: ") + pl.col("reason"))
        .alias("Status"),
        pl.col("format").alias("Format"),
        pl.col("encoding").alias("Encoding"),
        pl.col("lines").alias("Lines"),
        pl.col("claims").alias("Claims"),
        pl.col("findings").alias("Findings"),
        pl.col("rejected_rows").alias("Rows set aside"),
        pl.col("mapping_file").alias("Mapping"),
        pl.col("notes_file").alias("Notes"),
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


def findings_sheet(listed: pl.DataFrame, claims: pl.DataFrame, rules: pl.DataFrame) -> pl.DataFrame:
    """Findings to work, in the order they are worked: `listed`, those the sheet lists
    (validators/summary.py to_work, shown), with their claims' payer and provider. The decision
    columns are at the right."""
    facts = claims.select("source_file", "claim", "payer_id", "payer_name", "provider")
    return (
        listed.join(facts, on=["source_file", "claim"], how="left", maintain_order="left")
        .join(
            rules.select(
                pl.col("Rule").alias("rule_id"),
                "Denial wording",
                pl.col("Policy").str.split("; ").list.first().alias("Policy"),
            ),
            on="rule_id",
            how="left",
            maintain_order="left",
        )
        .select(
            pl.col("claim_id").alias("Claim ID"),
            pl.col("line_number").alias("Line"),
            pl.col("rule_id").alias("Rule"),
            pl.col("severity").alias("Severity"),
            pl.col("category").alias("Category"),
            pl.col("carc").alias("CARC"),
            pl.col("rarc").alias("RARC"),
            pl.col("message").alias("Message"),
            pl.col("fix").cast(pl.String).alias("Fix"),
            "Denial wording",
            "Policy",
            pl.col("charge_at_risk").alias(LINE_CHARGE),
            pl.col("attributed").alias(COUNTED_ONCE),
            pl.col("payer_id").alias("Payer"),
            pl.col("payer_name").alias("Payer name"),
            pl.col("provider").alias("Provider NPI"),
            pl.col("source_file").alias("File"),
            pl.col("source_row").alias("Row"),
            pl.when("recurred")
            .then(pl.lit("fixed before, found again"))
            .otherwise(None)
            .alias("Recurred"),
            pl.col("status").alias("Status"),
            pl.col("reason").alias("Reason"),
            pl.col("owner").alias("Owner"),
            pl.col("seq").alias("Decision no."),
            pl.col("finding_key").alias("Finding key"),
        )
    )


def claims_sheet(claims: pl.DataFrame) -> pl.DataFrame:
    """One row per claim, dollars first: the identifiers, money and reasons an analyst works from
    (minimum necessary: no names, no dates of birth, no note text)."""
    return claims.select(
        pl.col("claim_id").alias("Claim ID"),
        pl.col("status").alias("Status"),
        pl.col("at_risk").alias("At risk"),
        pl.col("billed").alias("Billed"),
        pl.col("days_left").alias("Days left to file"),
        pl.col("score").alias("Score"),
        pl.col("payer_id").alias("Payer"),
        pl.col("payer_name").alias("Payer name"),
        pl.col("provider").alias("Provider NPI"),
        pl.col("patient_id").alias("Patient ID"),
        pl.col("first_service").alias("First service"),
        pl.col("last_service").alias("Last service"),
        pl.col("lines").alias("Lines"),
        pl.col("top_reasons").alias("Top reasons"),
        pl.col("source_file").alias("File"),
    )


def structural_rules(catalog: Catalog) -> list[str]:
    """The rules of rows set aside and structural problems: the row_structure rules of field
    integrity (FLD025, FLD027), the Input problems sheet's."""
    return [
        r.id
        for r in catalog.rules.values()
        if r.check == "row_structure" and r.category == "field-integrity"
    ]


def problems_sheet(files: pl.DataFrame, rejected: pl.DataFrame) -> pl.DataFrame:
    """Files and rows that could not be used, with the reason and what to do: the unread files,
    then `rejected`, the findings of structural_rules in the order they are worked."""
    unread = files.filter(pl.col("reason").is_not_null()).select(
        pl.col("file").alias("File"),
        pl.lit(None, dtype=pl.Int64).alias("Row"),
        pl.lit(None, dtype=pl.String).alias("Claim ID"),
        pl.col("problem").alias("Problem"),
        pl.col("expected").alias("What to do"),
    )
    rejected = rejected.select(
        pl.col("source_file").alias("File"),
        pl.col("source_row").alias("Row"),
        pl.col("claim_id").alias("Claim ID"),
        pl.col("message").alias("Problem"),
        pl.col("fix").cast(pl.String).alias("What to do"),
    )
    return pl.concat([unread, rejected])


def write_report(
    path: str | Path,
    *,
    files: pl.DataFrame,
    claims: pl.DataFrame,
    findings: pl.DataFrame,
    findings_total: int,
    rejected: pl.DataFrame,
    tables: dict[str, pl.DataFrame],
    catalog: Catalog,
    as_of: date,
    started: datetime,
    seconds: float,
    line_count: int,
    findings_file: str,
    code_tables: str,
    trend: pl.DataFrame | None = None,
    extra_sheets: Callable[[Workbook], list[SafeText]] | None = None,
) -> dict:
    """The run's workbook from its tables: `files` (flows/pipeline.py Run.files), the scored
    `claims`, the first sheet_rows() of the `findings_total` findings the Findings sheet lists
    (flows/pipeline.py Run.to_work), `rejected` (problems_sheet), the Summary's `tables`;
    `findings_file` is what the Summary names as the full list; `extra_sheets` are added after
    the run's own (write_workbook)."""
    facts = run_facts(
        files,
        claims,
        catalog,
        as_of=as_of,
        started=started,
        seconds=seconds,
        line_count=line_count,
        findings_file=findings_file,
        code_tables=code_tables,
    )
    rules = rules_sheet(catalog)
    return write_workbook(
        path,
        facts,
        tables,
        claims_sheet(claims),
        findings_sheet(findings, claims, rules),
        rules,
        problems_sheet(files, rejected),
        trend,
        extra_sheets,
        findings_total,
    )
