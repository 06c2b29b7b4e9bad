"""ICD-10-CM as a lookup table derived once from the CMS tabular that `simple-icd-10-cm` ships.

Parsing the tabular XML costs 2-3 s, so the table is built by `python -m validators.icd10cm`
into `rules/codesets/icd10cm.parquet` (and the Excludes1 references into
`icd10cm_excludes1.parquet`); runs read the Parquet in milliseconds. `tests/test_icd10cm.py`
rebuilds the table from the installed package and compares, so the file cannot drift from the
package it claims to come from.

Everything here is read from the tabular itself, nothing is typed by hand: billable (leaf) or
header, the billable codes under a header, the 7th-character convention, Excludes1 notes,
manifestation titles ("in diseases classified elsewhere"), the sex named in a code's own or its
ancestors' titles, and the side named in a title when its siblings carry right/left.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import polars as pl

from validators.codesets import default_rules_dir

TABLE_FILE = "icd10cm.parquet"
EXCLUDES1_FILE = "icd10cm_excludes1.parquet"
SUGGEST_MAX = 8  # billable codes named in a fix; "and N more" beyond

_REF = re.compile(r"\(([^()]*\d[^()]*)\)")
_CODE = r"[A-Z]\d[0-9A-Z](?:\.[0-9A-Z]{1,4})?"
_RANGE = re.compile(rf"^({_CODE})\.?-?\s*-\s*({_CODE})\.?-?$")
_SINGLE = re.compile(rf"^({_CODE})\.?-?$")
_WORD_FEMALE = re.compile(r"\bfemale\b", re.I)
_WORD_MALE = re.compile(r"\bmale\b", re.I)
_MANIFESTATION = "in diseases classified elsewhere"


def bare(code: str) -> str:
    return code.replace(".", "")


def excludes1_refs(note: str) -> list[tuple[str, str]]:
    """'radiculopathy with lumbar ... disorder (M51.1-)' -> [("M511", "M511")]; ranges -> (lo, hi)."""
    refs = []
    for group in _REF.findall(note):
        for item in (part.strip() for part in group.split(",")):
            if m := _RANGE.match(item):
                refs.append((bare(m.group(1)), bare(m.group(2))))
            elif m := _SINGLE.match(item):
                refs.append((bare(m.group(1)),) * 2)
    return refs


def build() -> tuple[pl.DataFrame, pl.DataFrame]:
    """(code table, Excludes1 references) from the installed package's tabular."""
    import simple_icd_10_cm as cm  # 2-3 s: parses the XML

    rows, excl = [], []
    items = cm.get_all_codes(with_dots=True)
    codes = [c for c in items if not cm.is_chapter_or_block(c)]
    leaf = {c: cm.is_leaf(c) for c in codes}
    parent = {c: cm.get_parent(c) for c in codes}
    description = {c: cm.get_description(c) for c in items}
    siblings: dict[str, list[str]] = {}
    for c in codes:
        siblings.setdefault(parent[c], []).append(c)
    for code in codes:
        ancestors = cm.get_ancestors(code)
        lineage = [code, *ancestors]
        chapter = ancestors[-1] if ancestors else code
        titles = " | ".join(description[a] for a in lineage)
        own = description[code]
        sex = (
            "F"
            if _WORD_FEMALE.search(titles) or chapter == "15"
            else ("M" if _WORD_MALE.search(titles) else None)
        )
        side = None
        if re.search(r"\bbilateral\b", own, re.I):
            side = "bilateral"
        elif re.search(r"\bright\b", own, re.I):
            side = "right"
        elif re.search(r"\bleft\b", own, re.I):
            side = "left"
        elif re.search(r"\bunspecified\b", own, re.I) and any(
            re.search(r"\b(right|left)\b", description[s], re.I)
            for s in siblings[parent[code]]
            if s != code
        ):
            side = "unspecified"
        billable_under: list[str] = []
        if not leaf[code]:
            billable_under = [d for d in cm.get_descendants(code) if leaf.get(d)]
        needs_seventh = (not leaf[code]) and any(
            cm.get_seven_chr_def(a) for a in lineage if not cm.is_chapter_or_block(a)
        )
        rows.append(
            {
                "code": code,
                "bare": bare(code),
                "billable": leaf[code],
                "description": own,
                "chapter": chapter,
                "needs_seventh": needs_seventh,
                "billable_under": ", ".join(billable_under[:SUGGEST_MAX])
                + (
                    f" and {len(billable_under) - SUGGEST_MAX} more"
                    if len(billable_under) > SUGGEST_MAX
                    else ""
                ),
                "manifestation": any(
                    _MANIFESTATION in description[a].lower()
                    for a in lineage[:3]
                    if not cm.is_chapter_or_block(a)
                ),
                "sex": sex,
                "side": side,
            }
        )
        for note in cm.get_excludes1(code):
            for lo, hi in excludes1_refs(note):
                excl.append(
                    {"owner": bare(code), "lo": lo, "hi": hi, "note": note.replace("\n", " ")}
                )
    table = pl.DataFrame(
        rows,
        schema={
            "code": pl.String,
            "bare": pl.String,
            "billable": pl.Boolean,
            "description": pl.String,
            "chapter": pl.String,
            "needs_seventh": pl.Boolean,
            "billable_under": pl.String,
            "manifestation": pl.Boolean,
            "sex": pl.String,
            "side": pl.String,
        },
    ).sort("bare")
    excludes = (
        pl.DataFrame(
            excl, schema={"owner": pl.String, "lo": pl.String, "hi": pl.String, "note": pl.String}
        )
        .unique()
        .sort("owner", "lo", "hi", "note")
    )
    return table, excludes


def main() -> None:
    folder = (Path(sys.argv[1]) if len(sys.argv) > 1 else default_rules_dir()) / "codesets"
    table, excludes = build()
    table.write_parquet(folder / TABLE_FILE, compression="zstd", compression_level=19)
    excludes.write_parquet(folder / EXCLUDES1_FILE, compression="zstd", compression_level=19)
    print(
        f"wrote {len(table):,} codes ({table['billable'].sum():,} billable) and "
        f"{len(excludes):,} Excludes1 references to {folder}"
    )


if __name__ == "__main__":
    main()
