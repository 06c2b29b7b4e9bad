"""Documentation benchmark: the note reader and the documentation rules on the team's gold set
(tests/data/notes_gold: precision and recall per element and per rule, on the development part and
on the test part that is only ever reported), medspaCy's ConText on the same notes, and throughput.

Prints figures; asserts nothing.

    .venv/bin/python benchmarks/bench_documentation.py              # 300,000 notes of ~1.5 KB
    .venv/bin/python benchmarks/bench_documentation.py --notes 50000 --no-medspacy
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import re
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from cleanclaim.validators import runtime

runtime.configure()  # before polars loads, as the product's entry points do

import numpy as np
import polars as pl

from cleanclaim.validators.catalog import load_catalog
from cleanclaim.validators.checks.context import index_notes, note_vocabulary
from cleanclaim.validators.notes import detect
from tests.notes_gold import (
    ELEMENTS,
    Gold,
    element_predictions,
    load_gold,
    phrasing_predictions,
    rule_findings,
    rule_predictions,
    scores,
    triggered,
)

MTSAMPLES = REPO / "tests" / "data" / "notes" / "mtsamples_neck_back_subset.csv"


def real_notes() -> pl.DataFrame:
    mt = pl.read_csv(MTSAMPLES, infer_schema=False).select(pl.col("transcription").alias("text"))
    samples = pl.read_csv(
        REPO / "sample_claims" / "spine_pain_clinic.notes.csv", infer_schema=False
    ).select(pl.col("note_text").alias("text"))
    return (
        pl.concat([mt, samples]).with_row_index("_row").with_columns(pl.col("_row").cast(pl.Int64))
    )


def medspacy_view(gold: Gold, elements: pl.DataFrame) -> dict[str, set[str]]:
    """medspaCy's default pipeline (PyRuSH sentences, ConText) with our element patterns as targets:
    note_id -> the product elements it finds documented (a mention ConText does not call negated,
    hypothetical or historical; negated too for radicular findings, as the labels count them)."""
    from loguru import logger

    logger.remove()  # PyRuSH logs every sentence at DEBUG
    import medspacy
    from medspacy.ner import TargetRule

    nlp = medspacy.load()
    wanted = {
        e for names in ELEMENTS.values() for e in (names[0] if isinstance(names, list) else names)
    }
    patterns = dict(elements.filter(pl.col("id").is_in(wanted)).select("id", "pattern").iter_rows())
    nlp.get_pipe("medspacy_target_matcher").add(
        [
            TargetRule(element, element.upper(), pattern=pattern)
            for element, pattern in patterns.items()
        ]
    )
    out: dict[str, set[str]] = {}
    for note_id, text in gold.texts.items():  # the reference implementation: it is per note
        for ent in nlp(text.lower()).ents:
            if ent._.is_hypothetical or ent._.is_family:
                continue
            if not ent._.is_negated or ent.label_.lower() == "radicular_findings":
                out.setdefault(note_id, set()).add(ent.label_.lower())
    return out


class _Found:
    """A note index's `elements()` stand-in over medspaCy's findings, for element_predictions."""

    key = "claim_id"

    def __init__(self, found: dict[str, set[str]]):
        self.found = found

    def elements(self) -> pl.DataFrame:
        rows = [(k, e, True, False) for k, names in self.found.items() for e in names]
        return pl.DataFrame(
            rows, schema=["claim_id", "element", "affirmed", "negated"], orient="row"
        )


def _ratio(value: float | None) -> str:
    return "  -  " if value is None or math.isnan(value) else f"{value:.2f}"


def _table(frame: pl.DataFrame, by: str) -> None:
    for r in frame.iter_rows(named=True):
        print(
            f"    {r[by]:<20} n={r['n']:>4}  missing reported: precision {_ratio(r['precision'])}"
            f"  recall {_ratio(r['recall'])}  (tp {r['tp']}, fp {r['fp']}, fn {r['fn']})"
        )


def gold_report(catalog, medspacy: bool) -> None:
    gold = load_gold()
    vocabulary = note_vocabulary(catalog)
    for name, part in (("development", gold.part(test=False)), ("test", gold.part(test=True))):
        notes = pl.DataFrame({"claim_id": list(part.texts), "text": list(part.texts.values())})
        index = index_notes(notes, catalog, key="claim_id")
        findings = rule_findings(part)
        print(f"gold set, {name} part: {len(part.labels)} notes")
        print("  cleanclaim, per element:")
        _table(scores(element_predictions(part, index), "element"), "element")
        print("  cleanclaim, per documentation rule (claims the rule applies to):")
        _table(scores(rule_predictions(part, findings, triggered(part, catalog)), "rule"), "rule")
        complete = [k for k, v in part.labels.items() if v["complete"] and v["codes"]["cpt"]]
        flagged = findings.filter(
            pl.col("severity").is_in(["high", "medium"]) & pl.col("claim_id").is_in(complete)
        )["claim_id"].n_unique()
        print(
            f"  correct claims (notes labelled complete, billed as coded) without a high or medium "
            f"finding: {len(complete) - flagged} of {len(complete)}"
        )
        print("  history passages (phrasings.csv), per label:")
        _table(scores(phrasing_predictions(catalog, test=name == "test"), "label"), "label")
        if medspacy:
            print("  medspaCy ConText with the same element patterns, per element:")
            _table(
                scores(
                    element_predictions(part, _Found(medspacy_view(part, vocabulary))), "element"
                ),
                "element",
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
    parser.add_argument(
        "--no-medspacy",
        action="store_true",
        help="leave out medspaCy (the bench extra installs it)",
    )
    args = parser.parse_args()
    catalog = load_catalog()
    medspacy = not args.no_medspacy and importlib.util.find_spec("medspacy") is not None
    if not args.no_medspacy and not medspacy:
        print(
            "medspaCy is not installed, so its figures are left out: install the bench extra "
            "(pip install -e '.[bench]') to print them, or pass --no-medspacy"
        )
    gold_report(catalog, medspacy=medspacy)
    notes = synthetic_notes(args.notes)
    size_mb = notes["text"].str.len_bytes().sum() / 1e6
    start = time.perf_counter()
    found = detect(notes, note_vocabulary(catalog), catalog.codesets["note_sections"].table)
    seconds = time.perf_counter() - start
    print(
        f"throughput: {notes.height:,} notes, {size_mb:,.0f} MB, {catalog.codesets['doc_elements'].table.height} "
        f"elements: {seconds:.1f} s ({notes.height / seconds:,.0f} notes/s, {size_mb / seconds:,.0f} MB/s), "
        f"{found.height:,} (note, element) results   (target: well under a minute)"
    )


if __name__ == "__main__":
    main()
