"""The note index: which documentation elements each note affirms and negates, and for how long.

The pipeline's stages run over all notes at once as polars expressions: normalisation
(`normalize`), sections with their headers (`sections`), sentences and clauses (`sentences`), the
element vocabulary (`lexicon`), the assertion layer (`assertion`: negated, planned, family) and the
temporal layer (`temporal`: durations, dates). Notes written from EHR templates repeat the same
sections and clauses thousands of times a night, so bodies are split into clauses once per distinct
(section, body), and the patterns run once per distinct (section, clause).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import accumulate

import numpy as np
import polars as pl

from cleanclaim.validators.notes import assertion, lexicon, temporal
from cleanclaim.validators.notes.normalize import BLANK
from cleanclaim.validators.notes.sections import segments
from cleanclaim.validators.notes.sentences import clauses

# Notes are indexed in slices of about this much text, each on its own: the work on the text
# (sections, clauses, lower-casing) copies it a few times, which for a night of real-length notes
# is gigabytes at once. Slices bound it; a clause repeated across slices is matched once per slice.
INDEX_SLICE_BYTES = 64 * 2**20


# the longest alternation of element patterns the clauses are first sifted with (see _combined)
COMBINED_CHARS = 4_000

MARK = pl.UInt64  # one bit per element of the vocabulary


@dataclass(frozen=True)
class NoteIndex:
    """Which elements each note mentions, as bits: `marks` has one row per note read (its `key`: a
    claim's first line, `_row`, or its claim id for a notes file) with `affirmed` and `negated` bit
    sets over `names` (bit i is names[i]): affirmed when a clause mentions the element without a
    negation, negated when a clause negates it; `weeks` holds, per (key, element) of a duration
    element, the longest duration stated in a clause that mentions it (`weeks`) and the earliest date
    such a clause says it started on (`since`, counted to the visit by the rules). Only numbers,
    dates and element names: the note
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
        One join per frame for all the pieces, not a semi join per piece."""
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
            self.weeks.join(keys, on=self.key).select("_row", "element", "weeks", "since"),
            self.names,
            "_row",
        )

    def elements(
        self, elements: list[str] | None = None, rows: pl.DataFrame | None = None
    ) -> pl.DataFrame:
        """(key, element, affirmed, negated, weeks, since) for these elements (all when None) in the
        notes of these rows (a frame with the key column; all when None)."""
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
                    "since": pl.Date,
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
    notes: pl.DataFrame,
    elements: pl.DataFrame,
    sections: pl.DataFrame,
    key: str = "_row",
    threads: int = 1,
) -> NoteIndex:
    """(key, text) -> the NoteIndex of the vocabulary's elements, a slice of INDEX_SLICE_BYTES of text
    at a time, `threads` slices at once (cutting text is partly one core's work)."""
    slice_of = notes.select((pl.col("text").str.len_bytes().cum_sum() // INDEX_SLICE_BYTES).rle())[
        "text"
    ]
    if slice_of.len() <= 1:
        return _index(notes, elements, sections, key)
    lengths = slice_of.struct.field("len").to_list()
    starts = [0, *accumulate(lengths)][:-1]
    with ThreadPoolExecutor(max_workers=max(threads, 1)) as pool:
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
    # where it occurs, rather than a unique and a join back on the text.
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
    # each vocabulary entry vectorized over the clauses that mention any of them; with no clause to
    # read (a file without notes) the patterns are not even compiled. Most clauses of free text name
    # no element: a pass of the patterns together sets those aside.
    vocabulary = lexicon.prepare(elements) if distinct.height else []
    if vocabulary:
        mentioning = distinct.filter(
            pl.any_horizontal(
                pl.col("clause").str.contains(combined) for combined in _combined(vocabulary)
            )
            | pl.col("section").is_in([s for e in vocabulary for s in e["in_sections"]])
        ).with_columns(
            assertion.neutral(pl.col("clause")).alias("_neutral"),
            # a list item's number, a clause of its own or its item's start, is no measure ("1.
            # Decrease pain.")
            pl.col("clause").str.replace(r"^\W*\d{1,2}(?:[.)]\s|[.)]?\W*$)", " ").alias("_item"),
        )
    clause, neutral = pl.col("clause"), pl.col("_neutral")
    # goals are the plan's too: what is to come
    in_plan = pl.col("section").is_in(["plan", "goals"])
    # Two passes, each one collect for all elements (polars runs the plans together): the cheap tests
    # first, then the windowed assertion patterns on each element's own clauses only.
    plans, asserting = [], []
    for element in vocabulary:
        pattern = element["pattern"]
        # spans are read where ages and follow-up intervals are blanked ("a 47-year-old"); care is
        # named by its own words, frequency and all ("continuing PT 2x/week")
        text = temporal.without_non_durations(clause) if element["spans"] else clause
        # spans that only look like the element ("fall asleep", "fall risk"), then an encounter's dates
        if element["ignore"]:
            text = text.str.replace_all(element["ignore"], BLANK)
        if element["event"]:
            text = temporal.without_encounter_dates(text)
        mentioned = (
            text.str.contains(pattern) | pl.col("section").is_in(element["in_sections"])
        ) & ~pl.col("section").is_in(element["exclude_sections"])
        if element["context"]:  # a section whose header names the element is its context
            mentioned = mentioned & (
                pl.col("_item").str.contains(element["context"])
                | pl.col("section").is_in(element["cue_sections"])
            )
        if element["unless"]:
            mentioned = mentioned & ~pl.col("_item").str.contains(element["unless"])
        asserted = ~assertion.family(clause, pattern, element["relatives"] == "possessive")
        if element["assertion"] == "performed":
            # a procedure's own description tells its technique however it words it; elsewhere a
            # planned one is no technique used (a plan's header is no intent), and a procedure's
            # name stands between the plan's verb and it ("I recommend a left L4-L5 transforaminal
            # epidural steroid injection under fluoroscopy"), so the plan is read further back
            unheaded = clause.str.replace_all(assertion.PLAN_HEADER, BLANK)
            asserted = asserted & (
                (pl.col("section") == "procedure") | ~assertion.planned(unheaded, pattern, 16)
            )
        if element["assertion"] == "done":
            # planned or hypothetical care is not care received
            asserted = asserted & ~assertion.planned(clause, pattern)
            # in a plan, only care going on is
            asserted = asserted & ~(in_plan & ~clause.str.contains(assertion.ONGOING))
        negated = (
            assertion.negated(neutral, pattern, results=element["negated_by"] == "any")
            if element["negatable"]
            else pl.lit(False)
        )
        # a span in the plan is the future's ("pain diary x 2 wks, cont HEP"), not how long care has
        # gone on, unless the plan tells of care done before ("failed 8 weeks of PT"); so is a start
        past = ~(in_plan & ~clause.str.contains(assertion.PAST_CARE))
        weeks, since = (
            (
                pl.when(past).then(temporal.weeks(clause)),
                pl.when(past & ~negated).then(temporal.started(clause)),
            )
            if element["duration"]
            else (pl.lit(None, dtype=pl.Float64), pl.lit(None, dtype=pl.Date))
        )
        plans.append(mentioning.lazy().filter(mentioned))
        asserting.append(
            lambda lf, asserted=asserted, negated=negated, weeks=weeks, since=since, name=element["id"]: (
                lf.filter(asserted).select(
                    "_c",
                    pl.lit(name).alias("element"),
                    negated.alias("negated"),
                    weeks.alias("weeks"),
                    since.alias("since"),
                )
            )
        )
    if vocabulary:
        found = [
            step(frame.lazy()) for step, frame in zip(asserting, pl.collect_all(plans), strict=True)
        ]
    per_clause = (
        pl.concat(pl.collect_all(found))
        if found
        else pl.DataFrame(
            schema={
                "_c": pl.UInt32,
                "element": pl.String,
                "negated": pl.Boolean,
                "weeks": pl.Float64,
                "since": pl.Date,
            }
        )
    )
    marks, weeks = _per_note(
        located, body_clauses, per_clause, names, (notes.height, bodies.height, grouped.height)
    )
    keys = notes[key]
    return NoteIndex(
        marks=marks.with_columns(keys.gather(marks["_row"])).select(key, "affirmed", "negated"),
        weeks=weeks.with_columns(keys.gather(weeks["_row"])).select(
            key, "element", "weeks", "since"
        ),
        names=names,
        key=key,
    )


def _combined(vocabulary: list[dict]) -> list[str]:
    """The vocabulary's patterns joined into alternations of at most COMBINED_CHARS each (a longer
    pattern alone): one alternation of them all outgrows the size the regex engine runs as a fast
    automaton, and it falls back to a slower one."""
    groups: list[list[str]] = [[]]
    for element in vocabulary:
        pattern = f"(?:{element['pattern']})"
        if groups[-1] and len("|".join([*groups[-1], pattern])) > COMBINED_CHARS:
            groups.append([])
        groups[-1].append(pattern)
    return ["|".join(group) for group in groups]


def _per_note(
    located: pl.DataFrame,
    body_clauses: pl.DataFrame,
    per_clause: pl.DataFrame,
    names: tuple[str, ...],
    sizes: tuple[int, int, int],
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Each note's elements as bits, (_row, affirmed, negated) for every note read, and the longest
    duration and earliest start of each timed element, (_row, element, weeks, since): each clause's
    values carried to its bodies and then to their notes, combined with OR (bits), max (weeks) or
    min (since), by numpy's ufunc.at in place over arrays numbered by note, body and clause:
    polars' bitwise_or aggregation is not one of its fast ones."""
    notes, bodies, clauses = sizes
    note_of, body_of = located["_row"].to_numpy(), located["_s"].to_numpy()
    # only the clauses that mention an element: most (body, clause) pairs of free text mention none
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
    # the longest span and the earliest start (as days since 1970) of each timed element
    timed = per_clause.filter(pl.col("weeks").is_not_null() | pl.col("since").is_not_null())
    weeks = []
    for (element,), rows in timed.group_by("element"):
        longest = spread(rows["_c"], rows["weeks"].fill_null(np.nan), np.nan, np.fmax)
        days = rows["since"].cast(pl.Int32).cast(pl.Float64).fill_null(np.nan)
        earliest = spread(rows["_c"], days, np.nan, np.fmin)
        found = np.flatnonzero(~np.isnan(longest) | ~np.isnan(earliest))
        weeks.append(
            pl.DataFrame(
                {
                    "_row": found,
                    "element": element,
                    "weeks": pl.Series(longest[found]).fill_nan(None),
                    "since": pl.Series(earliest[found]).fill_nan(None).cast(pl.Int32).cast(pl.Date),
                }
            )
        )
    return marks, pl.concat(
        [
            pl.DataFrame(
                schema={
                    "_row": pl.Int64,
                    "element": pl.String,
                    "weeks": pl.Float64,
                    "since": pl.Date,
                }
            ),
            *weeks,
        ],
        how="vertical_relaxed",
    )


def detect(notes: pl.DataFrame, elements: pl.DataFrame, sections: pl.DataFrame) -> pl.DataFrame:
    """(_row, text) -> one row per (note, element found): affirmed, negated, weeks (longest duration
    stated in a clause that mentions it) and since (the earliest start such a clause tells). An
    element absent from a note has no row."""
    return index(notes, elements, sections).elements()
