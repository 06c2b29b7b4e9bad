"""The night's plain steps (no Prefect): duplicates across the night's files, the run history kept as
PHI (owner-only, purged after its retention), and a second run's consolidated workbook."""

from __future__ import annotations

import stat
from datetime import date, datetime

import polars as pl

from cleanclaim.flows import inbox as box
from cleanclaim.flows import pipeline
from cleanclaim.flows.history import History, file_meta, months_before
from cleanclaim.validators.config import RunConfig
from cleanclaim.validators.engine import history_rows
from tests.conftest import AS_OF, REPO, write_csv


def checked(catalog, path) -> pipeline.FileOutcome:
    return pipeline.validate_file(pipeline.discover([path])[0], catalog, AS_OF)


def dup001(outcome: pipeline.FileOutcome) -> pl.DataFrame:
    return outcome.findings.filter(pl.col("rule_id") == "DUP001")


def test_a_line_billed_in_an_earlier_file_of_the_night_is_a_duplicate(catalog, tmp_path):
    line = {"procedure_code": "20552", "dx_1": "M62.830", "charge_amount": "120.00"}
    first = checked(catalog, write_csv(tmp_path / "a.csv", [{"claim_id": "A1", **line}]))
    second = checked(
        catalog,
        write_csv(
            tmp_path / "b.csv",
            [{"claim_id": "B1", **line}, {"claim_id": "B2", **line, "service_date": "2026-09-16"}],
        ),
    )
    assert dup001(first).is_empty() and dup001(second).is_empty()  # each alone: no duplicate
    across = pipeline.check_duplicates_across(
        second, catalog, AS_OF, RunConfig(), history_rows(first.lines)
    )
    found = dup001(across)
    assert found["claim_id"].to_list() == ["B1"]  # the later file's line, never the first's
    assert "claim A1" in found["message"][0] and found["source_file"][0] == "b.csv"
    assert found["charge_at_risk"][0] == 120.0
    # its other findings stand, and the facts count the new one
    assert across.findings.height == second.findings.height + 1
    assert across.facts["findings"] == across.findings.height
    # with DUP001 ignored the check changes nothing
    same = pipeline.check_duplicates_across(
        second, catalog, AS_OF, RunConfig(ignore=["DUP"]), history_rows(first.lines)
    )
    assert same.findings.equals(second.findings)


def _stage(catalog, store: History, sha: str, as_of: date) -> None:
    run = pipeline.Run(
        [checked(catalog, REPO / "sample_claims" / "pain_procedures_batch.csv")],
        catalog,
        as_of,
        datetime(2026, 9, 30, 3),
    )
    store.stage(
        sha,
        file_meta("x.csv", "run", as_of, run.claims.height, run.findings.height),
        run.lines,
        run.claims,
        run.findings,
    )


def test_the_run_history_is_readable_by_its_owner_only(catalog, tmp_path):
    store = History(tmp_path)
    _stage(catalog, store, "a" * 64, AS_OF)
    store.ingest()
    assert stat.S_IMODE(store.folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    store.folder.chmod(0o755)  # made by an older version
    store.lines(AS_OF)
    assert stat.S_IMODE(store.folder.stat().st_mode) == 0o700


def test_files_validated_before_the_retention_are_purged(catalog, tmp_path):
    store = History(tmp_path)
    _stage(catalog, store, "o" * 64, date(2024, 8, 29))  # 25 months and a day before AS_OF
    _stage(catalog, store, "n" * 64, date(2024, 8, 30))  # exactly 25 months before
    store.ingest()
    assert months_before(AS_OF, 25) == date(2024, 8, 30)
    assert months_before(date(2026, 3, 31), 1) == date(2026, 2, 28)
    assert store.purge(AS_OF, 25) == 1
    import duckdb

    with duckdb.connect(str(store.path), read_only=True) as con:
        for table in ("files", "lines", "claims", "findings"):
            kept = {r[0] for r in con.execute(f"SELECT DISTINCT sha256 FROM {table}").fetchall()}
            assert kept == {"n" * 64}, table
    assert store.purge(AS_OF, 25) == 0


def test_a_second_run_of_the_day_keeps_the_first_runs_consolidated_workbook(catalog, tmp_path):
    item = pipeline.discover([REPO / "sample_claims" / "front_desk_typos.xlsx"])[0]
    outcome = pipeline.validate_file(item, catalog, AS_OF)
    written = []
    for _ in range(2):
        box.DayOutcomes(tmp_path).save(AS_OF, "s" * 64, outcome)
        (result,) = box.staged_days(tmp_path, catalog, datetime.now(), 1.0).values()
        written.append(box.write_consolidated(tmp_path, result, None))
    day = tmp_path / AS_OF.isoformat()
    assert written == [
        (day / "nightly-2026-09-30.denial-risk.xlsx", day / "nightly-2026-09-30.findings.csv"),
        (day / "nightly-2026-09-30-2.denial-risk.xlsx", day / "nightly-2026-09-30-2.findings.csv"),
    ]
    assert all(p.is_file() for pair in written for p in pair)
