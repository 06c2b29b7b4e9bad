"""Denial-risk scoring: each claim's score, status, dollars at risk and top reasons, from its findings.

    contribution of a rule = weight (from the rule's YAML) x severity factor (high 1, medium 0.6, low 0.25)
    score = round(100 x (1 - product over the claim's distinct stable rules of (1 - contribution)))

so one certain denial (a high rule of weight 1) makes 100, and independent smaller risks combine
like probabilities. Preview rules are reported but not scored. Status: **hold** when any finding
is high (the payer will reject or deny), **review** when any is medium, **clean** otherwise (low
findings are advisory). Dollars at risk: the charges of the lines findings affect; a claim-level
finding puts the whole claim at risk (validators/summary.py: `claims`). Rules know nothing of scores.
"""

from __future__ import annotations

import polars as pl

from cleanclaim.validators.catalog import Catalog

SEVERITY_FACTOR = {"high": 1.0, "medium": 0.6, "low": 0.25}
STATUS_ORDER = {"hold": 0, "review": 1, "clean": 2}
TOP_REASONS = 3


def claim_key() -> pl.Expr:
    """Claims are keyed by file and claim id (a line without a claim id is its own claim)."""
    return pl.coalesce(pl.col("claim_id"), pl.format("(no claim id) row {}", pl.col("source_row")))


def rule_weights(catalog: Catalog) -> pl.DataFrame:
    """One row per rule: its weight, whether it is scored, `reason` (its id and name, as a claim's
    top reasons list it) and `_rank`, its id's place in text order. The rule id and reason are
    categoricals, as the findings hold the id: a claim's reasons are never text per finding."""
    rules = sorted(catalog.rules.values(), key=lambda r: r.id)
    return pl.DataFrame(
        {
            "rule_id": [r.id for r in rules],
            "weight": [r.weight for r in rules],
            "scored": [r.status == "stable" for r in rules],
            "reason": [f"{r.id} {r.name}" for r in rules],
            "_rank": range(len(rules)),
        },
        schema={
            "rule_id": pl.Categorical(),
            "weight": pl.Float64,
            "scored": pl.Boolean,
            "reason": pl.Categorical(),
            "_rank": pl.UInt32,
        },
    )


def score(findings: pl.DataFrame, catalog: Catalog, by: list[str] | None = None) -> pl.DataFrame:
    """One row per claim with findings: the columns `by` that name a claim (its file and claim key,
    source_file and claim, unless given), score, status, top_reasons. Reads the findings' `by`,
    rule_id and severity only: never a message or fix, which a join would copy for nothing."""
    if by is None:
        findings, by = findings.with_columns(claim_key().alias("claim")), ["source_file", "claim"]
    factor = pl.col("severity").replace_strict(SEVERITY_FACTOR, return_dtype=pl.Float64)
    # a rule's weight is one number: the largest contribution is its weight times the largest
    # factor, so the weights are joined per claim and rule rather than per finding
    # grouped on one integer per claim and rule (the claim's number, the rule id's code): a group-by
    # on two columns holds twice the memory
    findings = findings.select(*by, pl.col("rule_id").cast(pl.Categorical), "severity")
    numbered = len(by) == 1 and findings.schema[by[0]].is_integer()
    claim = pl.col(by[0]) if numbered else pl.struct(*by).rank("dense")
    key = claim.cast(pl.UInt64) * 2**32 + pl.col("rule_id").to_physical().cast(pl.UInt64)
    per_rule = (
        findings.group_by(key.alias("_key"))
        .agg(
            pl.col(*by, "rule_id").first(),
            factor.max().alias("_factor"),
            pl.col("severity").first(),
        )
        .drop("_key")
        .join(rule_weights(catalog), on="rule_id", how="left")
        .with_columns((pl.col("weight").fill_null(0.0) * pl.col("_factor")).alias("_c"))
    )
    scored = per_rule.with_columns(
        pl.when(pl.col("scored")).then("_c").otherwise(0.0).clip(0.0, 1.0).alias("_c")
    )
    return (
        scored.sort("_c", "_rank", descending=[True, False])
        .group_by(*by, maintain_order=True)
        .agg(
            (100 * (1 - (1 - pl.col("_c")).product())).round(0).cast(pl.Int64).alias("score"),
            pl.when((pl.col("severity") == "high").any())
            .then(pl.lit("hold"))
            .when((pl.col("severity") == "medium").any())
            .then(pl.lit("review"))
            .otherwise(pl.lit("clean"))
            .alias("status"),
            pl.col("reason").head(TOP_REASONS).alias("top_reasons"),
        )
        # joined per claim from its list: a string join inside the group-by costs twice the time
        .with_columns(pl.col("top_reasons").cast(pl.List(pl.String)).list.join("; "))
    )
