"""Reading clinical notes the way a payer's reviewer does: a clinical-text pipeline whose stages are
modules of this package, each a polars expression or frame in and frame out:

normalize -> sections -> sentences -> (lexicon, assertion, temporal) -> noteindex

`noteindex` builds the NoteIndex the documentation rules ask: per note, the elements of
rules/codesets/doc_elements.yaml it affirms and negates, and the longest duration stated beside
each timed element. Only numbers and element names are kept: never the note text.
"""

from cleanclaim.validators.notes.noteindex import NoteIndex, combine, detect, index

__all__ = ["NoteIndex", "combine", "detect", "index"]
