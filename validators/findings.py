"""The findings table: the one contract every stage produces and every output reads."""

from __future__ import annotations

import string
from typing import TypeVar

import numpy as np
import pandera.polars as pa
import polars as pl
from pandera.polars import PolarsData

from cleanclaim.validators.catalog import CATEGORIES, SEVERITIES, Rule

# A column that is one rule's (or one file's) few texts is a Categorical: each text stored once,
# each finding a 4-byte code. The files and sheets show them as text (`as_text`).
FINDINGS_SCHEMA: dict[str, pl.DataType] = {
    "claim_id": pl.String,
    "line_number": pl.Int64,  # empty for claim-level findings
    "rule_id": pl.Categorical(),
    "category": pl.Categorical(),
    "severity": pl.Categorical(),
    "carc": pl.Categorical(),  # group + CARC, e.g. CO-16
    "rarc": pl.Categorical(),  # remark codes, comma-separated, e.g. M76
    "message": pl.String,
    "fix": pl.Categorical(),  # mostly one text per rule
    "charge_at_risk": pl.Float64,
    "source_file": pl.Categorical(),
    "source_row": pl.Int64,  # row as a spreadsheet shows it: the header is row 1
}
FINDINGS_COLUMNS = tuple(FINDINGS_SCHEMA)
SEVERITY_ORDER = {s: i for i, s in enumerate(SEVERITIES)}
Frame = TypeVar("Frame", pl.DataFrame, pl.LazyFrame)


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
    rule_id: pl.Categorical = pa.Field(nullable=False)
    category: pl.Categorical = pa.Field(isin=list(CATEGORIES))
    severity: pl.Categorical = pa.Field(isin=list(SEVERITIES))
    carc: pl.Categorical = pa.Field(nullable=True)
    rarc: pl.Categorical = pa.Field(nullable=True)
    message: str = pa.Field(str_length={"min_value": 1})
    fix: pl.Categorical = pa.Field(nullable=False)
    charge_at_risk: pl.Float64 = pa.Field(nullable=True, ge=0)
    source_file: pl.Categorical = pa.Field(nullable=True)
    source_row: pl.Int64 = pa.Field(nullable=True, ge=1)

    class Config:
        strict = True
        ordered = True

    @pa.check("rule_id")
    def rule_id_form(cls, data: PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(
            pl.col(data.key).cast(pl.String).str.contains(r"^[A-Z]{3}\d{3}$")
        )

    @pa.check("fix")
    def fix_not_empty(cls, data: PolarsData) -> pl.LazyFrame:
        # measured on each distinct text, not on a copy of every finding's
        return data.lazyframe.select(pl.col(data.key).cat.len_bytes() >= 1)


def empty() -> pl.DataFrame:
    return pl.DataFrame(schema=FINDINGS_SCHEMA)


def as_text(findings: Frame) -> Frame:
    """The findings as the files and sheets show them: every text column plain text."""
    return findings.with_columns(
        pl.col(c).cast(pl.String)
        for c, t in findings.collect_schema().items()
        if t == pl.Categorical
    )


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
        pl.lit(rule.id, dtype=pl.Categorical()).alias("rule_id"),
        pl.lit(rule.category, dtype=pl.Categorical()).alias("category"),
        pl.lit(rule.severity, dtype=pl.Categorical()).alias("severity"),
        pl.lit(rule.carc if rule.denial else None, dtype=pl.Categorical()).alias("carc"),
        pl.lit(rule.rarc or None, dtype=pl.Categorical()).alias("rarc"),
        template(rule.message).alias("message"),
        template(rule.fix).cast(pl.Categorical).alias("fix"),
        pl.col("charge_at_risk").cast(pl.Float64).round(2),
        pl.col("source_file").cast(pl.Categorical),
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


def lexical_rank(frame: pl.DataFrame, column: str) -> pl.Expr:
    """A text column's values as their ranks in text order (nulls last): sorting on the ranks
    is sorting on the text, without comparing text row by row."""
    values = frame[column].unique().drop_nulls().sort()
    return (
        pl.col(column)
        .replace_strict(values, pl.int_range(values.len(), dtype=pl.UInt32, eager=True))
        .fill_null(values.len())
    )


def merge_ordered(pieces: list[pl.DataFrame]) -> pl.DataFrame:
    """Findings each `ordered` already, in the order `ordered` gives them all, when no two pieces
    hold a finding of the same rule on the same row of the same file (the parts of one file, the
    files of a run). The order is found, stably, on severity, file, row and rule as integers: a
    tie on those four is within one piece, which has it in message order already, so the
    messages are never compared (comparing them row by row was most of the cost).

    `pieces` is consumed (emptied): the findings move into the merged table a column at a time,
    so that only one column is ever held twice."""
    if len(pieces) == 1:
        return pieces.pop()
    found = pl.concat([empty(), *pieces], how="vertical_relaxed")
    pieces.clear()
    order = found.select(
        pl.arg_sort_by(
            pl.col("severity").replace_strict(SEVERITY_ORDER, return_dtype=pl.Int8),
            lexical_rank(found, "source_file"),
            "source_row",
            lexical_rank(found, "rule_id"),
            nulls_last=True,
            maintain_order=True,
        )
    ).to_series()
    merged = []
    for name in found.columns:
        merged.append(found[name].gather(order))
        found = found.drop(name)  # the only other reference: the column goes here
    return pl.DataFrame(merged)
