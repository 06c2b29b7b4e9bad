"""The run history store (flows/history.py) and checking a file in patient partitions."""

from __future__ import annotations

import shutil
import threading
import time
from datetime import date, datetime, timedelta

import polars as pl
import pytest

from cleanclaim.flows import pipeline
from cleanclaim.flows.extract import Extract
from cleanclaim.flows.history import TREND_RUNS, History, file_meta
from cleanclaim.flows.report import write_findings_file
from cleanclaim.validators import findings as fnd
from cleanclaim.validators.config import RunConfig
from cleanclaim.validators.engine import history_rows
from tests.conftest import REPO, claim_lines

AS_OF = date(2026, 9, 30)


def validated(catalog, name="pain_procedures_batch.csv") -> pipeline.Run:
    item = pipeline.discover([REPO / "sample_claims" / name])[0]
    return pipeline.Run(
        [pipeline.validate_file(item, catalog, AS_OF)], catalog, AS_OF, datetime(2026, 9, 30, 2)
    )


def stage(store: History, run: pipeline.Run, sha: str) -> None:
    store.stage(
        sha,
        file_meta("x.csv", "run-1", AS_OF, run.claims.height, run.findings.height),
        run.lines,
        run.claims,
        run.findings,
    )


def test_a_files_rows_round_trip_through_duckdb(catalog, tmp_path):
    run, store = validated(catalog), History(tmp_path)
    stage(store, run, "a" * 64)
    assert store.ingest() == 1 and not list(store.pending.iterdir())  # staged rows are consumed
    past = store.lines(AS_OF)
    assert set(past["_sha256"]) == {"a" * 64}
    assert past.schema["_service_date"] == pl.Date and past.schema["_units"] == pl.Float64
    # what it keeps of the lines is exactly what the engine counts (lines whose fields passed)
    assert (
        past.drop("_sha256")
        .sort("claim_id", "_line_number")
        .equals(history_rows(run.lines).sort("claim_id", "_line_number"))
    )


def test_ingesting_a_file_again_replaces_its_rows(catalog, tmp_path):
    """A crash after the commit but before the staged folder is removed ingests it twice: no doubles."""
    run, store = validated(catalog), History(tmp_path)
    stage(store, run, "b" * 64)
    shutil.copytree(store.pending / ("b" * 64), tmp_path / "copy")
    store.ingest()
    shutil.copytree(tmp_path / "copy", store.pending / ("b" * 64))
    store.ingest()
    stage(store, run, "c" * 64)  # a different file with the same claims is kept apart
    store.ingest()
    counts = store.lines(AS_OF).group_by("_sha256").len().sort("_sha256")
    assert counts["len"].to_list() == [history_rows_count(run)] * 2


def history_rows_count(run: pipeline.Run) -> int:
    return history_rows(run.lines).height


def test_history_older_than_the_lookback_is_not_loaded(catalog, tmp_path):
    run, store = validated(catalog), History(tmp_path)
    stage(store, run, "d" * 64)
    store.ingest()
    newest = run.lines["_service_date"].max()
    assert store.lines(AS_OF).height > 0
    assert store.lines(newest + timedelta(days=800)).is_empty()
    assert History(tmp_path / "nothing-yet").lines(AS_OF).is_empty()


def test_trend_keeps_the_last_runs_oldest_first(catalog, tmp_path):
    from cleanclaim.flows.history import run_row

    run, store = validated(catalog), History(tmp_path)
    counts = {"files": 1, "validated": 1, "quarantined": 0, "already processed": 0, "failed": 0}
    for day in range(TREND_RUNS + 5):
        run.started = datetime(2026, 8, 1, 2) + timedelta(days=day)
        store.record_run(run_row(f"run-{day}", run, counts))
    trend = store.trend()
    assert trend.height == TREND_RUNS
    assert trend["Run at"].is_sorted() and trend["Run at"][0] == datetime(2026, 8, 6, 2)
    clean = (run.claims["status"] == "clean").sum()
    assert trend["Clean-claim rate"][0] == pytest.approx(clean / run.claims.height)
    assert trend["Dollars at risk"][0] == pytest.approx(run.claims["at_risk"].sum())


# --------------------------------------------------------------------------- partitions by patient


@pytest.mark.parametrize("parts", [2, 3, 7])
@pytest.mark.parametrize("sample", ["pain_procedures_batch.csv", "spine_pain_clinic.csv"])
def test_checking_in_patient_partitions_finds_exactly_what_checking_whole_finds(
    catalog, parts, sample
):
    """The procedure sample has cross-claim rules (NCCI across claims, duplicates, frequency); the
    spine sample a notes file, whose index each part takes for its own claims."""
    item = pipeline.discover([REPO / "sample_claims" / sample])[0]
    extract = pipeline.load(item, catalog)
    whole = pipeline.check(item, extract, catalog, AS_OF)
    height = extract.lines.height
    pieces = pipeline.split_by_patient(extract, parts)
    assert (
        sum(p.lines.height for p in pieces) == height and extract.lines.width == 0
    )  # consumed, not copied
    patients = [set(p.lines["patient_id"]) for p in pieces]
    assert sum(len(p) for p in patients) == len(set().union(*patients))  # no patient in two parts
    assert all((p.notes is not None) == (sample == "spine_pain_clinic.csv") for p in pieces)
    assert all(
        set(p.notes.noted()) <= set(p.lines["claim_id"]) for p in pieces if p.notes
    )  # its claims' notes
    merged = pipeline.merge_outcomes(
        item, [pipeline.check(item, p, catalog, AS_OF) for p in pieces]
    )
    assert merged.findings.equals(whole.findings)
    assert merged.facts == whole.facts


@pytest.mark.parametrize(
    "interleaved", [False, True]
)  # a claim's lines written together (the usual) or not
def test_a_claim_stays_whole_even_when_its_lines_name_different_patients(interleaved):
    rows = [{"claim_id": "C1", "patient_id": f"P{i}", "line_number": str(i)} for i in range(1, 6)]
    rows += [{"claim_id": None, "patient_id": f"Q{i}"} for i in range(4)]
    if (
        interleaved
    ):  # C1, none, C1, none ...: neither the claim nor the rows without an id form one run
        rows = [row for pair in zip(rows[:4], rows[5:], strict=True) for row in pair] + [rows[4]]
    lines = claim_lines(rows)
    extract = Extract(
        lines,
        pl.DataFrame(schema={"source_row": pl.Int64, "claim_id": pl.String, "problem": pl.String}),
    )
    pieces = pipeline.split_by_patient(extract, 4)
    holding = [p for p in pieces if "C1" in p.lines["claim_id"].to_list()]
    assert len(holding) == 1 and holding[0].lines.filter(pl.col("claim_id") == "C1").height == 5
    assert (
        sum(p.lines["claim_id"].null_count() > 0 for p in pieces) == 1
    )  # rows without a claim id: together


def test_a_large_file_is_checked_in_parts_threads_at_a_time_and_says_how_far_it_is(
    catalog, monkeypatch
):
    item = pipeline.discover([REPO / "sample_claims" / "pain_procedures_batch.csv"])[0]
    whole = pipeline.validate_file(item, catalog, AS_OF)
    monkeypatch.setattr(pipeline, "CHECK_PART_LINES", 6)
    check_part, lock, running, most = pipeline._check_part, threading.Lock(), [0], [0]

    def counted(*args):  # how many parts are being checked at once (each holds its part's memory)
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        try:
            time.sleep(0.05)  # long enough for the other parts to be waiting
            return check_part(*args)
        finally:
            with lock:
                running[0] -= 1

    monkeypatch.setattr(pipeline, "_check_part", counted)
    said = []
    parts = pipeline.validate_file(
        item,
        catalog,
        AS_OF,
        config=RunConfig(threads=3),
        progress=lambda stage, name: said.append(stage),
    )
    steps = [s for s in said if s.startswith("checked ")]
    assert len(steps) > 2 and steps == [
        f"checked {n} of {len(steps)} parts of" for n in range(1, len(steps) + 1)
    ]
    assert most[0] == 3  # the run's setting, whatever the machine's CPUs
    assert parts.findings.equals(whole.findings)


@pytest.fixture(scope="module")
def dirty_extract(tmp_path_factory):
    """A new client's first file: a note missing several elements gives one rule several findings
    on one row, the ties the order breaks by message."""
    from cleanclaim.flows.cli import main

    folder = tmp_path_factory.mktemp("dirty")
    assert main(["synth", "--lines", "3000", "--out", str(folder), "--seed", "3", "--dirty"]) == 0
    return folder / "synthetic-dirty-3000.csv"


def test_the_findings_file_built_from_parts_is_the_single_pass_one(
    catalog, dirty_extract, tmp_path, monkeypatch
):
    item = pipeline.discover([dirty_extract])[0]
    whole = pipeline.validate_file(item, catalog, AS_OF)
    monkeypatch.setattr(pipeline, "CHECK_PART_LINES", 700)
    parts = pipeline.validate_file(item, catalog, AS_OF)
    found = whole.findings
    ties = found.filter(pl.struct("source_file", "source_row", "rule_id").is_duplicated())
    assert ties["message"].n_unique() > 100  # the case the merge must keep in message order
    assert parts.findings.equals(found) and parts.facts == whole.facts
    for name in ("whole", "parts"):
        outcome = whole if name == "whole" else parts
        write_findings_file(outcome.findings, tmp_path / f"{name}.parquet")
        write_findings_file(outcome.findings, tmp_path / f"{name}.csv")
    assert pl.read_parquet(tmp_path / "parts.parquet").equals(
        pl.read_parquet(tmp_path / "whole.parquet")
    )
    assert (tmp_path / "parts.csv").read_bytes() == (tmp_path / "whole.csv").read_bytes()


def test_ordered_pieces_merge_into_the_order_of_sorting_them_all(catalog, dirty_extract):
    """Pieces that share no (file, row, rule) -- the parts of a file, the files of a run -- each in
    order, in any order of pieces, file-level findings (no row) among them."""
    item = pipeline.discover([dirty_extract])[0]
    found = pipeline.validate_file(item, catalog, AS_OF).findings
    file_level = found.head(3).with_columns(
        pl.lit(None, pl.Int64).alias("source_row"), pl.lit(None, pl.Int64).alias("line_number")
    )
    everything = fnd.ordered(pl.concat([found, file_level]))
    pieces = [fnd.ordered(found.filter(pl.col("source_row") % 3 == k)) for k in (2, 0, 1)] + [
        fnd.ordered(file_level)
    ]
    given = [*pieces]
    assert fnd.merge_ordered(given).equals(everything)
    assert not given  # consumed: the findings moved into the merged table
    assert fnd.merge_ordered(pieces[:1]).equals(pieces[0])


def test_two_files_of_one_name_are_ordered_as_one_table(catalog, tmp_path):
    """Files of the same name in two folders share their rows' (file, row, rule): the run's
    findings are sorted whole, messages breaking the ties between the files."""
    sample = pl.read_csv(REPO / "sample_claims" / "pain_procedures_batch.csv", infer_schema=False)
    for folder, lines in (
        ("a", sample),
        ("b", sample.with_columns(pl.col("procedure_code").reverse())),
    ):
        (tmp_path / folder).mkdir()
        lines.write_csv(tmp_path / folder / "x.csv")
    items = pipeline.discover([tmp_path / "a" / "x.csv", tmp_path / "b" / "x.csv"])
    run = pipeline.run(items, catalog, AS_OF)
    read = [o.findings for o in run.outcomes]
    whole = fnd.ordered(pl.concat(read, how="vertical_relaxed"))
    assert not fnd.merge_ordered(read).equals(whole)  # the ties the files' merge cannot break
    assert run.findings.equals(whole)


def test_a_run_checked_in_parts_scores_and_reports_as_one_checked_whole(
    catalog, dirty_extract, tmp_path, monkeypatch
):
    """The claims, the work order, every Summary table and every workbook sheet cell of a run
    whose file is checked in parts are those of checking it in one (but the run's time)."""
    from openpyxl import load_workbook

    def outputs(folder: str) -> tuple[pipeline.Run, dict[str, list[tuple]]]:
        run = pipeline.run(pipeline.discover([dirty_extract]), catalog, AS_OF)
        (tmp_path / folder).mkdir()
        pipeline.write_outputs(run, tmp_path / folder / "r.xlsx", tmp_path / folder / "f.csv")
        book = load_workbook(tmp_path / folder / "r.xlsx", read_only=True)
        sheets = {
            name: [
                row
                for row in book[name].iter_rows(values_only=True)
                if row[:1] not in (("Run at",), ("Took (seconds)",))
            ]
            for name in book.sheetnames
        }
        return run, sheets

    whole, whole_sheets = outputs("whole")
    monkeypatch.setattr(pipeline, "CHECK_PART_LINES", 700)
    parts, parts_sheets = outputs("parts")
    assert parts.outcomes[0].facts == whole.outcomes[0].facts
    assert parts.claims.equals(whole.claims) and parts.ordered.equals(whole.ordered)
    assert all(parts.tables[name].equals(table) for name, table in whole.tables.items())
    assert parts_sheets == whole_sheets and len(whole_sheets["Findings"]) > 1000
    assert (tmp_path / "parts" / "f.csv").read_bytes() == (
        tmp_path / "whole" / "f.csv"
    ).read_bytes()
