"""Prefect flow `validate-claim-file`: the ad-hoc run of one extract, as tasks on the same stages.

PHI stays out of Prefect: parameters are
paths and a date; tasks keep their results in memory (no cache, no persistence), so claim
frames never reach Prefect's storage; the flow returns counts; log lines carry counts only; and
errors raised here are ExtractError, whose text names the file and the problem, never a value.
"""

from __future__ import annotations

from cleanclaim.validators import runtime

runtime.configure()  # before polars loads: a deployment runs this file by path

import time
from datetime import date, datetime

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from cleanclaim.flows import pipeline
from cleanclaim.validators.catalog import Catalog, load_catalog
from cleanclaim.validators.config import RunConfig, resolve_config


def retry_only_io(task_, task_run, state) -> bool:
    """Retry a read that failed on the filesystem; a file that is simply bad fails once."""
    try:
        state.result()
    except OSError:
        return True
    except Exception:
        return False
    return False


STAGE = {"cache_policy": NO_CACHE, "persist_result": False}


@task(
    name="load-extract",
    retries=2,
    retry_delay_seconds=[2, 10],
    retry_condition_fn=retry_only_io,
    **STAGE,
)
def load_extract(item: pipeline.InputFile, catalog: Catalog):
    return pipeline.load(item, catalog)


@task(name="check-field-integrity", **STAGE)
def check_fields(
    item: pipeline.InputFile, extract, catalog: Catalog, as_of: date, config: RunConfig
) -> pipeline.FileOutcome:
    return pipeline.check(item, extract, catalog, as_of, config)


@task(
    name="write-reports",
    retries=2,
    retry_delay_seconds=[2, 10],
    retry_condition_fn=retry_only_io,
    **STAGE,
)
def write_reports(result: pipeline.Run, report: str, findings: str) -> dict:
    return pipeline.write_outputs(result, report, findings)


@flow(name="validate-claim-file", persist_result=False, log_prints=False)
def validate_claim_file(
    path: str,
    report: str,
    findings: str,
    as_of: date | None = None,
    notes: str | None = None,
    mapping: str | None = None,
    threads: int | None = None,
    config: str | None = None,
) -> dict:
    """Validate one claim extract and write its denial-risk workbook and findings file. `threads`:
    the parts of a large file, or the rules of a small one, checked at once (default: the CPUs);
    `config`: the run configuration's path (empty: the closest cleanclaim.yaml from the working
    folder, as `cleanclaim validate` finds it)."""
    logger = get_run_logger()
    as_of = as_of or date.today()
    catalog = load_catalog()
    run_config, announcement = resolve_config(config or None, set(catalog.rules))
    logger.info("%s · %d rules · as of %s", announcement, len(catalog.rules), as_of)
    if threads is not None:
        run_config = run_config.model_copy(update={"threads": threads})
    (item,) = pipeline.discover([path], mapping=mapping, notes=notes)
    started, clock = datetime.now(), time.perf_counter()
    extract = load_extract(item, catalog)
    outcome = check_fields(item, extract, catalog, as_of, run_config)
    result = pipeline.Run([outcome], catalog, as_of, started, time.perf_counter() - clock)
    write_reports(result, report, findings)
    counts = outcome.findings.group_by("severity").len()
    summary = {
        "lines": outcome.facts["lines"],
        "claims": outcome.facts["claims"],
        "findings": outcome.findings.height,
        **{f"findings_{s}": n for s, n in counts.iter_rows()},
    }
    logger.info(
        "validated %d lines in %d claims: %d findings",
        summary["lines"],
        summary["claims"],
        summary["findings"],
    )
    return summary
