"""Prefect flow `nightly-claims-validation`: every extract in the inbox to reports, unattended.

Each extract is its own branch: read (`read-extract`), checked in one or more partitions of whole
patients (`check-partition`), then published (`publish-extract`: its workbook and findings under
OUT/AS_OF/, its rows staged for the run history, its hash recorded, the file moved to
INBOX/archive/). A file that cannot be used is moved to INBOX/quarantine/ with a reason file; a
branch that crashes leaves its file in the inbox for the next run. A run in which any file failed
ends Failed naming them; the other files are complete regardless. One consolidated workbook,
with a Trend sheet from the run history (flows/history.py), covers the run.

The tasks run on the flow's task runner: threads by default, or a Dask cluster (`cleanclaim
nightly --dask-address`), where files and partitions spread over the workers.

PHI stays out of Prefect as in flows/adhoc.py: parameters are folders, a date and numbers, task
results stay in memory, logs and the artifact carry names, counts and dollars only.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

# isort: off
import validators  # noqa: F401  (first: a deployment runs this file by path, not through flows/__init__.py)

# isort: on
import duckdb
import polars as pl
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.runtime import flow_run
from prefect.states import Completed, Failed

from flows import inbox as box
from flows import pipeline
from flows.adhoc import STAGE, retry_only_io
from flows.extract import Extract
from flows.history import History, file_meta, run_row
from flows.outcomes import nightly_remits, remittances_in
from validators.catalog import Catalog, load_catalog
from validators.errors import ExtractError

OUTCOMES = ("validated", "quarantined", "already processed", "failed")
# Lines per partition: a file larger than this is checked in parts of whole patients, one task
# each, so a Dask cluster can spread one large file over its workers.
PARTITION_LINES = 500_000


def dask_runner(address: str | None = None, workers: int | None = None):
    """prefect-dask's task runner: on the scheduler at `address`, or on a local cluster of `workers`
    processes (one thread each: polars already uses every core it is given)."""
    from prefect_dask import DaskTaskRunner  # imports dask.distributed: only for a run that uses it

    if address:
        return DaskTaskRunner(address=address)
    return DaskTaskRunner(
        cluster_kwargs={
            "n_workers": workers,
            "threads_per_worker": 1,
            "processes": True,
            "dashboard_address": None,
        }
    )


def day_folder(out: Path, as_of: date) -> Path:
    """Where a run's reports go: one folder per as-of date."""
    return out / as_of.isoformat()


def _report_paths(folder: Path, stem: str) -> tuple[Path, Path]:
    return folder / f"{stem}.denial-risk.xlsx", folder / f"{stem}.findings.csv"


# Tasks are handed the catalog's folder and version, not its 20 MB of code sets (pickled to every
# Dask task otherwise); each process -- the flow's, or a Dask worker's -- loads it once.
CatalogRef = tuple[str | None, str]
_catalogs: dict[CatalogRef, Catalog] = {}


def share_catalog(rules: str | None) -> tuple[CatalogRef, Catalog]:
    """The run's catalog, loaded in the flow and kept for the tasks that run in the same process."""
    catalog = load_catalog(Path(rules) if rules else None)
    _catalogs.clear()  # a long-lived `serve` process keeps only the newest
    _catalogs[(rules, catalog.version)] = catalog
    return (rules, catalog.version), catalog


def worker_catalog(ref: CatalogRef) -> Catalog:
    if ref not in _catalogs:
        rules, version = ref
        catalog = load_catalog(Path(rules) if rules else None)
        if catalog.version != version:
            raise RuntimeError(
                f"the rules in {rules or 'the shipped catalog'} changed during the run "
                f"({version} -> {catalog.version}); run again"
            )
        _catalogs[ref] = catalog
    return _catalogs[ref]


@dataclass
class Read:
    """What reading one extract found: already processed (`seen`), unusable (`error`), or its lines."""

    sha256: str
    extract: Extract | None = None
    error: ExtractError | None = None
    seen: bool = False


@task(
    name="read-extract",
    retries=2,
    retry_delay_seconds=[2, 10],
    retry_condition_fn=retry_only_io,
    **STAGE,
)
def read_extract(item: pipeline.InputFile, done: frozenset[str], rules: CatalogRef) -> Read:
    sha = box.file_sha256(item.path)
    if sha in done:  # validated by an earlier run (maybe one that crashed before archiving it)
        return Read(sha, seen=True)
    try:
        return Read(sha, extract=pipeline.load(item, worker_catalog(rules)))
    except ExtractError as exc:
        get_run_logger().warning("file set aside: %s (%s)", item.path.name, exc.reason)
        return Read(sha, error=exc)


@task(name="check-partition", **STAGE)
def check_partition(
    item: pipeline.InputFile,
    extract: Extract,
    rules: CatalogRef,
    as_of: date,
    history: pl.DataFrame,
) -> pipeline.FileOutcome:
    return pipeline.check(item, extract, worker_catalog(rules), as_of, history=history)


@task(
    name="publish-extract",
    retries=2,
    retry_delay_seconds=[2, 10],
    retry_condition_fn=retry_only_io,
    **STAGE,
)
def publish_extract(
    outcome: pipeline.FileOutcome,
    sha: str,
    inbox: Path,
    out: Path,
    as_of: date,
    rules: CatalogRef,
    run_id: str,
) -> None:
    """Reports, then the rows for the history, then the hash, then the move: a crash between any two
    steps is finished by the next run, which redoes the file (its own history rows excluded)."""
    item = outcome.input
    result = pipeline.Run([outcome], worker_catalog(rules), as_of, datetime.now())
    report, findings = _report_paths(day_folder(out, as_of), item.path.stem)
    pipeline.write_outputs(result, report, findings)
    History(out).stage(
        sha,
        file_meta(item.path.name, run_id, as_of, result.claims.height, result.findings.height),
        result.lines,
        result.claims,
        result.findings,
    )
    box.Ledger(out).record(sha, item.path.name, str(report))
    box.archive(item, inbox, sha)


def _own_history(past: pl.DataFrame | None, sha: str, part: Extract) -> pl.DataFrame | None:
    """Earlier runs' lines for this part's patients, without the file's own (a redo after a crash)."""
    if past is None:
        return None
    return (
        past.filter(pl.col("_sha256") != sha)
        .drop("_sha256")
        .join(part.lines.select("patient_id").unique(), on="patient_id", how="semi")
    )


def _artifact(result: pipeline.Run, counts: dict[str, int], report: Path) -> None:
    """Aggregates only: files by what happened, claims and dollars by status, findings by category."""
    rows = [{"what": f"files {s}", "count": counts[s], "dollars at risk": None} for s in OUTCOMES]
    rows.extend(
        {
            "what": f"claims {values['Status']}",
            "count": values["Claims"],
            "dollars at risk": values["Dollars at risk"],
        }
        for values in result.tables["Claims by status"].iter_rows(named=True)
    )
    rows.extend(
        {
            "what": f"findings {values['Category']}",
            "count": values["Total"],
            "dollars at risk": None,
        }
        for values in result.tables.get("Findings by category", []).iter_rows(named=True)
    )
    create_table_artifact(
        key="nightly-claims-validation",
        table=rows,
        description=f"cleanclaim nightly run as of {result.as_of}: report {report}",
    )


class _HistoryGuard:
    """Runs the steps that touch history.duckdb. A history file that cannot be opened (another
    program holds it -- DuckDB lets one process write -- or it is damaged) must not stop the night's
    validation: the files are checked without earlier nights, and the run says so."""

    def __init__(self, store: History, logger):
        self.store, self.logger, self.problem = store, logger, None

    def run(self, step, *args):
        if self.problem is not None:
            return None
        try:
            return step(*args)
        except duckdb.Error as exc:
            self.problem = (
                f"the run history {self.store.path} could not be used ({type(exc).__name__}): tonight's "
                f"files were checked without earlier nights' lines (DUP001, FRQ001-FRQ004) and the Trend "
                f"sheet is missing; close any program that has it open (or move a damaged file aside) "
                f"before the next run"
            )
            self.logger.warning(self.problem)
            return None


@flow(name="nightly-claims-validation", persist_result=False, log_prints=False)
def nightly_claims_validation(
    inbox: str,
    out: str,
    as_of: date | None = None,
    rules: str | None = None,
    partition_lines: int = PARTITION_LINES,
):
    """Validate every extract waiting in `inbox`; write reports under `out`; archive or quarantine each.
    `rules` is a rule folder (default: the catalog shipped with cleanclaim); a file of more than
    `partition_lines` lines is checked in parts of whole patients."""
    logger = get_run_logger()
    inbox_dir, out_dir = Path(inbox), Path(out)
    as_of = as_of or date.today()
    run_id = flow_run.id or uuid.uuid4().hex
    catalog_ref, catalog = share_catalog(rules)
    started, clock = datetime.now(), time.perf_counter()
    store = History(out_dir)
    status: dict[str, str] = {}
    outcomes: dict[str, pipeline.FileOutcome] = {}
    with box.inbox_lock(inbox_dir):
        history = _HistoryGuard(store, logger)
        history.run(store.ingest)  # what a run that crashed left staged
        past = history.run(store.lines, as_of)
        eras = remittances_in(inbox_dir)  # 835s are remits, not extracts (flows/outcomes.py)
        items = [i for i in pipeline.discover([inbox_dir]) if i.path not in eras]
        done = frozenset(box.Ledger(out_dir).done())
        reads = [(item, read_extract.submit(item, done, catalog_ref)) for item in items]
        checks = {}
        for item, future in reads:  # each file's partitions start as soon as it is read
            name = item.path.name
            future.wait()
            if future.state.is_failed():
                continue  # unreadable after its retries (not a bad file: a bad file is quarantined)
            read = future.result()
            if read.seen:
                box.archive(item, inbox_dir, read.sha256)
                status[name] = "already processed"
            elif read.error is not None:
                box.quarantine(item, inbox_dir, read.sha256, read.error)
                status[name] = "quarantined"
                outcomes[name] = pipeline.FileOutcome(item, facts={"file": name}, error=read.error)
            else:
                parts = pipeline.split_by_patient(
                    read.extract, pipeline.parts_needed(read.extract, partition_lines)
                )
                checks[name] = (
                    item,
                    read.sha256,
                    [
                        check_partition.submit(
                            item, part, catalog_ref, as_of, _own_history(past, read.sha256, part)
                        )
                        for part in parts
                    ],
                )
        published = {}
        for name, (item, sha, futures) in checks.items():
            for future in futures:
                future.wait()
            if any(f.state.is_failed() for f in futures):
                continue  # the file stays in the inbox: the next run tries it again
            outcome = pipeline.merge_outcomes(item, [f.result() for f in futures])
            published[name] = (
                outcome,
                publish_extract.submit(
                    outcome, sha, inbox_dir, out_dir, as_of, catalog_ref, run_id
                ),
            )
        for name, (outcome, future) in published.items():
            future.wait()
            if future.state.is_completed():
                status[name] = "validated"
                outcomes[name] = outcome
        for item in items:
            status.setdefault(item.path.name, "failed")
        history.run(store.ingest)
        if eras:  # after tonight's claims are in the history; left in the inbox if it is unusable
            status |= history.run(nightly_remits, eras, inbox_dir, out_dir, catalog) or {}
    counts = Counter(status.values())
    summary = {"files": len(items), **{s: counts[s] for s in OUTCOMES}}
    result = pipeline.Run(
        [outcomes[i.path.name] for i in items if i.path.name in outcomes],
        catalog,
        as_of,
        started,
        time.perf_counter() - clock,
    )
    report, findings = _report_paths(day_folder(out_dir, as_of), f"nightly-{as_of.isoformat()}")
    history.run(store.record_run, run_row(str(run_id), result, summary))
    if result.outcomes:
        pipeline.write_outputs(result, report, findings, trend=history.run(store.trend))
        _artifact(result, summary, report)
    logger.info("nightly run: %s", summary)
    return _final_state(status, summary, history.problem)


def _final_state(
    status: dict[str, str], summary: dict[str, int], history_problem: str | None = None
):
    """Completed, or Failed with a message naming every file that was not validated and why (and a
    run history that could not be used)."""
    named = {
        s: sorted(name for name, what in status.items() if what == s)
        for s in ("quarantined", "failed")
    }
    problems = []
    if named["quarantined"]:
        problems.append(
            f"{len(named['quarantined'])} of {len(status)} files could not be used and were "
            f"quarantined with a reason file: {', '.join(named['quarantined'])}"
        )
    if named["failed"]:
        problems.append(
            f"{len(named['failed'])} files failed and stay in the inbox for the next run (see the "
            f"task logs): {', '.join(named['failed'])}"
        )
    if history_problem:
        problems.append(history_problem)
    if problems:
        return Failed(message="; ".join(problems), data=summary)
    return Completed(
        message=f"{summary['validated']} validated, {summary['already processed']} already processed",
        data=summary,
    )
