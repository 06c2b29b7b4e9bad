"""The rule engine: runs every selected engine-stage rule over one file's typed lines, each in
isolation, and turns what each flags into findings.

A check kind reads the file's `Context` (validators/checks/context.py) and returns the rows it
flags, as validators/checks/__init__.py states. The engine adds what every finding needs (claim
id, line number, charge at risk, source file and row), applies the rule's payer scope and the run
configuration, and renders the findings. A rule that raises becomes an ENG001 finding; the other
rules still run (sqlfluff's crash isolation).
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import polars as pl

import cleanclaim.validators.checks.documentation
import cleanclaim.validators.checks.dx
import cleanclaim.validators.checks.procedure
import cleanclaim.validators.checks.trauma  # noqa: F401
from cleanclaim.validators import findings as fnd
from cleanclaim.validators.catalog import Catalog, Rule
from cleanclaim.validators.checks import REGISTRY
from cleanclaim.validators.checks.context import Context
from cleanclaim.validators.config import RunConfig
from cleanclaim.validators.errors import FAULTS
from cleanclaim.validators.integrity import ENGINE_RULE
from cleanclaim.validators.notes import NoteIndex

log = logging.getLogger("cleanclaim.engine")


def finding_keys(lines: pl.DataFrame) -> pl.DataFrame:
    """What every finding takes from its line: ids, source, the line's and the claim's charge.
    Row i is the line whose _row is i, so a rule's hits pick their keys by position."""
    return lines.select(
        "_row",
        "_claim_first",
        "claim_id",
        "payer_id",
        "source_file",
        "source_row",
        "_line_number",
        "_charge",
        fnd.claim_charges(lines),
    )


# What a run keeps of each usable service line so later runs' duplicate and frequency rules see it.
HISTORY_COLUMNS = {
    "claim_id": pl.String,
    "_line_number": pl.Int64,
    "patient_id": pl.String,
    "rendering_npi": pl.String,
    "billing_npi": pl.String,
    "_service_date": pl.Date,
    "procedure_code": pl.String,
    "modifier_1": pl.String,
    "modifier_2": pl.String,
    "modifier_3": pl.String,
    "modifier_4": pl.String,
    "_units": pl.Float64,
}


def history_rows(lines: pl.DataFrame) -> pl.DataFrame:
    """The lines of this run to remember: those whose history fields all passed field integrity."""
    used = [c for c in HISTORY_COLUMNS if not c.startswith("_")] + [
        "service_date",
        "units",
        "line_number",
    ]
    return lines.filter(
        ~pl.any_horizontal(pl.col("_failed").list.contains(c) for c in used)
    ).select(pl.col(c).cast(t) for c, t in HISTORY_COLUMNS.items())


def _hits_to_findings(
    rule: Rule, hits: pl.DataFrame, keys: pl.DataFrame, config: RunConfig
) -> pl.DataFrame:
    """A rule's hits -> its findings, each with its line's `keys` (finding_keys) picked by _row."""
    hits = hits.filter(
        pl.col("_row") >= 0
    )  # history lines (negative rows) inform rules, never get findings
    if hits.is_empty():  # most rules flag nothing in a small file: nothing to gather or render
        return fnd.empty()
    # A gather by position, not a join: a join would hash the million-line key table for every rule.
    keys = keys.gather(hits["_row"])
    joined = pl.concat(
        [hits, keys.drop(c for c in keys.columns if c in hits.columns)], how="horizontal"
    ).with_columns(
        pl.when(pl.col("claim_level"))
        .then(None)
        .otherwise(pl.col("_line_number"))
        .alias("line_number"),
        pl.when(pl.col("claim_level"))
        .then(pl.col("_claim_charge"))
        .otherwise(pl.col("_charge"))
        .alias("charge_at_risk"),
    )
    if skip := config.payers_ignoring(rule.id):
        joined = joined.filter(~pl.col("payer_id").is_in(skip))
    out = fnd.render(rule, joined)
    if overrides := config.severity_by_payer(rule.id):
        out = out.with_columns(
            joined["payer_id"]
            .replace_strict(overrides, default=rule.severity)
            .cast(pl.Categorical)
            .alias("severity")
        )
    return out


def run_rules(
    lines: pl.DataFrame,
    catalog: Catalog,
    as_of: date,
    config: RunConfig | None = None,
    history: pl.DataFrame | None = None,
    timings: dict[str, float] | None = None,
    threads: int = 1,
    file_notes: NoteIndex | None = None,
) -> pl.DataFrame:
    """Every selected engine rule over one file's typed lines -> findings (ENG001 for a crash).
    `history`: lines of earlier runs (HISTORY_COLUMNS) that the duplicate and frequency rules count.
    `file_notes`: the index of the file's notes file, by claim id (checks.context.index_notes).
    `timings`, when given, receives each rule's seconds (what the rule first touches of the shared
    context -- visits, diagnoses, note elements -- is counted in that rule). `threads`: rules run
    that many at a time (their findings stay in catalog order)."""
    config = config or RunConfig()
    ctx = Context(lines, catalog, as_of, config, history, file_notes)
    keys = finding_keys(lines)  # the whole file's: a payer scope's hits keep their _row

    def run(rule: Rule) -> tuple[pl.DataFrame | None, dict | None]:
        # a payer-specific rule never fires for other payers
        scoped = ctx.for_payers(rule.payers) if rule.payers else ctx
        started = time.perf_counter()
        try:
            hits = REGISTRY[rule.check].func(scoped, catalog.params[rule.id])
            outcome = _hits_to_findings(rule, hits, keys, config), None
        except FAULTS as exc:
            # no message: it may quote values
            log.error("rule %s crashed: %s", rule.id, type(exc).__name__)
            outcome = None, {"rule": rule.id, "error": type(exc).__name__}
        if timings is not None:
            timings[rule.id] = time.perf_counter() - started
        return outcome

    rules = [rule for rule in catalog.by_stage("engine") if config.selects(rule.id)]
    # Much of a rule is Python between polars operations, and string kernels run on one core: rules
    # run `threads` at a time when a file is checked alone, over the one shared context.
    with ThreadPoolExecutor(max_workers=threads) as pool:
        outcomes = list(pool.map(run, rules))
    parts = [fnd.empty(), *(found for found, _ in outcomes if found is not None)]
    crashed = [crash for _, crash in outcomes if crash is not None]
    if crashed:
        hits = pl.DataFrame(crashed).with_columns(
            pl.lit(None, dtype=pl.String).alias("claim_id"),
            pl.lit(None, dtype=pl.Int64).alias("line_number"),
            pl.lit(None, dtype=pl.Float64).alias("charge_at_risk"),
            pl.lit(lines["source_file"].first() if lines.height else None, dtype=pl.String).alias(
                "source_file"
            ),
            pl.lit(None, dtype=pl.Int64).alias("source_row"),
            pl.lit("coding rules").alias("stage"),
        )
        parts.append(fnd.render(catalog[ENGINE_RULE], hits))
    return pl.concat(
        parts, how="vertical_relaxed"
    )  # in rule order: the caller orders a file's findings once
