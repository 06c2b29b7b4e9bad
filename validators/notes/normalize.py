"""Normalisation: a note's text as lines that mean something.

Transcription systems and HL7 feeds hard-wrap text at a fixed width: a single line break inside a
paragraph is a space, while a blank line, a header ("PLAN:") or a list item ("- ", "2. ") starts a
new line; a header wrapped over two lines ("HISTORY\nAND PHYSICAL:") is one. MTSamples joins its
sections with commas ("PLAN:,  The patient ..."; "...revision.,INDICATIONS"): those joins become
line breaks. Dashes and minus signs are one hyphen, so "(−)" reads as "(-)".
"""

from __future__ import annotations

import polars as pl

# the glyphs EHRs and word processors put before a list's items
_BULLET = "\u2022\u00b7\u25aa\u25cf\u25e6\u2023\u2219\u25a0\u27a2\u25ba"
# a line break before one of these is kept (a list item, a table's row or a header starts a line, a
# SOAP letter too)
# a title-case label's short gloss in parentheses ("Goals (4 wks):"), here and in sections.LABEL
LABEL_GLOSS = r"(?: \([^()\n]{1,20}\))?"
_LINE_START = (
    r"\n([ \t]*(?:[-*"
    + _BULLET
    + r"]\s|\||\d{1,2}[.)]\s|[A-Z][A-Z0-9 /&()'-]{1,60}:|[A-Z][a-z]+(?:-[a-z]+)?(?:[ /][A-Za-z]+){0,3}"
    + LABEL_GLOSS
    + r":\s|[A-Z]{1,2}(?:/[A-Z])?:\s))"
)
KEEP = "\x1c"  # marks a kept break while the others become spaces
# a blank line as normalising leaves it: two kept breaks (sections.py ends a goals list there)
PARAGRAPH = "\n\n"
# what a span read as something else is replaced with, later layers reading it as no word at all; a
# control character, since notes write "~" for "about" ("at ~0630")
BLANK = " \x1b "
# upper-case words ending a line after running text on it, then a line that is the rest of an
# upper-case header (read before MTSamples' comma joins become line starts; an upper-case title over
# a header, "OCCUPATIONAL MEDICINE - INITIAL VISIT" over "DOI:", is no wrapped header, nor a side's
# letter over a SOAP letter, "wrist R" over "S:")
_WRAPPED_HEADER = (
    r"([a-z][^A-Za-z0-9\n]+)([A-Z][A-Z0-9/&'-]+(?: [A-Z][A-Z0-9/&'-]*)*)[ \t]*\n[ \t]*"
    r"([A-Z][A-Z0-9 /&()'-]{1,60}:)"
)


# "Our goals are as follows." in a letter's paragraph, as a header would open them
_GOALS_SENTENCE = (
    r"(?i)(^|[.!?]\s+)(?:(?:our|the|his|her|their|my|treatment|therapy|rehab|short[- ]term|long[- ]term|"
    r"functional)\s+){1,2}goals\s+(?:are|will be|include)(?:\s+as follows)?\s*[.:]\s+"
)
# an intake form's question and its short answer on one line ("Have you had physical therapy? No"):
# a field, its answer the value ("... physical therapy: No"), and the line's end kept
_FORM_QUESTION = (
    r"(?im)^([ \t]*(?:how|what|when|where|which|have|has|had|do|does|did|are|is|was|were|any)\b"
    r"[^\n?]{0,80})\?[ \t]*([^\n?]{1,40}?)[ \t]*(?:\n|$)"
)
_YES_NO = r"\by[ \t]*/[ \t]*n\b[ \t]*[:=-]?[ \t]*"
# a form's boxes, as text exports write them and as Unicode ballot boxes
_UNCHECKED = r"\[ \]|\u2610"
_CHECKED = r"\[[xX\u2713\u2714]\]|[\u2611\u2612]"

# a two-column table's row is a field and its value ("| Duration  | 8 weeks |" is "Duration: 8 weeks")
_TABLE_FIELD = (
    r"(?m)^[ \t]*\|[ \t]*([A-Za-z][^|\n]{0,40}?)[ \t]*\|[ \t]*([^|\s][^|\n]*?)[ \t]*\|?[ \t]*$"
)

_BARE_HEADER = (
    r"(?im)^[ \t]*((?:chief complaint|history(?: of present illness)?|hpi|subjective|objective|"
    r"(?:physical )?exam(?:ination)?|assessment(?: and plan| ?& ?plan| ?/ ?plan)?|impression|plan(?: of care)?|"
    r"treatment plan|goals?(?: table| list)?|(?:short|long)[- ]term goals?|procedure(?: note| performed| details)?|technique|findings|(?:current )?(?:outpatient )?medications|allergies|"
    r"(?:past medical|past surgical|social|family) history|review of systems|(?:pre-?|post-?)?(?:procedure |operative )?diagnos[ie]s|recommendations?|disposition|"
    r"indications?(?: for (?:the )?procedure)?|reason for (?:visit|referral|procedure)|description of (?:the )?procedure|complications|mechanism of injury))"
    # a table's other column titles after it ("GOALS      Target date")
    r"(?:[ \t]{2,}(?:target date|time ?frame|due date|date|status|comments?|progress)s?(?:[ \t]+[A-Za-z/]+){0,3})?[ \t]*$"
)


def normalize(text: pl.Expr) -> pl.Expr:
    return (
        text.str.replace_all(r"\r\n?", "\n")
        # no-break and other Unicode spaces are spaces; zero-width marks are nothing
        .str.replace_all(r"[\u00a0\u2000-\u200a\u202f\u205f\u3000]", " ")
        .str.replace_all(r"[\u200b-\u200d\u2060\ufeff]", "")
        # MTSamples' lost apostrophe ("patient\ufffds")
        .str.replace_all(r"(\w)\ufffd(\w)", "$1'$2")
        .str.replace_all(r"[\u2010-\u2015\u2212]", "-")
        .str.replace_all(r"[\u2018\u2019]", "'")
        .str.replace_all(r"[\u201c\u201d]", '"')
        # a form's boxes: an unchecked option says nothing, so it goes with its short label, which ends
        # at the column's spaces, the next box or the line's end ("[ ] 4 wks  [x] 6 wks" is "6 wks"); a
        # checked box is its label. A box before a sentence, or after its label, leaves the text be.
        .str.replace_all(f"({_UNCHECKED}|{_CHECKED})", "  $1")
        .str.replace_all(
            rf"(?m)(?:{_UNCHECKED})[ \t]*[^\[\]\u2610-\u2612\n]{{0,30}}?(?:[ \t]{{2,}}|[ \t]*$)",
            "  ",
        )
        .str.replace_all(rf"(?:{_CHECKED})[ \t]*", "")
        .str.replace_all(_TABLE_FIELD, "${1}: ${2}")
        .str.replace_all(_FORM_QUESTION, "${1}: ${2}" + KEEP)
        # a Y/N field's answer as words ("Tried PT/chiro Y/N: N" is "Tried PT/chiro: no")
        .str.replace_all(rf"(?i)[ \t]*{_YES_NO}(?:no|n)([ \t.,;\n]|$)", ": no${1}")
        .str.replace_all(rf"(?i)[ \t]*{_YES_NO}(?:yes|y)([ \t.,;\n]|$)", ": yes${1}")
        # a section's name alone on its line is its header, with or without the colon ("PLAN")
        .str.replace_all(_BARE_HEADER, "${1}:")
        # a sentence that announces the goals in running text opens them ("Our goals are as follows.")
        .str.replace_all(_GOALS_SENTENCE, "${1}\nGoals: ")
        # an upper-case header wrapped over two lines is one ("HISTORY\nAND PHYSICAL:")
        .str.replace_all(_WRAPPED_HEADER, "${1}${2} ${3}")
        # MTSamples' comma joins: after a header, and between a sentence end and the next paragraph
        .str.replace_all(r":\s*,\s*", ": ")
        .str.replace_all(r"\s{2,},\s*", "\n")
        .str.replace_all(r"([.?!]),\s*(\S)", "$1\n$2")
        .str.replace_all(r",\s{2,}", "\n")
        # hard wraps: blank lines and line starts kept, every other break a space; a header alone on
        # its line ("Goals:") ends in a space, so keeping its line start does not take the next one's
        .str.replace_all(":\n", ": \n", literal=True)
        # a blank line stays one (PARAGRAPH): it ends a block no header closes
        .str.replace_all(r"\n[ \t]*\n\s*", KEEP + KEEP)
        .str.replace_all(_LINE_START, f"{KEEP}$1")
        .str.replace_all(r"\n", " ")
        .str.replace_all(KEEP, "\n")
        # a bullet is no word: "\u2022 Pain: 7/10" is the field "Pain: 7/10"
        .str.replace_all(r"(?m)^[ \t]*[-*" + _BULLET + r"][ \t]+", "")
    )
