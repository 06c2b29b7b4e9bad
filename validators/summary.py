"""The run in numbers: the per-claim table (scored) and the Summary's tables, for the workbook and the terminal.

Dollars at risk: the charges of the lines a finding affects; a claim-level finding (no line
number) puts the whole claim at risk. Each line counts once however many findings it has.
Claims are keyed by file and claim id, so the same id in two extracts is two claims.
"""

from __future__ import annotations

import polars as pl

from validators.catalog import CATEGORIES, SEVERITIES, Catalog
from validators.scoring import STATUS_ORDER, claim_key, score

# The columns of the validated lines this module reads (a run that read nothing has exactly these).
LINES_SCHEMA = {
    "source_file": pl.String,
    "source_row": pl.Int64,
    "claim_id": pl.String,
    "patient_id": pl.String,
    "payer_id": pl.String,
    "payer_name": pl.String,
    "billing_npi": pl.String,
    "rendering_npi": pl.String,
    "_service_date": pl.Date,
    "_line_number": pl.Int64,
    "_charge": pl.Float64,
}


def affected_lines(lines: pl.DataFrame, findings: pl.DataFrame) -> pl.DataFrame:
    """(rule_id, source_file, claim, source_row, charge) for every line each rule puts at risk."""
    line_keys = lines.select(
        "source_file", "source_row", claim_key().alias("claim"), pl.col("_charge").alias("charge")
    )
    keyed = findings.with_columns(claim_key().alias("claim"))
    whole_claim = (
        keyed.filter(pl.col("line_number").is_null())
        .select("rule_id", "source_file", "claim")
        .join(line_keys, on=["source_file", "claim"], how="inner")
    )
    one_line = (
        keyed.filter(pl.col("line_number").is_not_null())
        .select("rule_id", "source_file", "source_row")
        .join(line_keys, on=["source_file", "source_row"], how="inner")
    )
    return pl.concat([whole_claim, one_line], how="diagonal_relaxed").unique(
        ["rule_id", "source_file", "source_row"]
    )


def claims(
    lines: pl.DataFrame, findings: pl.DataFrame, affected: pl.DataFrame, catalog: Catalog
) -> pl.DataFrame:
    """One row per claim: identifiers, payer, provider, dates, billed, at risk, score, status, reasons.
    Most urgent first: hold, then review, then clean; higher score and more dollars first; ties in
    the order the claims come in the files (a stable sort on numbers: sorting 500k claims on their
    string keys as tie-breakers took 0.5 s). `affected` is affected_lines(lines, findings), computed
    once per run."""
    base = (
        lines.with_columns(claim_key().alias("claim"))
        .group_by("source_file", "claim", maintain_order=True)
        .agg(
            pl.col("claim_id").first(),
            pl.col("patient_id").first(),
            pl.col("payer_id").first(),
            pl.col("payer_name").first(),
            pl.coalesce("rendering_npi", "billing_npi").first().alias("provider"),
            pl.col("_service_date").min().alias("first_service"),
            pl.col("_service_date").max().alias("last_service"),
            pl.len().alias("lines"),
            pl.col("_charge").sum().round(2).alias("billed"),
        )
    )
    # A claim whose every row was set aside (FLD025) has findings but no validated lines: it must
    # still be listed, on hold, with its billed amount unknown rather than a reassuring $0.
    unread = (
        findings.with_columns(claim_key().alias("claim"))
        .group_by("source_file", "claim", maintain_order=True)
        .agg(pl.col("claim_id").first())
        .join(base, on=["source_file", "claim"], how="anti")
        .with_columns(pl.lit(0, pl.UInt32).alias("lines"))
    )
    base = pl.concat([base, unread], how="diagonal_relaxed")
    at_risk = (
        affected.unique(["source_file", "source_row"])
        .group_by("source_file", "claim")
        .agg(pl.col("charge").sum().round(2).alias("at_risk"))
    )
    return (
        base.join(at_risk, on=["source_file", "claim"], how="left")
        .join(score(findings, catalog), on=["source_file", "claim"], how="left")
        .with_columns(
            pl.col("at_risk").fill_null(0.0),
            pl.col("score").fill_null(0),
            pl.col("status").fill_null("clean"),
            pl.col("top_reasons").fill_null(""),
        )
        .sort(
            pl.col("status").replace_strict(STATUS_ORDER, return_dtype=pl.Int8),
            "score",
            "at_risk",
            descending=[False, True, True],
            maintain_order=True,
        )
    )


def _by(claims_table: pl.DataFrame, column: str, label: str) -> pl.DataFrame:
    return (
        claims_table.group_by(pl.col(column).fill_null("(none)").alias(label))
        .agg(
            pl.len().alias("Claims"),
            (pl.col("status") == "hold").sum().alias("On hold"),
            (pl.col("status") == "review").sum().alias("To review"),
            pl.col("billed").sum().round(2).alias("Billed"),
            pl.col("at_risk").sum().round(2).alias("Dollars at risk"),
        )
        .sort("Dollars at risk", label, descending=[True, False])
    )


def summarize(
    claims_table: pl.DataFrame, findings: pl.DataFrame, affected: pl.DataFrame, catalog: Catalog
) -> dict[str, pl.DataFrame]:
    """The Summary's tables, in reading order."""
    status = claims_table.group_by(pl.col("status").alias("Status")).agg(
        pl.len().alias("Claims"),
        pl.col("billed").sum().round(2).alias("Billed"),
        pl.col("at_risk").sum().round(2).alias("Dollars at risk"),
    )
    status = (
        pl.DataFrame({"Status": list(STATUS_ORDER)})
        .join(status, on="Status", how="left")
        .with_columns(
            pl.col("Claims").fill_null(0),
            pl.col("Billed").fill_null(0.0),
            pl.col("Dollars at risk").fill_null(0.0),
        )
    )

    counts = findings.group_by("category", "severity").len()
    by_category = pl.DataFrame({"category": list(CATEGORIES)})
    if counts.height:
        by_category = by_category.join(
            counts.pivot(on="severity", index="category", values="len"), on="category", how="left"
        )
    by_category = by_category.with_columns(
        *(
            pl.col(s).fill_null(0).cast(pl.Int64)
            if s in by_category.columns
            else pl.lit(0, pl.Int64).alias(s)
            for s in SEVERITIES
        )
    ).select("category", *SEVERITIES)
    by_category = (
        by_category.with_columns(pl.sum_horizontal(*SEVERITIES).alias("total"))
        .filter(pl.col("total") > 0)
        .rename(
            {
                "category": "Category",
                "high": "High",
                "medium": "Medium",
                "low": "Low",
                "total": "Total",
            }
        )
    )

    dollars = affected.group_by("rule_id").agg(pl.col("charge").sum().alias("at_risk"))
    rule_info = pl.DataFrame(
        [{"rule_id": r.id, "name": r.name, "severity": r.severity} for r in catalog.rules.values()]
    )
    top = (
        findings.group_by("rule_id")
        .agg(
            pl.len().alias("Findings"),
            pl.struct("source_file", claim_key()).n_unique().alias("Claims"),
        )
        .join(dollars, on="rule_id", how="left")
        .join(rule_info, on="rule_id", how="left")
        .with_columns(pl.col("at_risk").fill_null(0.0).round(2))
        .sort(["at_risk", "Findings", "rule_id"], descending=[True, True, False])
        .select(
            pl.col("rule_id").alias("Rule"),
            pl.col("name").alias("Name"),
            pl.col("severity").alias("Severity"),
            "Findings",
            "Claims",
            pl.col("at_risk").alias("Dollars at risk"),
        )
    )
    return {
        "Claims by status": status,
        "Findings by category": by_category,
        "Rules by dollars at risk": top,
        "By payer": _by(claims_table, "payer_id", "Payer"),
        "By rendering provider": _by(claims_table, "provider", "Provider NPI"),
    }
