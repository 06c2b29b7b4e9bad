"""Sentences and clauses: the units an element, its negation and its duration are read within.

A body is cut at sentence ends (a period, semicolon, question or exclamation mark, maybe closing a
quotation or parenthesis, before a space, so "2.5 mg" stays whole), at line breaks (normalisation
left only meaningful ones), and at the words that end a negation's scope in ConText ("but",
"however", "although"; "reports", "complains of", "positive for" begin a new assertion).
"""

from __future__ import annotations

import polars as pl

from cleanclaim.validators.notes.assertion import AUXILIARIES
from cleanclaim.validators.notes.sections import sliced

CLAUSE_BREAK = (
    r"[.;!?][\"')\]]*(?:\s|$)|\n+"
    r"|,?\s+(?:but|however|although|though|except|whereas)\s+"
    # "yet" after a comma only: "has not yet tried PT" is one denial
    r"|,\s+yet\s+"
    r"|,?\s+(?:reports?|complains? of|endorses?|admits? to|positive for|presents? with|notes?)\s+"
)

# a verb that only begins a new assertion on its own: after a negation or a modal it is that clause's
# verb ("does not report radiating pain" is a denial, "pt will report pain < 3/10" a goal)
# (the contracted forms spelled out and a space rather than \s+: a pattern starting with words as
# common as "is" or "do", or with a class, is tried at most positions of every note)
KEPT_VERB = (
    r"(n't|\b(?:"
    + "|".join(f"{auxiliary}nt" for auxiliary in AUXILIARIES.split("|"))
    + r"|not|never|no longer|will|would|can|cannot|could|should|shall|may|must))"
    r" +(reports?|complains? of|endorses?|admits? to|notes?)\b"
)
_JOINED = "\x1e"

# goals named after a plan's frequency and length begin their own clause ("twice a week for the next 6
# weeks, with the following goals: within 3 weeks..."), so the goals' time frames do not cancel the length
GOALS_FOLLOW = r"[,;]?\s+(?:with|and)\s+(?:the\s+)?(?:following\s+)?goals?(?:\s+(?:are|as follows|include|of))?\s*:"
# and a plan told after the goals, joined by "and", is a clause of its own ("updated goals are ... within 4
# weeks, and he will continue hand therapy 1x/week for 4 more weeks"), as is a denial joined to what was
# done ("taking ibuprofen and using a cervical pillow, and he has not yet had physical therapy")
AND_FOLLOWS = (
    r",\s+and\s+((?:he|she|they|pt|patient|the patient)\s+(?:will\s+(?:continue|attend|be seen|receive|"
    r"return)|(?:has|have|had|did|does|is|was)\s*(?:not|n't|never)|denies|denied))\b"
)

# a dictation's comma splice: a comma after a clause with its own verb, then a new subject and a verb
# that turns to another matter ("... who was struck by a falling tree limb while clearing brush, he
# has a history of a rotator cuff repair in 2013"), as MTSamples' transcriptions join sentences; an
# opening phrase without a verb ("Approximately five weeks prior to his presentation, the patient was
# involved in an MVA") or a subordinate one ("Since she was rear-ended on 9/14/2026, she has had neck
# pain") is not cut from the clause it opens, nor is a span told on ("he has completed 8 weeks")
COMMA_SPLICE = (
    r"(\b(?:[a-z0-9'/-]+ +)*(?:is|was|were|are|has|had|have|did|does|denies|denied|states|stated|"
    r"reports|reported|presents|presented|underwent|sustained)(?: +[a-z0-9'/-]+)+),\s+"
    r"((?:he|she|they|the patient|patient|pt)\s+(?:(?:has|had) an? (?:history|hx)|denies|denied|states|"
    r"stated|reports|reported|(?:is|was) on|takes|is taking|was seen|underwent|lives|works|also|notes|"
    r"noted|(?:is|was) an?|was wearing|was the|has been off|(?:was|has been|had been) (?:previously |also |"
    r"recently |initially )?(?:treated|seen|evaluated|taken|transported|brought))\b)"
)
# a subordinate opening's comma, kept from the splice while it is read
SUBORDINATE_OPENING = (
    r"((?:^|[.;:!?]\s*)(?:ever\s+)?(?:since|while|when|after|before|because|although|though|if|as|"
    r"until|once)\b[^,.;:!?]*),"
)
_KEPT_COMMA = "\x1c"

# the periods of abbreviations end no sentence ("at 6 p.m. while at practice", "seen by Dr. X", "the R. ankle",
# "post. thigh -> lat. calf x 10 wks", "p.r.n. medications", "crossing Harmon St. on Tuesday"); "b/l." does
# ("SLR neg b/l. Taut bands ...")
ABBREVIATION = (
    r"\b([ap]\.m|dr|mr|mrs|ms|vs|approx|e\.g|i\.e|[rl]|lt|rt|ant|post|lat|med|prox|dist|bilat|st|ave|blvd|"
    r"p\.r\.n|b\.i\.d|t\.i\.d|q\.i\.d|q\.h\.s|q\.d|p\.o)"
    r"\.(?:\s|$)"
)
# "b/l." is bilateral ending its sentence, not the side's letter "l."
BILATERAL_END = r"\b(b/[rl])\.(\s|$)"


def clauses(segmented: pl.DataFrame) -> pl.DataFrame:
    """(section, body, ...) -> (section, clause, ...): the lower-cased clauses of each body."""
    return sliced(
        segmented,
        lambda lf: (
            lf.with_columns(
                pl.col("body")
                .str.to_lowercase()
                .str.replace_all(BILATERAL_END, "${1};${2}")
                .str.replace_all(ABBREVIATION, "${1} ")
                .str.replace_all(KEPT_VERB, f"${{1}}{_JOINED}${{2}}")
                .str.replace_all(GOALS_FOLLOW, "\x1dgoals:")
                .str.replace_all(AND_FOLLOWS, "\x1d${1}")
                .str.replace_all(SUBORDINATE_OPENING, f"${{1}}{_KEPT_COMMA}")
                .str.replace_all(COMMA_SPLICE, "${1}\x1d${2}")
                .str.replace_all(_KEPT_COMMA, ",", literal=True)
                .str.replace_all(CLAUSE_BREAK, "\x1d")
                .str.split("\x1d")
                .alias("clause")
            )
            .drop("body")
            .explode("clause")
            .with_columns(
                pl.col("clause")
                .str.replace_all(_JOINED, " ", literal=True)
                .str.strip_chars(" ,:-\t")
            )
            .filter(pl.col("clause").str.len_bytes() > 0)
        ),
    )
