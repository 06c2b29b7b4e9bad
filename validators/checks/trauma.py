"""Check kinds for trauma coding: accidents need injury codes, injury codes need accident data."""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from cleanclaim.validators.checks import Params, register_check

if TYPE_CHECKING:
    from cleanclaim.validators.checks.context import Context


class DxRequiredWhen(Params):
    trigger_columns: list[str]  # the claim reports an accident when any of these is filled
    dx_pattern: str  # regex over the bare code (no dot) of the diagnoses that satisfy it
    default_suggestion: str


@register_check(
    "dx_required_when",
    params=DxRequiredWhen,
    fields={"claim_id", "accident_indicator", "injury_date", "suggestion", "region"},
)
def dx_required_when(ctx: Context, p: DxRequiredWhen) -> pl.DataFrame:
    """Claims that report an accident but carry no diagnosis matching the pattern. The fix names
    the injury codes for the region the claim's own symptom codes point to (injury_regions.csv)."""
    # A plan: polars copies only the columns read of the claims (of ~30, the note among them).
    failed = pl.any_horizontal(pl.col("_failed").list.contains(c) for c in p.trigger_columns)
    claims = ctx.claims.lazy().filter(
        pl.any_horizontal(pl.col(c).is_not_null() for c in p.trigger_columns) & ~failed
    )
    has_dx = ctx.claim_dx_matching(p.dx_pattern).select("_row").unique()
    flagged = (
        claims.join(has_dx, on="_row", how="anti")
        .select("_row", "accident_indicator", "injury_date")
        .collect()
    )
    regions = ctx.catalog.codesets["injury_regions"].table
    dx = (
        ctx.claim_dx.lazy()
        .select("_row", "slot", "bare")
        .join(flagged.lazy().select("_row"), on="_row", how="semi")
        .collect()
    )
    # Region of each distinct code (longest matching prefix), then back to the claims by equality.
    code_region = (
        dx.select("bare")
        .unique()
        .join(regions, how="cross")
        .filter(
            pl.col("bare").str.starts_with(
                pl.col("symptom_prefix").str.replace(".", "", literal=True)
            )
        )
        .sort(pl.col("symptom_prefix").str.len_chars(), descending=True)
        .unique("bare", keep="first")
        .select("bare", "region", "suggestion")
    )
    region = (
        dx.join(code_region, on="bare", how="inner")
        .sort("slot")
        .unique("_row", keep="first")
        .select("_row", "region", "suggestion")
    )
    out = flagged.join(region, on="_row", how="left").with_columns(
        pl.col("suggestion").fill_null(p.default_suggestion),
        pl.col("region").fill_null("the documented region"),
        pl.col("injury_date").fill_null("(none)"),
        pl.col("accident_indicator").fill_null("(none)"),
    )
    return out.select(
        "_row",
        pl.lit(True).alias("claim_level"),
        "accident_indicator",
        "injury_date",
        "suggestion",
        "region",
    )


class DxWithoutColumns(Params):
    dx_pattern: str
    columns: list[str]  # flagged when every one of these is empty


@register_check(
    "dx_without_columns", params=DxWithoutColumns, fields={"claim_id", "value", "description"}
)
def dx_without_columns(ctx: Context, p: DxWithoutColumns) -> pl.DataFrame:
    """Claims with a diagnosis matching the pattern while all the given claim fields are empty."""
    empty = (
        ctx.claims.lazy()
        .filter(pl.all_horizontal(pl.col(c).is_null() for c in p.columns))
        .select("_row")
    )
    first = (
        ctx.claim_dx_matching(p.dx_pattern)
        .join(empty, on="_row", how="semi")
        .sort("slot")
        .unique("_row", keep="first")
    )
    return first.select(
        "_row", pl.lit(True).alias("claim_level"), pl.col("code").alias("value"), "description"
    ).collect()


class DxWithoutCompanion(Params):
    dx_pattern: str
    companion_pattern: str


@register_check(
    "dx_without_companion", params=DxWithoutCompanion, fields={"claim_id", "value", "description"}
)
def dx_without_companion(ctx: Context, p: DxWithoutCompanion) -> pl.DataFrame:
    """Claims with a diagnosis matching the pattern and none matching the companion pattern."""
    companions = ctx.claim_dx_matching(p.companion_pattern).select("_row")
    first = (
        ctx.claim_dx_matching(p.dx_pattern)
        .join(companions, on="_row", how="anti")
        .sort("slot")
        .unique("_row", keep="first")
    )
    return first.select(
        "_row", pl.lit(True).alias("claim_level"), pl.col("code").alias("value"), "description"
    ).collect()
