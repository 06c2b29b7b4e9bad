"""Check kinds over a claim's ICD-10-CM diagnoses: validity, Excludes1, sequencing, sex/age, laterality.

Each returns the flagged rows: `_row` (the claim's first line, or the line itself),
`claim_level`, and the fields its rules' templates use. All are joins and expressions over the
claim's exploded diagnoses (`Context.claim_dx`); no Python loop touches a claim.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import polars as pl

from cleanclaim.validators.checks import Params, register_check

if TYPE_CHECKING:
    from cleanclaim.validators.checks.context import Context

DX_FIELDS = {"claim_id", "field", "value", "description"}


def _claim_hits(frame: pl.DataFrame, *fields: str | pl.Expr) -> pl.DataFrame:
    return frame.select("_row", pl.lit(True).alias("claim_level"), *fields)


def _starts_with_any(prefixes: list[str]) -> pl.Expr:
    """The diagnosis (bare, no dot) starts with one of the prefixes; False when there are none."""
    return pl.any_horizontal(
        pl.lit(False), *(pl.col("bare").str.starts_with(x.replace(".", "")) for x in prefixes)
    )


def _field() -> pl.Expr:
    return pl.format("Diagnosis {}", pl.col("slot")).alias("field")


# --------------------------------------------------------------------------- code validity


class DxLookup(Params):
    problem: Literal["unknown", "not_billable", "seventh_character_missing"]


@register_check(
    "dx_lookup", params=DxLookup, fields=DX_FIELDS | {"suggestion", "parent", "release"}
)
def dx_lookup(ctx: Context, p: DxLookup) -> pl.DataFrame:
    """Codes checked against the tabular of the year in force on the claim's service date. A code
    that needs a 7th character is reported as such (S13.4, and S13.4XX which is not in the tabular at
    all), never also as unknown or header. Past the newest year's table an unknown code may be new,
    so only headers and 7th characters are judged there (by the newest table); before the oldest
    table nothing is (a code since split would read as a header). COD004 reports both."""
    key = ["bare", "_edition"]
    icd = ctx.icd.select(*key, "code", "needs_seventh", "billable_under")
    judged = pl.col("_when") == 0 if p.problem == "unknown" else pl.col("_when") >= 0
    # Only codes that are not plainly billable can be flagged; a code listed twice is judged once
    # (GDL009 reports the repetition).
    suspect = ctx.claim_dx.filter(
        judged & (~pl.col("billable").fill_null(False) | pl.col("needs_seventh").fill_null(False))
    )
    dx = (
        suspect.sort("slot")
        .unique(["_row", "bare"], keep="first", maintain_order=True)
        .with_columns(pl.col("bare").str.replace(r"X+$", "").alias("_stem"))
        .join(ctx.editions.facts().select("_edition", "release"), on="_edition", how="left")
    )
    # The tabular narrowed to the codes looked up before each join (a join over all 98k codes cost
    # more than the check in a small file).
    stems = icd.filter(pl.col("bare").is_in(dx["_stem"].unique().implode()))
    dx = dx.join(
        stems.rename(
            {
                "bare": "_stem",
                "code": "_stem_code",
                "needs_seventh": "_stem_needs_seventh",
                "billable_under": "_stem_under",
            }
        ),
        on=["_stem", "_edition"],
        how="left",
    )
    seventh = pl.col("needs_seventh").fill_null(False) | (
        pl.col("billable").is_null() & pl.col("_stem_needs_seventh").fill_null(False)
    )
    if p.problem == "seventh_character_missing":
        flagged = dx.filter(seventh).with_columns(
            pl.coalesce(
                pl.when(pl.col("needs_seventh")).then("billable_under"), "_stem_under"
            ).alias("suggestion")
        )
        return _claim_hits(
            flagged, _field(), pl.col("code").alias("value"), "suggestion", "release"
        )
    if p.problem == "not_billable":
        flagged = dx.filter((pl.col("billable") == False) & ~seventh)  # noqa: E712 (null = unknown, not header)
        return _claim_hits(
            flagged,
            _field(),
            pl.col("code").alias("value"),
            "description",
            pl.col("billable_under").alias("suggestion"),
            "release",
        )
    unknown = dx.filter(pl.col("billable").is_null() & ~seventh)
    # Suggest the codes under the longest prefix that is a real code (M54.17X -> under M54.1).
    prefixes = (
        unknown.select(
            "_row",
            "slot",
            "_edition",
            pl.concat_list([pl.col("bare").str.slice(0, n) for n in range(3, 7)]).alias("_prefix"),
        )
        .explode("_prefix")
        .unique()
    )
    real = icd.filter(pl.col("bare").is_in(prefixes["_prefix"].unique().implode())).rename(
        {"bare": "_prefix"}
    )
    prefixes = (
        prefixes.join(real, on=["_prefix", "_edition"], how="inner")
        .sort(pl.col("_prefix").str.len_chars(), descending=True)
        .unique(["_row", "slot"], keep="first")
        .select(
            "_row",
            "slot",
            pl.col("code").alias("parent"),
            pl.when(pl.col("billable_under") != "")
            .then("billable_under")
            .otherwise("code")
            .alias("suggestion"),
        )
    )
    flagged = unknown.join(prefixes, on=["_row", "slot"], how="left").with_columns(
        pl.col("parent").fill_null("its category"),
        pl.col("suggestion").fill_null("see the ICD-10-CM index"),
    )
    return _claim_hits(
        flagged, _field(), pl.col("code").alias("value"), "parent", "suggestion", "release"
    )


class ReleaseWindow(Params):
    pass


@register_check(
    "dx_release_window",
    params=ReleaseWindow,
    fields={"claim_id", "service_date", "fiscal_year", "release", "tables", "todo"},
)
def dx_release_window(ctx: Context, p: ReleaseWindow) -> pl.DataFrame:
    """Claims whose service date falls in a fiscal year that no ICD-10-CM table covers: what was
    judged, and what to import."""
    claims = ctx.claims.filter(
        pl.col("_service_date").is_not_null() & ~pl.col("_failed").list.contains("service_date")
    )
    editions = ctx.editions
    dos = pl.col("_service_date")
    outside = claims.with_columns(
        editions.timing(dos).alias("_when"),
        editions.edition(dos).alias("_edition"),
        (dos.dt.year() + (dos.dt.month() >= 10).cast(pl.Int32)).alias("_fy"),
    ).filter(pl.col("_when") != 0)
    tables = ", ".join(y.info.version.split(" ")[0] for y in editions.years)
    after = pl.format(
        "import CMS's FY{} ICD-10-CM release files (icd10cm_order_{}.txt and "
        "icd10cm_tabular_{}.xml) with `cleanclaim codesets import`; until then its diagnoses were "
        "judged by {} for headers, 7th characters and guidelines, and no code was called invalid",
        "_fy",
        "_fy",
        "_fy",
        "release",
    )
    before = pl.format(
        "check its diagnoses against the FY{} ICD-10-CM release: cleanclaim ships no table that "
        "old, so their validity was not judged (guidelines were, by {})",
        "_fy",
        "release",
    )
    return outside.join(editions.facts(), on="_edition", how="left").select(
        pl.col("_row"),
        pl.lit(True).alias("claim_level"),
        dos.dt.to_string("%Y-%m-%d").alias("service_date"),
        pl.format("FY{}", "_fy").alias("fiscal_year"),
        "release",
        pl.lit(tables).alias("tables"),
        pl.when(pl.col("_when") > 0).then(after).otherwise(before).alias("todo"),
    )


# --------------------------------------------------------------------------- coding guidelines


class Excludes1(Params):
    pass


@register_check("dx_excludes1", params=Excludes1, fields={"claim_id", "value", "other", "note"})
def dx_excludes1(ctx: Context, p: Excludes1) -> pl.DataFrame:
    """Pairs of diagnoses on one claim where a tabular Excludes1 note of the first (or of one of its
    categories) names the second. Each pair is reported once. The notes are matched on the run's
    distinct codes (a few thousand), then the pairs are looked for within each claim by code id.

    A note excludes the codes from `lo` to `hi`, each a code or a category ("M50.1-" is M501 to
    M501); with the distinct codes sorted, those are one slice: from the first code >= lo to the
    last code <= hi or starting with it (below hi + DEL, which sorts after every letter and digit).
    Comparing every note with every code instead grew with the product of the two: 0.5M rows for 400
    codes, tens of millions for a large group's few thousand."""
    # One to three years a run; with no diagnoses at all, one pass yields the empty frame.
    editions = ctx.claim_dx["_edition"].unique().sort().to_list() or [0]
    return pl.concat([_excludes1_pairs(ctx, e) for e in editions])


def _excludes1_pairs(ctx: Context, edition: int) -> pl.DataFrame:
    """dx_excludes1 among the claims judged by one ICD-10-CM year, with that year's notes."""
    year = pl.col("_edition") == edition
    known = (
        ctx.claim_dx.lazy()
        .filter(year & pl.col("billable").is_not_null())
        .select("_row", "slot", "code", "code_id")
    )
    distinct = (
        ctx.dx_distinct.filter(year & pl.col("billable").is_not_null())
        .select("bare", "code_id")
        .unique("bare")
        .sort("bare")
        .with_row_index("_id")
    )  # a code's id here: its position
    notes = (
        distinct.with_columns(
            pl.concat_list([pl.col("bare").str.slice(0, n) for n in range(3, 8)])
            .list.unique()
            .alias("owner")
        )
        .explode("owner")
        .join(ctx.excludes1.filter(year).drop("_edition"), on="owner", how="inner")
    )
    codes = distinct["bare"]
    first = codes.search_sorted(notes["lo"], side="left")
    end = codes.search_sorted(notes["hi"] + "\x7f", side="left")
    excluded = (
        notes.with_columns(pl.int_ranges(first, end, dtype=pl.UInt32).alias("_other_id"))
        .explode("_other_id")
        .filter(pl.col("_other_id").is_not_null() & (pl.col("_other_id") != pl.col("_id")))
        # the most specific note first (the code's own before its category's), the same every run
        .sort(
            "_id",
            "_other_id",
            pl.col("owner").str.len_bytes(),
            "note",
            descending=[False, False, True, False],
        )
        .unique(["_id", "_other_id"], keep="first")
        .select("_id", "_other_id", "note")
    )
    # Pairs within each claim among the codes that take part in some exclusion, then kept when the
    # notes exclude them: a claim has a handful of codes, so this stays proportional to the claims
    # however many codes the run has (joining each claim's code to all the codes its notes exclude did not).
    # Only the slots holding such a code are numbered (a code that takes part in no exclusion is
    # most of the run's slots).
    involved = distinct.filter(
        pl.col("_id").is_in(pl.concat([excluded["_id"], excluded["_other_id"]]).implode())
    )
    ids = (
        known.filter(pl.col("code_id").is_in(involved["code_id"].implode()))
        .join(involved.lazy().select("code_id", "_id"), on="code_id", how="inner")
        .collect()
    )
    owners = ids.join(excluded.select("_id").unique(), on="_id", how="semi")
    others = ids.join(
        excluded.select(pl.col("_other_id").alias("_id")).unique(), on="_id", how="semi"
    ).select(
        "_row",
        pl.col("slot").alias("_other_slot"),
        pl.col("code").alias("other"),
        pl.col("_id").alias("_other_id"),
    )
    pairs = owners.join(others, on="_row", how="inner").join(
        excluded, on=["_id", "_other_id"], how="inner"
    )
    # Both codes' notes may exclude the other: one finding, in the words of the code listed first.
    pairs = (
        pairs.sort("_row", pl.min_horizontal("slot", "_other_slot"), "slot")
        .with_columns(
            pl.min_horizontal("code", "other").alias("_a"),
            pl.max_horizontal("code", "other").alias("_b"),
        )
        .unique(["_row", "_a", "_b"], keep="first", maintain_order=True)
    )
    return _claim_hits(pairs, pl.col("code").alias("value"), "other", "note")


class FirstListed(Params):
    flag: Literal["manifestation", "external_cause"]


@register_check("dx_first_listed", params=FirstListed, fields=DX_FIELDS | {"code_first"})
def dx_first_listed(ctx: Context, p: FirstListed) -> pl.DataFrame:
    """The first-listed diagnosis is a kind that may never be first: a manifestation (the tabular's
    code-first note on a "classified elsewhere" code) or an external cause (Chapter 20, V00-Y99)."""
    first = ctx.claim_dx.filter((pl.col("slot") == 1) & pl.col("billable").is_not_null())
    flagged = first.filter(
        pl.col("manifestation") if p.flag == "manifestation" else pl.col("chapter") == "20"
    )
    return _claim_hits(
        flagged,
        _field(),
        pl.col("code").alias("value"),
        "description",
        pl.col("code_first").fill_null("the underlying condition"),
    )


class SexConflict(Params):
    exempt_prefixes: list[str] = []


@register_check(
    "dx_sex_conflict", params=SexConflict, fields=DX_FIELDS | {"patient_sex", "code_sex"}
)
def dx_sex_conflict(ctx: Context, p: SexConflict) -> pl.DataFrame:
    """A diagnosis whose tabular title (or its category's or block's) names the other sex."""
    # Plans: polars then copies only the two columns read of the claims (of ~30, the note among them).
    sex = (
        ctx.claims.lazy()
        .filter(~pl.col("_failed").list.contains("patient_sex"))
        .select("_row", "patient_sex")
    )
    exempt = _starts_with_any(p.exempt_prefixes)
    dx = ctx.claim_dx.lazy().filter(pl.col("sex").is_not_null() & ~exempt)
    flagged = dx.join(sex, on="_row").filter(
        pl.col("patient_sex").is_in(["F", "M"]) & (pl.col("patient_sex") != pl.col("sex"))
    )
    return _claim_hits(
        flagged.collect(),
        _field(),
        pl.col("code").alias("value"),
        "description",
        "patient_sex",
        pl.col("sex").replace_strict({"F": "female", "M": "male"}).alias("code_sex"),
    )


class AgeConflict(Params):
    chapters: list[str] = []
    prefixes: list[str] = []
    min_age: int = 0
    max_age: int = 124


@register_check(
    "dx_age_conflict", params=AgeConflict, fields=DX_FIELDS | {"service_date", "min_age", "max_age"}
)
def dx_age_conflict(ctx: Context, p: AgeConflict) -> pl.DataFrame:
    """A diagnosis limited to an age range (MCE) on a patient outside it. The age is computed in
    whole years at the claim's first service date and never printed (ages over 89 are identifiers)."""
    dob, dos = pl.col("_patient_dob"), pl.col("_service_date")
    age = (
        dos.dt.year()
        - dob.dt.year()
        - ((dos.dt.month() * 100 + dos.dt.day()) < (dob.dt.month() * 100 + dob.dt.day())).cast(
            pl.Int32
        )
    )
    in_scope = pl.col("chapter").is_in(p.chapters) | _starts_with_any(p.prefixes)
    dx = ctx.claim_dx.lazy().filter(pl.col("billable").is_not_null() & in_scope)
    # Only the claims with such a code are aged, and only the columns read of them copied (a plan).
    usable = (
        ctx.claims.lazy()
        .join(dx.select("_row"), on="_row", how="semi")
        .filter(
            ~pl.col("_failed").list.contains("patient_dob")
            & ~pl.col("_failed").list.contains("service_date")
        )
    )
    ages = usable.select(
        "_row", age.alias("_age"), dos.dt.to_string("%Y-%m-%d").alias("service_date")
    )
    flagged = dx.join(ages, on="_row").filter(
        (pl.col("_age") < p.min_age) | (pl.col("_age") > p.max_age)
    )
    return _claim_hits(
        flagged.collect(),
        _field(),
        pl.col("code").alias("value"),
        "description",
        "service_date",
        pl.lit(p.min_age).alias("min_age"),
        pl.lit(p.max_age).alias("max_age"),
    )


class Laterality(Params):
    problem: Literal["conflict", "unspecified"]
    modifier_sides: dict[str, Literal["right", "left", "bilateral"]]


@register_check(
    "dx_laterality",
    params=Laterality,
    fields=DX_FIELDS | {"modifier", "code_side", "line_side", "procedure_code"},
)
def dx_laterality(ctx: Context, p: Laterality) -> pl.DataFrame:
    """A line whose side modifier contradicts the side of a diagnosis it points to, or that names a
    side while its diagnosis is the unspecified-side code."""
    modifiers = [f"modifier_{i}" for i in range(1, 5)]
    sided = ctx.line_dx.filter(pl.col("side").is_not_null())  # few lines point to a sided code
    sides = (
        ctx.lines.join(sided.select("_row").unique(), on="_row", how="semi")
        .select("_row", "procedure_code", pl.concat_list(modifiers).alias("modifier"))
        .explode("modifier")
        .drop_nulls("modifier")
        .with_columns(
            pl.col("modifier").replace_strict(p.modifier_sides, default=None).alias("line_side")
        )
        .drop_nulls("line_side")
        .unique(["_row", "modifier"])
    )
    dx = sided.join(sides, on="_row")
    if p.problem == "conflict":
        flagged = dx.filter(
            ((pl.col("side") == "right") & (pl.col("line_side") == "left"))
            | ((pl.col("side") == "left") & (pl.col("line_side") == "right"))
        )
    else:
        flagged = dx.filter(pl.col("side") == "unspecified")
    return flagged.unique(["_row", "slot", "modifier"]).select(
        "_row",
        pl.lit(False).alias("claim_level"),
        _field(),
        pl.col("code").alias("value"),
        "description",
        "modifier",
        pl.col("side").alias("code_side"),
        "line_side",
        "procedure_code",
    )


class Duplicate(Params):
    pass


@register_check("dx_duplicate", params=Duplicate, fields={"claim_id", "value", "slots"})
def dx_duplicate(ctx: Context, p: Duplicate) -> pl.DataFrame:
    """The same code in two diagnosis slots of a claim (M54.12 and M5412 count as the same)."""
    # Claim and code as one integer, sorted so that repeats sit together: hashing (claim, code text)
    # pairs cost several times as much.
    key = (pl.col("_row") * (1 << 32) + pl.col("code_id")).alias("_key")
    coded = ctx.claim_dx.select("_row", "slot", "code", key).sort("_key")
    repeated = coded.filter(
        (pl.col("_key") == pl.col("_key").shift(1)) | (pl.col("_key") == pl.col("_key").shift(-1))
    )
    dupes = repeated.group_by("_row", "_key").agg(
        pl.col("code").sort_by("slot").first(), pl.col("slot").sort()
    )
    return _claim_hits(
        dupes,
        pl.col("code").alias("value"),
        pl.col("slot").cast(pl.List(pl.String)).list.join(" and ").alias("slots"),
    )
