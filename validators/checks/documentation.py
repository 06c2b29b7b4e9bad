"""Check kinds over the clinical note: required documentation elements, and codes the note contradicts.

Element presence comes from `Context.notes` (validators/notes.py): for the elements and claims a
check names, one row per claim and element found, with affirmed / negated / weeks. Requirements
and contradictions are joins on it.
"""

from __future__ import annotations

from typing import Literal

import polars as pl

from validators.checks import Params, register_check


class DocRequired(Params):
    problem: Literal["missing_element", "no_note"]
    families: list[str] = []  # service families (service_families.csv) whose lines need the documentation
    codeset: str | None = None  # or a codeset of procedure codes (always_therapy_codes)
    dx_pattern: str | None = None  # or claims with a diagnosis matching this (bare code, no dot)
    accident: bool = False  # or claims reporting an accident
    em_modifier_with_minor_procedure: str | None = None  # or E/M lines with this modifier on a procedure day
    elements: list[str] = []  # each "a|b" is satisfied by any one of them
    min_weeks: dict[str, float] = {}


def _triggers(ctx, p: DocRequired) -> pl.DataFrame:
    """(_row, _claim, procedure_code, claim_level) of what needs the documentation, collected once
    from the plans of the usable lines and claims (Context.usable_lines)."""
    lines = ctx.usable_lines("procedure_code")
    parts = []
    codes: list[str] = []
    if p.families:
        families = ctx.catalog.codesets["service_families"].table.filter(pl.col("family").is_in(p.families))
        codes += families["procedure_code"].to_list()
    if p.codeset:
        codes += ctx.catalog.codesets[p.codeset].table["code"].to_list()
    if codes:
        parts.append(lines.filter(pl.col("procedure_code").is_in(codes))
                     .select("_row", pl.col("_claim_first").alias("_claim"), "procedure_code",
                             pl.lit(False).alias("claim_level"))
                     .sort("_row").unique("_claim", keep="first"))  # the claim's first such line
    if p.em_modifier_with_minor_procedure:
        minor = ctx.catalog.codesets["service_families"].table.filter(pl.col("global_days").is_in(["000", "010"]))
        visits = (lines.filter(pl.col("procedure_code").is_in(minor["procedure_code"].implode()))
                  .select("_visit").unique())
        modifier = p.em_modifier_with_minor_procedure
        em = lines.filter(pl.col("procedure_code").str.contains(r"^992[0-1][0-9]$")
                          & pl.any_horizontal(pl.col(f"modifier_{i}") == modifier for i in range(1, 5)))
        parts.append(em.join(visits, on="_visit", how="semi").select(
            "_row", pl.col("_claim_first").alias("_claim"), "procedure_code", pl.lit(False).alias("claim_level")))
    if p.dx_pattern or p.accident:
        claims = ctx.claims.lazy().select("_row", "accident_indicator")
        wanted = pl.lit(False)
        if p.accident:
            wanted = wanted | pl.col("accident_indicator").is_not_null()
        flagged = claims.filter(wanted).select("_row")
        if p.dx_pattern:
            dx = ctx.claim_dx_matching(p.dx_pattern).select("_row")
            flagged = pl.concat([flagged, dx])
        parts.append(flagged.unique().select("_row", pl.col("_row").alias("_claim"),
                                             pl.lit(None, dtype=pl.String).alias("procedure_code"),
                                             pl.lit(True).alias("claim_level")))
    if not parts:
        return pl.DataFrame(schema={"_row": pl.Int64, "_claim": pl.Int64, "procedure_code": pl.String,
                                    "claim_level": pl.Boolean})
    return pl.concat(parts, how="vertical_relaxed").unique(["_row"], keep="first").collect()


@register_check("doc_required", params=DocRequired,
                fields={"claim_id", "procedure_code", "element", "requirement", "found", "service"})
def doc_required(ctx, p: DocRequired) -> pl.DataFrame:
    """Each required element missing from the claim's note is its own finding; a claim without a
    note is reported once (problem no_note), only when the file carries notes at all."""
    noted = ctx.noted_claims.select(pl.col("_row").alias("_claim"))
    if noted.is_empty():  # an extract without notes: nothing to read, and not each claim's problem
        return pl.DataFrame(schema={"_row": pl.Int64, "claim_level": pl.Boolean, "service": pl.String,
                                    "element": pl.String, "requirement": pl.String, "found": pl.String})
    triggers = _triggers(ctx, p)
    service = pl.coalesce(pl.col("procedure_code"), pl.lit("this claim")).alias("service")
    if p.problem == "no_note":
        missing = triggers.join(noted, on="_claim", how="anti")
        return missing.select("_row", "claim_level", service, pl.lit("a clinical note").alias("element"),
                              pl.lit("a note supplied with the claim").alias("requirement"),
                              pl.lit("no note").alias("found"))
    required = ctx.catalog.derived(f"doc_required {p.model_dump_json()}", lambda catalog: _requirements(catalog, p))
    # What the notes of the triggered claims show of the required elements, and which requirements
    # that meets per claim (the other claims' notes are most of the rows and need no look). One plan,
    # collected once: a rule of a dozen small steps paid polars' start-up per step in every part.
    targets = triggers.join(noted, on="_claim", how="semi")
    asked = required["element"].unique().to_list()
    evidence = (ctx.notes.elements(asked, targets.select(pl.col("_claim").alias("_row"))).lazy()
                .rename({"_row": "_claim"}).join(required.lazy().select("_g", "element", "_min"), on="element"))
    met = evidence.filter(pl.col("affirmed") & (pl.col("_min").is_null() | (pl.col("weeks") >= pl.col("_min"))))
    groups = required.lazy().unique("_g").select("_g", pl.col("label").alias("element"), "requirement",
                                                  pl.col("_group_min").alias("_min"))
    missing = (targets.lazy().join(groups, how="cross")
               .join(met.select("_claim", "_g").unique(), on=["_claim", "_g"], how="anti"))
    details = (evidence.join(missing.select("_claim", "_g"), on=["_claim", "_g"], how="semi")
               .group_by("_claim", "_g").agg(pl.col("weeks").max().alias("_weeks"),
                                              (pl.col("negated") & ~pl.col("affirmed")).any().alias("_negated")))
    found = (pl.when(pl.col("_negated").fill_null(False)).then(pl.lit("documented as absent"))
             .when(pl.col("_weeks").is_not_null()).then(pl.format("documented for {} weeks", pl.col("_weeks").round(1)))
             .when(pl.col("_min").is_not_null()).then(pl.lit("no duration documented"))
             .otherwise(pl.lit("not documented")))
    return (missing.join(details, on=["_claim", "_g"], how="left")
            .select("_row", "claim_level", service, "element", "requirement", found.alias("found")).collect())


def _requirements(catalog, p: DocRequired) -> pl.DataFrame:
    """A missing_element rule's requirements, one row per (requirement _g, element): the element's own
    minimum weeks (_min), and the requirement's words -- its elements' labels joined by "or" (label),
    with the longest minimum (_group_min) in `requirement`. Worked out once per catalog and rule."""
    labels = dict(catalog.codesets["doc_elements"].table.select("id", "label").rows())
    required = pl.DataFrame({"_group": p.elements}).with_row_index("_g").with_columns(
        pl.col("_group").str.split("|").alias("element")).explode("element").with_columns(
        pl.col("element").replace_strict(p.min_weeks, default=None, return_dtype=pl.Float64).alias("_min"))
    label = pl.col("_group").str.split("|").list.eval(
        pl.element().replace_strict(labels, default=pl.element())).list.join(" or ")
    groups = (required.group_by("_g").agg(pl.col("_group").first(), pl.col("_min").max().alias("_group_min"))
              .with_columns(label.alias("label"))
              .with_columns(pl.when(pl.col("_group_min").is_not_null())
                            .then(pl.format("{}, for at least {} weeks", "label", pl.col("_group_min").cast(pl.Int64)))
                            .otherwise("label").alias("requirement")))
    return required.join(groups.drop("_group"), on="_g").drop("_group")


class NoteContradictsDx(Params):
    dx_pattern: str
    element: str


@register_check("note_contradicts_dx", params=NoteContradictsDx,
                fields={"claim_id", "value", "description", "element"})
def note_contradicts_dx(ctx, p: NoteContradictsDx) -> pl.DataFrame:
    """A diagnosis whose defining finding the note documents only as absent (radiculopathy coded,
    radicular symptoms denied)."""
    labels = dict(ctx.catalog.codesets["doc_elements"].table.select("id", "label").rows())
    coded = (ctx.claim_dx_matching(p.dx_pattern).sort("slot").unique("_row", keep="first")
             .select("_row", "code", "description").collect())
    denied = ctx.notes.elements([p.element], coded).filter(pl.col("negated") & ~pl.col("affirmed"))
    flagged = coded.join(denied.select("_row"), on="_row", how="semi")
    return flagged.select("_row", pl.lit(True).alias("claim_level"), pl.col("code").alias("value"), "description",
                          pl.lit(labels[p.element]).alias("element"))


class NoteSideConflict(Params):
    pass


@register_check("note_side_conflict", params=NoteSideConflict,
                fields={"claim_id", "value", "description", "code_side", "note_side"})
def note_side_conflict(ctx, p: NoteSideConflict) -> pl.DataFrame:
    """A right- or left-side diagnosis whose note names only the other side."""
    sided = ctx.claim_dx.filter(pl.col("side").is_in(["left", "right"]))
    sides = (ctx.notes.elements(["side_left", "side_right"], sided).filter(pl.col("affirmed"))
             .group_by("_row").agg(pl.col("element").alias("_sides")))
    only = sides.filter(pl.col("_sides").list.len() == 1).select(
        "_row", pl.col("_sides").list.first().str.replace("side_", "").alias("note_side"))
    coded = sided.join(only, on="_row", how="inner")
    flagged = coded.filter(pl.col("side") != pl.col("note_side")).sort("slot").unique("_row", keep="first")
    return flagged.select("_row", pl.lit(True).alias("claim_level"), pl.col("code").alias("value"), "description",
                          pl.col("side").alias("code_side"), "note_side")


class NoteSiteMismatch(Params):
    pass


def site_element(site: pl.Expr) -> pl.Expr:
    """The note-index element of a body site of site_checks.csv (engine.note_vocabulary reads them)."""
    return pl.format("site_{}", site)


@register_check("note_site_mismatch", params=NoteSiteMismatch,
                fields={"claim_id", "value", "description", "code_site", "note_site", "suggestion"})
def note_site_mismatch(ctx, p: NoteSiteMismatch) -> pl.DataFrame:
    """A code for one body site on a claim whose note documents another (site_checks.csv: M62.831
    calf or M62.561 lower-leg wasting on a back-spasm note -> M62.830)."""
    checks = ctx.catalog.codesets["site_checks"].table.with_columns(site_element(pl.col("note_site")).alias("element"))
    coded = ctx.claim_dx.join(checks, on="code", how="inner")
    seen = ctx.notes.elements(checks["element"].unique().to_list(), coded).filter(pl.col("affirmed"))
    joined = coded.join(seen.select("_row", "element"), on=["_row", "element"], how="inner")
    return joined.select("_row", pl.lit(True).alias("claim_level"), pl.col("code").alias("value"), "description",
                         "code_site", "note_site", pl.col("suggested_code").alias("suggestion"))
