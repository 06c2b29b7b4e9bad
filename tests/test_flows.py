"""The ad-hoc Prefect flow runs the same stages as the CLI, against a real (temporary) Prefect server."""

from __future__ import annotations

import json
import os
import shutil
from datetime import date
from pathlib import Path

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


# --------------------------------------------------------------------------- nightly


@pytest.fixture
def inbox(tmp_path):
    folder = tmp_path / "inbox"
    folder.mkdir()
    for name in ("spine_pain_clinic.csv", "spine_pain_clinic.notes.csv", "front_desk_typos.xlsx"):
        shutil.copy(REPO / "sample_claims" / name, folder / name)
    (folder / "broken.csv").write_text("")  # unusable: empty
    return folder


def nightly(inbox, out):
    from flows.nightly import nightly_claims_validation

    return nightly_claims_validation(inbox=str(inbox), out=str(out), as_of=date(2026, 9, 30), return_state=True)


def test_nightly_validates_archives_and_quarantines_with_a_reason(prefect_server, inbox, tmp_path):
    out = tmp_path / "out"
    state = nightly(inbox, out)
    assert state.is_failed() and "1 of 3 files" in state.message and "broken.csv" in state.message
    assert state.result(raise_on_failure=False) == {"files": 3, "validated": 2, "quarantined": 1,
                                                    "already processed": 0}
    day = out / "2026-09-30"
    assert sorted(p.name for p in day.glob("*.xlsx")) == [
        "front_desk_typos.denial-risk.xlsx", "nightly-2026-09-30.denial-risk.xlsx", "spine_pain_clinic.denial-risk.xlsx"]
    assert sorted(p.name for p in (inbox / "archive").iterdir()) == [
        "front_desk_typos.xlsx", "spine_pain_clinic.csv", "spine_pain_clinic.notes.csv"]
    assert "empty" in (inbox / "quarantine" / "broken.csv.reason.txt").read_text()
    # the consolidated workbook holds both files' findings and names the file it could not read
    both = pl.concat([pl.read_csv(day / f"{s}.findings.csv", infer_schema=False)
                      for s in ("front_desk_typos", "spine_pain_clinic")])
    assert pl.read_csv(day / "nightly-2026-09-30.findings.csv", infer_schema=False).height == both.height
    texts = [c.value for row in openpyxl.load_workbook(day / "nightly-2026-09-30.denial-risk.xlsx")["Summary"].iter_rows()
             for c in row if isinstance(c.value, str)]
    assert any(t.startswith("NOT READ: broken.csv") for t in texts)


def test_the_same_file_dropped_twice_is_not_validated_twice(prefect_server, inbox, tmp_path):
    out = tmp_path / "out"
    (inbox / "broken.csv").unlink()
    assert nightly(inbox, out).is_completed()
    report = out / "2026-09-30" / "front_desk_typos.denial-risk.xlsx"
    written = report.stat().st_mtime_ns
    shutil.copy(REPO / "sample_claims" / "front_desk_typos.xlsx", inbox / "front_desk_typos.xlsx")
    state = nightly(inbox, out)
    assert state.is_completed() and state.result()["already processed"] == 1 and state.result()["validated"] == 0
    assert report.stat().st_mtime_ns == written
    assert len([p for p in (inbox / "archive").iterdir() if p.name.startswith("front_desk_typos")]) == 2
    assert not list(inbox.glob("*.xlsx"))


def test_a_run_that_crashes_midway_is_finished_by_the_next(prefect_server, inbox, tmp_path, monkeypatch):
    from flows import pipeline

    out = tmp_path / "out"
    (inbox / "broken.csv").unlink()
    real = pipeline.validate_file

    def crash_on_spine(item, *args, **kwargs):
        if item.path.name.startswith("spine"):
            raise RuntimeError("killed mid-run")
        return real(item, *args, **kwargs)

    monkeypatch.setattr(pipeline, "validate_file", crash_on_spine)
    assert nightly(inbox, out).is_failed()
    assert (inbox / "spine_pain_clinic.csv").exists() and not (inbox / ".cleanclaim-nightly.lock").exists()
    monkeypatch.setattr(pipeline, "validate_file", real)
    state = nightly(inbox, out)
    assert state.is_completed() and state.result()["validated"] == 1
    ledger = (out / ".cleanclaim" / "processed.jsonl").read_text().splitlines()
    assert sorted(json.loads(line)["file"] for line in ledger) == ["front_desk_typos.xlsx", "spine_pain_clinic.csv"]
    assert not [p for p in inbox.iterdir() if p.is_file()]


def test_a_second_run_on_a_busy_inbox_stops_without_touching_it(prefect_server, inbox, tmp_path):
    from flows.cli import EXIT_BUSY, main
    from flows.inbox import inbox_lock

    with inbox_lock(inbox):
        code = main(["nightly", "--inbox", str(inbox), "--out", str(tmp_path / "out"), "--as-of", "2026-09-30"])
    assert code == EXIT_BUSY
    assert not (tmp_path / "out" / "2026-09-30").exists() and not (inbox / "archive").exists()


def test_prefect_keeps_no_phi_from_a_nightly_run(prefect_server, inbox, tmp_path):
    """Search Prefect's database (and its WAL) and storage for the samples' member ids, dates of birth
    and note text after a nightly run: none may be there (RELIABILITY.md T16)."""
    from prefect.settings import get_current_settings

    claims = pl.read_csv(inbox / "spine_pain_clinic.csv", infer_schema=False)
    notes = pl.read_csv(inbox / "spine_pain_clinic.notes.csv", infer_schema=False)
    phi = {*claims["patient_id"], *claims["patient_dob"], *(t[:30] for t in notes["note_text"])}
    nightly(inbox, tmp_path / "out")
    url = get_current_settings().server.database.connection_url.get_secret_value()
    database = Path(url.split("///", 1)[1])
    stored = [p for p in database.parent.glob(database.name + "*") if p.is_file()]
    stored += [p for p in Path(prefect_server).rglob("*") if p.is_file()]
    assert database.exists() and len(stored) >= 1
    blob = b"".join(p.read_bytes() for p in stored)
    assert b"nightly-claims-validation" in blob  # the search does look at the run's records
    leaked = sorted(v for v in phi if v.encode() in blob)
    assert not leaked, f"{len(leaked)} PHI values found in Prefect's database or storage"
