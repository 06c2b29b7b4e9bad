"""The ad-hoc Prefect flow runs the same stages as the CLI, against a real (temporary) Prefect server."""

from __future__ import annotations

import os
from datetime import date

import openpyxl
import polars as pl
import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory):
    home = tmp_path_factory.mktemp("prefect-home")
    os.environ.update(PREFECT_HOME=str(home), PREFECT_SERVER_ANALYTICS_ENABLED="false",
                      PREFECT_LOGGING_LOG_PRINTS="false")
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):  # the default 30 s is tight on a busy 2-core CI
        yield home


def test_adhoc_flow_matches_the_cli(prefect_server, tmp_path):
    from flows.adhoc import validate_claim_file
    from flows.cli import main

    sample = REPO / "sample_claims" / "front_desk_typos.xlsx"
    summary = validate_claim_file(path=str(sample), report=str(tmp_path / "flow.xlsx"),
                                  findings=str(tmp_path / "flow.csv"), as_of=date(2026, 9, 30))
    assert summary == {"lines": 12, "claims": 10, "findings": 14, "findings_high": 14}
    main(["validate", str(sample), "--as-of", "2026-09-30", "--report", str(tmp_path / "cli.xlsx"),
          "--findings", str(tmp_path / "cli.csv"), "-q"])
    assert pl.read_csv(tmp_path / "flow.csv").equals(pl.read_csv(tmp_path / "cli.csv"))
    assert openpyxl.load_workbook(tmp_path / "flow.xlsx").sheetnames[:3] == ["Summary", "Claims", "Findings"]


def test_unusable_file_fails_the_flow_with_a_clear_reason(prefect_server, tmp_path):
    from flows.adhoc import validate_claim_file
    from validators.errors import ExtractError

    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(ExtractError, match="empty"):
        validate_claim_file(path=str(tmp_path / "empty.csv"), report=str(tmp_path / "r.xlsx"),
                            findings=str(tmp_path / "f.csv"))
    assert not (tmp_path / "r.xlsx").exists()  # never a clean-looking report for data not read


def test_no_task_or_flow_persists_results():
    """Claim frames pass between tasks in memory only: nothing is pickled into Prefect storage (T16)."""
    from flows import adhoc

    for obj in (adhoc.load_extract, adhoc.check_fields, adhoc.write_reports, adhoc.validate_claim_file):
        assert obj.persist_result is False
