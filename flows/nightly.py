"""Prefect flow `nightly-claims-validation`: every extract in the inbox to reports, unattended.

Every file in the inbox gets an outcome (flows/inbox.py survey, docs/nightly.md). Each extract is
its own branch: read (`read-extract`), checked in one or more partitions of whole patients
(`check-partition`), then published (`publish-extract`, flows/inbox.py publish: its workbook and
findings under OUT/AS_OF/, its rows staged for the run history and its outcome for the day's
consolidated workbook, the file moved to INBOX/archive/, then its hash recorded). A file that
cannot be used, or that makes cleanclaim fail, is moved to INBOX/quarantine/ with a reason file; a
branch that runs out of memory or disk leaves its file in the inbox for the next run. A run in which
any file was not validated ends Failed naming them by place and type; the other files are complete
regardless. One consolidated workbook per as-of day, with a Trend sheet from the run history
(flows/history.py), covers the run (and a run that crashed before writing its own).

The tasks run on the flow's task runner: threads by default, or a Dask cluster (`cleanclaim
nightly --dask-address`), where files and partitions spread over the workers.

PHI stays out of Prefect as in flows/adhoc.py: parameters are folders, a date, a configuration
path, rule ids and numbers; task results stay in memory; run names, task run names, logs, state
messages, the artifact and the failure notification carry file positions and types, counts,
dollars and report folders only (a sender's file name can carry a patient's name).

Prefect's conventions (docs/nightly.md): flow runs are named `nightly-AS_OF`, task runs by the
file's position and type; a failed run's state data is an exception (NightlyRunError) a worker can
resolve; the run times out after NIGHTLY_TIMEOUT_SECONDS; an `on_failure` hook notifies the
Prefect notification block the configuration names (`notify_block:`).
"""

from __future__ import annotations

from cleanclaim.validators import runtime

runtime.configure()  # before polars loads: a deployment runs this file by path

import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import duckdb
import polars as pl
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.logging.loggers import flow_run_logger
from prefect.runtime import flow_run
from prefect.states import Completed, Failed

from cleanclaim.flows import decisions, pipeline
from cleanclaim.flows import inbox as box
from cleanclaim.flows.adhoc import STAGE, retry_only_io
from cleanclaim.flows.extract import Extract
from cleanclaim.flows.history import History, run_row
from cleanclaim.flows.outcomes import nightly_remits, remittances_in
from cleanclaim.validators.catalog import Catalog, load_catalog
from cleanclaim.validators.config import RunConfig, resolve_config
from cleanclaim.validators.engine import history_rows
from cleanclaim.validators.errors import FAULTS, ExtractError, RuleConfigError

OUTCOMES = (
    "validated",
    "quarantined",
    "already processed",
    "left to settle",
    "ignored",
    "remittance",
    "failed",
)
# Lines per partition: a file larger than this is checked in parts of whole patients, one task
# each, so a Dask cluster can spread one large file over its workers.
PARTITION_LINES = 500_000
# A run stuck on a hung share or disk ends Failed (and notifies) rather than holding the
# deployment's one concurrency slot past the next night's start.
NIGHTLY_TIMEOUT_SECONDS = 6 * 3600


class NightlyRunError(Exception):
    """The data of a Failed nightly state: an exception, as Prefect resolves a failed state's data
    into one (a dict ends a worker's run with "cannot be resolved into an exception"). Its message
    names files by position and type; `data` (the counts and each file's outcome, names included,
    for the CLI to print) stays in this process: results are not persisted."""

    def __init__(self, message: str, data: dict | None = None):
        super().__init__(message)
        self.data = data


def run_data(state) -> dict | None:
    """The counts and per-file outcomes a nightly run returned, Completed or Failed."""
    result = state.result(raise_on_failure=False)
    if isinstance(result, NightlyRunError):
        return result.data
    return result if isinstance(result, dict) else None


def _run_name() -> str:
    return f"nightly-{flow_run.parameters.get('as_of') or date.today().isoformat()}"


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


# Tasks are handed the catalog's folder and version, not its code sets (pickled to every
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
    """What reading one extract found: already processed (`seen`), unusable (`error`), or its lines.
    `signature`: its size and time before it was read, to see whether it changed after."""

    sha256: str
    signature: tuple
    extract: Extract | None = None
    error: ExtractError | None = None
    seen: bool = False


def _file_problem(item: pipeline.InputFile, stage: str, tag: str, exc: Exception) -> ExtractError:
    """What an exception while reading or checking a file means. A filesystem error is raised
    again to be retried, and running out of memory leaves the file for the next run, each with
    a message without the file's path; anything else the file made cleanclaim do is the file's
    problem, set aside with a reason (a poison file would otherwise fail every night)."""
    if isinstance(exc, OSError):
        raise OSError(exc.errno, f"{tag}: {stage} failed ({exc.strerror})") from None
    if isinstance(exc, MemoryError):
        raise MemoryError(f"{tag}: out of memory while {stage} it") from None
    get_run_logger().warning("%s set aside: %s failed (%s)", tag, stage, type(exc).__name__)
    return box.internal_error(item, stage, exc)


@task(
    name="read-extract",
    task_run_name="read {tag}",
    retries=2,
    retry_delay_seconds=[2, 10],
    retry_condition_fn=retry_only_io,
    **STAGE,
)
def read_extract(
    item: pipeline.InputFile, done: frozenset[str], rules: CatalogRef, tag: str
) -> Read:
    try:
        before = box.signature(item)
        sha = box.file_sha256(item.path)
    except OSError as exc:
        raise _file_problem(item, "hashing", tag, exc) from None
    if sha in done:  # validated and archived by an earlier run: the same content dropped again
        return Read(sha, before, seen=True)
    catalog = worker_catalog(rules)
    try:
        return Read(sha, before, extract=pipeline.load(item, catalog))
    except ExtractError as exc:
        get_run_logger().warning("%s set aside (%s)", tag, exc.reason)
        return Read(sha, before, error=exc)
    except FAULTS as exc:  # the file's problem (_file_problem)
        return Read(sha, before, error=_file_problem(item, "reading", tag, exc))


@task(name="check-partition", task_run_name="check {tag}", **STAGE)
def check_partition(
    item: pipeline.InputFile,
    extract: Extract,
    rules: CatalogRef,
    as_of: date,
    history: pl.DataFrame,
    tag: str,
    config: RunConfig,
) -> pipeline.FileOutcome:
    catalog = worker_catalog(rules)
    try:
        return pipeline.check(item, extract, catalog, as_of, config, history=history)
    except FAULTS as exc:  # the file's problem (_file_problem)
        error = _file_problem(item, "checking", tag, exc)
        return pipeline.FileOutcome(item, facts={"file": item.path.name}, error=error)


@task(
    name="publish-extract",
    task_run_name="publish {tag}",
    retries=2,
    retry_delay_seconds=[2, 10],
    retry_condition_fn=retry_only_io,
    **STAGE,
)
def publish_extract(
    outcome: pipeline.FileOutcome,
    read: Read,
    inbox: Path,
    out: Path,
    as_of: date,
    rules: CatalogRef,
    run_id: str,
    tag: str,
) -> str:
    """flows/inbox.py publish: reports, history rows, the day's outcome, the move, then the ledger;
    a crash between any two steps is finished by the next run. A failure leaves the file in the
    inbox, and its message holds no path (file names can carry patient identifiers)."""
    catalog = worker_catalog(rules)
    try:
        return box.publish(outcome, read.sha256, read.signature, inbox, out, as_of, catalog, run_id)
    except OSError as exc:  # retried
        raise OSError(exc.errno, f"{tag}: publishing failed ({exc.strerror})") from None
    except FAULTS as exc:
        raise RuntimeError(f"{tag}: publishing failed ({type(exc).__name__})") from None


@task(name="check-across-files", task_run_name="check duplicates of {tag}", **STAGE)
def check_across_files(
    outcome: pipeline.FileOutcome,
    rules: CatalogRef,
    as_of: date,
    history: pl.DataFrame,
    tag: str,
    config: RunConfig,
) -> pipeline.FileOutcome:
    """The duplicate rules again over the whole file, with the earlier files of this run among the
    lines they compare with (pipeline.check_duplicates_across)."""
    try:
        return pipeline.check_duplicates_across(
            outcome, worker_catalog(rules), as_of, config, history
        )
    except FAULTS as exc:  # the file's problem (_file_problem)
        error = _file_problem(outcome.input, "checking", tag, exc)
        return pipeline.FileOutcome(
            outcome.input, facts={"file": outcome.input.path.name}, error=error
        )


def _own_history(
    past: pl.DataFrame | None,
    sha: str,
    patients: pl.DataFrame,
    siblings: list[pl.DataFrame] | None = None,
) -> pl.DataFrame | None:
    """Earlier runs' lines for these patients, without the file's own (a redo after a crash), and
    the lines of the run's earlier files (`siblings`, engine.HISTORY_COLUMNS)."""
    if past is None and not siblings:
        return None
    earlier = [] if past is None else [past.filter(pl.col("_sha256") != sha).drop("_sha256")]
    return pl.concat([*earlier, *(siblings or [])], how="vertical_relaxed").join(
        patients.select("patient_id").unique(), on="patient_id", how="semi"
    )


def _artifact(
    result: pipeline.Run,
    counts: dict[str, int],
    files: list[tuple[str, str, dict]],
    day: Path,
    reports: tuple[Path, Path] | None,
) -> None:
    """The run as markdown: each file's outcome (by position and type) and counts, the run's counts,
    claims and dollars by status, and where the reports are. A file's own reports are named after
    the file, which can carry patient identifiers: the artifact gives their folder."""
    lines = [
        f"# cleanclaim nightly run as of {result.as_of}",
        "",
        "| file | outcome | lines | claims | findings |",
        "|---|---|---:|---:|---:|",
        *(
            f"| {tag} | {what} | {facts.get('lines', '')} | {facts.get('claims', '')} "
            f"| {facts.get('findings', '')} |"
            for tag, what, facts in files
        ),
        "",
        "**Files:** " + " · ".join(f"{s} {counts[s]}" for s in OUTCOMES),
        "",
    ]
    if result.outcomes:
        lines += ["| claims | count | dollars at risk |", "|---|---:|---:|"]
        lines += [
            f"| {v['Status']} | {v['Claims']} | ${(v['Dollars at risk'] or 0):,.2f} |"
            for v in result.tables["Claims by status"].iter_rows(named=True)
        ]
        lines.append("")
    lines.append(f"**Reports:** each validated file's workbook and findings in `{day}`")
    if reports:
        lines.append(
            f"; the run's consolidated workbook `{reports[0]}` and findings `{reports[1]}`"
        )
    create_markdown_artifact(
        key="nightly-claims-validation",
        markdown="\n".join(lines),
        description=f"cleanclaim nightly run as of {result.as_of}",
    )


# The notification block of each run in this process, for its on_failure hook (which runs after
# the flow, with no way back to what the flow read).
_notify_blocks: dict[str, str] = {}
# Failures whose message is cleanclaim's own (positions, types, paths of folders); any other
# exception is named by its type only: a library's message can quote a claim value.
# (Prefect's flow timeout is a TimeoutError.)
_OWN_MESSAGES = (NightlyRunError, box.InboxBusyError, RuleConfigError, TimeoutError)


def notify_failure(flow_, run, state) -> None:
    """on_failure: tell the team through the Prefect notification block the configuration names
    (`notify_block: custom-webhook/ops-hook`), with the run's name, state and cleanclaim's message."""
    logger = flow_run_logger(run, flow_)
    block_name = _notify_blocks.pop(str(run.id), None)
    if block_name is None:
        logger.warning("no notify_block in the run configuration: nobody was notified")
        return
    from prefect.blocks.core import Block

    exc = state.result(raise_on_failure=False)
    why = str(exc) if isinstance(exc, _OWN_MESSAGES) else f"{type(exc).__name__} (see its logs)"
    body = f"{run.name} ended {state.name}: {why}\nFlow run id: {run.id}"
    Block.load(block_name).notify(body=body, subject=f"cleanclaim {run.name} {state.name}")
    logger.info("notified %s", block_name)


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


@flow(
    name="nightly-claims-validation",
    flow_run_name=_run_name,
    timeout_seconds=NIGHTLY_TIMEOUT_SECONDS,
    on_failure=[notify_failure],
    persist_result=False,
    log_prints=False,
)
def nightly_claims_validation(
    inbox: str,
    out: str,
    as_of: date | None = None,
    rules: str | None = None,
    partition_lines: int = PARTITION_LINES,
    settle_seconds: float = box.SETTLE_SECONDS,
    threads: int | None = None,
    config: str | None = None,
    select: list[str] | None = None,
    ignore: list[str] | None = None,
):
    """Validate every extract waiting in `inbox`; write reports under `out`; archive or quarantine each.
    `rules` is a rule folder (default: the catalog shipped with cleanclaim); a file of more than
    `partition_lines` lines is checked in parts of whole patients; a file modified less than
    `settle_seconds` ago is left for the next run; `threads`: the rules of a partition checked at
    once (default: the CPUs of the process that checks it); `config`: the run configuration's path
    (empty: the closest cleanclaim.yaml from the working folder, as `cleanclaim validate` finds
    it), with `select`/`ignore` over its own as on the command line. The returned state's data
    holds the counts and, for the CLI to print, each inbox file's outcome (never sent to the Prefect
    server: results are not persisted)."""
    logger = get_run_logger()
    inbox_dir, out_dir = Path(inbox), Path(out)
    as_of = as_of or date.today()
    run_id = str(flow_run.id or uuid.uuid4().hex)
    catalog_ref, catalog = share_catalog(rules)
    config, announcement = resolve_config(config or None, set(catalog.rules), select, ignore)
    logger.info("%s · %d rules · as of %s", announcement, len(catalog.rules), as_of)
    if threads is not None:
        config = config.model_copy(update={"threads": threads})
    if config.notify_block:
        _notify_blocks[run_id] = config.notify_block
    started, clock = datetime.now(), time.perf_counter()
    store = History(out_dir)
    status: dict[str, box.Outcome] = {}

    def move(name: str, outcome: str, detail: str, step, *args) -> None:
        """Archive or quarantine in the flow; a filesystem error leaves the file "failed" in the
        inbox, logged without its name."""
        try:
            step(*args)
        except OSError as exc:
            logger.warning("%s could not be moved (%s)", tag[name], exc.strerror)
            return
        status[name] = box.Outcome(name, outcome, detail)

    with box.inbox_lock(inbox_dir):
        history = _HistoryGuard(store, logger)
        history.run(store.ingest)  # what a run that crashed left staged
        history.run(store.purge, as_of, config.history_retention_months)
        # decisions analysts saved in earlier workbooks, before tonight's are written
        history.run(decisions.refresh, store, decisions.saved_workbooks(out_dir))
        past = history.run(store.lines, as_of)
        found = box.survey(inbox_dir, settle_seconds)
        tag = {name: box.label(found, name) for name in found.positions}
        for item, error in found.refused:
            move(
                item.path.name,
                "quarantined",
                error.problem,
                lambda i, e: box.set_aside(
                    i, box.file_sha256(i.path), e, inbox_dir, out_dir, as_of
                ),
                item,
                error,
            )
        eras = set(remittances_in(inbox_dir))  # 835s are remits, not extracts (flows/outcomes.py)
        found.extracts[:] = [i for i in found.extracts if i.path not in eras]
        done = frozenset(box.Ledger(out_dir).done())
        reads = [
            (item, read_extract.submit(item, done, catalog_ref, tag[item.path.name]))
            for item in found.extracts
        ]
        checks = {}
        for item, future in reads:  # each file's partitions start as soon as it is read
            name = item.path.name
            future.wait()
            if future.state.is_failed():
                continue  # unreadable after its retries (not a bad file: a bad file is quarantined)
            read = future.result()
            if read.seen:
                move(
                    name,
                    "already processed",
                    "archived again",
                    box.archive,
                    item,
                    inbox_dir,
                    read.sha256,
                )
            elif read.error is not None:
                move(
                    name,
                    "quarantined",
                    read.error.problem,
                    box.set_aside,
                    item,
                    read.sha256,
                    read.error,
                    inbox_dir,
                    out_dir,
                    as_of,
                )
            else:
                parts = pipeline.split_by_patient(
                    read.extract, pipeline.parts_needed(read.extract, partition_lines)
                )
                checks[name] = (
                    item,
                    read,
                    [
                        check_partition.submit(
                            item,
                            part,
                            catalog_ref,
                            as_of,
                            _own_history(past, read.sha256, part.lines),
                            tag[name]
                            + (f", part {number} of {len(parts)}" if len(parts) > 1 else ""),
                            config,
                        )
                        for number, part in enumerate(parts, 1)
                    ],
                )
        published, siblings, facts = {}, [], {}
        for name, (item, read, futures) in checks.items():
            for future in futures:
                future.wait()
            if any(f.state.is_failed() for f in futures):
                continue  # the file stays in the inbox: the next run tries it again
            parts = [f.result() for f in futures]
            error = next((p.error for p in parts if p.error is not None), None)
            if error is None:
                outcome = pipeline.merge_outcomes(item, parts)
                if siblings:  # a line billed in an earlier file of tonight's is a duplicate too
                    across = check_across_files.submit(
                        outcome,
                        catalog_ref,
                        as_of,
                        _own_history(past, read.sha256, outcome.lines, siblings),
                        tag[name],
                        config,
                    )
                    across.wait()
                    if across.state.is_failed():
                        continue  # the file stays in the inbox: the next run tries it again
                    outcome = across.result()
                    error = outcome.error
            if error is not None:
                move(
                    name,
                    "quarantined",
                    error.problem,
                    box.set_aside,
                    item,
                    read.sha256,
                    error,
                    inbox_dir,
                    out_dir,
                    as_of,
                )
                continue
            siblings.append(history_rows(outcome.lines))
            facts[name] = outcome.facts
            published[name] = publish_extract.submit(
                outcome, read, inbox_dir, out_dir, as_of, catalog_ref, run_id, tag[name]
            )
        for name, future in published.items():
            future.wait()
            if future.state.is_completed():
                what = future.result()
                detail = (
                    "reports written, file archived"
                    if what == "validated"
                    else (
                        "it changed while it was being validated: still being written? The next "
                        "run takes it once it has settled"
                    )
                )
                status[name] = box.Outcome(name, what, detail)
        for item in [*found.extracts, *(item for item, _ in found.refused)]:
            status.setdefault(
                item.path.name,
                box.Outcome(
                    item.path.name,
                    "failed",
                    "cleanclaim crashed on it (see the task logs); the next run tries any file "
                    "still in the inbox again",
                ),
            )
        for other in found.others:
            status.setdefault(other.name, other)
        history.run(store.ingest)
        remits = None
        if eras:  # after tonight's claims are in the history; left in the inbox if it is unusable
            remits = history.run(nightly_remits, sorted(eras), inbox_dir, out_dir, catalog)
            status |= remits.status if remits else {}
        staged = box.staged_days(out_dir, catalog, started, time.perf_counter() - clock)
        result = staged.get(as_of) or pipeline.Run([], catalog, as_of, started)
        counts = Counter(o.outcome for o in status.values())
        summary = {
            "files": len(found.extracts) + len(found.refused),
            **{s: counts[s] for s in OUTCOMES},
        }
        history.run(store.record_run, run_row(run_id, result, summary))
        reports = {  # tonight's row is in its Trend sheet
            day: box.write_consolidated(
                out_dir,
                day_result,
                history.run(store.trend),
                remits.sheets if remits and day == as_of else None,  # tonight's 835s' outcomes
            )
            for day, day_result in staged.items()
        }
    outcomes = [status[name] for name in sorted(status, key=found.positions.get)]
    for o in outcomes:  # one line per file, by position and type
        logger.info("%s: %s", tag[o.name], o.outcome)
    _artifact(
        result,
        summary,
        [(tag[o.name], o.outcome, facts.get(o.name, {})) for o in outcomes],
        box.day_folder(out_dir, as_of),
        reports.get(as_of),
    )
    logger.info("nightly run: %s", summary)
    final = _final_state(outcomes, tag, summary, history.problem)
    if final.is_completed():  # nobody to tell (a run that raises is told by its hook)
        _notify_blocks.pop(run_id, None)
    return final


def _final_state(
    outcomes: list[box.Outcome],
    tag: dict[str, str],
    summary: dict[str, int],
    history_problem: str | None = None,
):
    """Completed, or Failed with a message listing every file that was not validated and why,
    by position and type (names can carry patient identifiers: the CLI prints them from the data)."""
    named = {
        s: [tag[o.name] for o in outcomes if o.outcome == s] for s in ("quarantined", "failed")
    }
    ignored = [tag[o.name] for o in outcomes if o.attention]
    problems = []
    if named["quarantined"]:
        problems.append(
            f"{len(named['quarantined'])} of {summary['files']} files could not be used and were "
            f"quarantined with a reason file: {', '.join(named['quarantined'])}"
        )
    if named["failed"]:
        problems.append(
            f"{len(named['failed'])} files failed (see the task logs); the next run tries any "
            f"still in the inbox again: {', '.join(named['failed'])}"
        )
    if ignored:
        problems.append(
            f"{len(ignored)} files in the inbox are not read (see docs/nightly.md) and were "
            f"left there: {', '.join(ignored)}"
        )
    if history_problem:
        problems.append(history_problem)
    data = {**summary, "outcomes": [(o.name, o.outcome, o.detail) for o in outcomes]}
    if problems:
        message = "; ".join(problems)
        return Failed(message=message, data=NightlyRunError(message, data))
    return Completed(
        message=f"{summary['validated']} validated, {summary['already processed']} already "
        f"processed, {summary['left to settle']} left to settle",
        data=data,
    )
