"""Documentation benchmark: note-reading throughput, and agreement with medspaCy's ConText.

Prints figures; asserts nothing.

    .venv/bin/python benchmarks/bench_documentation.py              # 300,000 notes of ~1.5 KB
    .venv/bin/python benchmarks/bench_documentation.py --notes 50000
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from validators import runtime

runtime.configure()  # before polars loads, as the product's entry points do

import numpy as np
import polars as pl

from validators.catalog import load_catalog
from validators.notes import detect

MTSAMPLES = REPO / "tests" / "data" / "notes" / "mtsamples_neck_back_subset.csv"
COMPARED = [
    "radicular_findings",
    "imaging_guidance",
    "conservative_care",
    "neurogenic_claudication",
]


def real_notes() -> pl.DataFrame:
    mt = pl.read_csv(MTSAMPLES, infer_schema=False).select(pl.col("transcription").alias("text"))
    samples = pl.read_csv(
        REPO / "sample_claims" / "spine_pain_clinic.notes.csv", infer_schema=False
    ).select(pl.col("note_text").alias("text"))
    return (
        pl.concat([mt, samples]).with_row_index("_row").with_columns(pl.col("_row").cast(pl.Int64))
    )


def medspacy_view(
    notes: pl.DataFrame, elements: pl.DataFrame
) -> dict[tuple[int, str], tuple[bool, bool]]:
    """medspaCy's default pipeline (PyRuSH sentences, ConText) with our element patterns as targets."""
    from loguru import logger

    logger.remove()  # PyRuSH logs every sentence at DEBUG
    import medspacy
    from medspacy.ner import TargetRule

    nlp = medspacy.load()
    patterns = dict(
        elements.filter(pl.col("id").is_in(COMPARED)).select("id", "pattern").iter_rows()
    )
    nlp.get_pipe("medspacy_target_matcher").add(
        [
            TargetRule(element, element.upper(), pattern=pattern)
            for element, pattern in patterns.items()
        ]
    )
    out: dict[tuple[int, str], list[bool]] = {}
    for row, text in notes.iter_rows():  # the reference implementation, not ours: it is per note
        for ent in nlp(text.lower()).ents:
            out.setdefault((row, ent.label_.lower()), []).append(ent._.is_negated)
    return {key: (not all(flags), any(flags)) for key, flags in out.items()}


def agreement(catalog) -> None:
    notes = real_notes()
    elements = catalog.codesets["doc_elements"].table
    ours = {
        (r["_row"], r["element"]): (r["affirmed"], r["negated"])
        for r in detect(notes, elements, catalog.codesets["note_sections"].table)
        .filter(pl.col("element").is_in(COMPARED))
        .iter_rows(named=True)
    }
    theirs = medspacy_view(notes, elements)
    keys = set(ours) | set(theirs)
    same = [k for k in keys if ours.get(k, (False, False)) == theirs.get(k, (False, False))]
    negation_keys = [k for k in keys if k in ours and k in theirs]
    same_negation = [k for k in negation_keys if ours[k][1] == theirs[k][1]]
    print(f"agreement with medspaCy ConText on {notes.height} real notes ({', '.join(COMPARED)}):")
    print(
        f"  (note, element) pairs found by either: {len(keys)}; same affirmed/negated status: "
        f"{len(same)} ({len(same) / max(len(keys), 1):.0%})"
    )
    print(
        f"  negation status where both found the element: {len(same_negation)} of {len(negation_keys)} "
        f"({len(same_negation) / max(len(negation_keys), 1):.0%})"
    )
    for key in sorted(set(keys) - set(same))[:8]:
        print(
            f"    differs: note {key[0]} {key[1]}: cleanclaim {ours.get(key, (False, False))}, "
            f"medspaCy {theirs.get(key, (False, False))}  (affirmed, negated)"
        )


def synthetic_notes(n: int, seed: int = 11) -> pl.DataFrame:
    """n notes of about 1.5 KB, each a random draw of sentences from the real notes."""
    sentences = [
        s.strip()
        for text in real_notes()["text"]
        for s in re.split(r"(?<=[.;])\s+", text)
        if 20 < len(s) < 300
    ]
    pool = pl.Series("sentence", sentences)
    rng = np.random.default_rng(seed)
    per_note = 1500 // int(np.mean([len(s) for s in sentences])) + 1
    picks = pl.Series(rng.integers(0, len(pool), size=n * per_note))
    return (
        pl.DataFrame({"_row": np.repeat(np.arange(n), per_note), "sentence": pool.gather(picks)})
        .group_by("_row", maintain_order=True)
        .agg(pl.col("sentence").str.join(" ").alias("text"))
        .with_columns(pl.col("_row").cast(pl.Int64))
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--notes", type=int, default=300_000)
    args = parser.parse_args()
    catalog = load_catalog()
    agreement(catalog)
    notes = synthetic_notes(args.notes)
    size_mb = notes["text"].str.len_bytes().sum() / 1e6
    start = time.perf_counter()
    found = detect(
        notes, catalog.codesets["doc_elements"].table, catalog.codesets["note_sections"].table
    )
    seconds = time.perf_counter() - start
    print(
        f"throughput: {notes.height:,} notes, {size_mb:,.0f} MB, {catalog.codesets['doc_elements'].table.height} "
        f"elements: {seconds:.1f} s ({notes.height / seconds:,.0f} notes/s, {size_mb / seconds:,.0f} MB/s), "
        f"{found.height:,} (note, element) results   (target: well under a minute)"
    )


if __name__ == "__main__":
    main()
