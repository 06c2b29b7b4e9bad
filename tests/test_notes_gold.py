"""The note reader and the documentation rules against the team's gold set (tests/data/notes_gold).

Only the development part is asserted on; the test part is reported by
benchmarks/bench_documentation.py and never tuned on.
"""

from __future__ import annotations

import polars as pl
import pytest

from cleanclaim.validators.checks.context import index_notes
from tests.notes_gold import (
    ELEMENTS,
    GOLD,
    Gold,
    element_predictions,
    is_test,
    load_gold,
    phrasing_predictions,
    rule_findings,
    rule_predictions,
    scores,
    triggered,
)

REQUIRED = {  # LABELLING.md section 6, without the SI-joint and peripheral-joint split
    "esi": {
        "radicular_findings",
        "pain_duration",
        "conservative_care",
        "pain_scale",
        "imaging_guidance",
        "laterality_site",
    },
    "tpi": {"muscles_named", "conservative_care", "pain_scale", "laterality_site"},
    "therapy_eval": {"plan_of_care"},
    "em_25": {"separate_problem", "laterality_site"},
}


@pytest.fixture(scope="module")
def gold() -> Gold:
    return load_gold()


@pytest.fixture(scope="module")
def dev(gold) -> Gold:
    return gold.part(test=False)


def test_the_gold_set_is_what_its_readme_says(gold):
    """At least 200 real notes and 50 written ones, every quoted evidence verbatim in its note, one
    status per element from the labelling rules, and a fixed third set aside as the test part."""
    real = [k for k in gold.labels if k.startswith("MT")]
    written = [k for k in gold.labels if k.startswith("WR")]
    assert len(real) >= 200 and len(written) >= 50
    for note_id, entry in gold.labels.items():
        for element, label in entry["elements"].items():
            assert label["status"] in {"present", "negated", "planned", "absent"}, note_id
            if label["status"] != "absent":
                assert label["evidence"] in gold.texts[note_id], (note_id, element)
        # "diagnosis": no codable diagnosis (the coder would query), as LABELLING.md section 6 has it
        assert {m.split(".")[0] for m in entry["missing"]} <= set(entry["required"]) | {
            "diagnosis"
        }, note_id
        if entry["family"] in REQUIRED and entry["required"]:
            assert set(entry["required"]) == REQUIRED[entry["family"]], note_id
    tests = [k for k in gold.labels if is_test(k)]
    assert 0.25 < len(tests) / len(gold.labels) < 0.42
    assert (GOLD / "README.md").exists() and (GOLD / "LABELLING.md").exists()


@pytest.fixture(scope="module")
def element_scores(dev, catalog) -> pl.DataFrame:
    notes = pl.DataFrame({"claim_id": list(dev.texts), "text": list(dev.texts.values())})
    return scores(element_predictions(dev, index_notes(notes, catalog, key="claim_id")), "element")


# Floors on the development part, a little under what the reader reaches there: a change that
# makes the reader worse at any of them fails here before it reaches a held-out set. Imaging
# guidance counts a visit note's planned injection "under fluoroscopy" (the element reads a
# procedure's technique whether planned or reported), which labellers mark planned: its recall on
# visit notes is the floor's limit, no rule's.
ELEMENT_FLOORS = {
    "conservative_care": 0.7,
    "imaging_guidance": 0.7,  # the Q, P and N sets add 12 planned visit-note injections
    "injury_date": 0.8,
    "injury_mechanism": 0.6,
    "pain_duration": 0.6,  # the later sets label non-pain symptoms' spans as extras
    "pain_scale": 0.9,
    "plan_of_care": 0.7,
}


@pytest.mark.parametrize("element", sorted(ELEMENT_FLOORS))
def test_elements_on_the_development_part(element_scores, element):
    row = element_scores.filter(pl.col("element") == element).row(0, named=True)
    assert min(row["precision"], row["recall"]) >= ELEMENT_FLOORS[element], row
    assert element in ELEMENTS


@pytest.fixture(scope="module")
def dev_findings(dev) -> pl.DataFrame:
    return rule_findings(dev)


@pytest.fixture(scope="module")
def rule_scores(dev, dev_findings, catalog) -> pl.DataFrame:
    return scores(rule_predictions(dev, dev_findings, triggered(dev, catalog)), "rule")


# DOC003 at 0.80: RB010 states its onset only as a year ("since a fall in 2021") beside a 6-week
# recurrence, and a year gives no weeks, so the 12-week minimum reads the 6 weeks; PA004's repeat
# ablation restates no conservative care, which the labels require and the LCDs' repeat criteria (the
# prior relief, which the note gives) replace; PA011's "facet arthropathy" is read as the axial pattern
RULE_FLOORS = {"DOC002": 0.9, "DOC003": 0.8, "DOC004": 0.9, "DOC006": 0.8, "DOC012": 0.5}


@pytest.mark.parametrize("rule", sorted(RULE_FLOORS))
def test_documentation_rules_on_the_development_part(rule_scores, rule):
    row = rule_scores.filter(pl.col("rule") == rule).row(0, named=True)
    assert min(row["precision"], row["recall"]) >= RULE_FLOORS[rule], row


def test_correct_claims_of_the_development_part_raise_no_high_or_medium_finding(dev, dev_findings):
    """Notes the labellers judged complete, billed as they coded them: almost none is flagged."""
    findings = dev_findings
    complete = [k for k, v in dev.labels.items() if v["complete"] and v["codes"]["cpt"]]
    flagged = (
        findings.filter(
            pl.col("severity").is_in(["high", "medium"]) & pl.col("claim_id").is_in(complete)
        )["claim_id"]
        .unique()
        .to_list()
    )
    assert len(flagged) <= 0.05 * len(complete), flagged


def _wrapped(text: str) -> str:
    import textwrap

    return "\n".join(textwrap.fill(p, 80) for p in text.split("\n"))


def _bulleted(text: str) -> str:
    lines = text.split("\n")
    starts = [
        i == 0 or not lines[i - 1].strip() or lines[i - 1].rstrip()[-1] in ".:"
        for i in range(len(lines))
    ]
    return "\n".join(
        f"\u2022 {line}" if start and line.strip() else line
        for line, start in zip(lines, starts, strict=True)
    )


@pytest.mark.parametrize(
    "delivered, agree",
    [
        # hard-wrapped at 80 columns, as transcription systems and HL7 feeds deliver them
        (_wrapped, 0.98),
        # Windows line ends, no-break spaces and typographic quotes and dashes, as pasted from a
        # word processor or an EHR's rich text
        (
            lambda t: (
                t.replace("\n", "\r\n")
                .replace(" ", "\u00a0", 40)
                .replace("'", "\u2019")
                .replace(" - ", " \u2013 ")
            ),
            1.0,
        ),
        # every line that starts a sentence a bulleted list item
        (_bulleted, 0.995),
    ],
    ids=["hard-wrapped", "rich-text", "bulleted"],
)
def test_how_a_note_is_delivered_changes_nothing(dev, catalog, delivered, agree):
    """The same notes delivered another way are read the same way."""
    ids = list(dev.texts)
    changed = [delivered(dev.texts[k]) for k in ids]
    assert sum(a != b for a, b in zip(changed, dev.texts.values(), strict=True)) > 0.8 * len(ids)

    def read(texts: list[str]) -> pl.DataFrame:
        notes = pl.DataFrame({"claim_id": ids, "text": texts})
        return (
            index_notes(notes, catalog, key="claim_id")
            .elements()
            .select("claim_id", "element", "affirmed", "negated")
            .sort("claim_id", "element")
        )

    whole, cut = read([dev.texts[k] for k in ids]), read(changed)
    same = whole.join(cut, on=["claim_id", "element", "affirmed", "negated"], how="semi").height
    assert same >= agree * max(whole.height, cut.height), (whole.height, cut.height, same)


PHRASING_FLOORS = {
    "injury_date": 0.9,
    # PH841-PH1320's writers label an activity with no event ("injured while skateboarding")
    # absent, where the reviewer's labels and the reader read it as the mechanism (PHRASINGS.md)
    "injury_mechanism": 0.85,
    "conservative_care": 0.9,
    "pain_weeks": 0.6,
}


@pytest.fixture(scope="module")
def phrasing_scores(catalog) -> pl.DataFrame:
    return scores(phrasing_predictions(catalog, test=False), "label")


@pytest.mark.parametrize("label", sorted(PHRASING_FLOORS))
def test_history_passages_of_the_development_part(phrasing_scores, label):
    """Short histories written the many ways clinicians write them (phrasings.csv): the reader finds
    what is documented and reports what is missing."""
    row = phrasing_scores.filter(pl.col("label") == label)
    assert min(row["precision"].item(), row["recall"].item()) >= PHRASING_FLOORS[label], row
