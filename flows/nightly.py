"""Prefect flow `nightly-claims-validation`: every extract in the inbox to reports, unattended.

Each extract is its own branch (a task): validated, its workbook and findings written under
OUT/AS_OF/, its hash recorded, then moved to INBOX/archive/ -- or, when it cannot be used, moved to
INBOX/quarantine/ with a reason file. One consolidated workbook covers the run. A run in which any
file failed ends Failed with a message naming them; the other files are complete regardless.

PHI stays out of Prefect as in flows/adhoc.py: parameters are folders and a date, task results
stay in memory, logs and the artifact carry names, counts and dollars only.
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import date, datetime
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.states import Completed, Failed

from flows import inbox as box
from flows import pipeline
from flows.adhoc import STAGE, retry_only_io
from validators.catalog import Catalog, load_catalog


OUTCOMES = ("validated", "quarantined", "already processed")


def day_folder(out: Path, as_of: date) -> Path:
    """Where a run's reports go: one folder per as-of date."""
    return out / as_of.isoformat()


def _report_paths(folder: Path, stem: str) -> tuple[Path, Path]:
    return folder / f"{stem}.denial-risk.xlsx", folder / f"{stem}.findings.csv"


@task(name="process-extract", retries=2, retry_delay_seconds=[2, 10], retry_condition_fn=retry_only_io, **STAGE)
def process_extract(item: pipeline.InputFile, inbox: Path, out: Path, as_of: date, catalog: Catalog,
                    done: dict[str, dict]) -> tuple[str, pipeline.FileOutcome | None]:
    """One extract, start to finish: (what happened, its outcome if it was validated in this run)."""
    sha = box.file_sha256(item.path)
    if sha in done:  # validated by an earlier run (maybe one that crashed before archiving it)
        box.archive(item, inbox, sha)
        return "already processed", None
    outcome = pipeline.validate_file(item, catalog, as_of)
    if outcome.error is not None:
        box.quarantine(item, inbox, sha, outcome.error)
        return "quarantined", outcome
    report, findings = _report_paths(day_folder(out, as_of), item.path.stem)
    pipeline.write_outputs(pipeline.Run([outcome], catalog, as_of, datetime.now()), report, findings)
    box.Ledger(out).record(sha, item.path.name, str(report))
    box.archive(item, inbox, sha)
    return "validated", outcome


def _artifact(result: pipeline.Run, counts: dict[str, int], report: Path) -> None:
    """Aggregates only: files by what happened, claims and dollars by status, findings by category."""
    rows = [{"what": f"files {s}", "count": counts[s], "dollars at risk": None} for s in OUTCOMES]
    for values in result.tables["Claims by status"].iter_rows(named=True):
        rows.append({"what": f"claims {values['Status']}", "count": values["Claims"],
                     "dollars at risk": values["Dollars at risk"]})
    for values in result.tables.get("Findings by category", []).iter_rows(named=True):
        rows.append({"what": f"findings {values['Category']}", "count": values["Total"], "dollars at risk": None})
    create_table_artifact(key="nightly-claims-validation", table=rows,
                          description=f"cleanclaim nightly run as of {result.as_of}: report {report}")


@flow(name="nightly-claims-validation", persist_result=False, log_prints=False)
def nightly_claims_validation(inbox: str, out: str, as_of: date | None = None, rules: str | None = None):
    """Validate every extract waiting in `inbox`; write reports under `out`; archive or quarantine each.
    `rules` is a rule folder (default: the catalog shipped with cleanclaim)."""
    logger = get_run_logger()
    inbox_dir, out_dir = Path(inbox), Path(out)
    as_of = as_of or date.today()
    catalog = load_catalog(Path(rules) if rules else None)
    started, clock = datetime.now(), time.perf_counter()
    with box.inbox_lock(inbox_dir):
        items = pipeline.discover([inbox_dir])
        done = box.Ledger(out_dir).done()
        futures = {item.path.name: process_extract.submit(item, inbox_dir, out_dir, as_of, catalog, done)
                   for item in items}
        results = {name: future.result() for name, future in futures.items()}
    counts = Counter(status for status, _ in results.values())
    summary = {"files": len(items), **{s: counts[s] for s in OUTCOMES}}
    outcomes = [outcome for _, outcome in results.values() if outcome is not None]
    result = pipeline.Run(outcomes, catalog, as_of, started, time.perf_counter() - clock)
    report, findings = _report_paths(day_folder(out_dir, as_of), f"nightly-{as_of.isoformat()}")
    if outcomes:
        pipeline.write_outputs(result, report, findings)
        _artifact(result, summary, report)
    logger.info("nightly run: %s", summary)
    failed = sorted(name for name, (status, _) in results.items() if status == "quarantined")
    if failed:
        return Failed(message=f"{len(failed)} of {len(items)} files could not be used and were quarantined "
                              f"with a reason file: {', '.join(failed)}", data=summary)
    return Completed(message=f"{summary['validated']} validated, {summary['already processed']} already processed",
                     data=summary)
