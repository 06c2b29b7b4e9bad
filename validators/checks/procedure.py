"""Check kinds over procedure lines: LCD pairing, NCCI PTP and add-ons, units, modifiers, duplicates,
frequency and timely filing.

NCCI and MUE edits apply per provider, beneficiary and date of service (NCCI Policy Manual, Ch. I),
so lines are grouped on `_visit` = patient, rendering (else billing) NPI and service date, across
the claims of the file. Pairs are found on the codes present in a visit and matched to the edit
tables by equality; nothing loops over claims in Python.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import polars as pl

from cleanclaim.validators.checks import (
    PROCEDURE,
    REGISTRY,
    Params,
    one_of,
    procedure_in,
    register_check,
    run_starts,
)

if TYPE_CHECKING:
    from cleanclaim.validators.catalog import Catalog
    from cleanclaim.validators.checks.context import Context

MODIFIERS = [f"modifier_{i}" for i in range(1, 5)]


def _has_modifier(values: list[str] | pl.Series, suffix: str = "") -> pl.Expr:
    """Any of the line's four modifiers is in `values`. Column-wise: a list column of modifiers costs
    100 times more on a million lines."""
    return pl.any_horizontal(one_of(m + suffix, values).fill_null(False) for m in MODIFIERS)


def _modifier_text(suffix: str = "") -> pl.Expr:
    text = pl.concat_str([pl.col(m + suffix) for m in MODIFIERS], separator=", ", ignore_nulls=True)
    return pl.when(text == "").then(pl.lit("none")).otherwise(text).alias("modifiers")


def _no_hits(kind: str) -> pl.DataFrame:
    """The empty result of a kind, with its fields: returned as soon as a file has none of a rule's
    codes (on a small file, skipping the rule's remaining joins is most of its cost)."""
    return pl.DataFrame(
        schema={
            "_row": pl.Int64,
            "claim_level": pl.Boolean,
            **dict.fromkeys(REGISTRY[kind].fields, pl.String),
        }
    )


# What Context.with_history needs of a rule's lines to key visits again over them and earlier runs' lines.
VISIT_KEY = ("_row", "patient_id", "rendering_npi", "billing_npi", "_service_date")


def _line_hits(frame: pl.DataFrame, *fields: str | pl.Expr) -> pl.DataFrame:
    return frame.select("_row", pl.lit(False).alias("claim_level"), *fields)


def _units(column: str) -> pl.Expr:
    """2.0 -> "2", 2.5 -> "2.5": units as a biller writes them."""
    return pl.col(column).cast(pl.String).str.replace(r"\.0$", "").alias("units")


def _date() -> pl.Expr:
    return pl.col("_service_date").dt.to_string("%Y-%m-%d").alias("service_date")


def _usable(
    ctx: Context, *columns: str, codes: list[str] | pl.Series | None = None
) -> pl.LazyFrame:
    """Usable service lines, narrowed first to the procedure codes a rule is about (most rules
    concern a handful of the million lines: `is_in` is far cheaper than a join or grouping), as a
    plan (Context.usable_lines): a rule selects what it reads before it collects."""
    lines = ctx.usable_lines(*columns)
    return lines if codes is None else lines.filter(procedure_in(codes))


# --------------------------------------------------------------------------- LCD diagnosis-procedure pairing


class Pairing(Params):
    families: list[str]
    role: Literal["covered", "radicular"]
    mode: Literal[
        "require", "forbid"
    ]  # require: some pointed dx must be in the list; forbid: none may be


@register_check(
    "dx_proc_pairing",
    params=Pairing,
    fields={"claim_id", "procedure_code", "description", "pointed", "alternatives", "matched"},
)
def dx_proc_pairing(ctx: Context, p: Pairing) -> pl.DataFrame:
    """Lines of a service family whose pointed diagnoses do not include (require) or do include
    (forbid) a diagnosis of the family's list for the line's spinal region (dx_indications.csv)."""
    families = ctx.catalog.codesets["service_families"].table.filter(
        pl.col("family").is_in(p.families)
    )
    lines = (
        _usable(ctx, "procedure_code", codes=families["procedure_code"])
        .select("_row", "procedure_code")
        .join(families.lazy(), on="procedure_code", how="inner")
        .collect()
    )
    if lines.is_empty():
        return _no_hits("dx_proc_pairing")
    pointed = ctx.line_dx_of(lines.select("_row", "family", "region"), "code", "bare")
    lists = ctx.catalog.codesets["dx_indications"].table.filter(
        pl.col("family").is_in(p.families) & (pl.col("role") == p.role)
    )
    # Match the distinct (family, region, code) triples against the list, then join back.
    triples = pointed.select("family", "region", "bare").unique()
    matched = (
        triples.join(lists.rename({"region": "list_region"}), on="family", how="inner")
        .filter(
            ((pl.col("list_region") == pl.col("region")) | (pl.col("list_region") == "any"))
            & pl.col("bare").str.starts_with(pl.col("dx_prefix").str.replace(".", "", literal=True))
        )
        .select("family", "region", "bare")
        .unique()
        .with_columns(pl.lit(True).alias("_in_list"))
    )
    judged = pointed.lazy().join(matched.lazy(), on=["family", "region", "bare"], how="left")
    # The lines' verdicts first, and the words of the few flagged lines after: joining the codes of
    # every line as text cost several times the verdicts.
    verdicts = judged.group_by("_row").agg(pl.col("_in_list").any().alias("_any"))
    flagged = (
        judged.join(
            verdicts.filter(~pl.col("_any") if p.mode == "require" else pl.col("_any")),
            on="_row",
            how="semi",
        )
        .group_by("_row")
        .agg(
            pl.col("code").unique(maintain_order=True).str.join(", ").alias("pointed"),
            pl.col("code").filter(pl.col("_in_list")).str.join(", ").alias("matched"),
        )
        .collect()
    )
    alternatives = (
        ctx.catalog.codesets["dx_indications"]
        .table.filter(pl.col("family").is_in(p.families) & (pl.col("role") == "covered"))
        .join(
            families.select("family", "region").unique(), on="family", how="inner", suffix="_line"
        )
        .filter((pl.col("region") == pl.col("region_line")) | (pl.col("region") == "any"))
        .group_by("region_line")
        .agg(pl.col("label").unique(maintain_order=True).str.join("; ").alias("alternatives"))
        .rename({"region_line": "region"})
    )
    out = flagged.join(
        lines.select("_row", "procedure_code", "description", "region"), on="_row", how="inner"
    ).join(alternatives, on="region", how="left")
    return _line_hits(
        out,
        "procedure_code",
        "description",
        "pointed",
        pl.col("matched").fill_null(""),
        pl.col("alternatives").fill_null(""),
    )


# --------------------------------------------------------------------------- NCCI


def ptp_edits(catalog: Catalog) -> pl.DataFrame:
    """The curated spine/therapy pairs plus whatever CMS files were imported (imported rows win)."""
    cms = catalog.codesets["ncci_ptp_cms"].table
    curated = catalog.codesets["ncci_ptp_curated"].table.with_columns(
        pl.col("effective_date").str.to_date(),
        pl.col("deletion_date").str.to_date(strict=False),
        pl.col("modifier_indicator").cast(pl.Int8),
    )
    cols = [
        "column_1",
        "column_2",
        "effective_date",
        "deletion_date",
        "modifier_indicator",
        "rationale",
    ]
    both = pl.concat([cms.select(cols), curated.select(cols)], how="vertical_relaxed")
    return both.unique(
        ["column_1", "column_2", "effective_date"], keep="first", maintain_order=True
    )


class PtpPair(Params):
    modifier_indicator: Literal[0, 1]


@register_check(
    "ncci_ptp",
    params=PtpPair,
    fields={"claim_id", "procedure_code", "other_code", "service_date", "rationale", "modifiers"},
)
def ncci_ptp(ctx: Context, p: PtpPair) -> pl.DataFrame:
    """Column-2 lines billed in the same visit as their column-1 code while the edit is in effect.
    Indicator 1 edits pass when the column-2 line, or for 59/X modifiers either line, carries an
    NCCI-associated modifier (22, 76 and 77 are not: they never unbundle a pair); indicator 9
    (deleted) edits never fire."""
    # Only the edits between codes this file bills: a few hundred codes against CMS's millions of pairs
    # (every line's code: the edits' lines are narrowed to usable ones below).
    billed = ctx.procedure_codes.implode()
    edits = ctx.catalog.derived("ncci_ptp_edits", ptp_edits).filter(
        (pl.col("modifier_indicator") == p.modifier_indicator)
        & pl.col("column_1").is_in(billed)
        & pl.col("column_2").is_in(billed)
    )
    in_edits = pl.concat([edits["column_1"], edits["column_2"]]).unique()
    codes = (
        _usable(ctx, "procedure_code", "service_date", codes=in_edits)
        .select("_row", "_visit", "procedure_code", "_service_date", *MODIFIERS)
        .collect()
    )
    if codes.is_empty():
        return _no_hits("ncci_ptp")
    pairs = codes.join(codes, on="_visit", suffix="_1").filter(
        pl.col("procedure_code") != pl.col("procedure_code_1")
    )
    hits = pairs.join(
        edits,
        left_on=["procedure_code_1", "procedure_code"],
        right_on=["column_1", "column_2"],
        how="inner",
    ).filter(
        (pl.col("effective_date") <= pl.col("_service_date"))
        & (pl.col("deletion_date").is_null() | (pl.col("deletion_date") > pl.col("_service_date")))
    )
    if p.modifier_indicator == 1:
        associated = ctx.catalog.codesets["modifiers"].table.filter(
            pl.col("ncci_associated") == "true"
        )["code"]
        distinct_service = ["59", "XE", "XS", "XP", "XU"]
        bypass = _has_modifier(associated) | _has_modifier(distinct_service, suffix="_1")
        hits = hits.filter(~bypass)
    hits = hits.unique(["_row", "procedure_code_1"], keep="first")
    return _line_hits(
        hits,
        "procedure_code",
        pl.col("procedure_code_1").alias("other_code"),
        _date(),
        "rationale",
        _modifier_text(),
    )


class AddonWithoutPrimary(Params):
    pass


@register_check(
    "addon_without_primary",
    params=AddonWithoutPrimary,
    fields={"claim_id", "procedure_code", "primary_codes", "service_date"},
)
def addon_without_primary(ctx: Context, p: AddonWithoutPrimary) -> pl.DataFrame:
    """Add-on lines with none of their primary codes on the same claim and date (addon_codes.csv)."""
    addons = ctx.catalog.codesets["addon_codes"].table.select(
        pl.col("code").alias("procedure_code"), "primary_codes"
    )
    addon_lines = (
        _usable(ctx, "procedure_code", "service_date", codes=addons["procedure_code"])
        .select("_row", "claim_id", "procedure_code", "_service_date")
        .join(addons.lazy(), on="procedure_code", how="inner")
        .collect()
    )
    if addon_lines.is_empty():
        return _no_hits("addon_without_primary")
    wanted = addon_lines.select(
        "_row",
        "claim_id",
        "_service_date",
        pl.col("primary_codes").str.split(" ").alias("_primary"),
    ).explode("_primary")
    present = (
        _usable(ctx, "procedure_code", "service_date", codes=wanted["_primary"].unique())
        .select("claim_id", "_service_date", pl.col("procedure_code").alias("_primary"))
        .unique()
        .collect()
    )
    satisfied = wanted.join(
        present, on=["claim_id", "_service_date", "_primary"], how="semi"
    ).select("_row")
    flagged = addon_lines.join(satisfied, on="_row", how="anti")
    return _line_hits(flagged, "procedure_code", "primary_codes", _date())


# --------------------------------------------------------------------------- units


class MueUnits(Params):
    adjudication_indicator: Literal[1, 2, 3]


@register_check(
    "mue_units",
    params=MueUnits,
    fields={"claim_id", "procedure_code", "units", "limit", "service_date"},
)
def mue_units(ctx: Context, p: MueUnits) -> pl.DataFrame:
    """Units above the imported CMS MUE: per line for MAI 1; summed over every line of the code in
    the visit for MAI 2 and 3 (CMS's MUE adjudication indicators: date-of-service edits)."""
    mue = ctx.catalog.codesets["mue_cms"].table.filter(
        pl.col("adjudication_indicator") == p.adjudication_indicator
    )
    lines = (
        _usable(ctx, "procedure_code", "units", "service_date", codes=mue["code"])
        .select("_row", "_visit", "procedure_code", "_units", "_service_date")
        .join(
            mue.lazy().select(
                pl.col("code").alias("procedure_code"), pl.col("mue").alias("_limit")
            ),
            on="procedure_code",
        )
        .collect()
    )
    if lines.is_empty():
        return _no_hits("mue_units")
    if p.adjudication_indicator == 1:
        flagged = lines.filter(pl.col("_units") > pl.col("_limit")).with_columns(
            pl.col("_units").alias("_total")
        )
    else:
        flagged = (
            lines.with_columns(
                pl.col("_units").sum().over("_visit", "procedure_code").alias("_total")
            )
            .filter(pl.col("_total") > pl.col("_limit"))
            .sort("_row")
            .unique(["_visit", "procedure_code"], keep="last")
        )  # the line that tips it over
    return _line_hits(
        flagged, "procedure_code", _units("_total"), pl.col("_limit").alias("limit"), _date()
    )


class UnitsLimit(Params):
    codes: list[str]
    max_units: int
    together: bool  # True: the codes share one limit per visit; False: each code has its own


@register_check(
    "units_limit",
    params=UnitsLimit,
    fields={"claim_id", "procedure_code", "units", "limit", "service_date", "codes"},
)
def units_limit(ctx: Context, p: UnitsLimit) -> pl.DataFrame:
    """LCD policy limits: units of the listed codes per visit (levels per session, one TPI a day)."""
    lines = (
        _usable(ctx, "procedure_code", "units", "service_date", codes=p.codes)
        .select("_row", "_visit", "procedure_code", "_units", "_service_date")
        .collect()
    )
    if lines.is_empty():
        return _no_hits("units_limit")
    group = ["_visit"] if p.together else ["_visit", "procedure_code"]
    flagged = (
        lines.with_columns(pl.col("_units").sum().over(group).alias("_total"))
        .filter(pl.col("_total") > p.max_units)
        .sort("_row")
        .unique(group, keep="last")
    )
    return _line_hits(
        flagged,
        "procedure_code",
        _units("_total"),
        pl.lit(p.max_units).alias("limit"),
        _date(),
        pl.lit(", ".join(p.codes)).alias("codes"),
    )


# --------------------------------------------------------------------------- modifiers


class ModifierNotAllowed(Params):
    codes: list[str]
    modifiers: list[str]


@register_check(
    "modifier_not_allowed",
    params=ModifierNotAllowed,
    fields={"claim_id", "procedure_code", "modifier"},
)
def modifier_not_allowed(ctx: Context, p: ModifierNotAllowed) -> pl.DataFrame:
    flagged = _usable(ctx, "procedure_code", *MODIFIERS, codes=p.codes).filter(
        _has_modifier(p.modifiers)
    )
    first = pl.coalesce(pl.when(pl.col(m).is_in(p.modifiers)).then(pl.col(m)) for m in MODIFIERS)
    return _line_hits(flagged, "procedure_code", first.alias("modifier")).collect()


class ModifierRequired(Params):
    codeset: str  # codes that require one of the modifiers
    any_of: list[str]


@register_check(
    "modifier_required",
    params=ModifierRequired,
    fields={"claim_id", "procedure_code", "description", "modifiers"},
)
def modifier_required(ctx: Context, p: ModifierRequired) -> pl.DataFrame:
    codes = ctx.catalog.codesets[p.codeset].table.select(
        pl.col("code").alias("procedure_code"), "description"
    )
    # The lines without the modifier first, then their codes' descriptions: joining every therapy line
    # gathered all its columns.
    flagged = (
        _usable(ctx, "procedure_code", *MODIFIERS, codes=codes["procedure_code"])
        .filter(~_has_modifier(p.any_of))
        .join(codes.lazy(), on="procedure_code")
    )
    return _line_hits(flagged, "procedure_code", "description", _modifier_text()).collect()


class ModifierUnknown(Params):
    pass


@register_check(
    "modifier_unknown",
    params=ModifierUnknown,
    fields={"claim_id", "procedure_code", "field", "value"},
)
def modifier_unknown(ctx: Context, p: ModifierUnknown) -> pl.DataFrame:
    known = ctx.catalog.codesets["modifiers"].table["code"].implode()
    # Column by column, each narrowed to its unknown values before anything is copied: unpivoting
    # the four columns first carried every line's list of failed fields along.
    lines = ctx.service_lines.lazy()
    flagged = pl.concat(
        [
            lines.filter(pl.col(m).is_not_null() & ~pl.col(m).is_in(known))
            .filter(~pl.col("_failed").list.contains(m))
            .select(
                "_row",
                "procedure_code",
                pl.lit(f"Modifier {m.removeprefix('modifier_')}").alias("field"),
                pl.col(m).alias("value"),
            )
            for m in MODIFIERS
        ]
    ).collect()
    return _line_hits(flagged, "procedure_code", "field", "value")


def global_days(catalog) -> pl.DataFrame:
    """code -> global_days (000, 010, 090, XXX, YYY, ZZZ...): CMS's PFS RVU file where imported,
    else the curated list and the service families'; once per catalog."""

    def build(c) -> pl.DataFrame:
        imported = c.codesets["global_days_cms"].table.select("code", "global_days")
        curated = pl.concat(
            [
                c.codesets["global_days_curated"].table.select("code", "global_days"),
                c.codesets["service_families"]
                .table.select(pl.col("procedure_code").alias("code"), "global_days")
                .drop_nulls("global_days"),
            ]
        ).unique("code", keep="first")
        return pl.concat([imported, curated.join(imported, on="code", how="anti")])

    return catalog.derived("global_days", build)


def minor_procedures(catalog, days: list[str]) -> pl.Series:
    """The codes whose global period is one of `days` (000 and 010: minor procedures)."""
    return global_days(catalog).filter(pl.col("global_days").is_in(days))["code"]


class SameVisitModifier(Params):
    code_pattern: str  # the lines that need the modifier (E/M codes)
    when_global_days: list[
        str
    ]  # ... when a procedure with these global periods is in the same visit
    modifier: str


@register_check(
    "same_visit_modifier",
    params=SameVisitModifier,
    fields={"claim_id", "procedure_code", "other_code", "service_date"},
)
def same_visit_modifier(ctx: Context, p: SameVisitModifier) -> pl.DataFrame:
    """E/M lines on the day of a minor procedure (global 000/010) by the same provider without 25."""
    minor = minor_procedures(ctx.catalog, p.when_global_days)
    lines = _usable(ctx, "procedure_code", "service_date", *MODIFIERS)
    procedures = lines.filter(procedure_in(minor)).select(
        "_visit", pl.col("procedure_code").alias("other_code")
    )
    em = lines.filter(ctx.procedure_matching(p.code_pattern) & ~_has_modifier([p.modifier]))
    flagged = em.join(procedures, on="_visit", how="inner").unique("_row", keep="first")
    return _line_hits(flagged, "procedure_code", "other_code", _date()).collect()


# --------------------------------------------------------------------------- duplicates, frequency, filing


class DuplicateService(Params):
    exempt_modifiers: list[str]


@register_check(
    "duplicate_service",
    params=DuplicateService,
    fields={"claim_id", "procedure_code", "service_date", "other_claim", "other_line"},
)
def duplicate_service(ctx: Context, p: DuplicateService) -> pl.DataFrame:
    """A line identical to an earlier one of the file or of an earlier run (history): patient,
    provider, date, code, modifiers and units. Repeat and distinct-service modifiers (76, 77, 59, X{EPSU}) and different units pass. A
    line repeated under the same claim and line number is FLD002's, not this rule's."""
    lines = _usable(ctx, "procedure_code", "service_date", "units", "line_number", *MODIFIERS)
    if (
        not ctx.has_history
    ):  # then only a code repeated within a visit of the file can be a duplicate:
        # those few lines are all the rule copies (the lines' Categorical code hashes cheaply)
        lines = lines.filter(pl.struct("_visit", PROCEDURE).is_duplicated())
    lines = ctx.with_history(
        lines.select(
            *VISIT_KEY, "_visit", "claim_id", "_line_number", "procedure_code", *MODIFIERS, "_units"
        ).collect()
    )
    candidates = lines.filter(
        pl.struct("_visit", "procedure_code").is_duplicated() & ~_has_modifier(p.exempt_modifiers)
    )
    key = ["_visit", "procedure_code", "_mods_sorted", "_units"]
    keyed = candidates.with_columns(  # few rows here: a sorted list is affordable
        pl.concat_list(MODIFIERS).list.drop_nulls().list.sort().list.join(",").alias("_mods_sorted")
    ).sort("_row")
    first = keyed.unique(key, keep="first").select(
        *key,
        pl.col("claim_id").alias("other_claim"),
        pl.col("_line_number").alias("other_line"),
        pl.col("_row").alias("_first"),
    )
    flagged = keyed.join(first, on=key, how="inner").filter(pl.col("_row") != pl.col("_first"))
    return _line_hits(flagged, "procedure_code", _date(), "other_claim", "other_line")


class SessionFrequency(Params):
    families: list[str]
    limit: int
    window_days: int
    by_region: bool


@register_check(
    "session_frequency",
    params=SessionFrequency,
    fields={
        "claim_id",
        "procedure_code",
        "service_date",
        "sessions",
        "limit",
        "region",
        "window_days",
    },
)
def session_frequency(ctx: Context, p: SessionFrequency) -> pl.DataFrame:
    """Sessions (distinct service dates) of a family per patient (and spinal region) in a rolling
    window; each session beyond the limit is flagged on its first line. Sessions of earlier runs
    (history) count too, but only this run's lines are flagged."""
    families = ctx.catalog.codesets["service_families"].table.filter(
        pl.col("family").is_in(p.families)
    )
    codes = families["procedure_code"]
    lines = ctx.with_history(
        _usable(ctx, "procedure_code", "service_date", codes=codes)
        .select(*VISIT_KEY, "procedure_code")
        .collect(),
        codes,
    ).join(families.select("procedure_code", "region"), on="procedure_code", how="inner")
    if lines.is_empty():
        return _no_hits("session_frequency")
    region = pl.col("region") if p.by_region else pl.lit("any")
    # A session is its first line: sorted by session and row, the rows where the session changes
    # (a unique between two sorts cost twice as much).
    key = ["patient_id", "_region", "_service_date"]
    sessions = (
        lines.with_columns(region.alias("_region")).sort(*key, "_row").filter(run_starts(*key))
    )
    counted = sessions.rolling(
        index_column="_service_date", period=f"{p.window_days}d", group_by=["patient_id", "_region"]
    ).agg(pl.len().alias("_sessions"))
    flagged = sessions.join(
        counted, on=["patient_id", "_region", "_service_date"], how="inner"
    ).filter(pl.col("_sessions") > p.limit)
    return _line_hits(
        flagged,
        "procedure_code",
        _date(),
        pl.col("_sessions").alias("sessions"),
        pl.lit(p.limit).alias("limit"),
        pl.col("_region").alias("region"),
        pl.lit(p.window_days).alias("window_days"),
    )


class FilingLimit(Params):
    months: int  # from the date of service
    source: str  # where the limit is published, shown in the finding


class TimelyFiling(Params):
    default_days: int
    warn_days: int
    problem: Literal["expired", "near"]
    # By the claim's type (837P SBR09 claim_filing_indicator): limits set by law or regulation.
    # Other types' limits are set by contract or state: the run configuration names them.
    by_filing_indicator: dict[str, FilingLimit] = {}


@register_check(
    "timely_filing",
    params=TimelyFiling,
    fields={"claim_id", "service_date", "days", "limit", "payer_id", "deadline"},
)
def timely_filing(ctx: Context, p: TimelyFiling) -> pl.DataFrame:
    """Days from each line's service date to the as-of date against the claim's filing limit: the
    run configuration's `timely_filing_days` for the payer, else the limit of the claim's type
    (Medicare: 12 months from the date of service), else the rule's default; one finding per claim."""
    configured = ctx.config.timely_filing_days
    dos, indicator = pl.col("_service_date"), pl.col("claim_filing_indicator")
    by_payer = pl.col("payer_id").replace_strict(configured, default=None, return_dtype=pl.Int64)
    deadline = pl.when(by_payer.is_not_null()).then(dos + pl.duration(days=by_payer))
    limit = pl.when(by_payer.is_not_null()).then(pl.format("{} days (run configuration)", by_payer))
    for code, rule in p.by_filing_indicator.items():
        # offset_by keeps the calendar: a service on 2025-10-31 may be filed through 2026-10-31
        deadline = deadline.when(indicator == code).then(dos.dt.offset_by(f"{rule.months}mo"))
        limit = limit.when(indicator == code).then(
            pl.lit(
                f"{rule.months} months from the date of service for claim type {code} ({rule.source})"
            )
        )
    deadline = deadline.otherwise(dos + pl.duration(days=p.default_days))
    limit = limit.otherwise(
        pl.lit(f"{p.default_days} days (cleanclaim's default where no limit is configured)")
    )
    lines = _usable(ctx, "service_date").with_columns(
        deadline.alias("_deadline"),
        limit.alias("_limit"),
        (pl.lit(ctx.as_of) - dos).dt.total_days().alias("_days"),
    )
    as_of = pl.lit(ctx.as_of)
    if p.problem == "expired":
        flagged = lines.filter(as_of > pl.col("_deadline"))
    else:
        flagged = lines.filter(
            (as_of <= pl.col("_deadline"))
            & (as_of > pl.col("_deadline") - pl.duration(days=p.warn_days))
        )
    first = flagged.sort("_service_date").unique("_claim_first", keep="first")
    return first.select(
        pl.col("_claim_first").alias("_row"),
        pl.lit(True).alias("claim_level"),
        _date(),
        pl.col("_days").alias("days"),
        pl.col("_limit").alias("limit"),
        "payer_id",
        pl.col("_deadline").dt.to_string("%Y-%m-%d").alias("deadline"),
    ).collect()
