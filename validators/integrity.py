"""The field-integrity stage: canonical text lines -> typed lines + FLD findings.

Pure: frames and the catalog in, frames out. Each pandera failure is mapped to the FLD rule
that owns its (check, column); a claim-level field is reported once per claim, not per line.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import polars as pl

from cleanclaim.validators import findings as fnd
from cleanclaim.validators.catalog import Catalog
from cleanclaim.validators.contract import CANONICAL, CLAIM_LEVEL, LABELS, PHI
from cleanclaim.validators.schema import failures, prepare, typed_lines

ENGINE_RULE = "ENG001"
ROW_RULE_KIND = "row_structure"


@dataclass
class IntegrityResult:
    lines: pl.DataFrame  # typed; `_failed` lists the fields that failed on each row
    findings: pl.DataFrame


def owners(catalog: Catalog) -> pl.DataFrame:
    """(check, column) -> rule id; column null = any column the rule does not leave to another."""
    rows = []
    for rule in catalog.by_stage("integrity"):
        if rule.check != "field_integrity":
            continue
        params = catalog.params[rule.id]
        rows.extend(
            {"check": check, "column": column, "rule_id": rule.id}
            for check in params.checks
            for column in params.columns or [None]
        )
    return pl.DataFrame(
        rows, schema={"check": pl.String, "column": pl.String, "rule_id": pl.String}
    )


def _attach_rules(rows: pl.DataFrame, owner: pl.DataFrame) -> pl.DataFrame:
    exact = owner.filter(pl.col("column").is_not_null())
    generic = (
        owner.filter(pl.col("column").is_null()).drop("column").rename({"rule_id": "_generic"})
    )
    return (
        rows.join(exact, on=["check", "column"], how="left", maintain_order="left")
        .join(generic, on="check", how="left", maintain_order="left")
        .with_columns(pl.coalesce("rule_id", "_generic").alias("rule_id"))
        .drop("_generic")
    )


def _engine_findings(
    catalog: Catalog, problems: pl.DataFrame, source_file: str | None
) -> pl.DataFrame:
    """Checks that could not run at all (no row to blame): reported, never silently passed."""
    if problems.is_empty():
        return fnd.empty()
    hits = problems.select(
        pl.lit(None, dtype=pl.String).alias("claim_id"),
        pl.lit(None, dtype=pl.Int64).alias("line_number"),
        pl.lit(None, dtype=pl.Float64).alias("charge_at_risk"),
        pl.lit(source_file).alias("source_file"),
        pl.lit(None, dtype=pl.Int64).alias("source_row"),
        pl.col("rule"),
        pl.lit("field integrity").alias("stage"),
        pl.col("error"),
    )
    return fnd.render(catalog[ENGINE_RULE], hits)


def check_integrity(lines: pl.DataFrame, catalog: Catalog, as_of: date) -> IntegrityResult:
    """Validate one file's canonical lines; every failure becomes a finding, no row is dropped."""
    prepared = prepare(lines)
    pos_codes = catalog.codesets["place_of_service"].codes()
    rows, table_level = failures(prepared, as_of, pos_codes)
    rows = _attach_rules(rows, owners(catalog))
    unowned = rows.filter(pl.col("rule_id").is_null())
    rows = rows.filter(pl.col("rule_id").is_not_null())

    # Messages quote the file's own text (not the upper-cased form the checks saw): unpivot the
    # failing (row, column) values from the raw lines, only for rows that failed.
    shown = [c for c in CANONICAL if c not in PHI]
    failed = rows.select("_row").unique()
    raw = (
        lines.select(shown)
        .with_columns(pl.int_range(pl.len(), dtype=pl.Int64).alias("_row"))
        .join(failed, on="_row", how="semi")
    )
    values = raw.unpivot(index="_row", on=shown, variable_name="column", value_name="value")
    numbers = prepared.select(
        "_row",
        "_claim_first",
        "_line_number",
        "_charge",
        "source_file",
        "source_row",
        fnd.claim_charges(prepared),
    ).join(failed, on="_row", how="semi")
    hits = (
        rows.join(values, on=["_row", "column"], how="left")
        .join(raw, on="_row", how="left")
        .join(numbers, on="_row", how="left")
        .with_columns(
            pl.when(pl.col("column").is_in(list(PHI)))
            .then(pl.lit("(hidden)"))
            .otherwise("value")
            .alias("value"),
            pl.col("column").replace_strict(LABELS, default=pl.col("column")).alias("field"),
            pl.lit(as_of.isoformat()).alias("as_of"),
            (pl.col("column").is_in(list(CLAIM_LEVEL)) & pl.col("claim_id").is_not_null()).alias(
                "_claim_level"
            ),
        )
    )
    # A claim-level field is wrong for the whole claim: one finding per claim, its first row named.
    claim_level = (
        hits.filter("_claim_level")
        .sort("source_row")
        .unique(["claim_id", "rule_id", "column"], keep="first", maintain_order=True)
        .with_columns(
            pl.lit(None, dtype=pl.Int64).alias("line_number"),
            pl.col("_claim_charge").alias("charge_at_risk"),
        )
    )
    line_level = hits.filter(~pl.col("_claim_level")).with_columns(
        pl.col("_line_number").alias("line_number"), pl.col("_charge").alias("charge_at_risk")
    )
    flagged = pl.concat([claim_level, line_level], how="diagonal_relaxed")
    parts = [
        fnd.render(catalog[rule_id], group) for (rule_id,), group in flagged.group_by("rule_id")
    ]

    problems = pl.concat(
        [
            unowned.select(
                pl.col("check").alias("rule"), pl.lit("no rule owns this check").alias("error")
            ).unique(),
            table_level.select(
                pl.col("check").alias("rule"), pl.lit("the check could not run").alias("error")
            ),
        ]
    )
    source_file = (
        lines["source_file"].first() if "source_file" in lines.columns and lines.height else None
    )
    parts.append(_engine_findings(catalog, problems, source_file))
    found = pl.concat([fnd.empty(), *parts], how="vertical_relaxed")
    return IntegrityResult(lines=typed_lines(prepared, rows), findings=fnd.ordered(found))


def rejected_row_findings(
    catalog: Catalog, rejected: pl.DataFrame, source_file: str
) -> pl.DataFrame:
    """Rows the reader set aside (a CSV row it could not split into fields) and structural problems
    it found (an X12 segment out of place): each is reported by the row_structure rule whose
    `problem` is its kind. A kind no rule reports is an engine finding, never dropped."""
    if rejected.is_empty():
        return fnd.empty()
    hits = rejected.with_columns(
        pl.lit(None, dtype=pl.Int64).alias("line_number"),
        pl.lit(None, dtype=pl.Float64).alias("charge_at_risk"),
        pl.lit(source_file).alias("source_file"),
    )
    rules = {
        catalog.params[r.id].problem: r
        for r in catalog.by_stage("integrity")
        if r.check == ROW_RULE_KIND
    }
    parts = [
        fnd.render(rules[kind], group) for (kind,), group in hits.group_by("kind") if kind in rules
    ]
    unknown = (
        hits.filter(~pl.col("kind").is_in(list(rules)))
        .select(
            pl.col("kind").alias("rule"),
            pl.lit("no rule reports this reader problem").alias("error"),
        )
        .unique()
    )
    return pl.concat(
        [fnd.empty(), *parts, _engine_findings(catalog, unknown, source_file)],
        how="vertical_relaxed",
    )
