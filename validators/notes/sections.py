"""Sections: a note cut at its headers, each header kept in the first clause of its section.

A header is evidence in itself: "PLAN:" over a list of orders is a plan whatever words the list uses,
and "LONG-TERM GOALS (6 WEEKS):" states goals and their time frame. A header or field label followed
by its value on the same line ("Pain: 7/10", "PAIN: 6/10", "Onset: 3 days ago") is one clause with
the value; a header over lines of its own is a clause of its own. Headers are upper-case words
ending in a colon anywhere in a line ("PHYSICAL EXAMINATION:"), or at the start of a line a short
title-case heading ("Assessment and Plan:") or a SOAP letter ("S:", "A/P:").
rules/codesets/note_sections.csv names the section each header opens (a regular expression over
the lower-cased header, the first that matches wins); a title-case field it does not name ("Modified
duty:", "Gait:") stays in the section around it.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from cleanclaim.validators.notes.normalize import LABEL_GLOSS, PARAGRAPH, normalize

# a title-case label may be hyphenated ("Pre-procedure:", "Follow-up:") and end in a short gloss in
# parentheses ("Goals (4 wks):")
LABEL = (
    r"(?:[A-Z][a-z]+(?:-[a-z]+)?|[A-Z]{1,2}(?:/[A-Z])?)(?:(?: |/)(?:[A-Za-z]+|&|/)){0,3}"
    + LABEL_GLOSS
)
HEADER = (
    # an upper-case header's parentheses are its own ("GOALS (6 WEEKS):", not "end of POC):"); the
    # last may gloss it in lower case ("FUNCTIONAL OUTCOMES (goals):")
    r"\b([A-Z](?:[A-Z0-9 /&'-]|\([A-Z0-9 /&'-]*\)){1,60}(?:[A-Z]|\([A-Za-z0-9 /&'-]*\))):"
    r"|(?:^|\n)[ \t]*(" + LABEL + r"):(\s)"
    # a dictated letter's section word on its own, closed by a full stop ("Goals. Within 2 weeks...",
    # "Goals.\n1. ...")
    r"|(?:^|\n)[ \t]*(Goals|Plan|Assessment|Impression|Recommendations?)\.[ \t]*()\n?"
    # or a table whose first column is headed Goal ("| Goal | Target | Time frame |")
    r"|(?:^|\n)[ \t]*\|[ \t]*([Gg]oals?|GOALS?|STGs?|LTGs?)[ \t]*()\|"
)
# polars runs a string kernel on one core per column, and cutting notes into sections and clauses is
# mostly that: a large frame is read in slices at once, one per core, in order. A small one is not
# cut (a slice costs a query).
SLICE_ROWS = 20_000


def sliced(frame: pl.DataFrame, plan: Callable[[pl.LazyFrame], pl.LazyFrame]) -> pl.DataFrame:
    """`plan` over `frame`, row-wise, as one query per slice run together; the rows keep their order."""
    pieces = min(pl.thread_pool_size(), frame.height // SLICE_ROWS)
    if pieces <= 1:
        return plan(frame.lazy()).collect()
    step = -(-frame.height // pieces)
    return pl.concat(
        pl.collect_all(
            [plan(frame.lazy().slice(start, step)) for start in range(0, frame.height, step)]
        )
    )


def segments(notes: pl.DataFrame, sections: pl.DataFrame) -> pl.DataFrame:
    """(_row, text) -> (_row, section, body): each note normalised and cut at its headers; a body
    starts with its header's words, on the line of the header's value when it has one."""
    # a header's gloss in parentheses does not name its section ("History (per family):" is history)
    header = pl.col("header").str.replace(r"\s*\([^()]*\)$", "")
    section = pl.when(header.is_null()).then(pl.lit("unknown"))
    for keyword, name in sections.select("header_keyword", "section").rows():
        section = section.when(header.str.contains(keyword)).then(pl.lit(name))
    parts = pl.col("_parts").struct
    cut = sliced(
        notes,
        lambda lf: (
            lf.select(
                "_row",
                normalize(pl.col("text"))
                .str.replace_all(HEADER, "\x1e${1}${2}${4}${6}\x1f${3}${5}${7}")
                .str.split("\x1e")
                .alias("segment"),
            )
            .explode("segment")
            .with_columns(pl.col("segment").str.splitn("\x1f", 2).alias("_parts"))
            .select(
                "_row",
                pl.when(parts.field("field_1").is_not_null())
                .then(parts.field("field_0").str.strip_chars().str.to_lowercase())
                .alias("header"),
                pl.when(parts.field("field_1").is_null())
                .then(parts.field("field_0"))
                # a header or field label with its value on the same line ("PAIN: 6/10") is one
                # clause: the label is the value's context
                .when(parts.field("field_1").str.contains(r"^[ \t]+\S"))
                .then(pl.concat_str(parts.field("field_0"), pl.lit(":"), parts.field("field_1")))
                .otherwise(
                    pl.concat_str(parts.field("field_0"), pl.lit("\n"), parts.field("field_1"))
                )
                .alias("body"),
                # a title-case field ("Modified duty:", "Gait:") rather than an upper-case header
                (
                    parts.field("field_1").is_not_null()
                    & parts.field("field_0").str.contains("[a-z]")
                ).alias("_field"),
            )
            .filter(pl.col("body").str.strip_chars().str.len_bytes() > 0)
        ),
    )
    # A night's notes use a few hundred distinct headers: each is named once, not once per section.
    named = cut.select(pl.col("header").unique()).with_columns(
        section.otherwise(pl.lit("other")).alias("section")
    )
    # A field no header keyword names belongs to the section it sits in ("Modified duty:" in a plan).
    return (
        cut.join(named, on="header", how="left", nulls_equal=True, maintain_order="left")
        .with_columns(
            pl.when(pl.col("_field") & (pl.col("section") == "other"))
            .then(None)
            .otherwise(pl.col("section"))
            .forward_fill()
            .over("_row")
            .fill_null("other")
            .alias("section")
        )
        .select("_row", "section", "body")
        .pipe(_goals_end_at_blank_line)
    )


def _goals_end_at_blank_line(segmented: pl.DataFrame) -> pl.DataFrame:
    """A goals list ends at a blank line even when no header follows: what comes after it ("Pt
    tolerated the evaluation well", today's treatment) is no goal, and is read as section "other"."""
    ending = (pl.col("section") == "goals") & pl.col("body").str.contains(PARAGRAPH, literal=True)
    if not segmented.select(ending.any()).item():
        return segmented
    split = pl.col("body").str.splitn(PARAGRAPH, 2).struct
    cut = segmented.with_columns(
        pl.when(ending).then(split.field("field_0")).otherwise(pl.col("body")).alias("body"),
        pl.when(ending).then(split.field("field_1")).alias("_rest"),
    )
    rest = cut.filter(pl.col("_rest").str.strip_chars().str.len_bytes() > 0).select(
        "_row", pl.lit("other").alias("section"), pl.col("_rest").alias("body")
    )
    return pl.concat([cut.drop("_rest"), rest])
