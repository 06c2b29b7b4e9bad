"""The workbook opens in a real spreadsheet program, not just in openpyxl: LibreOffice renders it to PDF.

LibreOffice is installed by .ci/run; on a developer machine without it the test is skipped, in CI
(CI=true) a missing LibreOffice fails the run instead of silently skipping the proof.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess

import pytest

from cleanclaim.flows.cli import main
from tests.conftest import REPO

pytestmark = pytest.mark.slow

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")


@pytest.fixture
def soffice():
    if SOFFICE is None:
        if os.environ.get("CI"):
            pytest.fail(
                "LibreOffice (soffice) is not installed: .ci/run installs libreoffice-calc-nogui"
            )
        pytest.skip("LibreOffice not installed (apt-get install libreoffice-calc-nogui)")
    return SOFFICE


def sample_workbook(tmp_path):
    samples = REPO / "sample_claims"
    report = tmp_path / "denial-risk.xlsx"
    main(
        [
            "validate",
            str(samples),
            "--config",
            str(samples / "cleanclaim.yaml"),
            "--as-of",
            "2026-09-30",
            "--report",
            str(report),
            "--findings",
            str(tmp_path / "f.csv"),
            "--quiet",
        ]
    )
    return report


def convert(soffice, tmp_path, report, target: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            soffice,
            f"-env:UserInstallation=file://{tmp_path / 'profile'}",
            "--headless",
            "--convert-to",
            target,
            "--outdir",
            str(tmp_path / "converted"),
            str(report),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def test_sample_workbook_renders_to_pdf_in_libreoffice(soffice, tmp_path):
    done = convert(soffice, tmp_path, sample_workbook(tmp_path), "pdf")
    pdf = tmp_path / "converted" / "denial-risk.pdf"
    assert done.returncode == 0 and pdf.exists(), done.stdout + done.stderr
    data = pdf.read_bytes()
    pages = len(re.findall(rb"/Type\s*/Page\b(?!s)", data))
    assert data.startswith(b"%PDF") and pages >= 5  # at least one page per sheet


def test_libreoffice_computes_the_totals_and_shows_the_decision_columns(soffice, tmp_path):
    """Every sheet as CSV, as LibreOffice calculates it: the totals rows' SUBTOTAL formulas give the
    Summary's dollars at risk, and the work-queue columns are there."""
    # 44,34,76,1,,0,false,true,false,false,false,-1: comma, quote, UTF-8, every sheet to its own file
    filter_ = "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,-1"
    done = convert(soffice, tmp_path, sample_workbook(tmp_path), filter_)
    folder = tmp_path / "converted"
    assert done.returncode == 0, done.stdout + done.stderr
    sheets = {}
    for name in ("Claims", "Findings"):
        with open(folder / f"denial-risk-{name}.csv", newline="", encoding="utf-8") as f:
            sheets[name] = list(csv.reader(f))
    claims, findings = sheets["Claims"], sheets["Findings"]
    for column in ("Days left to file", "Payer name", "Billed"):
        assert column in claims[0]
    for column in (
        "Status", "Reason", "Owner", "Finding key", "Decision no.",
        "Line charge (not additive)", "At risk (counted once)", "Payer name",
    ):  # fmt: skip
        assert column in findings[0]

    def money(text: str) -> float:
        return float(re.sub(r"[$,]", "", text or "0"))

    def total(rows, column):
        at = rows[0].index(column)
        assert rows[-1][0] == "Total"
        assert money(rows[-1][at]) == round(sum(money(r[at]) for r in rows[1:-1]), 2)
        return money(rows[-1][at])

    assert total(claims, "At risk") == total(findings, "At risk (counted once)") > 0
    assert "unknown" in {row[claims[0].index("Billed")] for row in claims[1:]}
