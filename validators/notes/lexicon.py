"""The element vocabulary (rules/codesets/doc_elements.yaml) made ready to match: word classes
written out, shared temporal patterns put in place of their {placeholders}, defaults filled in."""

from __future__ import annotations

import re

import polars as pl

from cleanclaim.validators.notes import temporal

# Clauses are lower-cased before matching, so a word character is [0-9a-z_], written out rather than
# as Unicode \w (some 140,000 code points): polars compiles a pattern on every call, and Unicode
# classes make that compilation most of a small file's work. A letter outside a-z separates words.
WORD, NON_WORD = "[0-9a-z_]", "[^0-9a-z_]"
_SHORTHAND = re.compile(r"(?<!\\)((?:\\\\)*)\\([wW])")
PLACEHOLDERS = {
    "date": temporal.DATE,
    "month": temporal.MONTH,
    "relative_time": temporal.RELATIVE_TIME,
    "holiday": temporal.HOLIDAY,
    "duration": temporal.DURATION,
    "symptom_span": temporal.SYMPTOM_SPAN,
}
# done: a planned or hypothetical mention does not count, nor one in a plan unless it goes on;
# performed: a planned or hypothetical mention does not count, except in a procedure's own
# description, and one in a plan section does when nothing plans it; any: every mention counts
ASSERTIONS = ("done", "performed", "any")
RELATIVES = ("any", "possessive")


def ascii_words(pattern: str) -> str:
    """`pattern` with \\w and \\W (outside or inside a class, not an escaped backslash) as WORD / NON_WORD."""
    return _SHORTHAND.sub(lambda m: m[1] + (WORD if m[2] == "w" else NON_WORD), pattern)


def expand(pattern: str | None, elements: dict[str, str] | None = None) -> str | None:
    """A pattern with {date}, {month}, {relative_time}, {holiday}, {duration} and {symptom_span} replaced by
    the temporal layer's own, and {element id} by that element's pattern (an injury's date is read
    beside its mechanism)."""
    if pattern is None:
        return None
    for name, value in (elements or {}).items():
        pattern = pattern.replace("{" + name + "}", f"(?:{value})")
    for name, value in PLACEHOLDERS.items():
        pattern = pattern.replace("{" + name + "}", f"(?:{value})")
    return ascii_words(pattern)


def prepare(elements: pl.DataFrame) -> list[dict]:
    """The vocabulary's rows with every optional field in place and the patterns expanded."""
    out = []
    patterns = dict(elements.select("id", "pattern").rows())
    for e in elements.to_dicts():
        assertion = e.get("assertion") or "done"
        if assertion not in ASSERTIONS:
            raise ValueError(f"doc element {e['id']}: assertion must be one of {ASSERTIONS}")
        relatives = e.get("relatives") or "any"
        if relatives not in RELATIVES:
            raise ValueError(f"doc element {e['id']}: relatives must be one of {RELATIVES}")
        out.append(
            {
                **e,
                "pattern": expand(e["pattern"]),
                "context": expand(e.get("context"), patterns),
                "unless": expand(e.get("unless")),
                "ignore": expand(e.get("ignore")),
                "assertion": assertion,
                "negatable": bool(e.get("negatable")),
                # an event's negation is its denial only ("denies any fall"), no negative result
                "negated_by": e.get("negated_by") or "any",
                "duration": bool(e.get("duration")),
                # a pattern that names spans itself reads them where ages and follow-ups are blanked
                "spans": "{duration}" in e["pattern"],
                "event": bool(e.get("event")),
                "relatives": relatives,
                "exclude_sections": e.get("exclude_sections") or [],
                "cue_sections": e.get("cue_sections") or [],
                "in_sections": e.get("in_sections") or [],
            }
        )
    return out
