"""Reading clinical notes the way a payer's reviewer does: which documentation elements are there,
which are documented as absent, and for how long (weeks).

All notes are processed at once as polars string expressions: a note is split into sections at
its upper-case headers ("PHYSICAL EXAMINATION:"), a section into clauses at sentence ends and at
"but / however / although" (where a negation's scope ends, as in ConText), and each element of
`rules/codesets/doc_elements.yaml` is matched per clause. A negatable element is negated in a clause
when a negation trigger precedes it within a few words ("denies radiating pain", "no numbness or
tingling") or follows it ("straight leg raise negative"). Mentions in excluded sections do not
count (a family-history sentence is not an exam finding). polars' regex engine has no look-around,
so scopes are bounded by the clause split and word windows rather than by look-ahead.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import accumulate

import numpy as np
import polars as pl

HEADER = r"\b([A-Z][A-Z0-9 /&()'-]{1,60}[A-Z)]):"
CLAUSE_BREAK = r"[.;!?](?:\s|$)|[\n\r]+|,?\s+(?:but|however|although|though|except|yet)\s+"
PRE_NEGATION = r"\b(?:no|not|denies|denied|deny|denying|without|negative for|absence of|absent|free of|never|none)\b"
POST_NEGATION = (
    r"(?:negative|absent|denied|not present|not elicited|ruled out|not seen|not identified|normal|"
    r"unremarkable|intact)\b"
)  # "straight leg raising is normal" is a negative test
NUMBER_WORDS = {
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
    "ten": "10",
    "eleven": "11",
    "twelve": "12",
}
DURATION = r"\b(\d{1,3}|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)[ -](day|week|month|year)s?\b"
WEEKS_PER = {"day": 1 / 7, "week": 1.0, "month": 52 / 12, "year": 52.0}
# Clauses are lower-cased before matching, so a word character is [0-9a-z_], written out rather than
# as Unicode \w (some 140,000 code points): polars compiles a pattern on every call, and the ~40
# element and negation-window patterns took 0.12 s to compile for each note index with \w against
# 0.025 s written out -- most of the documentation checks' time on a small file. A letter outside
# a-z (an accented one) now separates words rather than joining them.
WORD, NON_WORD = "[0-9a-z_]", "[^0-9a-z_]"
_SHORTHAND = re.compile(r"(?<!\\)((?:\\\\)*)\\([wW])")


def ascii_words(pattern: str) -> str:
    """`pattern` with \\w and \\W (outside or inside a class, not an escaped backslash) as WORD / NON_WORD."""
    return _SHORTHAND.sub(lambda m: m[1] + (WORD if m[2] == "w" else NON_WORD), pattern)


# polars runs a string kernel (lower-casing, a regex replace, a split) on one core per column, and
# cutting notes into sections and clauses is mostly that: a large frame is read in slices at once,
# one per core (clauses of 246k note bodies: 1.1 -> 0.5 s on two cores), in order. A small one is
# not cut (a slice costs a query).
SLICE_ROWS = 20_000


def _sliced(frame: pl.DataFrame, plan: Callable[[pl.LazyFrame], pl.LazyFrame]) -> pl.DataFrame:
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
    """(_row, text) -> (_row, section, body): each note cut at its upper-case headers."""
    header = pl.col("header")
    section = pl.when(header.is_null()).then(pl.lit("unknown"))
    for keyword, name in sections.select("header_keyword", "section").rows():  # ~30 header keywords
        section = section.when(header.str.contains(keyword, literal=True)).then(pl.lit(name))
    parts = pl.col("_parts").struct
    cut = _sliced(
        notes,
        lambda lf: (
            lf.select(
                "_row",
                pl.col("text")
                .str.replace_all(HEADER, "\x1e${1}\x1f")
                .str.split("\x1e")
                .alias("segment"),
            )
            .explode("segment")
            .with_columns(
                pl.col("segment").str.splitn("\x1f", 2).alias("_parts")
            )  # (header, body) or (body,)
            .select(
                "_row",
                pl.when(parts.field("field_1").is_not_null())
                .then(parts.field("field_0").str.to_lowercase())
                .alias("header"),
                pl.coalesce(parts.field("field_1"), parts.field("field_0")).alias("body"),
            )
        ),
    )
    # A night's notes use a few hundred distinct headers: each is named once, not once per section.
    named = cut.select(pl.col("header").unique()).with_columns(
        section.otherwise(pl.lit("other")).alias("section")
    )
    return cut.join(named, on="header", how="left", nulls_equal=True, maintain_order="left").select(
        "_row", "section", "body"
    )


def clauses(segmented: pl.DataFrame) -> pl.DataFrame:
    """(section, body, ...) -> (section, clause, ...): the lower-cased clauses of each body."""
    return _sliced(
        segmented,
        lambda lf: (
            lf.with_columns(
                pl.col("body")
                .str.to_lowercase()
                .str.replace_all(CLAUSE_BREAK, "\x1d")
                .str.split("\x1d")
                .alias("clause")
            )
            .drop("body")
            .explode("clause")
            .with_columns(pl.col("clause").str.strip_chars(" ,:-\t"))
            .filter(pl.col("clause").str.len_bytes() > 0)
        ),
    )


# Notes are indexed in slices of about this much text, each on its own: the work on the text
# (sections, clauses, lower-casing) copies it a few times, which for a night of real-length notes
# (1M lines, 1.5 KB notes: 0.6 GB of text) is gigabytes at once. Slices bound it; a clause repeated
# across slices is matched once per slice.
INDEX_SLICE_BYTES = 64 * 2**20


MARK = pl.UInt64  # one bit per element of the vocabulary


@dataclass(frozen=True)
class NoteIndex:
    """Which elements each note mentions, as bits: `marks` has one row per note read (its `key`: a
    claim's first line, `_row`, or its claim id for a notes file) with `affirmed` and `negated` bit
    sets over `names` (bit i is names[i]): affirmed when a clause mentions the element without a
    negation, negated when a clause negates it; `weeks` is the longest duration stated in a clause
    that mentions a duration element, per (key, element). Only numbers and element names: the note
    text is not kept. A lookup joins one row per note: a dozen documentation rules ask in each part
    of a file, and walking each note's sections and clauses for every ask was most of their time."""

    marks: pl.DataFrame
    weeks: pl.DataFrame
    names: tuple[str, ...]
    key: str = "_row"

    def has(self, bits: pl.Expr, elements: tuple[str, ...]) -> pl.Expr:
        """Whether `bits` (a column of `marks`, or an expression over them) hold any of these elements
        (an element the vocabulary does not have: never)."""
        mask = sum(1 << i for i, name in enumerate(self.names) if name in elements)
        return (bits & pl.lit(mask, dtype=MARK)) != 0

    def noted(self) -> pl.Series:
        """The keys of the notes read (a blank note is no note: the reader leaves it out)."""
        return self.marks[self.key]

    def partitioned(self, parts: pl.DataFrame, count: int) -> list[NoteIndex]:
        """The index in `count` pieces by `parts` (self.key, _part: 0 to count - 1, one row per key):
        piece i holds the notes whose key has part i (a large file's parts: their claims' notes).
        One join per frame for all the pieces: a semi join per piece cost 0.5 CPU-s for 1M lines."""
        parts = parts.lazy().select(self.key, pl.col("_part").cast(pl.Int64))
        marks, weeks = pl.collect_all(
            [frame.lazy().join(parts, on=self.key) for frame in (self.marks, self.weeks)]
        )

        def piece(frame: pl.DataFrame, i: int) -> pl.DataFrame:
            return frame.filter(pl.col("_part") == i).drop("_part")

        return [
            NoteIndex(piece(marks, i), piece(weeks, i), self.names, self.key) for i in range(count)
        ]

    def rekeyed(self, keys: pl.DataFrame) -> NoteIndex:
        """The index of the notes whose key is in `keys` (self.key, _row), keyed by _row instead."""
        return NoteIndex(
            self.marks.join(keys, on=self.key).select("_row", "affirmed", "negated"),
            self.weeks.join(keys, on=self.key).select("_row", "element", "weeks"),
            self.names,
            "_row",
        )

    def elements(
        self, elements: list[str] | None = None, rows: pl.DataFrame | None = None
    ) -> pl.DataFrame:
        """(key, element, affirmed, negated, weeks) for these elements (all when None) in the notes of
        these rows (a frame with the key column; all when None)."""
        marks = self.marks.lazy()
        if rows is not None:
            marks = marks.join(rows.lazy().select(self.key), on=self.key, how="semi")
        found = []
        for name in self.names:
            if elements is not None and name not in elements:
                continue
            affirmed, negated = (
                self.has(pl.col(kind), (name,)) for kind in ("affirmed", "negated")
            )
            found.append(
                marks.filter(affirmed | negated).select(
                    self.key,
                    pl.lit(name).alias("element"),
                    affirmed.alias("affirmed"),
                    negated.alias("negated"),
                )
            )
        if not found:
            return pl.DataFrame(
                schema={
                    self.key: self.marks.schema[self.key],
                    "element": pl.String,
                    "affirmed": pl.Boolean,
                    "negated": pl.Boolean,
                    "weeks": pl.Float64,
                }
            )
        return (
            pl.concat(found).join(self.weeks.lazy(), on=[self.key, "element"], how="left").collect()
        )


def combine(indexes: list[NoteIndex]) -> NoteIndex:
    """Indexes of different notes (the same key and vocabulary; no key in two) as one."""
    first = indexes[0]
    if any(ix.names != first.names or ix.key != first.key for ix in indexes):
        raise ValueError("note indexes of different vocabularies or keys cannot be combined")
    return NoteIndex(
        pl.concat([ix.marks for ix in indexes]),
        pl.concat([ix.weeks for ix in indexes]),
        first.names,
        first.key,
    )


def index(
    notes: pl.DataFrame, elements: pl.DataFrame, sections: pl.DataFrame, key: str = "_row"
) -> NoteIndex:
    """(key, text) -> the NoteIndex of the vocabulary's elements, a slice of INDEX_SLICE_BYTES of text
    at a time."""
    slice_of = notes.select((pl.col("text").str.len_bytes().cum_sum() // INDEX_SLICE_BYTES).rle())[
        "text"
    ]
    if slice_of.len() <= 1:
        return _index(notes, elements, sections, key)
    lengths = slice_of.struct.field("len").to_list()
    starts = [0, *accumulate(lengths)][:-1]
    # Two slices at a time: cutting text is partly one core's work (611 MB of real-length notes:
    # 6.4-6.9 -> 5.0-5.1 s, and up to 0.2 GB more at once, still below reading the claim lines).
    with ThreadPoolExecutor(max_workers=2) as pool:
        return combine(
            list(
                pool.map(
                    lambda span: _index(notes.slice(*span), elements, sections, key),
                    zip(starts, lengths, strict=True),
                )
            )
        )


def _index(
    notes: pl.DataFrame, elements: pl.DataFrame, sections: pl.DataFrame, key: str
) -> NoteIndex:
    """`index` of notes taken at once.

    Notes written from EHR templates repeat the same sections and clauses ("reflexes 2+ and
    symmetric") thousands of times a night: bodies are split into clauses once per distinct
    (section, body), and the patterns run once per distinct (section, clause)."""
    names = tuple(elements["id"].to_list())
    if len(names) > 64:
        raise ValueError(
            f"the note vocabulary has {len(names)} elements; an index marks at most 64"
        )
    # Notes by their number here (_row): _per_note's arrays are indexed by it; the keys are taken by
    # number at the end.
    segmented = segments(
        notes.select(pl.int_range(pl.len(), dtype=pl.UInt32).alias("_row"), "text"), sections
    )
    # Each distinct body, and then each distinct clause, numbered by one grouping that also lists
    # where it occurs, rather than a unique and a join back on the text (100,000 real-length notes:
    # 1.2 -> 0.85 s for the two).
    bodies = segmented.group_by("section", "body").agg("_row").with_row_index("_s")
    located = bodies.select("_row", "_s").explode("_row")
    grouped = (
        clauses(bodies.select("_s", "section", "body"))
        .group_by("section", "clause")
        .agg("_s")
        .with_row_index("_c")
    )
    distinct = grouped.select("_c", "section", "clause")
    body_clauses = grouped.select("_s", "_c").explode(
        "_s"
    )  # a clause twice in a body: marked the same
    found = []
    # ~25 vocabulary entries, each vectorized over the clauses that mention any of them; with no
    # clause to read (a file without notes) the ~40 patterns are not even compiled. Free-text notes
    # repeat few clauses, and most of their clauses name no element: one pass of all the patterns
    # together sets those aside (50,000 such notes: the element patterns 1.05-1.2 -> 0.7 s).
    vocabulary = (
        [(e, ascii_words(e["pattern"])) for e in elements.to_dicts()] if distinct.height else []
    )
    if vocabulary:
        mentioning = distinct.filter(
            pl.col("clause").str.contains("|".join(f"(?:{p})" for _, p in vocabulary))
        )
    for element, pattern in vocabulary:
        hits = mentioning.lazy().filter(
            pl.col("clause").str.contains(pattern)
            & ~pl.col("section").is_in(element.get("exclude_sections") or [])
        )
        if element.get("negatable"):
            # ConText's scope runs to the clause end; nine words covers "no evidence for peripheral
            # neuropathy, entrapment neuropathy, plexopathy, or lumbosacral radiculopathy".
            before = rf"{PRE_NEGATION}(?:{NON_WORD}+{WORD}+){{0,9}}?{NON_WORD}+(?:{pattern})"
            after = rf"(?:{pattern}){WORD}*(?:{NON_WORD}+{WORD}+){{0,3}}?{NON_WORD}+{POST_NEGATION}"
            negated = pl.col("clause").str.contains(before) | pl.col("clause").str.contains(after)
        else:
            negated = pl.lit(False)
        weeks = pl.lit(None, dtype=pl.Float64)
        if element.get("duration"):
            amount = (
                pl.col("clause")
                .str.extract(DURATION, 1)
                .replace(NUMBER_WORDS)
                .cast(pl.Float64, strict=False)
            )
            weeks = amount * pl.col("clause").str.extract(DURATION, 2).replace_strict(
                WEEKS_PER, default=None, return_dtype=pl.Float64
            )
        found.append(
            hits.select(
                "_c",
                pl.lit(element["id"]).alias("element"),
                negated.alias("negated"),
                weeks.alias("weeks"),
            )
        )
    # One collect for all elements: polars runs the plans together, and a collect each cost more than
    # the matching itself in a small file.
    per_clause = (
        pl.concat(pl.collect_all(found))
        if found
        else pl.DataFrame(
            schema={
                "_c": pl.UInt32,
                "element": pl.String,
                "negated": pl.Boolean,
                "weeks": pl.Float64,
            }
        )
    )
    marks, weeks = _per_note(
        located, body_clauses, per_clause, names, (notes.height, bodies.height, grouped.height)
    )
    keys = notes[key]
    return NoteIndex(
        marks=marks.with_columns(keys.gather(marks["_row"])).select(key, "affirmed", "negated"),
        weeks=weeks.with_columns(keys.gather(weeks["_row"])).select(key, "element", "weeks"),
        names=names,
        key=key,
    )


def _per_note(
    located: pl.DataFrame,
    body_clauses: pl.DataFrame,
    per_clause: pl.DataFrame,
    names: tuple[str, ...],
    sizes: tuple[int, int, int],
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Each note's elements as bits, (_row, affirmed, negated) for every note read, and the longest
    duration of each timed element, (_row, element, weeks): each clause's values carried to its
    bodies and then to their notes, combined with OR (bits) or max (weeks), by numpy's ufunc.at in
    place over arrays numbered by note, body and clause: polars' bitwise_or aggregation is not one
    of its fast ones (180k notes: 161 ms for the notes' step, where a max took 22)."""
    notes, bodies, clauses = sizes
    note_of, body_of = located["_row"].to_numpy(), located["_s"].to_numpy()
    # only the clauses that mention an element: most (body, clause) pairs of free text mention none
    # (1M lines of 1.5 KB notes: 7.9M pairs)
    mentioning = np.zeros(clauses, dtype=bool)
    mentioning[per_clause["_c"].to_numpy()] = True
    pair_clause = body_clauses["_c"].to_numpy()
    kept = mentioning[pair_clause]
    pair_body, pair_clause = body_clauses["_s"].to_numpy()[kept], pair_clause[kept]

    def spread(at: pl.Series, values: pl.Series, empty: float, combine: np.ufunc) -> np.ndarray:
        """`values` of the clauses `at` -> one per note, `combine`d over its bodies' clauses (`empty`
        for a note none of whose clauses has one)."""
        given = values.to_numpy()
        per_clause_values = np.full(clauses, empty, dtype=given.dtype)
        per_clause_values[at.to_numpy()] = given
        per_body = np.full(bodies, empty, dtype=given.dtype)
        combine.at(per_body, pair_body, per_clause_values[pair_clause])
        per_note_values = np.full(notes, empty, dtype=given.dtype)
        combine.at(per_note_values, note_of, per_body[body_of])
        return per_note_values

    # an element is found once per clause: the sum of its clauses' bits is their union
    bit = pl.col("element").replace_strict(
        {name: 1 << i for i, name in enumerate(names)}, return_dtype=MARK
    )
    bits = per_clause.group_by("_c").agg(
        bit.filter(~pl.col("negated")).sum().alias("affirmed"),
        bit.filter(pl.col("negated")).sum().alias("negated"),
    )
    noted = np.unique(note_of)
    marks = pl.DataFrame(
        {
            "_row": noted,
            **{
                kind: spread(bits["_c"], bits[kind], 0, np.bitwise_or)[noted]
                for kind in ("affirmed", "negated")
            },
        }
    )
    timed = per_clause.filter(pl.col("weeks").is_not_null())
    weeks = []
    for (element,), rows in timed.group_by("element"):
        longest = spread(rows["_c"], rows["weeks"], np.nan, np.fmax)
        found = np.flatnonzero(~np.isnan(longest))
        weeks.append(pl.DataFrame({"_row": found, "element": element, "weeks": longest[found]}))
    return marks, pl.concat(
        [
            pl.DataFrame(schema={"_row": pl.Int64, "element": pl.String, "weeks": pl.Float64}),
            *weeks,
        ],
        how="vertical_relaxed",
    )


def detect(notes: pl.DataFrame, elements: pl.DataFrame, sections: pl.DataFrame) -> pl.DataFrame:
    """(_row, text) -> one row per (note, element found): affirmed, negated, weeks (longest duration
    stated in a clause that mentions it). An element absent from a note has no row."""
    return index(notes, elements, sections).elements()
