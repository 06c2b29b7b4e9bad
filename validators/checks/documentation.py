"""Check kinds over the clinical note: required documentation elements, and codes the note contradicts.

Element presence comes from `Context.notes` (validators/notes.py): each claim's note as bits of the
elements it affirms and negates, and the weeks of the timed ones. Requirements filter on the bits;
contradictions join its rows per (claim, element) (`NoteIndex.elements`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import polars as pl

from cleanclaim.validators.checks import Params, procedure_in, register_check
from cleanclaim.validators.checks.procedure import minor_procedures
from cleanclaim.validators.notes import NoteIndex

if TYPE_CHECKING:
    from cleanclaim.validators.catalog import Catalog
    from cleanclaim.validators.checks.context import Context


class DocRequired(Params):
    problem: Literal["missing_element", "no_note"]
    families: list[
        str
    ] = []  # service families (service_families.csv) whose lines need the documentation
    codeset: str | None = None  # or a codeset of procedure codes (always_therapy_codes)
    codes: list[str] = []  # or these procedure codes
    dx_pattern: str | None = None  # or claims with a diagnosis matching this (bare code, no dot)
    accident: bool = False  # or claims reporting an accident
    # claims (of dx_pattern or accident) whose every line is in this codeset, or a supply of these
    # HCPCS codes (an orthosis the therapist fits), are not checked
    except_claims_only_of: str | None = None
    except_supplies_matching: str | None = None
    em_modifier_with_minor_procedure: str | None = (
        None  # or E/M lines with this modifier on a procedure day
    )
    # an E/M line that points to a diagnosis no procedure line of its visit points to, with this
    # element in the note, shows a separate problem by the claim's own structure
    own_dx_with: str | None = None
    # own diagnoses that do not count (bare code, no dot): a history code is no problem managed today
    own_dx_except: str | None = None
    elements: list[str] = []  # each "a|b" is satisfied by any one of them
    min_weeks: dict[str, float] = {}  # a stated duration shorter than this does not meet it
    # elements a documented negative answers ("no radicular findings" is an answer, not a gap)
    negative_answers: list[str] = []


def _triggers(ctx: Context, p: DocRequired) -> pl.DataFrame:
    """(_row, _claim, procedure_code, claim_level) of what needs the documentation, collected once
    from the plans of the usable lines and claims (Context.usable_lines)."""
    lines = ctx.usable_lines("procedure_code")
    parts = []
    codes: list[str] = []
    if p.families:
        families = ctx.catalog.codesets["service_families"].table.filter(
            pl.col("family").is_in(p.families)
        )
        codes += families["procedure_code"].to_list()
    if p.codeset:
        codes += ctx.catalog.codesets[p.codeset].table["code"].to_list()
    codes += p.codes
    if codes:
        parts.append(
            lines.filter(procedure_in(codes))
            .select(
                "_row",
                pl.col("_claim_first").alias("_claim"),
                "procedure_code",
                pl.lit(False).alias("claim_level"),
                pl.lit(False).alias("_own_dx"),
            )
            # the claim's first such line (the lines are in row order): sorting and a
            # unique cost twice as much
            .filter(pl.col("_claim").is_first_distinct())
        )
    if p.em_modifier_with_minor_procedure:
        minor = minor_procedures(ctx.catalog, ["000", "010"])
        procedures = lines.filter(procedure_in(minor)).select("_row", "_visit")
        modifier = p.em_modifier_with_minor_procedure
        em = (
            lines.filter(
                ctx.procedure_matching(r"^992[0-1][0-9]$")
                & pl.any_horizontal(pl.col(f"modifier_{i}") == modifier for i in range(1, 5))
            )
            .join(procedures.select("_visit").unique(), on="_visit", how="semi")
            .select("_row", "_claim_first", "procedure_code", "_visit")
            .collect()
        )
        pointed = ctx.line_dx.lazy().select("_row", "code", "bare")
        procedure_dx = pointed.join(procedures, on="_row").select("_visit", "code")
        if p.own_dx_except:
            pointed = pointed.filter(~pl.col("bare").fill_null("").str.contains(p.own_dx_except))
        own = (
            pointed.join(em.lazy().select("_row", "_visit"), on="_row")
            .join(procedure_dx, on=["_visit", "code"], how="anti")
            .select("_row")
            .unique()
            .collect()
        )
        parts.append(
            em.lazy().select(
                "_row",
                pl.col("_claim_first").alias("_claim"),
                "procedure_code",
                pl.lit(False).alias("claim_level"),
                pl.col("_row").is_in(own["_row"].implode()).alias("_own_dx"),
            )
        )
    if p.dx_pattern or p.accident:
        claims = ctx.claims.lazy().select("_row", "accident_indicator")
        wanted = pl.lit(False)
        if p.accident:
            wanted = wanted | pl.col("accident_indicator").is_not_null()
        flagged = claims.filter(wanted).select("_row")
        if p.dx_pattern:
            dx = ctx.claim_dx_matching(p.dx_pattern).select("_row")
            flagged = pl.concat([flagged, dx])
        if p.except_claims_only_of:
            exempt = procedure_in(
                ctx.catalog.codesets[p.except_claims_only_of].table["code"].to_list()
            )
            if p.except_supplies_matching:
                exempt = exempt | pl.col("procedure_code").str.contains(p.except_supplies_matching)
            only = (
                lines.group_by(pl.col("_claim_first").alias("_row"))
                .agg(exempt.all().alias("_only"))
                .filter("_only")
            )
            flagged = flagged.join(only, on="_row", how="anti")
        parts.append(
            flagged.unique().select(
                "_row",
                pl.col("_row").alias("_claim"),
                pl.lit(None, dtype=pl.String).alias("procedure_code"),
                pl.lit(True).alias("claim_level"),
                pl.lit(False).alias("_own_dx"),
            )
        )
    if not parts:
        return pl.DataFrame(
            schema={
                "_row": pl.Int64,
                "_claim": pl.Int64,
                "procedure_code": pl.String,
                "claim_level": pl.Boolean,
                "_own_dx": pl.Boolean,
            }
        )
    if len(parts) == 1:  # the usual rule: one kind of trigger, no row twice
        return parts[0].collect()
    return pl.concat(parts, how="vertical_relaxed").unique(["_row"], keep="first").collect()


@register_check(
    "doc_required",
    params=DocRequired,
    fields={
        "claim_id",
        "procedure_code",
        "element",
        "requirement",
        "found",
        "service",
        "looked_in",
    },
)
def doc_required(ctx: Context, p: DocRequired) -> pl.DataFrame:
    """Each required element missing from the claim's note is its own finding; a claim without a
    note is reported once (problem no_note), only when the file carries notes at all."""
    noted = ctx.noted_claims.select(pl.col("_row").alias("_claim"))
    if noted.is_empty():  # an extract without notes: nothing to read, and not each claim's problem
        return pl.DataFrame(
            schema={
                "_row": pl.Int64,
                "claim_level": pl.Boolean,
                "service": pl.String,
                "element": pl.String,
                "requirement": pl.String,
                "found": pl.String,
                "looked_in": pl.String,
            }
        )
    triggers = _triggers(ctx, p)
    service = pl.coalesce(pl.col("procedure_code"), pl.lit("this claim")).alias("service")
    if p.problem == "no_note":
        missing = triggers.join(noted, on="_claim", how="anti")
        return missing.select(
            "_row",
            "claim_level",
            service,
            pl.lit("a clinical note").alias("element"),
            pl.lit("a note supplied with the claim").alias("requirement"),
            pl.lit("no note").alias("found"),
            pl.lit("the notes supplied with the extract").alias("looked_in"),
        )
    requirements = ctx.catalog.derived(
        f"doc_required {p.model_dump_json()}", lambda catalog: _requirements(catalog, p)
    )
    visits = ctx.claims.select(pl.col("_row").alias("_claim"), "_service_date")
    return _missing(
        ctx.notes,
        triggers.join(noted, on="_claim", how="semi").join(visits, on="_claim", how="left"),
        requirements,
        service,
        p.own_dx_with,
    )


@dataclass(frozen=True)
class Requirement:
    """One entry of a missing_element rule's `elements`: met by any of its elements affirmed in the
    note (a timed one not stated shorter than its `min_weeks`), or documented as absent for an element
    a negative answers; `label`, `requirement` and `looked_in` (the note's sections) in words."""

    elements: tuple[str, ...]
    min_weeks: dict[str, float]
    label: str
    requirement: str
    looked_in: str
    timed: tuple[str, ...]  # its elements whose duration the note index reads
    negative_answers: tuple[str, ...]


def _requirements(catalog: Catalog, p: DocRequired) -> list[Requirement]:
    """A missing_element rule's requirements, worked out once per catalog and rule."""
    vocabulary = catalog.codesets["doc_elements"].table
    labels = dict(vocabulary.select("id", "label").rows())
    places = dict(vocabulary.select("id", "look_in").rows())
    timed = set(vocabulary.filter(pl.col("duration").fill_null(False))["id"])
    out = []
    for group in p.elements:
        elements = tuple(group.split("|"))
        minimum = {e: p.min_weeks[e] for e in elements if e in p.min_weeks}
        label = " or ".join(labels.get(e, e) for e in elements)
        requirement = f"{label}, for at least {max(minimum.values()):g} weeks" if minimum else label
        looked_in = " or ".join(dict.fromkeys(places.get(e) or "the whole note" for e in elements))
        out.append(
            Requirement(
                elements,
                minimum,
                label,
                requirement,
                looked_in,
                tuple(e for e in elements if e in timed),
                tuple(e for e in elements if e in p.negative_answers),
            )
        )
    return out


def _missing(
    notes: NoteIndex,
    targets: pl.DataFrame,
    requirements: list[Requirement],
    service: pl.Expr,
    own_dx_with: str | None = None,
) -> pl.DataFrame:
    """One row per (target, requirement) its claim's note does not meet, with what the note shows
    instead, read from the note's element bits (one row per claim) and the timed elements' weeks
    (the longest span stated, or the time from a start the note tells to the claim's service date
    when that is longer): no (claim, element) table is built."""

    def weeks(element: str) -> pl.Expr:
        # A start only vouches for a span stated beside it ("3 weeks of PT", "on gabapentin since
        # 10/01"); alone it is never held against the note, as a span not in numbers is not: a
        # month read as its first day, or a visit billed on another day than the note's, would
        # shorten it.
        stated = pl.col(f"_weeks_{element}")
        since = (pl.col("_service_date") - pl.col(f"_since_{element}")).dt.total_days() / 7
        return pl.max_horizontal(stated, pl.when(stated.is_not_null() & (since >= 0)).then(since))

    frame = targets.lazy().join(notes.marks.lazy().rename({notes.key: "_claim"}), on="_claim")
    for element in sorted({e for r in requirements for e in r.timed}):
        frame = frame.join(
            notes.weeks.lazy()
            .filter(pl.col("element") == element)
            .select(
                pl.col(notes.key).alias("_claim"),
                pl.col("weeks").alias(f"_weeks_{element}"),
                pl.col("since").alias(f"_since_{element}"),
            ),
            on="_claim",
            how="left",
        )
    affirmed, negated = pl.col("affirmed"), pl.col("negated")
    structural = (
        pl.col("_own_dx") & notes.has(affirmed, (own_dx_with,)) if own_dx_with else pl.lit(False)
    )
    missing = []
    for r in requirements:
        # a duration the note does not state in numbers ("since 2019") is not held against it;
        # a stated one shorter than the policy's minimum is
        met = pl.any_horizontal(
            notes.has(affirmed, (e,)) & (weeks(e) >= r.min_weeks[e]).fill_null(True)
            if e in r.min_weeks
            else notes.has(affirmed, (e,))
            for e in r.elements
        )
        if r.negative_answers:
            met = met | notes.has(negated, r.negative_answers)
        longest = (
            pl.max_horizontal(weeks(e) for e in r.timed)
            if r.timed
            else pl.lit(None, dtype=pl.Float64)
        )
        found = (
            pl.when(notes.has(negated & ~affirmed, r.elements))
            .then(pl.lit("documented as absent"))
            .when(longest.is_not_null())
            .then(pl.format("documented for {} weeks", longest.round(1)))
            .otherwise(pl.lit("not documented"))
        )
        missing.append(
            frame.filter(~(met | structural)).select(
                "_row",
                "claim_level",
                service,
                pl.lit(r.label).alias("element"),
                pl.lit(r.requirement).alias("requirement"),
                found.alias("found"),
                pl.lit(r.looked_in).alias("looked_in"),
            )
        )
    return pl.concat(missing).collect()


class NoteContradictsDx(Params):
    dx_pattern: str
    element: str


@register_check(
    "note_contradicts_dx",
    params=NoteContradictsDx,
    fields={"claim_id", "value", "description", "element"},
)
def note_contradicts_dx(ctx: Context, p: NoteContradictsDx) -> pl.DataFrame:
    """A diagnosis whose defining finding the note documents only as absent (radiculopathy coded,
    radicular symptoms denied)."""
    labels = dict(ctx.catalog.codesets["doc_elements"].table.select("id", "label").rows())
    coded = (
        ctx.claim_dx_matching(p.dx_pattern)
        .sort("slot")
        .unique("_row", keep="first")
        .select("_row", "code", "description")
        .collect()
    )
    denied = ctx.notes.elements([p.element], coded).filter(pl.col("negated") & ~pl.col("affirmed"))
    flagged = coded.join(denied.select("_row"), on="_row", how="semi")
    return flagged.select(
        "_row",
        pl.lit(True).alias("claim_level"),
        pl.col("code").alias("value"),
        "description",
        pl.lit(labels[p.element]).alias("element"),
    )


class NoteSideConflict(Params):
    pass


@register_check(
    "note_side_conflict",
    params=NoteSideConflict,
    fields={"claim_id", "value", "description", "code_side", "note_side"},
)
def note_side_conflict(ctx: Context, p: NoteSideConflict) -> pl.DataFrame:
    """A right- or left-side diagnosis whose note names only the other side."""
    sided = ctx.claim_dx.filter(pl.col("side").is_in(["left", "right"]))
    # a note naming both sides ("abrasions of both hands") contradicts neither side's code
    sides = (
        ctx.notes.elements(["side_left", "side_right", "side_both"], sided)
        .filter(pl.col("affirmed"))
        .group_by("_row")
        .agg(pl.col("element").alias("_sides"))
        .filter(~pl.col("_sides").list.contains("side_both"))
    )
    only = sides.filter(pl.col("_sides").list.len() == 1).select(
        "_row", pl.col("_sides").list.first().str.replace("side_", "").alias("note_side")
    )
    coded = sided.join(only, on="_row", how="inner")
    flagged = (
        coded.filter(pl.col("side") != pl.col("note_side"))
        .sort("slot")
        .unique("_row", keep="first")
    )
    return flagged.select(
        "_row",
        pl.lit(True).alias("claim_level"),
        pl.col("code").alias("value"),
        "description",
        pl.col("side").alias("code_side"),
        "note_side",
    )


class NoteSiteMismatch(Params):
    pass


def site_element(site: pl.Expr) -> pl.Expr:
    """The note-index element of a body site of site_checks.csv (engine.note_vocabulary reads them)."""
    return pl.format("site_{}", site)


@register_check(
    "note_site_mismatch",
    params=NoteSiteMismatch,
    fields={"claim_id", "value", "description", "code_site", "note_site", "suggestion"},
)
def note_site_mismatch(ctx: Context, p: NoteSiteMismatch) -> pl.DataFrame:
    """A code for one body site on a claim whose note documents another (site_checks.csv: M62.831
    calf or M62.561 lower-leg wasting on a back-spasm note -> M62.830)."""
    checks = ctx.catalog.codesets["site_checks"].table.with_columns(
        site_element(pl.col("note_site")).alias("element")
    )
    coded = ctx.claim_dx.join(checks, on="code", how="inner")
    seen = ctx.notes.elements(checks["element"].unique().to_list(), coded).filter(
        pl.col("affirmed")
    )
    joined = coded.join(seen.select("_row", "element"), on=["_row", "element"], how="inner")
    return joined.select(
        "_row",
        pl.lit(True).alias("claim_level"),
        pl.col("code").alias("value"),
        "description",
        "code_site",
        "note_site",
        pl.col("suggested_code").alias("suggestion"),
    )
