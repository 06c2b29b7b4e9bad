"""The workbook opens in a real spreadsheet program, not just in openpyxl: LibreOffice renders it to PDF.

LibreOffice is installed by .ci/run; on a developer machine without it the test is skipped, in CI
(CI=true) a missing LibreOffice fails the run instead of silently skipping the proof.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from flows.cli import main
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


def test_sample_workbook_renders_to_pdf_in_libreoffice(soffice, tmp_path):
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
    done = subprocess.run(
        [
            soffice,
            f"-env:UserInstallation=file://{tmp_path / 'profile'}",
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            str(tmp_path / "pdf"),
            str(report),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    pdf = tmp_path / "pdf" / "denial-risk.pdf"
    assert done.returncode == 0 and pdf.exists(), done.stdout + done.stderr
    data = pdf.read_bytes()
    pages = len(re.findall(rb"/Type\s*/Page\b(?!s)", data))
    assert data.startswith(b"%PDF") and pages >= 5  # at least one page per sheet
