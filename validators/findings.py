"""The findings table: the one contract every stage produces and every output reads."""

from __future__ import annotations

import string

import numpy as np
import pandera.polars as pa
import polars as pl

from cleanclaim.validators.catalog import CATEGORIES, SEVERITIES, Rule

FINDINGS_SCHEMA: dict[str, pl.DataType] = {
    "claim_id": pl.String,
    "line_number": pl.Int64,  # empty for claim-level findings
    "rule_id": pl.String,
    "category": pl.String,
    "severity": pl.String,
    "carc": pl.String,  # group + CARC, e.g. CO-16
    "rarc": pl.String,  # remark codes, comma-separated, e.g. M76
    "message": pl.String,
    "fix": pl.String,
    "charge_at_risk": pl.Float64,
    "source_file": pl.String,
    "source_row": pl.Int64,  # row as a spreadsheet shows it: the header is row 1
}
FINDINGS_COLUMNS = tuple(FINDINGS_SCHEMA)
SEVERITY_ORDER = {s: i for i, s in enumerate(SEVERITIES)}


def claim_charges(lines: pl.DataFrame) -> pl.Series:
    """Each line's claim total, `_claim_charge`: what a claim-level finding puts at risk. Summed at
    the number of the claim's first line (`_claim_first`) and read back from there, which `_row`
    being the line's position allows, instead of a group-by and a join back."""
    first = lines["_claim_first"].to_numpy()
    totals = np.bincount(
        first, weights=lines["_charge"].fill_null(0.0).to_numpy(), minlength=lines.height
    )
    return pl.Series("_claim_charge", totals[first])


class FindingsModel(pa.DataFrameModel):
    """Checks the table that links the stages (and that the report and CSV are written from)."""

    claim_id: str = pa.Field(nullable=True)
    line_number: pl.Int64 = pa.Field(nullable=True, ge=1)
    rule_id: str = pa.Field(str_matches=r"^[A-Z]{3}\d{3}$")
    category: str = pa.Field(isin=list(CATEGORIES))
    severity: str = pa.Field(isin=list(SEVERITIES))
    carc: str = pa.Field(nullable=True)
    rarc: str = pa.Field(nullable=True)
    message: str = pa.Field(str_length={"min_value": 1})
    fix: str = pa.Field(str_length={"min_value": 1})
    charge_at_risk: pl.Float64 = pa.Field(nullable=True, ge=0)
    source_file: str = pa.Field(nullable=True)
    source_row: pl.Int64 = pa.Field(nullable=True, ge=1)

    class Config:
        strict = True
        ordered = True


def empty() -> pl.DataFrame:
    return pl.DataFrame(schema=FINDINGS_SCHEMA)


def template(text: str) -> pl.Expr:
    """'Billing NPI {value} ...' -> one vectorized string expression over the hit columns."""
    parts: list[pl.Expr] = []
    for literal, name, spec, _ in string.Formatter().parse(text):
        if literal:
            parts.append(pl.lit(literal))
        if name:
            value = pl.col(name).cast(pl.String)
            if spec:  # e.g. {charge_amount:,.2f} is not supported: keep templates plain
                raise ValueError(f"format spec {spec!r} in template {text!r}")
            parts.append(value.fill_null("(blank)"))
    return pl.concat_str(parts) if parts else pl.lit("")


def render(rule: Rule, hits: pl.DataFrame) -> pl.DataFrame:
    """Rows a rule flagged -> findings, with message and fix in the claim's own values.

    `hits` carries claim_id, line_number, charge_at_risk, source_file, source_row and every field
    the rule's templates name (the catalog checked them at load).
    """
    return hits.select(
        pl.col("claim_id").cast(pl.String),
        pl.col("line_number").cast(pl.Int64),
        pl.lit(rule.id).alias("rule_id"),
        pl.lit(rule.category).alias("category"),
        pl.lit(rule.severity).alias("severity"),
        pl.lit(rule.carc if rule.denial else None, dtype=pl.String).alias("carc"),
        pl.lit(rule.rarc or None, dtype=pl.String).alias("rarc"),
        template(rule.message).alias("message"),
        template(rule.fix).alias("fix"),
        pl.col("charge_at_risk").cast(pl.Float64).round(2),
        pl.col("source_file").cast(pl.String),
        pl.col("source_row").cast(pl.Int64),
    )


def ordered(findings: pl.DataFrame) -> pl.DataFrame:
    """Most severe first, then by file and row: the order people read and snapshots compare. The
    message breaks the last ties (one rule, several findings on a row), so the order never depends
    on how a join or group-by happened to run, nor on how a file was partitioned."""
    return findings.sort(
        pl.col("severity").replace_strict(SEVERITY_ORDER, return_dtype=pl.Int8),
        "source_file",
        "source_row",
        "rule_id",
        "message",
        nulls_last=True,
        maintain_order=True,
    )
