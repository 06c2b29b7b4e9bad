"""Counts and dollars for the run: what the terminal summary and the workbook's Summary show.

Dollars at risk: the charges of the lines a finding affects; a claim-level finding (no line
number) puts the whole claim at risk. Each line counts once however many findings it has.
Claims are keyed by file and claim id, so the same id in two extracts is two claims.
"""

from __future__ import annotations

import polars as pl

from validators.catalog import CATEGORIES, SEVERITIES, Catalog
from validators.findings import SEVERITY_ORDER

NO_CLAIM_ID = "(no claim id)"


def _claim_key() -> pl.Expr:
    return pl.coalesce(pl.col("claim_id"), pl.format("{} row {}", pl.lit(NO_CLAIM_ID), pl.col("source_row")))


def affected_lines(lines: pl.DataFrame, findings: pl.DataFrame) -> pl.DataFrame:
    """(rule_id, source_file, claim, source_row, charge) for every line each rule puts at risk."""
    line_keys = lines.select("source_file", "source_row", _claim_key().alias("claim"),
                             pl.col("_line_number").alias("line_number"), pl.col("_charge").alias("charge"))
    keyed = findings.with_columns(_claim_key().alias("claim"))
    whole_claim = keyed.filter(pl.col("line_number").is_null()).select("rule_id", "source_file", "claim").join(
        line_keys, on=["source_file", "claim"], how="inner")
    one_line = keyed.filter(pl.col("line_number").is_not_null()).select("rule_id", "source_file", "source_row").join(
        line_keys, on=["source_file", "source_row"], how="inner")
    return pl.concat([whole_claim, one_line], how="diagonal_relaxed").unique(
        ["rule_id", "source_file", "source_row"])


def claims(lines: pl.DataFrame, findings: pl.DataFrame) -> pl.DataFrame:
    """One row per claim: billed, at risk, worst severity (null = no finding)."""
    billed = lines.group_by("source_file", _claim_key().alias("claim")).agg(
        pl.col("_charge").sum().alias("billed"), pl.len().alias("lines"))
    at_risk = (affected_lines(lines, findings).unique(["source_file", "source_row"])
               .group_by("source_file", "claim").agg(pl.col("charge").sum().alias("at_risk")))
    worst = (findings.with_columns(_claim_key().alias("claim"),
                                   pl.col("severity").replace_strict(SEVERITY_ORDER, return_dtype=pl.Int8).alias("_s"))
             .group_by("source_file", "claim").agg(pl.col("_s").min().alias("_s")))
    return (billed.join(at_risk, on=["source_file", "claim"], how="left")
            .join(worst, on=["source_file", "claim"], how="left")
            .with_columns(pl.col("at_risk").fill_null(0.0),
                          pl.col("_s").replace_strict(dict(enumerate(SEVERITIES)), default=None,
                                                      return_dtype=pl.String).alias("worst_severity"))
            .drop("_s"))


def summarize(lines: pl.DataFrame, findings: pl.DataFrame, catalog: Catalog) -> dict[str, pl.DataFrame]:
    """The Summary's tables, in reading order."""
    per_claim = claims(lines, findings)
    status = (per_claim.group_by(pl.col("worst_severity").fill_null("no findings").alias("Worst finding"))
              .agg(pl.len().alias("Claims"), pl.col("billed").sum().round(2).alias("Billed"),
                   pl.col("at_risk").sum().round(2).alias("Dollars at risk")))
    order = {s: i for i, s in enumerate([*SEVERITIES, "no findings"])}
    status = status.sort(pl.col("Worst finding").replace_strict(order, return_dtype=pl.Int8))

    counts = findings.group_by("category", "severity").len()
    by_category = (pl.DataFrame({"category": list(CATEGORIES)})
                   .join(counts.pivot(on="severity", index="category", values="len")
                         if counts.height else pl.DataFrame(schema={"category": pl.String}),
                         on="category", how="left"))
    by_category = by_category.with_columns(
        *(pl.col(s).fill_null(0).cast(pl.Int64) if s in by_category.columns else pl.lit(0, pl.Int64).alias(s)
          for s in SEVERITIES)).select("category", *SEVERITIES)
    by_category = by_category.with_columns(pl.sum_horizontal(*SEVERITIES).alias("total")).filter(pl.col("total") > 0)
    by_category = by_category.rename({"category": "Category", "high": "High", "medium": "Medium",
                                      "low": "Low", "total": "Total"})

    dollars = affected_lines(lines, findings).group_by("rule_id").agg(pl.col("charge").sum().alias("at_risk"))
    rule_info = pl.DataFrame([{"rule_id": r.id, "name": r.name, "severity": r.severity}
                              for r in catalog.rules.values()])
    top = (findings.group_by("rule_id")
           .agg(pl.len().alias("Findings"),
                pl.struct("source_file", _claim_key()).n_unique().alias("Claims"))
           .join(dollars, on="rule_id", how="left").join(rule_info, on="rule_id", how="left")
           .with_columns(pl.col("at_risk").fill_null(0.0).round(2))
           .sort(["at_risk", "Findings", "rule_id"], descending=[True, True, False])
           .select(pl.col("rule_id").alias("Rule"), pl.col("name").alias("Name"),
                   pl.col("severity").alias("Severity"), "Findings", "Claims",
                   pl.col("at_risk").alias("Dollars at risk")))
    return {"Claims by worst finding": status, "Findings by category": by_category,
            "Rules by dollars at risk": top}
