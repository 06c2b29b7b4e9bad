"""Reading notes: negation and section awareness, durations, and agreement with hand labels on real
MTSamples transcriptions (tests/data/notes)."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from cleanclaim.validators.notes import detect, index, lexicon, temporal
from cleanclaim.validators.notes.lexicon import ascii_words
from cleanclaim.validators.notes.noteindex import _combined, _index
from cleanclaim.validators.notes.sections import segments
from cleanclaim.validators.notes.sentences import clauses
from tests.conftest import DATA


@pytest.fixture(scope="module")
def vocab(catalog):
    return catalog.codesets["doc_elements"].table, catalog.codesets["note_sections"].table


def found(vocab, text: str) -> dict[str, tuple[bool, bool, float | None]]:
    notes = pl.DataFrame(
        {"_row": [0], "text": [text]}, schema={"_row": pl.Int64, "text": pl.String}
    )
    return {
        r["element"]: (r["affirmed"], r["negated"], r["weeks"])
        for r in detect(notes, *vocab).iter_rows(named=True)
    }


@pytest.mark.parametrize(
    "text, affirmed, negated",
    [
        ("Patient denies radiating pain.", False, True),
        ("No numbness or tingling in the arms.", False, True),
        ("Straight leg raise negative bilaterally.", False, True),
        ("Spurling negative on the left.", False, True),
        ("Straight leg raising is normal.", False, True),
        ("Positive Spurling on the right.", True, False),
        ("Pain radiating to the left calf with numbness of the foot.", True, False),
        (
            "No numbness, but pain radiates down the right leg.",
            True,
            True,
        ),  # the negation's scope ends at "but"
    ],
)
def test_radicular_findings_are_negation_aware(vocab, text, affirmed, negated):
    got = found(vocab, text).get("radicular_findings", (False, False, None))
    assert got[:2] == (affirmed, negated)


def test_sections_decide_what_counts(vocab):
    text = (
        "FAMILY HISTORY: Mother with sciatica and numbness. PHYSICAL EXAMINATION: Tenderness over L4-L5. "
        "PLAN: Return if numbness develops."
    )
    result = found(vocab, text)
    assert "radicular_findings" not in result  # family history and plan do not count as findings
    assert result["exam_findings"][0] is True
    sections = clauses(segments(pl.DataFrame({"_row": [0], "text": [text]}), vocab[1]))[
        "section"
    ].to_list()
    # a header and the value on its line are one clause: the header is the value's context
    assert sections == ["family_history", "exam", "plan"]
    assert found(vocab, "DOI: 10/14/26\nPAIN: 6/10 today, 8/10 with bending.")["pain_scale"][0]


@pytest.mark.parametrize(
    "text, weeks",
    [
        ("Failed 8 weeks of physical therapy.", 8.0),
        ("Completed six weeks of PT and NSAIDs.", 6.0),
        ("Physical therapy for 3 months without relief.", 13.0),
        ("Some physical therapy in the past.", None),
    ],
)
def test_conservative_care_duration_in_weeks(vocab, text, weeks):
    got = found(vocab, text)["conservative_care"][2]
    assert got == pytest.approx(weeks, abs=0.1) if weeks else got is None


def test_imaging_guidance_without_fluoroscopy_is_absent(vocab):
    assert found(vocab, "Cervical epidural steroid injection without fluoroscopy.")[
        "imaging_guidance"
    ][:2] == (False, True)
    assert found(vocab, "The C-arm was brought in and an AP view obtained.")["imaging_guidance"][
        :2
    ] == (True, False)


# Written by hand from reading the notes (row: element -> (affirmed, negated)); elements not listed
# for a note were not labelled. Row numbers are 0-based rows of mtsamples_neck_back_subset.csv.
HAND_LABELS = {
    1: {"imaging_guidance": (True, False), "follow_up": (True, False)},
    2: {
        "radicular_findings": (True, True),
        "imaging_guidance": (True, False),
    },  # "Left sciatica"; "no paresthesias were noted"
    3: {"imaging_guidance": (True, False)},
    4: {"radicular_findings": (True, False), "imaging_guidance": (True, False)},
    9: {"imaging_guidance": (False, True)},  # "without fluoroscopy"
    10: {"imaging_guidance": (True, False)},  # C-arm, AP view
    11: {"imaging_guidance": (False, False)},  # no guidance mentioned
    17: {
        "pain_scale": (True, False),
        "conservative_care": (True, True),  # received PT; "did not require any physical therapy"
        "injury_mechanism": (True, False),
    },
    21: {
        "radicular_findings": (True, True)
    },  # numbness in the left hand; "no evidence for ... radiculopathy"
    22: {
        "radicular_findings": (True, True)
    },  # radiates into the buttocks; "straight leg raising is normal"
    24: {
        "radicular_findings": (True, True),
        "pain_scale": (True, False),
        "conservative_care": (True, False),
    },
}


def test_detection_matches_hand_labels_on_real_notes(vocab):
    notes = (
        pl.read_csv(DATA / "notes" / "mtsamples_neck_back_subset.csv", infer_schema=False)
        .select(pl.col("transcription").alias("text"))
        .with_row_index("_row")
        .with_columns(pl.col("_row").cast(pl.Int64))
    )
    got = {
        (r["_row"], r["element"]): (r["affirmed"], r["negated"])
        for r in detect(notes, *vocab).iter_rows(named=True)
    }
    wrong = {
        (row, element): (want, got.get((row, element), (False, False)))
        for row, labels in HAND_LABELS.items()
        for element, want in labels.items()
        if got.get((row, element), (False, False)) != want
    }
    assert not wrong, wrong


@pytest.mark.parametrize(
    "pattern, written",
    [
        (r"radiat\w*", "radiat[0-9a-z_]*"),
        (r"(?:\W+\w+){0,9}", "(?:[^0-9a-z_]+[0-9a-z_]+){0,9}"),
        (r"[\w-]", "[[0-9a-z_]-]"),
        (r"a\\w", r"a\\w"),  # an escaped backslash before a w is left alone
        (r"a\\\w", r"a\\[0-9a-z_]"),
    ],
)
def test_word_classes_are_written_out(pattern, written):
    assert ascii_words(pattern) == written
    # on lower-case ASCII text it matches where the Unicode pattern does
    text = pl.DataFrame(
        {"t": ["radiating pain", "no radiat", "x-y", "a-b c", r"a\w", "aw", r"a\b"]}
    )
    same = text.select(pl.col("t").str.contains(pattern) == pl.col("t").str.contains(written))
    assert same.to_series().all()


def test_no_notes_no_elements(vocab):
    empty = pl.DataFrame(schema={"_row": pl.Int64, "text": pl.String})
    elements = detect(empty, *vocab)
    assert elements.is_empty() and {"_row", "element", "affirmed", "negated", "weeks"} <= set(
        elements.columns
    )


def test_large_frames_are_read_in_slices_with_the_same_result(vocab, monkeypatch):
    """Sections and clauses of many notes are cut in slices read at once; the rows and their order
    are those of reading them whole."""
    real = pl.read_csv(DATA / "notes" / "mtsamples_neck_back_subset.csv", infer_schema=False)[
        "transcription"
    ]
    notes = (
        pl.DataFrame({"text": real.gather([i % real.len() for i in range(600)])})
        .with_row_index("_row")
        .with_columns(pl.col("_row").cast(pl.Int64))
    )
    monkeypatch.setattr(pl, "thread_pool_size", lambda: 3)  # three slices whatever the machine
    monkeypatch.setattr("cleanclaim.validators.notes.sections.SLICE_ROWS", 100)
    sliced_segments = segments(notes, vocab[1])
    sliced = clauses(sliced_segments)
    monkeypatch.setattr("cleanclaim.validators.notes.sections.SLICE_ROWS", 10**9)
    whole_segments = segments(notes, vocab[1])
    assert sliced_segments.equals(whole_segments) and sliced.equals(clauses(whole_segments))
    assert sliced.height > 600


def test_the_clauses_sifted_with_grouped_patterns_find_what_one_alternation_finds(
    vocab, monkeypatch
):
    """The vocabulary's patterns are joined in groups of at most COMBINED_CHARS for the first sift of
    the clauses (one alternation of them all is slow); the index is the same whatever the grouping."""
    real = pl.read_csv(DATA / "notes" / "mtsamples_neck_back_subset.csv", infer_schema=False)[
        "transcription"
    ]
    notes = pl.DataFrame({"claim_id": [f"C{i}" for i in range(real.len())], "text": real})
    grouped = index(notes, *vocab, key="claim_id")
    assert len(_combined(lexicon.prepare(vocab[0]))) > 1
    monkeypatch.setattr("cleanclaim.validators.notes.noteindex.COMBINED_CHARS", 10**9)
    whole = index(notes, *vocab, key="claim_id")
    assert grouped.marks.sort("claim_id").equals(whole.marks.sort("claim_id"))
    assert grouped.weeks.sort(pl.all()).equals(whole.weeks.sort(pl.all()))
    assert grouped.marks.height > 20


def test_notes_indexed_a_slice_of_text_at_a_time_find_what_they_find_at_once(vocab, monkeypatch):
    """A night's notes are indexed in slices of INDEX_SLICE_BYTES of text (bounded memory), each slice
    numbering its own bodies and clauses; put together they answer every question as one index does,
    also for the notes of some rows only and once re-keyed to a part's rows."""
    real = pl.read_csv(DATA / "notes" / "mtsamples_neck_back_subset.csv", infer_schema=False)[
        "transcription"
    ]
    notes = pl.DataFrame(
        {
            "claim_id": [f"C{i}" for i in range(60)],
            "text": real.gather([i % real.len() for i in range(60)]),
        }
    )
    whole = index(notes, *vocab, key="claim_id")
    monkeypatch.setattr(
        "cleanclaim.validators.notes.noteindex.INDEX_SLICE_BYTES", 20_000
    )  # a few notes per slice
    slices = []
    monkeypatch.setattr(
        "cleanclaim.validators.notes.noteindex._index",
        lambda part, *args: slices.append(part.height) or _index(part, *args),
    )
    sliced = index(notes, *vocab, key="claim_id")
    assert len(slices) > 5 and sum(slices) == notes.height  # really in slices

    def table(ix, *args):
        return ix.elements(*args).sort(ix.key, "element")

    assert table(sliced).equals(table(whole)) and table(whole).height > 100
    some = pl.DataFrame({"claim_id": ["C3", "C40", "C59"]})
    assert table(sliced, ["radicular_findings", "conservative_care"], some).equals(
        table(whole, ["radicular_findings", "conservative_care"], some)
    )
    rows = pl.DataFrame({"claim_id": ["C7", "C8"], "_row": [70, 80]})
    as_rows = (
        table(whole, None, rows)
        .rename({"claim_id": "_row"})
        .with_columns(pl.col("_row").str.slice(1).cast(pl.Int64) * 10)
    )  # C7 -> 70
    assert table(sliced.rekeyed(rows)).equals(as_rows)
    assert sorted(sliced.noted().to_list()) == sorted(notes["claim_id"].to_list())
    # a large file's parts: each takes its claims' notes (C5's goes to none: no part has claim C5)
    parts = pl.DataFrame({"claim_id": ["C3", "C7", "C8", "C40", "C9"], "_part": [1, 1, 1, 1, 2]})
    pieces = sliced.partitioned(parts, 3)
    assert [sorted(p.noted().to_list()) for p in pieces] == [[], ["C3", "C40", "C7", "C8"], ["C9"]]
    assert table(pieces[1].rekeyed(rows)).equals(as_rows)


# The clinical-text pipeline's stages, each on the pattern it exists for (issue: notes written by
# different clinicians, hard-wrapped feeds, abbreviations, ages and follow-up intervals).


@pytest.mark.parametrize(
    "text, element, want",
    [
        # durations: abbreviations read, ages and follow-up intervals not
        ("47 yo F c/o LBP x8 wks.", "onset_duration", 8.0),
        ("Neck pain x 2 mos, worse with turning.", "onset_duration", 8.7),
        ("Low back pain 1 yr+.", "onset_duration", 52.0),
        ("A 47-year-old man with low back pain.", "onset_duration", None),
        ("Back pain. Return in 2 weeks.", "onset_duration", None),
        ("Failed 6 wks of PT and NSAIDs.", "conservative_care", 6.0),
        # how fast the pain came on is no span of it (set GE, on arrival); "started over" is
        ("Leg pain since 07/27, when it came on over a few days.", "onset_duration", None),
        ("Pain started over 2 weeks ago.", "onset_duration", 2.0),
        # nor is how long an injection's relief lasted (set GH)
        (
            "Neck pain. 65% relief after the 08/18/2026 injection lasting until the end of October "
            "(about 10 weeks).",
            "onset_duration",
            None,
        ),
        ("Neck pain for 6 months; the last ESI gave 8 weeks of relief.", "onset_duration", 26.0),
        ("Symptoms have progressed over 18 months.", "onset_duration", 78.0),
        ("No relief with physical therapy for 8 weeks.", "conservative_care", 8.0),
        (
            "Low back pain for 2 weeks.\nHow long have you worked at your current job? 10 years",
            "onset_duration",
            2.0,
        ),
    ],
)
def test_durations(vocab, text, element, want):
    got = found(vocab, text).get(element, (False, False, None))[2]
    assert got == pytest.approx(want, abs=0.1) if want else got is None


@pytest.mark.parametrize(
    "text, element, affirmed, negated",
    [
        ("No relief despite 8 weeks of physical therapy.", "conservative_care", True, False),
        ("SLR neg bilaterally.", "radicular_findings", False, True),
        ("Spurling (-) on the right.", "radicular_findings", False, True),
        ("Exam: negative straight leg raise.", "radicular_findings", False, True),
        (
            "Denies fever, chills, weight loss, night sweats, bowel or bladder changes, chest pain, "
            "shortness of breath or numbness.",
            "radicular_findings",
            False,
            True,
        ),
        ("The number of visits was reviewed.", "radicular_findings", False, False),
        ("Radiculogram reviewed.", "radicular_findings", False, False),
        ("Will start PT 3x/week for 4 weeks.", "conservative_care", False, False),
        ("He will continue physical therapy.", "conservative_care", True, False),
        ("Denies left-sided symptoms; right leg pain.", "side_left", False, True),
        ("R knee pain after a fall.", "side_right", True, False),
        # "referred pain" is a finding, not a referral planned
        (
            "Exam: taut band with referred pain into the scapula.",
            "trigger_point_findings",
            True,
            False,
        ),
        (
            "Referred to PT for a taut band of the trapezius.",
            "trigger_point_findings",
            False,
            False,
        ),
        # a result after a comma belongs to its own test
        (
            "Needle advanced until a twitch, aspirate neg, injected.",
            "trigger_point_findings",
            True,
            False,
        ),
        ("Twitch response neg.", "trigger_point_findings", False, True),
        ("P: Frequency 3x/week, 4 weeks; manual therapy, HEP.", "treatment_plan", True, False),
        # a relative as company or informant is not the one it happened to
        ("Carrying a dresser with her son, she twisted her knee.", "injury_mechanism", True, False),
        ("His father fell and broke a hip.", "injury_mechanism", False, False),
        ("Conservative treatment: none.", "conservative_care", False, True),
        ("Neck pain for the past year, worse at work.", "onset_duration", True, False),
        # what only looks like an element (review of this session)
        ("Started gabapentin today for the neuropathy.", "onset_duration", False, False),
        (
            "Sharp, knife-like pain in the lower back with reaching overhead.",
            "injury_mechanism",
            False,
            False,
        ),
        ("Pain (0-10): ___", "pain_scale", False, False),
        ("His pain is a 4 on a scale of 1 to 10.", "pain_scale", True, False),
        ("Grease burn to the L hand while frying.", "injury_mechanism", True, False),
        ("Backed a pallet jack into his ankle at work.", "injury_mechanism", True, False),
        (
            "O: Cervical AROM limited, flex 40 deg, upper trap tightness.",
            "exam_findings",
            True,
            False,
        ),
    ],
)
def test_assertions(vocab, text, element, affirmed, negated):
    assert found(vocab, text).get(element, (False, False, None))[:2] == (affirmed, negated)


@pytest.mark.parametrize(
    "text",
    [
        "She slipped on ice on March 3, 2026 and landed on her wrist.",
        "DOI: 3/3/26. Stepped off a curb and rolled her ankle.",
        "He twisted his knee playing soccer 3 days ago.",
        "Collided with another player last Tuesday.",
        "Caught his hand between two pallets yesterday at work.",
        "Pt s/p GLF on ice yest, R wrist pain.",
        "Tripped over a hose at the nursery Sunday; ankle swollen.",
        "Slipped on a wet ramp at 0200 during his night shift.",
        "Mom states she fell off the swing the day after Thanksgiving.",
        "Thurs PM he was struck on the shoulder by a falling box.",
        "Restrained driver, rear-ended on the freeway. That was 2 days before admission.",
        "Transferring a resident to a wheelchair on 11/19 when she took his full weight.",
    ],
)
def test_injury_dates_and_mechanisms(vocab, text):
    result = found(vocab, text)
    assert result["injury_date"][0] and result["injury_mechanism"][0]


def test_a_header_is_evidence_and_hard_wraps_are_unwrapped(vocab):
    text = (
        "HPI: The patient reports pain radiating down the left\nleg for 3 months.\n\n"
        "ASSESSMENT: Lumbar radiculopathy.\nPLAN:\n- Lumbar ESI L4-5 under fluoroscopy\n- RTC 2 wks"
    )
    result = found(vocab, text)
    assert result["treatment_plan"][0]  # the PLAN: header, whatever its items say
    assert result["onset_duration"][2] == pytest.approx(13.0, abs=0.1)  # read across the wrap
    assert result["radicular_findings"][:2] == (True, False)


def test_therapy_plan_of_care_has_goals_frequency_and_duration(vocab):
    text = (
        "LONG-TERM GOALS (6 WEEKS): Patient will ambulate 500 feet independently.\n"
        "PLAN: Skilled PT 3x/week for 6 weeks: therapeutic exercise, gait training."
    )
    result = found(vocab, text)
    assert all(result[e][0] for e in ("poc_goals", "poc_frequency", "poc_duration"))
    only_goals = found(vocab, "SHORT-TERM GOALS (2 WEEKS): independent transfers.")
    assert "poc_duration" not in only_goals  # a goal's time frame is not the plan's length


def test_side_abbreviations_are_laterality(vocab):
    assert found(vocab, "R knee effusion, L L5-S1 tenderness.")["laterality"][0]


@pytest.mark.parametrize(
    "text, element",
    [
        ("Exam:\nTTP L5-S1.\nPain: 7/10 pre.\nPost: 2/10.", "pain_scale"),
        ("Hx:\nLow back pain.\nSeverity: 6/10 today", "pain_scale"),
    ],
)
def test_a_field_label_is_the_context_of_its_value(vocab, text, element):
    """A label and its value on one line are one clause ("Pain: 7/10"): the label gives the value
    its meaning."""
    assert found(vocab, text)[element][0]


# How an injury's date is written (absolute, relative, labelled, weekday, "today" tied to the event)
# and what only looks like one: the date of an admission, a visit, an imaging study or an operation,
# a window ("in the past year"), a season, past medical history.
@pytest.mark.parametrize(
    "text, dated",
    [
        ("HPI: Slipped on a wet floor at the store on Saturday and landed on her hip.", True),
        ("HPI: 34M s/p MVC 2d ago, restrained driver, rear-ended at a light.", True),
        ("HPI: Injured on 10/12 when a pallet fell on his foot.", True),
        ("HPI: He hurt his back lifting a couch over the weekend.", True),
        ("HPI: Fell this a.m. while getting out of the shower.", True),
        ("HPI: The fracture is about three weeks old; he stumbled on a step.", True),
        ("HPI: Bruising on the flank, two days status post fall.", True),
        ("HPI: Was assaulted in 5/25 and punched in the jaw.", True),
        ("HPI: She was T-boned at an intersection yesterday evening.", True),
        ("HPI: Hurt at 6 p.m. while at band practice when a pole struck her.", True),
        ("HPI: Seen after a car accident on 09/05/2026 as a passenger.", True),
        ("HPI: Pain in the wrist. Seen by Dr. Lee on 5/1/26 after he fell on 4/30/26.", True),
        ("Date of Injury: 01/15/2026\nMechanism: fall from a ladder", True),
        ("HPI: He presents today after a fall at home.", False),
        ("HPI: She was admitted on 08/06/2026 after a fall at home.", False),
        ("HPI: Seen in the emergency department on 3/3/26 after slipping on ice.", False),
        ("HPI: X-rays on 3/5/26 show a distal radius fracture after a fall.", False),
        ("HPI: On 7/26/26 he was taken back to the operating room after his fall.", False),
        ("HPI: He underwent ORIF of the fracture in October 2025.", False),
        ("HPI: She has fallen twice in the past year.", False),
        ("HPI: Knee pain since the fall of 2025; no injury recalled.", False),
        ("PAST MEDICAL HISTORY: Hip fracture after a fall in 2019.", False),
        ("HPI: He had been warming up an hour prior to the injury, when he was struck.", False),
    ],
)
def test_injury_dates(vocab, text, dated):
    assert found(vocab, text).get("injury_date", (False,))[0] is dated


@pytest.mark.parametrize(
    "text, mechanism",
    [
        ("HPI: Lost her footing on the stairs and went down on her knee.", True),
        ("HPI: He was knocked over by a large dog.", True),
        ("HPI: Felt a pop in the knee while pivoting in a soccer game.", True),
        ("HPI: Lacerated his thumb on a box cutter at work.", True),
        ("HPI: History of falls; high fall risk; fall precautions.", False),
        ("HPI: Falls asleep easily at night.", False),
        ("HPI: Hip pain since the fall of 2024.", False),
        ("HPI: History of slipped capital femoral epiphysis.", False),
        ("HPI: A spinal needle was inserted at L3-L4 on the first pass.", False),
        ("HPI: Stabbing pain in the left foot.", False),
    ],
)
def test_injury_mechanisms(vocab, text, mechanism):
    assert found(vocab, text).get("injury_mechanism", (False,))[0] is mechanism


def test_abbreviation_periods_end_no_sentence():
    segmented = pl.DataFrame(
        {"section": ["history"], "body": ["Hurt at 6 p.m. while at work. Seen by Dr. Lee."]}
    )
    assert clauses(segmented)["clause"].to_list() == [
        "hurt at 6 p.m while at work",
        "seen by dr lee",
    ]


@pytest.mark.parametrize(
    "text, element, want",
    [
        # a goal a reviewer can measure, or a goals header over its goals; an aim is not one
        ("Goals: ambulate 300 ft independently within 4 weeks.", "poc_goals", True),
        (
            "LONG-TERM GOALS (8 WEEKS):\n1. Climb one flight of stairs with a rail.",
            "poc_goals",
            True,
        ),
        ("Plan: PT 2x/wk. Goals: decrease pain and improve function.", "poc_goals", False),
        # the plan's length, not any span of weeks in the note
        ("Plan: skilled PT twice a week, 8-week program.", "poc_duration", True),
        ("Plan: 6 weeks of outpatient physical therapy.", "poc_duration", True),
        (
            "Plan: therapy 3x/week. He completed 6 weeks of chemotherapy in May.",
            "poc_duration",
            False,
        ),
        ("Plan: NMES phase duration was 220 microseconds.", "poc_duration", False),
        # onset stated as a start time or a window
        ("Neck pain that started 3 days ago after sleeping wrong.", "onset_duration", True),
        ("Increasing back pain over the past several months.", "onset_duration", True),
        ("Neck pain w/ radiation to R arm since 2/2026.", "onset_duration", True),
        ("Axial LBP, worse w/ extension. Duration 6 months.", "onset_duration", True),
        ("It has been going on for about six months.", "onset_duration", True),
        ("Pain has been present since a fall in January.", "onset_duration", True),
        # a root named as compressed
        ("MRI: L5 nerve root compression.", "radicular_findings", True),
    ],
)
def test_plan_onset_and_radicular_phrasings(vocab, text, element, want):
    assert bool(found(vocab, text).get(element, (False,))[0]) is want


@pytest.mark.parametrize(
    "text",
    [
        "HPI: It happened between 10:30 and 11 p.m. when he tripped on the rug.",
        "HPI: Twisted her knee at 2:15 today on the stairs.",
        "HPI: The bump bent backwards and ripped the skin last night.",
    ],
)
def test_clock_times_and_tearing_injuries(vocab, text):
    result = found(vocab, text)
    assert result["injury_date"][0] and result["injury_mechanism"][0]


def test_templated_injury_fields_are_read_under_their_headers(vocab):
    """An EHR template's fields: the header names the element, its value says it."""
    text = (
        "Chief Complaint: Right ankle injury\n"
        "Onset: 2 days ago\n"
        "Mechanism: inversion while playing basketball\n"
        "Pain: 6/10, worse with weight bearing"
    )
    result = found(vocab, text)
    assert result["injury_date"][0] and result["injury_mechanism"][0]
    # an onset header over no time, and a time under no injury header, date nothing
    assert "injury_date" not in found(
        vocab, "Onset: gradual\nSocial: works nights, 2 days ago moved"
    )


@pytest.mark.parametrize(
    "text, sides",
    [
        ("Pain (R) knee.", {"side_right"}),
        ("Tender over the lateral aspect of the R. ankle.", {"side_right"}),
        ("R ant knee pain.", {"side_right"}),
        ("LUE numbness, LLE edema.", {"side_left"}),
        # both sides named, one the worse: neither side is the only one
        ("R>L leg numbness.", {"side_left", "side_right", "side_both"}),
        ("Kenalog(R) 40 mg injected.", set()),
    ],
)
def test_side_abbreviations(vocab, text, sides):
    result = found(vocab, text)
    assert {e for e in result if e.startswith("side_") and result[e][0]} == sides


@pytest.mark.parametrize(
    "text, element, affirmed, negated",
    [
        # a negation's scope ends where a new event or its circumstance begins
        (
            "No loss of consciousness when she fell from the ladder.",
            "injury_mechanism",
            True,
            False,
        ),
        ("Denies head strike after he slipped on the ice.", "injury_mechanism", True, False),
        ("Denies any fall or trauma.", "injury_mechanism", False, True),
        ("Denies fever, chills, numbness or tingling.", "radicular_findings", False, True),
    ],
)
def test_negation_scope_ends_at_terminators(vocab, text, element, affirmed, negated):
    assert found(vocab, text).get(element, (False, False, None))[:2] == (affirmed, negated)


@pytest.mark.parametrize(
    "text, element, want",
    [
        # ratings written against the scale rather than as x/10
        ("On a scale from 1 to 10, she puts it at 6.", "pain_scale", True),
        ("Pain (0-10): 4", "pain_scale", True),
        ("His pain level has been well controlled.", "pain_scale", False),
        # "referred" is past (referred pain, referred by a doctor), not a plan
        ("Referred pain reproduced; pain before (0-10): 8.", "pain_scale", True),
        ("She was started on amitriptyline, which helped.", "conservative_care", True),
        ("Relieved with over-the-counter medication.", "conservative_care", True),
        # SOAP letters are sections: a plan under P: is not care received
        ("S: LBP x 3 mo.\nP: PT 2x/wk x 6 wks.", "conservative_care", False),
    ],
)
def test_scales_care_and_soap_sections(vocab, text, element, want):
    assert bool(found(vocab, text).get(element, (False,))[0]) is want


def test_wrapped_headers_soap_letters_and_fields_keep_their_sections(vocab):
    """A header wrapped over two lines is one; SOAP letters start sections after a wrap; a title-case
    field no header keyword names stays in the section around it."""
    wrapped = (
        "No intraoperative complications.,HISTORY\nAND PHYSICAL:  ,The patient fell off a swing at\n"
        "school around 1:30 today."
    )
    result = found(vocab, wrapped)
    assert result["injury_mechanism"][0] and result["injury_date"][0]  # history, not exam
    soap = "S: LBP x 3 mo after lifting.\nO: Tender L4-5.\nP: Naproxen.\nModified duty: PT 2x/wk x 3 wks."
    segmented = segments(pl.DataFrame({"_row": [0], "text": [soap]}), vocab[1])
    assert segmented["section"].to_list() == ["history", "exam", "plan", "plan"]


@pytest.mark.parametrize(
    "text, element, want",
    [
        ("HPI: R ankle pain x 3 days after a fall on the stairs.", "injury_date", True),
        ("HPI: s/p MVC x 2 days, neck pain.", "injury_date", True),
        ("Date of injury: unknown. Fell at home.", "injury_date", False),
        ("Fell from a ladder; the x-ray was normal.", "injury_mechanism", True),
        ("The mechanism of injury is unclear.", "injury_mechanism", False),
        ("Wrist pain from repetitive gripping on the assembly line.", "injury_mechanism", True),
        ("Burn to the hand from hot cooking oil splashing while frying.", "injury_mechanism", True),
    ],
)
def test_injury_durations_unknown_dates_and_cumulative_mechanisms(vocab, text, element, want):
    assert bool(found(vocab, text).get(element, (False,))[0]) is want


def test_a_title_over_a_labelled_date_is_no_wrapped_header(vocab):
    text = "URGENT CARE - INITIAL VISIT\nDOI: 3/3/26    DOS: 3/10/26\nS: Slipped on a wet floor at work."
    result = found(vocab, text)
    assert result["injury_date"][0] and result["injury_mechanism"][0]
    assert "injury_date" not in found(vocab, "DOI: unknown\nS: Slipped on a wet floor at work.")


@pytest.mark.parametrize(
    "text, element, affirmed, negated",
    [
        # a mention left outside the denial is the event; a denied list is denied
        ("Tripped and fell on the stairs, did not hit his head.", "injury_mechanism", True, False),
        (
            "Restrained driver, rear-ended at a light, no airbag deployment.",
            "injury_mechanism",
            True,
            False,
        ),
        ("No falls, slips or trips.", "injury_mechanism", False, True),
    ],
)
def test_an_event_is_denied_only_when_no_mention_is_left(vocab, text, element, affirmed, negated):
    assert found(vocab, text).get(element, (False, False, None))[:2] == (affirmed, negated)


@pytest.mark.parametrize(
    "text",
    [
        "S: Twisted L ankle stepping off a curb Sat night.",
        "Pt states she walked into the edge of a cabinet door yesterday morning.",
    ],
)
def test_weekday_abbreviations_and_dates_beside_any_mechanism(vocab, text):
    result = found(vocab, text)
    assert result["injury_date"][0] and result["injury_mechanism"][0]


@pytest.mark.parametrize(
    "text",
    [
        "HPI: Injured 3/3 at work when a box fell on his foot.",
        "HPI: Fell off her bike on the 3rd, landed on the left wrist.",
        "HPI: Twisted his knee a week and a half ago playing tennis.",
        "HPI: Slipped on ice 2 days PTA.",
        "HPI: Knee pain since Friday when he was tackled at practice.",
        "HPI: Shut her finger in a car door at 3 pm.",
    ],
)
def test_more_injury_dates(vocab, text):
    result = found(vocab, text)
    assert result["injury_date"][0] and result["injury_mechanism"][0]


@pytest.mark.parametrize(
    "text",
    [
        "Got his hand stuck in a dough mixer at work.",
        "Took an elbow to the face during a basketball game.",
        "Turned her ankle on a curb.",
        "Was hit while playing football.",
    ],
)
def test_more_mechanisms(vocab, text):
    assert found(vocab, text)["injury_mechanism"][0]


@pytest.mark.parametrize(
    "text",
    [
        "Pt fell 2/2 syncope, found by family.",
        "He fell on the 2nd step of the porch.",
        "Tylenol at 1000 mg after he slipped on the ice.",
        "He was rear-ended; 8/10 pain in the neck.",
    ],
)
def test_what_only_looks_like_an_injury_date(vocab, text):
    assert not found(vocab, text).get("injury_date", (False, False, None))[0]


@pytest.mark.parametrize(
    "text, element",
    [
        # abbreviated headers open their sections: "Hx:" after "Procedure:" is history again
        (
            "Procedure: L4-5 facet injection.\nHx: LBP x 6 mo. Failed PT x 6 wks.",
            "conservative_care",
        ),
        ("INJECTION NOTE\nPrior care: [x] PT (8 visits)  [x] NSAIDs", "conservative_care"),
        ("A: Knee OA.\nP: Injection today. Cont diclofenac gel.", "conservative_care"),
        ("Pain in the right foot over the past few days.", "onset_duration"),
        ("Back pain began in August.", "onset_duration"),
        ("Neck pain. Date of injury: 3/3/26.", "onset_duration"),
        ("She was in a motor vehicle accident in 5/92 and hurt her neck.", "injury_date"),
    ],
)
def test_abbreviated_headers_continued_care_and_onset_dates(vocab, text, element):
    assert found(vocab, text)[element][0]


@pytest.mark.parametrize(
    "text, dated",
    [
        ("S/p collision w/ another player during hockey game Fri. Heard a pop.", True),
        ("Stepped on a rusty nail. He says this was the Sunday before last.", True),
        ("Cut his scalp on a cabinet door. This occurred shortly before arrival.", True),
        ("Car left the road at ~0630 and struck a tree.", True),
        ("Rolled his ATV over the holiday weekend.", True),
        # the visit's date after its "today", a holiday's decorations, an old injury's year
        ("Pt seen today 12/04/2026 for R wrist pain after a fall on ice.", False),
        ("Fell off a roof while installing Christmas lights; last seen 11/25.", False),
        ("Hx of R hip fx from a fall in 2022, new groin pain. Denies recent fall.", False),
    ],
)
def test_injury_dates_in_the_third_writers_phrasings(vocab, text, dated):
    assert bool(found(vocab, text).get("injury_date", (False,))[0]) is dated


def test_a_sides_letter_over_a_soap_letter_is_no_wrapped_header(vocab):
    """'wrist R' ending a line over 'S:' is the side, and S: still opens the history."""
    text = "Dx: carpal tunnel, wrist R\nS: numbness x 4 mos.\nO: Tinel +."
    segmented = segments(pl.DataFrame({"_row": [0], "text": [text]}), vocab[1])
    assert segmented["section"].to_list()[1:] == ["history", "exam"]


def test_a_period_after_bilateral_ends_the_sentence(vocab):
    """'neg b/l.' closes its sentence: the trigger points after it are not negated."""
    text = "O: Spurling neg b/l. Taut bands with twitch response in the L upper trapezius."
    assert found(vocab, text)["trigger_point_findings"][:2] == (True, False)


def test_a_span_in_the_plan_is_no_duration_of_past_care(vocab):
    """'pain diary x 2 wks, cont HEP' in a plan continues the care; its span is the future's. Care
    the plan says was done before keeps its span."""
    text = "Hx: LBP x 4 mo. Tried PT (Aug-Sep), naproxen.\nPlan: pain diary x 2 wks, cont HEP."
    affirmed, _, weeks = found(vocab, text)["conservative_care"]
    assert affirmed and weeks is None
    assert found(vocab, "Plan: She has failed 8 weeks of PT.")["conservative_care"][2] == 8.0


def test_an_assessment_slash_plan_line_opens_the_plan(vocab):
    """'Assessment/Plan' alone on its line is a header, as 'Assessment and Plan' is: what follows is
    no longer the procedure's indication (history)."""
    text = "Procedure: knee injection.\nIndication: OA.\nAssessment/Plan\n2. HTN - increase lisinopril."
    segmented = segments(pl.DataFrame({"_row": [0], "text": [text]}), vocab[1])
    assert segmented["section"].to_list()[-1] in {"assessment", "plan"}


def test_an_old_injury_with_an_adjective_is_not_dated(vocab):
    text = "Slipped on a wet floor. History of a R hip fx in 2021 from a similar fall."
    assert "injury_date" not in found(vocab, text)


def test_a_note_in_capitals_keeps_a_date_apart_from_the_next_header(vocab):
    """In a note typed in capitals every line ends in upper-case words: 'DATE OF INJURY: 2-NOV' over
    'MECHANISM:' is a date and a header, not one wrapped header."""
    text = "DATE OF INJURY: 2-NOV\nMECHANISM: SLIPPED ON AN ICY DRIVEWAY, FOOSH ONTO R HAND."
    result = found(vocab, text)
    assert result["injury_date"][0] and result["injury_mechanism"][0]


@pytest.mark.parametrize(
    "text, element, weeks",
    [
        # a drug's course is no span of the care: the care's duration is unstated
        (
            "He took a 6-day methylprednisolone taper followed by meloxicam.",
            "conservative_care",
            None,
        ),
        ("Medrol dose pack x 6 days, then PT for 8 weeks.", "conservative_care", 8.0),
        (
            "Straight leg lifts are normal; she takes two pain pill a day.",
            "conservative_care",
            None,
        ),
    ],
)
def test_a_drug_course_is_no_duration(vocab, text, element, weeks):
    affirmed, _, found_weeks = found(vocab, text)[element]
    assert affirmed and found_weeks == weeks


def test_a_dated_field_opens_no_section(vocab):
    """'Procedure date: 12/02/2026' over a referral letter is a field: the letter's history is no
    procedure text, so the care it reports counts."""
    text = (
        "RE: Ms. D\nProcedure date: 12/02/2026\n\nDear Dr. O,\nShe has completed six weeks of "
        "physical therapy, with pain since the beginning of August."
    )
    result = found(vocab, text)
    assert result["conservative_care"][0] and result["onset_duration"][0]


@pytest.mark.parametrize(
    "text, element, want",
    [
        # "continues to have" is no plan; a relative helped is company, not the experiencer
        ("She continues to have pain over the dorsal and radial wrist, 6/10.", "pain_scale", True),
        ("Started after he helped his son move a sofa, no fall.", "injury_mechanism", True),
        # a number after "pain at" that measures something else is no rating
        ("Lumbar flexion causes left leg pain at 30 degrees.", "pain_scale", False),
        # a job's duties are not how this injury happened
        (
            "Job duties: unloading trucks, lifting up to 50 lb, ladder work.",
            "injury_mechanism",
            False,
        ),
        # "12 visits over 6 weeks" states the frequency; a goal's time frame is no plan duration
        ("PLAN: POC: 12 visits over 6 weeks.", "poc_frequency", True),
        ("GOALS\nShort term (4 weeks):\nAmbulate 300 ft with a cane.", "poc_duration", False),
        # care prescribed under "TREATMENT:" today is a plan, not care received
        ("TREATMENT: Naproxen 500 mg twice daily, ice/heat.", "conservative_care", False),
        ("Came down from a rebound onto another player's foot.", "injury_mechanism", True),
        ("Grease splattered from a frying pan onto the hand.", "injury_mechanism", True),
        ("Completed 12 sessions PT in spring without lasting benefit.", "conservative_care", True),
        # offered and declined is no care received
        ("Offered PT and NSAIDs at last visit; pt declined both.", "conservative_care", False),
        ("Patient declined physical therapy.", "conservative_care", False),
        ("6+ months of bilateral neck pain, worse with rotation.", "onset_duration", True),
        ("Neurogenic claudication x 2 years.", "onset_duration", True),
        ('Sx started "around Easter."', "onset_duration", True),
        ("Pain has been ongoing for about two and a half years.", "onset_duration", True),
        ('Pt notes pain since "the beginning of the summer."', "onset_duration", True),
        ("Since Labor Day pt has had LBP with R sciatica.", "onset_duration", True),
        ("Back pain x 2 wks. Started PT yesterday.", "conservative_care", True),
        ("Neck pain. Has done PT with the school trainer.", "conservative_care", True),
        # contraindicated, allergic, recommended or ordered is no care received
        ("NSAIDs contraindicated (CKD 3b).", "conservative_care", False),
        ("He takes no medications. Allergic to ibuprofen.", "conservative_care", False),
        ("HEP recommended; trial of PT ordered.", "conservative_care", False),
        # a quotation closes its sentence: the advice after it plans no duration
        ('Pain present for "about half a year." HEP recommended.', "onset_duration", True),
        # a relative's house is where, not who; "incident time"; "the early hours of 12/6"
        ("Child fell off the trampoline at her cousin's house yesterday.", "injury_date", True),
        ("Struck by a car crossing the street. Incident time 1920 per EMS.", "injury_date", True),
        ("In the early hours of 12/6 pt was the passenger in a rollover.", "injury_date", True),
        ("He cut the pad of his right index finger with a paring knife.", "injury_mechanism", True),
        # aggravating movements are no mechanism, however many are listed
        (
            "Pain over the shoulder, worse with reaching overhead and lifting.",
            "injury_mechanism",
            False,
        ),
        # a goal's "within 6 weeks" is no plan duration
        (
            "GOALS:\n1. Within 6 weeks, TUG under 10 seconds.\nPLAN: 3 times a week.",
            "poc_duration",
            False,
        ),
        (
            "Left leg pain into the dorsum of the foot that began on 08/03/2026.",
            "onset_duration",
            True,
        ),
        ("Worsening b/l leg pain (post. thigh -> lat. calf) x 10 wks.", "onset_duration", True),
        ("Date of injury: 23-Nov\nHistory: Cut on a grinder.", "injury_date", True),
        ("A wire bristle broke off and lodged in the pad of his finger.", "injury_mechanism", True),
        # a section's name alone on its line heads it, colon or not
        (
            "Chief Complaint: low back pain.\nPLAN\nPt will be seen 2x/wk for 6 wks.",
            "poc_duration",
            True,
        ),
        # a goal's "in 8 weeks" is no plan duration
        ("Goals:\n- R shoulder flexion AROM 160 deg in 8 weeks.", "poc_duration", False),
        # a time of day, a date after the event's noun, a span before "s/p" with an adjective
        ("Sliced her thumb on a mandoline; time of injury 1815.", "injury_date", True),
        ("Tripped on a hose at around 0715 and landed on the left knee.", "injury_date", True),
        ("Older man s/p fall 11/28, tripped over a dog gate.", "injury_date", True),
        ("Bicycle crash 11/30 after hitting a pothole, road rash R arm.", "injury_date", True),
        ("Three days s/p unwitnessed fall from a step stool.", "injury_date", True),
        ("Found on the bathroom floor after a fall sometime overnight.", "injury_date", True),
        ("Knee swollen after snowboarding over the weekend.", "injury_date", True),
        ("On Sunday she was hanging curtains. She fell off the chair.", "injury_date", True),
        # a time of an examination is no injury's
        (
            "Head injury, confusion cleared on recheck at approximately 2100 hours.",
            "injury_date",
            False,
        ),
        # everyday verbs of how
        ("He was checked into the boards during a game.", "injury_mechanism", True),
        ("Hit it with a mallet while building a fence.", "injury_mechanism", True),
        ("Knelt on a piece of glass in the garage.", "injury_mechanism", True),
        ("Stubbed her toe on the bed frame.", "injury_mechanism", True),
        # care written as going on or as a named program
        ("Low back pain. PT in progress, visit 3 of 10.", "conservative_care", True),
        ("Doing McKenzie extension exercises daily.", "conservative_care", True),
        ("He does the stretching exercises from the therapist at home.", "conservative_care", True),
        ("Neck pain started in the spring, worse lately.", "onset_duration", True),
        # "end of POC):" inside a goal is no header: the goal keeps its clause
        (
            "Goals:\nLong-term (by end of POC): Client will name 15/20 pictures with cues.",
            "poc_goals",
            True,
        ),
        ("POC: skilled ST 2 sessions per week x 6 weeks.", "poc_frequency", True),
        (
            "Missed a step in the dark and caught her right big toe on the door.",
            "injury_mechanism",
            True,
        ),
        # a job's duties as a field are no account of the injury
        ("Occupation: mover\nDuties: lifting and carrying furniture", "injury_mechanism", False),
        # plans of care as therapy EHRs and therapists write them
        ("PLAN\nPOC: Freq 3/Wk, Dur 4 Wks\nInterventions: ther ex.", "poc_duration", True),
        ("Plan: PT 2x/week for the certification period 1/5/27-3/30/27.", "poc_duration", True),
        ("PLAN OF CARE\nPt to be seen 2x per week through 02/12/2027.", "poc_duration", True),
        ("P: POC 2x/wk for 45 days, splint fabrication.", "poc_duration", True),
        # a goal table's rows are lines of their own under the goals header
        (
            "GOALS:\n| Goal | Target date |\n| Button shirt incl. cuffs | by discharge |",
            "poc_goals",
            True,
        ),
        # "G:" heads goals; its first item stays a line of its own
        ("A: R CTS.\nG:\n - 2 wks: indep w/ splint schedule", "poc_goals", True),
        # a plan's frequency is the plan the visit follows
        ("Plan: 6 visits over 3 weeks, naming drills.", "plan_of_care", True),
        (
            "Fell from a stepladder at approximately 0400 when reaching for a light.",
            "injury_date",
            True,
        ),
        (
            "The strain occurred mid-shift (approximately 2230) while lifting a tote.",
            "injury_date",
            True,
        ),
        ("Pedestrian struck by a car x3d ago, R ankle pain.", "injury_date", True),
        (
            "Knee hurts since 11/02. He says on that day he slipped on wet leaves.",
            "injury_date",
            True,
        ),
        ("She went down hard on the gym floor.", "injury_mechanism", True),
        ("A wood chip flew into his left eye while splitting logs.", "injury_mechanism", True),
        # an old injury's year, and an operation's date, are not this injury's
        (
            "Tripped on a rug today. History of a L wrist fx in 2019 from a similar fall.",
            "injury_date",
            True,
        ),
        ("Wrist fx s/p ORIF on 11/20/2026 (a fall on ice). Post-op check.", "injury_date", False),
        ("HPI: Pt slipped on stairs, FOOSH x3d. L wrist pain.", "injury_date", True),
        (
            "Sliced the tip of his R index finger with a paring knife this afternoon.",
            "injury_date",
            True,
        ),
        # a dose with its frequency is a medication managed; "Separately," opens another problem
        ("A/P: 2. Otitis externa -- ciprofloxacin drops 4 gtt BID x 7 d.", "management", True),
        ("A/P: 2. Acute sinusitis -- amoxicillin 875 mg twice daily.", "management", True),
        ("Separately, she has had a dry cough for 3 weeks.", "separate_problem", True),
        ("Therapy is recommended twice weekly for a period of three months.", "poc_duration", True),
        ("PT 2x/wk; episode of care 10 wks with re-assessment at 5 wks.", "poc_duration", True),
        # how a poisoning happened
        (
            "The child swallowed several of her grandmother's pills this morning.",
            "injury_mechanism",
            True,
        ),
        (
            "He ingested antifreeze approximately three days prior to admission.",
            "injury_date",
            True,
        ),
        ("She took a total of eight acetaminophen tablets last night.", "injury_mechanism", True),
        # poisonings: the scene and the exposure say how and when
        (
            "Dad found her at about 1800 tonight with an open bottle of ibuprofen.",
            "injury_date",
            True,
        ),
        ("Two chewed tablets were on the floor beside him.", "injury_mechanism", True),
        (
            "Ran a charcoal grill inside the tent overnight; headache on waking.",
            "injury_mechanism",
            True,
        ),
        # lying on the floor for a time before being found dates nothing
        ("Was on the floor ~3 hours before her son found her.", "injury_date", False),
        # therapy plans as ranges, to a visit's date, with an approximate span
        ("Plan: 2-3x/wk x 6-8 wks, edema control and ROM.", "poc_duration", True),
        ("Continue therapy 1x/wk until next MD visit 2/10/27.", "poc_duration", True),
        # a goal review header over its goals
        ("Goal review:\n- MPT >= 12 sec: MET", "poc_goals", True),
        # dictated openers, labelled mechanisms, everyday idioms
        (
            "He was in his usual state of health until the evening of 11/20/2026.",
            "injury_date",
            True,
        ),
        ("Mechanism: Pivoted on the left leg and the knee buckled.", "injury_mechanism", True),
        ("Mechanism: unknown", "injury_mechanism", False),
        ("Planted his left foot and the knee gave way.", "injury_mechanism", True),
        (
            'Her knees "gave out" on the stairs, striking her L elbow on the rail.',
            "injury_mechanism",
            True,
        ),
        ("Face-planted off a skateboard the night of the 5th.", "injury_date", True),
        ("Wiped out on his e-bike on wet leaves.", "injury_mechanism", True),
        ("s/p fall from bed 11/30 at the nursing home.", "injury_date", True),
        # goals as the therapist's expectation
        (
            "Within 4 weeks I expect her to type 30 minutes with pain 2/10 or less.",
            "poc_goals",
            True,
        ),
        # care begun today is planned; going to PT, PT completed, chiro
        # "starting" is no intent: pain "starting 2 months ago" and its care stay read
        (
            "Low back pain starting 2 months ago, managed with ibuprofen and PT x 6 weeks.",
            "conservative_care",
            True,
        ),
        # a follow-up is no goal; "achieve" is no ache
        ("Pt will f/u in 2 weeks.", "poc_goals", False),
        ("Goals: Pt will achieve 8/10 reps of sit to stand.", "pain_scale", False),
        ("Abdominal pain much better since starting gabapentin.", "conservative_care", True),
        ("She has been going to PT twice a week.", "conservative_care", True),
        ("Chronic LBP. PT completed 2025.", "conservative_care", True),
        ("Currently doing chiro 1x/wk.", "conservative_care", True),
        ("Neck pain since last Thanksgiving.", "onset_duration", True),
        # a letter looking back is no plan
        (
            "As you will recall, on October 2nd he slipped on a wet ramp and fell.",
            "injury_mechanism",
            True,
        ),
        # visits a week times weeks
        ("P: POC 3x4 - ther ex, gait training.", "poc_frequency", True),
        ("Frequency/Duration: 2x8", "poc_duration", True),
        # a goals header leading into its items
        ("Goals - Pt will...\n...walk 500 ft with a cane by discharge.", "poc_goals", True),
        ("Presents about 2 hours after a motor vehicle collision.", "injury_date", True),
        # axial pain in the negative
        ("Neck pain radiating to the occiput but not into the arm.", "axial_pain", True),
        ("Low back pain, no leg pain.", "axial_pain", True),
        # a pain rating beside its scale's name or its symptom words; a region is no muscle
        ("NPRS: 3/10 at rest, 7/10 with lifting.", "pain_scale", True),
        ("Knee aching on stairs, 6/10.", "pain_scale", True),
        ("Trigger points in the gluteal area, injected x2.", "muscles_named", False),
        # the items under a goals header are goals, each read for a measure; aims are not
        ("Goals:\n- SL balance R >= 30 sec in 3 wks\n- DF ROM symmetric", "poc_goals", True),
        ("Goals:\n- Decrease pain and swelling\n- Improve knee ROM", "poc_goals", False),
        ("GOALS:\n1. Decrease pain.\n2. Return to prior level of function.", "poc_goals", False),
        ("FUNCTIONAL OUTCOMES (goals):\n1. Mini-BESTest to 20/28", "poc_goals", True),
        ("Goals:\n- Return to full duty as a mail carrier.", "poc_goals", True),
        ("Goals:\n1. Decrease pain.\n2. Independent with HEP.", "poc_goals", False),
        ("Goals:\n- Pt will be independent with HEP in 2 weeks.", "poc_goals", True),
        # a gradual onset or no injury dates none
        ("Pain began a few months ago, gradual onset, no known injury.", "injury_date", False),
        ("R knee pain x 2 wks, no specific injury.", "injury_date", False),
        ("R knee pain since she fell 2 wks ago.", "injury_date", True),
        # an acute symptom's span beside the injury's account; a snake's bite
        ("C/o R ankle pain/swelling x 2 days. Stepped off a curb wrong.", "injury_date", True),
        ("C/o L knee pain and locking x 3 wks, no new injury recalled.", "injury_date", False),
        ("Reached under the woodpile and saw a rattlesnake retreat.", "injury_mechanism", True),
        # a plan's remaining length
        ("Plan is to continue 2x/week for 6 more weeks, then taper.", "poc_duration", True),
        ("Continue PT 2x/wk for an additional 4 weeks.", "poc_duration", True),
        ("Insurance: Medicaid (prior auth required - 12 visits requested)", "poc_duration", False),
        # a home program's or self-care's rate is not the plan's frequency, nor a cast's time its
        # length; a frequency label needs its value
        ("Plan: HEP: sidelying ER, prone Y/T, sleeper stretch - daily.", "poc_frequency", False),
        ("Independent in activities of daily living.", "poc_frequency", False),
        ("POC: Visit frequency TBD - pending insurance authorization.", "poc_frequency", False),
        ("Plan: OT 2x/week. HEP 3x/day.", "poc_frequency", True),
        ("Patient will attend 1 session per day.", "poc_frequency", True),
        ("PLAN\nPOC: Freq 2/Wk, Dur 6 Wks", "poc_frequency", True),
        # November 10th is no pain rating
        (
            "Pt is on the rehab unit after a fall at home 11/10 with pelvic fractures.",
            "injury_date",
            True,
        ),
        # an inpatient rehab plan: sessions a day and days a week, the estimated length of stay
        ("Plan:\nFrequency: OT 60 min BID, 5 days/week", "poc_frequency", True),
        ("Plan:\nDuration: ELOS 14 days (target d/c 12/15/2026)", "poc_duration", True),
        ("Plan: Colles fx R radius, cast x 6 wks, cast off 11/4.", "poc_duration", False),
        # a plan's length written tersely: a times sign with no space, a length after the rate, a
        # month, a certification's days; a goal's time frame and a splint's time are not one; a
        # rate per week without its x, or every other day of visits (not of a drug)
        ("Plan: PT 2x/wk x6wks.", "poc_duration", True),
        ("Plan: PT 2x/wk \u00d7 6 wks.", "poc_duration", True),
        ("Plan: skilled PT 2x/week, 6 weeks.", "poc_duration", True),
        ("Plan: PT 3x/week for the next month.", "poc_duration", True),
        ("Plan: 90 day certification, PT 2x/week.", "poc_duration", True),
        ("Plan: PT 2x/wk. Cert period: 60 days.", "poc_duration", True),
        ("Plan: PT 2x/wk; goals in 6 wks: lift 20 lb.", "poc_duration", False),
        ("Plan: PT 2x/wk. Splint x6wks.", "poc_duration", False),
        # everyday mechanisms: a knee that buckled, a blow to a body part, a door or a shelf that
        # came down on it, a fender bender; not the activity alone (what physically happened is the
        # mechanism), nor what makes the pain worse, "hurts when sitting" or "threw up"
        ("Sprained his ankle playing soccer yesterday.", "injury_mechanism", False),
        ("His knee buckled going down stairs yesterday.", "injury_mechanism", True),
        ("Hit head on cabinet door at 0700 today.", "injury_mechanism", True),
        ("A heavy door closed on his fingers yesterday.", "injury_mechanism", True),
        ("The horse spooked and threw him 3 days ago.", "injury_mechanism", True),
        ("Pt was in a fender bender 5 days ago.", "injury_mechanism", True),
        ("Cut L palm w/ kitchen knife while slicing a bagel.", "injury_mechanism", True),
        ("It hurts the most when sitting for long periods.", "injury_mechanism", False),
        ("Burning when urinating x 2 days.", "injury_mechanism", False),
        ("He hurt his back this morning.", "injury_mechanism", False),
        ("She threw up twice last night.", "injury_mechanism", False),
        (
            "Hurt her L shoulder at work. Worse with reaching overhead, and when pushing her cart.",
            "injury_mechanism",
            False,
        ),
        # a date at the work, game or home it happened at; weekends ago; a month and day after the
        # mechanism's verb
        ("A metal shelf collapsed onto her L arm at work 11/20.", "injury_date", True),
        ("Injured his knee during the 10/18 game.", "injury_date", True),
        ("Achilles rupture. Limping since the tournament two weekends ago.", "injury_date", True),
        ("He slipped on ice 11/2; worse with walking.", "injury_date", True),
        ("Fell from a ladder, off work until 11/20.", "injury_date", False),
        # a dictated letter's "Goals." and "Plan." closed by a full stop; a goal's functional verb;
        # "2 days back" for "ago"; pain "since 4/12"; pain "going to" or "down" a limb radiates there
        # and is no plan
        (
            "Assessment: good potential.\n\nGoals. Within 2 weeks, the patient will complete"
            " grooming seated at the sink with set-up only.\n\nPlan. Frequency: 5x/week.",
            "poc_goals",
            True,
        ),
        ("Within 2 weeks, the patient will complete grooming with set-up only.", "poc_goals", True),
        (
            "HPI: Pt was slipped in bathroom on wet floor 2 days back, ankle turned.",
            "injury_date",
            True,
        ),
        ("HPI: Fell 2 days back pain since.", "injury_date", False),
        (
            "Indication: low back pain going to L buttock and calf since 4/12.",
            "onset_duration",
            True,
        ),
        ("HPI: neck pain going down the R arm.", "radicular_findings", True),
        ("HPI: He is going to the gym.", "radicular_findings", False),
        # the patient's own goal is the aim the therapist's goals answer, not one of them
        ('Pt goal: "back to running the spring half."', "poc_goals", False),
        ("Goals: Pt will run 5K in 8 weeks.", "poc_goals", True),
        # axial pain in everyday words; a patient who "refers pain" reports it; care that did not
        # control the pain was given; physio, or therapy with a word that makes it the patient's
        ("HPI: Low back pain that stays in the back.", "axial_pain", True),
        ("HPI: Pain localized to the low back without leg symptoms.", "axial_pain", True),
        ("HPI: The pain does not go past the knee.", "axial_pain", True),
        ("HPI: LBP radiating down the L leg to the foot.", "axial_pain", False),
        ("HPI: Patient refers pain in the lumbar region since 2 months.", "onset_duration", True),
        ("Plan: Pt refers to PT for 6 weeks.", "conservative_care", False),
        ("HPI: Pain not controlled with gabapentin 300 mg TID.", "conservative_care", True),
        ("HPI: Previous tx: physio 3 months, no improvement.", "conservative_care", True),
        ("HPI: Completed a course of therapy last year.", "conservative_care", True),
        ("HPI: s/p radiation therapy in 2019.", "conservative_care", False),
        # an abbreviated header (Assess:, Obj:) names its section, so a plan after it is read as one;
        # a title-case label's gloss ("Goals (4 wks):"); an upper-case section name alone on its line
        # ("GOAL TABLE" over a table); a thumb shut in a classroom door, a glass that broke in her
        # hand; pain since an episode in a month
        (
            "Hx: L heel pain x 3 mo.\nAssess: plantar fasciopathy.\nGoals (4 wks): 1) pain <= 3/10."
            "\nFrequency: 2x/week; Duration: 4 weeks.",
            "poc_frequency",
            True,
        ),
        (
            "Assessment: Impaired ROM.\n\nGOAL TABLE\n| Goal | Target | Time frame |\n"
            "| SLS L | 30 s eyes open | 3 wks |\n\nPlan: Frequency 1-2x/wk x 6 weeks.",
            "poc_goals",
            True,
        ),
        ("GOALS\nimprove strength.\nPLAN\nPT 2x/wk x 6 wks.", "poc_goals", False),
        ("HPI: L thumb was shut in a classroom door yesterday afternoon.", "injury_date", True),
        (
            "HPI: A drinking glass broke in her hand 40 minutes prior to arrival.",
            "injury_date",
            True,
        ),
        (
            "INDICATIONS: Leg pain since an episode in August 2025 after shoveling gravel.",
            "onset_duration",
            True,
        ),
        # pain ratings: a severity, a labelled value, the current and worst pain, the PEG, Wong-Baker
        # and FACES scales; a rating word without a number is none, nor an unfilled template field
        ("HPI: Pain severity 8.", "pain_scale", True),
        ("HPI: Pain: 8 (0-10 scale).", "pain_scale", True),
        ("HPI: Current pain 3, worst 8, best 2.", "pain_scale", True),
        ("HPI: Wong-Baker 6.", "pain_scale", True),
        ("HPI: Rates pain as severe.", "pain_scale", False),
        ("HPI: Pain: 3 weeks.", "pain_scale", False),
        ("HPI: Pain severity: *** /10.", "pain_scale", False),
        # a table headed "| Goal |"; a pre-procedure header glossed in parentheses is history; a
        # burn from grabbing a hot skillet, head-to-hip contact; "onset was" a date; a finger named
        # by its side ("L index")
        (
            "Assessment: good prognosis.\n\n| Goal | Target | Time frame |\n| --- | --- | --- |\n"
            "| Single-leg heel raise L | 25 reps pain <= 2/10 | 4 wks |",
            "poc_goals",
            True,
        ),
        (
            "Assessment: good.\n\n| Goal | Status |\n| improve strength | ongoing |",
            "poc_goals",
            False,
        ),
        (
            "PRE-PROCEDURE H&P (interval update):\nHe completed 6 weeks of physical therapy.",
            "conservative_care",
            True,
        ),
        (
            "S: blisters R palm after grabbing the handle of a cast-iron skillet yesterday evening.",
            "injury_mechanism",
            True,
        ),
        (
            "HPI: concussion in the 9/26 match (ruck, head-to-hip contact).",
            "injury_mechanism",
            True,
        ),
        ("HPI: Neck pain. Onset was 09/15/2026, radiating down the L arm.", "onset_duration", True),
        ("Diagnosis: Laceration of flexor tendons L index finger.", "side_left", True),
        # splints, pads and shoe changes tried are conservative care; a headache's span; "years" quoted
        (
            "HPI: Tried night extension splint x 6 weeks without improvement.",
            "conservative_care",
            True,
        ),
        (
            "HPI: She has tried wider shoes and a metatarsal pad for 2 months.",
            "conservative_care",
            True,
        ),
        ("Plan: splint the finger.", "conservative_care", False),
        ("HPI: Headaches have now persisted >2 months.", "onset_duration", True),
        ('HPI: chronic upper back pain for "years," worse at work.', "onset_duration", True),
        # a reviewer's cases: what makes the pain worse is blanked only as a run of activities, so
        # the event after it stays; axial pain is not "in the lower back" of pain that radiates, nor
        # "mostly back to work"; a saw needs its article; a header's gloss does not name its
        # section; headers alone on their line; "since 8/10" is a rating; therapy with a counselor,
        # "going to hand therapy", a drug or a drink every other day or 2-3/wk, "transfer care",
        # "knee buckling" in arthritis, a meeting, a race or a limp are none of what they look like
        (
            "HPI: L knee pain worse with stairs, twisted it playing soccer 3 days ago.",
            "injury_mechanism",
            True,
        ),
        (
            "HPI: Low back pain, increased when she slipped on ice yesterday.",
            "injury_mechanism",
            True,
        ),
        ("HPI: The pain is in the lower back and radiates down the left leg.", "axial_pain", False),
        ("Exam: Tenderness is noted in the lumbar paraspinals.", "axial_pain", False),
        ("HPI: He is mostly back to work.", "axial_pain", False),
        ("HPI: Neck pain. On Friday saw his PCP who ordered x-rays.", "injury_mechanism", False),
        ("HPI: Neck pain with shoulder blade pain.", "injury_mechanism", False),
        (
            "Chief complaint: L wrist pain.\n\nHistory (per family): she fell down 3 stairs at home.",
            "injury_mechanism",
            True,
        ),
        (
            "Reason for visit: LBP.\n\nPain (on medication): 5/10. Completed 6 weeks of PT.",
            "conservative_care",
            True,
        ),
        (
            "Assessment: Impaired gait.\nSHORT TERM GOALS\n1. Ambulate 150 ft with SBA.",
            "poc_goals",
            True,
        ),
        (
            "Assessment: Impaired gait.\nGoals (functional):\n1. Ambulate 150 ft with SBA.",
            "poc_goals",
            True,
        ),
        (
            "Assessment: Impaired gait.\n\nGoals.\n1. Ambulate 150 ft with SBA in 2 wks.",
            "poc_goals",
            True,
        ),
        ("Assessment: Impaired ROM.\n\nGOAL TABLE\nPlan: PT 2x/wk x 6 wks.", "poc_goals", False),
        ("HPI: Low back pain, unchanged since 8/10 at the last visit.", "onset_duration", False),
        ("PMH: Depression, in therapy with a counselor.", "conservative_care", False),
        ("HPI: Has been going to hand therapy 2x/week.", "radicular_findings", False),
        ("Plan: Pt takes ibuprofen every other day.", "poc_frequency", False),
        ("Social: EtOH 2-3/wk, nonsmoker.", "poc_frequency", False),
        ("Plan: He will transfer care to his PCP in 3 months.", "poc_goals", False),
        ("Patient goals: ambulate 150 ft with SBA in 2 wks.", "poc_goals", True),
        ("Chronic L knee OA with occasional knee buckling on stairs.", "injury_mechanism", False),
        ("HPI: He will meet with the surgeon on 12/15/2026.", "injury_date", False),
        ("HPI: Pt is not managed with opioids at this time.", "conservative_care", False),
        # short-term objectives are goals, so the plan after them is not read as an exam; a rating
        # with its time of day
        (
            "Goals (6 months):\n1. Aria will don a T-shirt with min A.\nShort-term objectives (3"
            " months): donning pants with mod A.\n\nCERTIFICATION / PLAN OF CARE\n| Frequency |"
            " 1x/week |",
            "poc_frequency",
            True,
        ),
        ("Hx: L heel pain x 3 mo.\n7/10 AM, 3/10 midday.", "pain_scale", True),
        # an exertion at the gym; a plan's length "for approximately 6 weeks", "through the end of
        # the school year" (not a work status's), an authorization period's weeks
        (
            "HPI: She was doing squats at the gym when she felt a pop in her back.",
            "injury_mechanism",
            True,
        ),
        ("HPI: LBP, pain with squatting and lunges.", "injury_mechanism", False),
        ("Plan: She will be seen 2-3x/week for approximately 6 weeks.", "poc_duration", True),
        ("Plan: Therapy 2x/week through the end of the school year.", "poc_duration", True),
        ("Plan: Off work until the end of the month.", "poc_duration", False),
        ("Plan: OT weekly for the authorization period of 12 weeks.", "poc_duration", True),
        # a school or early-intervention service's minutes a week or a month are its frequency; a
        # mother who saw the dog's tag is no encounter; "ydy" is yesterday
        ("Service recommendation: Direct OT 30 minutes/week, pull-out.", "poc_frequency", True),
        ("Plan: HEP: walk 20 min/day.", "poc_frequency", False),
        (
            "HPI: Bitten on the R forearm by the neighbor's dog (rabies tag seen by mother) this"
            " morning while petting it.",
            "injury_date",
            True,
        ),
        ("HPI: pt 45M hit by door @ work ydy - freezer door closed on him.", "injury_date", True),
        # a relative who came along or acts in the story is no family history; a child swung by the
        # hands; pain that never goes below the knee is axial
        (
            "HPI: Grinding a weld when he felt something fly into his R eye today.",
            "injury_mechanism",
            True,
        ),
        ("HPI: Her low back pain has never radiated into the leg.", "axial_pain", True),
        (
            "HPI: The patient presents with his mother for R ankle pain after he was tackled.",
            "injury_mechanism",
            True,
        ),
        ("HPI: Father was swinging her by both hands about 1 hour ago.", "injury_date", True),
        (
            "HPI: He fell; his mother and father both have radiculopathy.",
            "radicular_findings",
            False,
        ),
        (
            "HPI: Low back ache, goes to L buttock at times, never below the knee.",
            "axial_pain",
            True,
        ),
        # "since the accident on 9/8/26" dates the accident, also after "returns for" (an encounter)
        (
            "History: Mr. F returns for neck pain since the accident on 9/8/26, when his car was"
            " rear-ended.",
            "injury_date",
            True,
        ),
        ("Plan: PT 2/wk x 4 wks.", "poc_frequency", True),
        ("Plan: skilled OT every other day for 2 weeks.", "poc_frequency", True),
        ("Plan: Tylenol every other day. Ice 2/day.", "poc_frequency", False),
        # a labelled date after an encounter's word is the injury's; a blow to a planted leg
        ("Dx: L 5th MC fx, closed\nDOI 11/22/26 - punched a wall.", "injury_date", True),
        (
            "A teammate was driven into his R knee while his foot was planted.",
            "injury_mechanism",
            True,
        ),
        # trigger points named by their abbreviation; a wart's home remedies
        (
            "PE: Discrete TPs w/ referral to post shoulder: L infraspinatus.",
            "trigger_point_findings",
            True,
        ),
        ("Tried OTC freeze kit + duct tape x 2 mos, no change.", "conservative_care", True),
        # a reviewer's cases: a denial over a bulleted list keeps its scope; a symptom span needs
        # its symptom; a worsening course or "no trauma to head" after a fall keeps the date;
        # "goals of care" and "progress toward goals" open no goals section; a home program's or
        # a cast's span does not reach past a comma; "referral to PT" is no trigger point finding;
        # a list number does not hide an unless; "was driven into clinic" is no mechanism
        (
            "ROS: negative for \u2022 numbness \u2022 tingling \u2022 radiating pain",
            "radicular_findings",
            False,
        ),
        ("Pain relief for 6 hours after the block.", "injury_date", False),
        ("R knee pain after fall on 11/28, progressively worsening.", "injury_date", True),
        ("Fell from ladder 2 days ago, no trauma to head.", "injury_date", True),
        ("Goals of care: full code; family meeting held for 45 minutes.", "poc_goals", False),
        ("HPI: R knee pain.\nProgress toward goals: pain 3/10 today.", "pain_scale", True),
        ("Plan: HEP updated, PT 2x/wk x 6 wks, ice daily.", "poc_frequency", True),
        ("Plan: wean off crutches, PT 2x/wk for 6 wks.", "poc_duration", True),
        (
            "HPI: Neck pain. Trigger points injected with referral to PT.",
            "trigger_point_findings",
            False,
        ),
        ("Goals:\n1) Decrease pain\n2) Independent with HEP", "poc_goals", False),
        ("Pt was driven into clinic by her daughter.", "injury_mechanism", False),
        ("Dyspnea 4/10 on exertion, fatigue 6/10.", "pain_scale", False),
        # a foreign body into the eye is how it happened
        ("Grinding a bracket at ~0530 this AM; felt a speck hit R eye.", "injury_mechanism", True),
        # a goals list ends at a blank line: what follows is no goal, nor planned
        ("Goals:\n- Decrease pain\n- Improve ROM\n\nPt seen 2x/wk.", "poc_goals", False),
        ("Goals:\n1. Amb 150 ft indep.\n\nPain 8/10 after session.", "pain_scale", True),
        # a pre-procedure assessment is the history the procedure rests on
        (
            "Procedure note: TPI L trapezius.\nPre-procedure: LBP. Treated w/ chiropractic, HEP.",
            "conservative_care",
            True,
        ),
        # a bullet glyph at a line's start keeps the line: the next line's negation stays there
        (
            "Prior tx: \u27a2 PT 8 wks \u27a2 HEP ongoing\n\u25aa SLR negative",
            "conservative_care",
            True,
        ),
        # a goal's pain rating is to come, not today's
        ("A: knee OA.\nGoals:\nLTG: walk 45 min w/ pain </= 2/10.", "pain_scale", False),
        ("Pain with stairs and rising from chairs; 6/10 w/ stairs, 2/10 rest.", "pain_scale", True),
    ],
)
def test_phrasings_the_fresh_sets_taught(vocab, text, element, want):
    """What the development parts of the sets measured on arrival showed the reader misread."""
    assert bool(found(vocab, text).get(element, (False,))[0]) is want


@pytest.mark.parametrize(
    "text, element, affirmed, negated",
    [
        # a denial by "does not report" or a contraction is a denial: the verb stays in its clause
        ("Pt does not report any radiating pain into the legs.", "radicular_findings", False, True),
        ("She doesn't report radiating symptoms down the leg.", "radicular_findings", False, True),
        ("She doesnt report radiating symptoms down the leg.", "radicular_findings", False, True),
        ("He hasn't had any radiating pain down the leg.", "radicular_findings", False, True),
        ("Patient never reports radiating pain to the leg.", "radicular_findings", False, True),
        ("Pt reports radiating pain to the L leg.", "radicular_findings", True, False),
        # ability is no denial
        (
            "She can't sleep because of the pain shooting down her leg.",
            "radicular_findings",
            True,
            False,
        ),
        # a goal the patient "will report" is a goal
        ("By 8 weeks pt will report pain < 3/10 with ADLs.", "poc_goals", True, False),
    ],
)
def test_denials_and_goals_keep_their_verb(vocab, text, element, affirmed, negated):
    got = found(vocab, text).get(element, (False, False, None))
    assert (bool(got[0]), bool(got[1])) == (affirmed, negated)


@pytest.mark.parametrize(
    "text, element, want",
    [
        # home health's visit notation: twice a week for four weeks, then once a week
        ("Plan: Home health PT 2w4, 1w4.", "poc_frequency", True),
        ("Plan: Home health PT 2w4, 1w4.", "poc_duration", True),
        ("Plan: Est. length of treatment: 8 weeks", "poc_duration", True),
        (
            "Sustained a puncture wound to the R foot stepping on a nail Tuesday.",
            "injury_mechanism",
            True,
        ),
        (
            "A/P: #2 Vitamin D deficiency - recheck level, start D3 2000 IU daily.",
            "management",
            True,
        ),
        # onsets by a month or an event, whose weeks the note does not give
        ("HPI: Neck pain since August.", "onset_duration", True),
        ("HPI: His pain has been present since about March of this year.", "onset_duration", True),
        ("HPI: Duration of symptoms: since approximately 06/2026", "onset_duration", True),
        ("HPI: Back pain began after moving furniture in March.", "onset_duration", True),
        ("HPI: Neck pain that began after a rear-end MVC on 10/30/26.", "onset_duration", True),
        (
            "HPI: Low back pain since a motor vehicle collision on 07/04/2026.",
            "onset_duration",
            True,
        ),
        (
            "HPI: Onset after he slipped on a wet floor in May 2026, pain since then.",
            "onset_duration",
            True,
        ),
        ('HPI: Knee pain "for a long time," worse on ladders.', "onset_duration", True),
        # time off work is the leave's span, not the pain's
        ("HPI: Off work for 3 weeks due to back pain.", "onset_duration", False),
    ],
)
def test_visit_notation_lengths_of_treatment_and_onsets_by_month_or_event(
    vocab, text, element, want
):
    assert bool(found(vocab, text).get(element, (False,))[0]) is want


@pytest.mark.parametrize(
    "text, element, want",
    [
        # a section's name alone on its line is its header: the indications are the history
        (
            "INDICATIONS\n52-year-old with arm pain. Completed 4 weeks of physical therapy.",
            "conservative_care",
            True,
        ),
        (
            "HPI: Arm pain into the middle finger that started around Labor Day.",
            "onset_duration",
            True,
        ),
        # a template's radiation field
        ("Indications:\nPain Location: Low back, bilateral\nRadiation: None", "axial_pain", True),
        ("Radiation: R buttock -> lateral calf", "radicular_findings", True),
        ("Radiation: denies leg pain", "radicular_findings", False),
        ("HPI: Thoracic pain that does not wrap around the chest.", "axial_pain", True),
        ("HPI: cut R index finger w/ chef's knife while slicing onions.", "injury_mechanism", True),
        ("HPI: Child put a bead in his R ear 3 days ago.", "injury_mechanism", True),
        # a side's letter before more body parts
        ("PROC: I&D R axillary abscess.", "side_right", True),
        ("Exam: L great toe red, R TM clear.", "side_left", True),
        ("Vitals: HR 84 BP 124/80 R 16", "side_right", False),
        # a plan's length before the goals it names is the plan's, not a goal's time frame
        (
            "Plan: OT twice a week for the next 6 weeks, with the following goals: within 3 weeks she will button a shirt.",
            "poc_duration",
            True,
        ),
        # a referral after the care it names is a plan; a discharge section is the plan
        ("DISCHARGE: Pain 3/10. Physical therapy referral given.", "conservative_care", False),
        # a plan told after the goals, joined by "and", is no goal's time frame
        (
            "A: updated goals are grip >= 75% of L within 4 weeks, and he will continue hand therapy 1x/week for 4 more weeks.",
            "poc_duration",
            True,
        ),
        # a second problem worked up and splinted is managed
        (
            "A:\n1. Lac R forearm - repaired\n2. Sprain L wrist - separate eval w/ XR; wrist splint, ibuprofen",
            "separate_problem",
            True,
        ),
        ("A/P: 2. Sprain L wrist - XR neg; splint, ice, ibuprofen.", "management", True),
    ],
)
def test_bare_headers_template_fields_and_referrals(vocab, text, element, want):
    assert bool(found(vocab, text).get(element, (False,))[0]) is want


@pytest.mark.parametrize(
    "text, element, want",
    [
        # an onset told by its event and "since then", a dated episode, a field of its own
        (
            "HPI: Rear-ended at a stoplight on February 9, 2026. Since then right-sided neck pain.",
            "onset_duration",
            True,
        ),
        ("HPI: Leg pain since a lifting episode at the gym on 8/14/26.", "onset_duration", True),
        ("Onset/Duration: gradual; present for 2 years", "onset_duration", True),
        # "doing" is no DOI: a home program's span is not the pain's
        ("HPI: She has been doing a home program for the past 3 months.", "onset_duration", False),
        # care named after a slash (not "w/ pt", with the patient) and oral steroids; "despite"
        # makes no plan care received
        (
            "CLINICAL HISTORY: L S1 radiculopathy, 6 wks, failed PO steroids/PT.",
            "conservative_care",
            True,
        ),
        ("Plan: Start PT despite his reluctance.", "conservative_care", False),
        (
            "Plan: Despite the pain, will start physical therapy for 6 weeks.",
            "conservative_care",
            False,
        ),
        # mechanisms in sports and kitchen words, and a labelled date of a burn
        (
            "HPI: He was making an arm tackle when the ball carrier drove his arm back.",
            "injury_mechanism",
            True,
        ),
        (
            "HPI: Broke a drinking glass while washing dishes, shard cut L forearm.",
            "injury_mechanism",
            True,
        ),
        (
            "HPI: Slicing onions on a mandoline when the blade caught his finger.",
            "injury_mechanism",
            True,
        ),
        ("Date of burn: 02/24/2026\n\nHistory: spilled coffee on his hand.", "injury_date", True),
        # a form's unchecked options say nothing; its checked option is stated
        (
            "PLAN OF CARE\nFrequency: [ ] 1x/wk [x] 2x/wk\nDuration: [ ] 4 wks [x] 6 wks",
            "poc_duration",
            True,
        ),
        ("PRIOR TX: [ ] PT  [x] Injection", "conservative_care", False),
        ("GOALS      Target date\n1. Walk 30 min w/ pain <= 3/10   12/28/26", "poc_goals", True),
        # an insurance plan's visits a year are the payer's count, not the plan's length
        ("Insurance: commercial, 20 visits/yr", "poc_duration", False),
    ],
)
def test_onsets_by_event_form_boxes_and_payer_counts(vocab, text, element, want):
    assert bool(found(vocab, text).get(element, (False,))[0]) is want


@pytest.mark.parametrize(
    "text, element, want",
    [
        (
            "HPI: Leg pain since he slipped on the stairs at home on Nov 2, 2025, seen that night in our ED.",
            "onset_duration",
            True,
        ),
        ("HPI: cut dorsum L hand w/ pocketknife earlier today.", "injury_mechanism", True),
        ("HPI: cut dorsum L hand w/ pocketknife earlier today.", "injury_date", True),
        # a relative the history comes from is no family history
        (
            "HPI: According to the son, this evening she tripped on the rug and fell onto her hip.",
            "injury_date",
            True,
        ),
        # what makes the pain worse, activities joined by "and", is no mechanism
        (
            "HPI: Shoulder pain, worse with overhead reaching and lifting welding leads.",
            "injury_mechanism",
            False,
        ),
        # a progress note's interval is no plan length
        ("P: Skilled PT 2x/week. Progress note every 10 visits.", "poc_duration", False),
    ],
)
def test_onsets_told_by_the_patient_informants_and_review_intervals(vocab, text, element, want):
    assert bool(found(vocab, text).get(element, (False,))[0]) is want


@pytest.mark.parametrize(
    "text, element, want",
    [
        # a box before a sentence, or a form written label first, leaves the text be
        (
            "HPI: LBP radiating down the L leg x 3 months. Exam: SLR [ ] positive. Failed 8 weeks of PT.",
            "conservative_care",
            True,
        ),
        (
            "HPI: Pt is a 45 yo [ ] with low back pain radiating down the left leg.",
            "radicular_findings",
            True,
        ),
        ("PRIOR TX: [x] Meds (naproxen)  [ ] PT  [ ] Brace", "conservative_care", True),
        # "benefit" is the therapist's stock phrase, not an insurance benefit
        ("Plan: Patient will benefit from skilled PT 2x/week x 8 weeks.", "poc_duration", True),
        # a title-case header with its content on the line keeps the content
        (
            "Chief complaint   Low back pain\nHPI   Pain radiating down left leg",
            "radicular_findings",
            True,
        ),
        ("HPI: Low back pain. History obtained w/ pt and his wife.", "conservative_care", False),
        # "w/o relief" and "w/o assistive device" are pseudo-triggers, as their spelled-out forms
        (
            "HPI: Low back pain x 6 months, w/o relief from 8 weeks of PT or NSAIDs.",
            "conservative_care",
            True,
        ),
        (
            "HPI: Ambulates w/o assistive device, with pain radiating down the left leg.",
            "radicular_findings",
            True,
        ),
        # an emphatic "did note" after a denial is the finding
        ("HPI: He denies fever, did note numbness in the left foot.", "radicular_findings", True),
        ("Pain isn't relieved by ibuprofen or physical therapy.", "conservative_care", True),
        ("Pain hasnt improved with physical therapy.", "conservative_care", True),
        ("Pt doesnt smoke and has pain radiating down the left leg.", "radicular_findings", True),
        (
            "HPI: Low back pain with lifting boxes and carrying groceries.",
            "injury_mechanism",
            False,
        ),
        # an item of a plan list is no header
        (
            "Plan:\nStart gabapentin 300 mg\nImaging\nPhysical therapy 2x/week for 6 weeks",
            "conservative_care",
            False,
        ),
        # a span the pain has been gone for is no onset
        (
            "HPI: Low back pain. He has had no knee pain since he finished PT on 3/1/2024.",
            "onset_duration",
            False,
        ),
        ("HPI: Knee pain resolved since his knee replacement.", "onset_duration", False),
        (
            "HPI: Had a right TKA, knee pain resolved and he has done well ever since then.",
            "onset_duration",
            False,
        ),
        # an oncology history's radiation is no pain pattern
        (
            "HPI: Right knee pain.\nPMH: Breast cancer 2015. Chemotherapy: none. Radiation: none.",
            "axial_pain",
            False,
        ),
    ],
)
def test_what_the_review_of_the_sixth_session_found(vocab, text, element, want):
    """Defects a reviewer reproduced in this session's changes, each fixed."""
    assert bool(found(vocab, text).get(element, (False,))[0]) is want


@pytest.mark.parametrize(
    ("text", "element", "want"),
    [
        # what only sounds like an injury in real dictations: a test score or a lab value that fell or
        # dropped, trouble swallowing, an operation carried out, a pain's crushing quality, a range of
        # motion's eversion
        ("Overall, these results fell within normal limits.", "injury_mechanism", False),
        ("Her delayed recall fell in the high average range.", "injury_mechanism", False),
        ("Hematocrit of 31.2 that subsequently fell to 25.6.", "injury_mechanism", False),
        ("Hemoglobin has dropped from 12.6 to 10.2.", "injury_mechanism", False),
        ("O2 saturations dropped into the 80s with coughing spells.", "injury_mechanism", False),
        ("Swelling of lips causing difficulty swallowing.", "injury_mechanism", False),
        ("She is having a hard time swallowing at times.", "injury_mechanism", False),
        ("Barium swallow shows a small sliding hiatal hernia.", "injury_mechanism", False),
        ("Dissection was carried out proximally and distally.", "injury_mechanism", False),
        ("The pain is described by the patient as crushing.", "injury_mechanism", False),
        ("There were splinter-type hemorrhages under the fingernails.", "injury_mechanism", False),
        ("He dropped out of care six months ago.", "injury_mechanism", False),
        ("Mild right ankle laxity on eversion and inversion.", "injury_mechanism", False),
        ("Dorsiflexion, plantar flexion, eversion and toe flexion 4/5.", "injury_mechanism", False),
        # and what still is one
        ("Child swallowed a button battery, now difficulty swallowing.", "injury_mechanism", True),
        ("She dropped a box on her foot at work.", "injury_mechanism", True),
        ("He fell to the ground and hit his head.", "injury_mechanism", True),
        ("Rolled her ankle stepping off a curb, inversion injury.", "injury_mechanism", True),
        # "one and a half years ago", "the previous night", a date that names the accident after it
        (
            "Approximately one and a half years ago, he fell down while walking.",
            "injury_date",
            True,
        ),
        ("She slipped on ice two and a half weeks ago.", "injury_date", True),
        ("He fell down the stairs the previous night.", "injury_date", True),
        (
            "The findings on the MRI are secondary to the October 4, 2000, motor vehicle accident.",
            "injury_date",
            True,
        ),
        ("He is here for follow-up of the 2/14/26 work injury.", "injury_date", True),
        # an admission's date is still not the fall's
        ("The patient was admitted on 08/06/2007 after a fall.", "injury_date", False),
        # a backache is a pain
        ("Backache, stomachache, and dysuria for the last two days.", "onset_duration", True),
        # a place "next" in a row is no plan; a patient found on the floor dates the fall
        (
            "Pt jumped from one trampoline to the next, landed and twisted the ankle inward.",
            "injury_mechanism",
            True,
        ),
        ("At about 0600 today the aide found her sitting on the floor.", "injury_date", True),
        ("The aide found her lying on the bathroom floor at 0200.", "injury_date", True),
        # what makes the pain worse is no mechanism, with or without its preposition
        ("Pain worse lifting the arm overhead; slept poorly.", "injury_mechanism", False),
        ("Low back pain aggravated by bending and lifting.", "injury_mechanism", False),
        ("Back pain worse after lifting a heavy box at work yesterday.", "injury_mechanism", True),
        # "lac" is a laceration: the context of the time beside it
        ("HPI: 41 yo M c/o lac to L forearm ~2 hrs PTA.", "injury_date", True),
        # care told as an approach ("treated conservatively", "conservative modalities")
        ("She was treated conservatively over several months.", "conservative_care", True),
        ("The symptoms were unrelieved by conservative modalities.", "conservative_care", True),
        # a root's distribution with a symptom in it, or a one-sided reflex deficit, is a radicular
        # finding; symmetric or both-sided reflexes are none
        ("Severe weakness in the S1 nerve root distribution.", "radicular_findings", True),
        ("Pain in a left L5 distribution to the great toe.", "radicular_findings", True),
        ("Diminished left Achilles reflex.", "radicular_findings", True),
        ("Reflexes are 2+ in both knees and absent at both ankles.", "radicular_findings", False),
        ("Deep tendon reflexes are 2+ and symmetric throughout.", "radicular_findings", False),
        # pain the patient localizes to the midline: axial
        ("He localizes his pain to the midline lumbosacral region.", "axial_pain", True),
    ],
)
def test_phrasings_of_real_dictations_outside_the_gold_set(vocab, text, element, want):
    """Read from the real MTSamples notes outside the gold set's test part (the 1,069 no labeller
    took, and the development part): what the reader marked there and should not, and what it
    missed."""
    assert bool(found(vocab, text).get(element, (False,))[0]) is want


@pytest.mark.parametrize(
    ("text", "element", "want"),
    [
        # what makes the pain worse is blanked, an injury told beside it is not
        (
            "Right knee pain and increased swelling after falling off a ladder yesterday.",
            "injury_mechanism",
            True,
        ),
        (
            "Back pain acutely worse following lifting a 50 lb box at work.",
            "injury_mechanism",
            True,
        ),
        ("Knee pain was aggravated by slipping on ice this morning.", "injury_mechanism", True),
        # a fall from a height is no lab value; a room with a range of motion is no score's range
        ("Worker fell from 10 ft scaffolding onto concrete.", "injury_mechanism", True),
        ("Child fell from low wall at school.", "injury_mechanism", True),
        ("He fell to 1 knee on the ice.", "injury_mechanism", True),
        (
            "Patient fell in the kitchen with limited range of motion of the wrist.",
            "injury_mechanism",
            True,
        ),
        ("A heavy box dropped out of the truck onto his foot.", "injury_mechanism", True),
        # what was swallowed is the mechanism, the trouble swallowing is not
        ("Child with drooling and discomfort after swallowing a coin.", "injury_mechanism", True),
        (
            "Right ankle pain with inversion injury at soccer practice yesterday.",
            "injury_mechanism",
            True,
        ),
        (
            "He was in plantar flexion when he stepped off the curb, inversion of the ankle followed.",
            "injury_mechanism",
            True,
        ),
        # a normal root exam, a reflex that is no root's, both sides alike: no radicular finding
        ("Strength is 5/5 in the L2-S1 myotomes bilaterally.", "radicular_findings", False),
        ("Sensation intact in the L5 distribution.", "radicular_findings", False),
        ("Shingles in the right C6 distribution.", "radicular_findings", False),
        ("Absent cremasteric reflex on the left.", "radicular_findings", False),
        ("Right and left ankle jerks are absent.", "radicular_findings", False),
        (
            "Left Achilles reflex is 1+ and right Achilles reflex is 1+, symmetric.",
            "radicular_findings",
            False,
        ),
        # a date the injury only modifies is an encounter's; one the injury heads is the injury's
        ("CT head 3/3/26 trauma protocol negative after a fall.", "injury_date", False),
        ("Seen 3/3/26 fall risk assessment, she fell at home.", "injury_date", False),
        ("MRI on 3/3/26 motor vehicle accident follow-up.", "injury_date", False),
        ("The 2/14/26 work injury was evaluated in the ED.", "injury_date", True),
        # a failed localisation or a lesion's site is no axial pain, nor radiation never felt before
        ("He cannot localize the pain to the lower back.", "axial_pain", False),
        ("The weakness localizes to the cervical spine.", "axial_pain", False),
        ("He has never experienced radiating pain like this before.", "axial_pain", False),
        # "found ... down" and a long arm cast are no injury's time
        ("On Monday she found it difficult to sit down.", "injury_date", False),
        ("Pt in LAC since 3/3/26, no complaints.", "injury_date", False),
        # care that can be given is an option, not care received
        ("Nondisplaced fracture, can be managed conservatively.", "conservative_care", False),
        ("This may be managed conservatively.", "conservative_care", False),
        # a result with its sides ends its test: a finding after it stands
        (
            "Exam:\nSpurling negative bilaterally\nTaut bands with referred pain and twitch response:\n"
            "  - right upper trapezius",
            "trigger_point_findings",
            True,
        ),
        ("SLR negative bilaterally.", "radicular_findings", False),
        # a letter's "Our goals are as follows." opens the goals its next sentences state
        (
            "PT eval. Our goals are as follows. By 4 weeks, flexion to 145 degrees.\n\nPlan: 2x/week.",
            "poc_goals",
            True,
        ),
        ("The goals are met. Discharge from PT.", "poc_goals", False),
        # a work posture held for hours is how a strain happened
        (
            "He had to work with his neck extended and rotated for several hours.",
            "injury_mechanism",
            True,
        ),
        ("Neck extended for 2 hours during the MRI.", "injury_mechanism", False),
        (
            "HPI: Neck pain, worse with sustained postures such as reading.",
            "injury_mechanism",
            False,
        ),
        (
            "Exam was performed with the neck extended and rotated for 10 seconds.",
            "injury_mechanism",
            False,
        ),
        ("He jerked awake with arm pain.", "injury_mechanism", False),
        # a hockey check is an injury; checking into a hospital is an encounter
        ("He was checked into the boards on 11/20/26.", "injury_date", True),
        ("He checked into the ER on 3/3/26 after his knee pain worsened.", "injury_date", False),
        ("She fell, and on 11/30/26 presented to urgent care.", "injury_date", False),
        # a history of falls dates an earlier fall, not this one
        ("Hx of falls - last fall 09/2026 w/o injury.", "injury_date", False),
        ("History of falls, fell again this morning in the bathroom.", "injury_date", True),
        ("History of falls - last fall this morning, hit her head.", "injury_date", True),
        # jerked, pulled hard on; "worse w/" is "worse with"
        ("The load swung and jerked his right arm overhead.", "injury_mechanism", True),
        ("Arm pain after he pulled hard on a come-along.", "injury_mechanism", True),
        ("Pain dorsal wrist, worse w/ pushing up from chair.", "injury_mechanism", False),
        # a visit's plan for a guided injection to come is no guidance; a procedure told in a plan
        # section, or after its consent, is
        (
            "Plan: I recommend a left L4-L5 transforaminal epidural steroid injection under fluoroscopy.",
            "imaging_guidance",
            False,
        ),
        (
            "R L5-S1 transforaminal ESI under fluoroscopy to be scheduled.",
            "imaging_guidance",
            False,
        ),
        (
            "A/P: L knee OA. Arthrocentesis performed under ultrasound guidance today.",
            "imaging_guidance",
            True,
        ),
        ("Plan: Left L5 TFESI performed under fluoroscopy today.", "imaging_guidance", True),
        (
            "Procedure: The procedure will be performed under fluoroscopic guidance. The patient was "
            "placed prone and the L5-S1 level was injected.",
            "imaging_guidance",
            True,
        ),
        (
            "After discussing risks and benefits and obtaining verbal consent, I performed "
            "arthrocentesis of the left knee under ultrasound guidance.",
            "imaging_guidance",
            True,
        ),
        # a span after an injury told by its verb dates it
        (
            "The patient presents about two hours after being bitten on the right hand by a dog.",
            "injury_date",
            True,
        ),
        ("Follow up two weeks after starting therapy.", "injury_date", False),
        # p.r.n. is one word; facet arthrosis is the facet's pain
        ("She takes p.r.n. medications for the pain.", "conservative_care", True),
        ("Pain in the lumbar spine secondary to facet arthrosis.", "axial_pain", True),
    ],
)
def test_what_the_review_of_the_seventh_session_found(vocab, text, element, want):
    """Defects a reviewer reproduced in this session's changes, each fixed, and the causes found in
    the development parts of the sets LA-LF, KA-KF and JA-JF, of the real notes MS00-MS24, and the
    H round's one false alarm (HE003)."""
    assert bool(found(vocab, text).get(element, (False,))[0]) is want


@pytest.mark.parametrize(
    "text, element, want",
    [
        # a pivot told as the injury, not the exam's pivot shift or a transfer
        ("Pt tore R ACL playing basketball (non-contact pivot).", "injury_mechanism", True),
        ("Injured L knee playing soccer, planted and pivoted.", "injury_mechanism", True),
        ("Knee exam: pivot shift negative, Lachman 1A.", "injury_mechanism", False),
        ("Pt performs stand pivot transfer with min assist.", "injury_mechanism", False),
        # bending to pick something up as the event, not as what the pain limits
        ('She bent to pick up her toddler and felt a "pop."', "injury_mechanism", True),
        ("Low back pain began after bending to pick up a bag of salt.", "injury_mechanism", True),
        ("Difficulty bending to pick up objects from the floor.", "injury_mechanism", False),
        (
            'She felt a sharp "grab" in the back of her thigh at top speed.',
            "injury_mechanism",
            True,
        ),
        # an injury tied to what the patient was doing is its mechanism, as the reviewer's labels
        # read it ("while playing tennis she had a non-contact injury"), though some writers of
        # phrasings.csv label it absent
        ("He injured his right wrist while skateboarding.", "injury_mechanism", True),
        ("He hurt his back while lifting a tire onto his truck.", "injury_mechanism", True),
        ("R hand pain after punching a locker.", "injury_mechanism", True),
        (
            "Ankle pain after colliding with a player and rolling the ankle.",
            "injury_mechanism",
            True,
        ),
        ("Rolling the ankle on exam reproduces the pain.", "injury_mechanism", False),
        ("62 yo carpenter with a nail-gun puncture to the L palm.", "injury_mechanism", True),
        ("Her L leg got caught against the footplate of the lift.", "injury_mechanism", True),
        ("Helmeted motorcyclist who laid his bike down at 45 mph.", "injury_mechanism", True),
        ("Received an electrical shock from a live 120V wire.", "injury_mechanism", True),
        (
            "While operating a string trimmer, a rock was thrown into his R eye.",
            "injury_mechanism",
            True,
        ),
        ("Took a helmet-to-thigh hit from a linebacker in the game.", "injury_mechanism", True),
        # a time of injury after "injured", or before a dash
        ("Arrived 0305, injured ~0100. Assaulted outside a bar.", "injury_date", True),
        ("Injured at 2130 - was cutting a bagel and the knife slipped.", "injury_date", True),
        # a span since an event without an article; a drug on a schedule is care, not a plan
        ("HPI: Back pain since admission on 11/02/2026.", "onset_duration", True),
        ("HPI: Receiving PT and scheduled acetaminophen.", "conservative_care", True),
        ("HPI: She is scheduled for physical therapy.", "conservative_care", False),
        # a pain rated today and a report dated a day date no injury
        (
            "HPI: Felt a pop lifting a carton at work. He rates his pain today at 6/10, worst "
            "when lying on the right side.",
            "injury_date",
            False,
        ),
        (
            "HPI: CT from the ED, dated 11/16/2026, which describes a fracture of the C7 spinous "
            "process.",
            "injury_date",
            False,
        ),
        ("HPI: He fell off a ladder today and rates his pain at 8/10.", "injury_date", True),
        # care without an operation is no encounter; a skin tear is an injury to date
        (
            "HPI: Fracture distal R radius (fell on outstretched hand in parking lot 01/24/2026), "
            "treated non-operatively.",
            "injury_date",
            True,
        ),
        ("HPI: Skin tear R forearm present since 11/16/2026.", "injury_date", True),
        # an intake form's questions and their answers; a field answered "No"
        (
            "Have you had physical therapy? No\nHave you seen a chiropractor? No",
            "conservative_care",
            False,
        ),
        ("Have you had physical therapy? Yes, 6 visits", "conservative_care", True),
        (
            "How long have you had back pain? 6 weeks\nMedications tried: none",
            "onset_duration",
            True,
        ),
        ("Where is your pain? Neck, R arm\nWhen did it start? 9/1/26", "onset_duration", True),
        ("Radiating pain: No", "radicular_findings", False),
        ("Radiating pain: Yes, down the L leg", "radicular_findings", True),
        # care named with its frequency; care by its brand, device or the chiropractor's adjustment
        ("S: Continuing PT 2x/week.", "conservative_care", True),
        ("S: He has been using his muscle relaxer and a heating pad.", "conservative_care", True),
        ("S: Using an inversion table at home; wears an SI belt.", "conservative_care", True),
        ("S: Adjusted L4, L5 today, pt tolerated well.", "conservative_care", True),
        ("S: Dose adjusted last month.", "conservative_care", False),
        (
            "S: Currently on restricted duty, no mailbag on the right shoulder.",
            "conservative_care",
            True,
        ),
        ("HPI: Pain with stretching of the hamstrings.", "conservative_care", False),
        ("S: Daughter gives him Tylenol 500 mg BID.", "conservative_care", True),
        # advice, an appointment or agreement to a plan is no care received
        ("S: LBP. Advised alternating ice/heat and OTC naproxen.", "conservative_care", False),
        ("S: I have an appointment with the chiropractor on Friday.", "conservative_care", False),
        ("S: Pt agreeable to POC incl manual tx and HEP.", "conservative_care", False),
        # a letter's thanks for the referral is no plan; a decade is a span; since a weekday
        (
            "Dear Dr. F, thank you for referring Ms. L, a 39-year-old teacher with a 6-month history "
            "of neck pain.",
            "onset_duration",
            True,
        ),
        ("HPI: Her low back pain has been present for more than a decade.", "onset_duration", True),
        ("S: Acute low back spasm since Thursday morning.", "onset_duration", True),
        ("HPI: My lower back started hurting last Tuesday.", "onset_duration", True),
        ("Reason: 30-day re-exam, neck.", "onset_duration", False),
        # an instruction's span is no duration; a visit counted against its plan refers to the plan
        ("POST-PROCEDURE: Pain diary for 2 weeks.", "onset_duration", False),
        ("DOS: 11/25/2026    Visit 5 of plan (initial exam 11/02/2026)", "plan_of_care", True),
        # what a reviewer of this session's change reproduced, each fixed
        ("Did physical therapy help? No", "conservative_care", True),
        ("Radiating pain improved: No", "radicular_findings", True),
        (
            "Plan: He will be attending physical therapy 2x/week for 6 weeks.",
            "conservative_care",
            False,
        ),
        ("Per the attending, will start physical therapy next week.", "conservative_care", False),
        ("Pt 45 yo M with low back pain for 3 months.", "conservative_care", False),
        (
            "His PCP advised ibuprofen, which he took for 6 weeks without relief.",
            "conservative_care",
            True,
        ),
        (
            "He had an appointment with the chiropractor weekly for 2 months.",
            "conservative_care",
            True,
        ),
        (
            "Patient was advised of the risks and an interlaminar ESI L4-L5 was performed under "
            "fluoroscopy with contrast.",
            "imaging_guidance",
            True,
        ),
        ("Neck pain into the right arm with electric shock-like pain.", "injury_mechanism", False),
        ("Back pain when bending to pick up objects from the floor.", "injury_mechanism", False),
        ("Patient pivoted from bed to chair with minimal assist.", "injury_mechanism", False),
        ("He was shocked by the MRI findings.", "injury_mechanism", False),
        (
            "HPI: He sustained an industrial injury dated 03/14/2026 while lifting a box.",
            "injury_date",
            True,
        ),
        (
            "Patient present for evaluation on 09/15/2026 after a fall at work.",
            "injury_date",
            False,
        ),
        ("After the fall he took ibuprofen at 1200 - 1600 mg a day.", "injury_date", False),
        # read over the real MTSamples notes outside the gold test part: a prothrombin time is no
        # physical therapy (15 notes' lab lines had read as care), a plan's "start" opens no onset
        ("Labs: PT 12.6, PTT 29, INR 1.1.", "conservative_care", False),
        (
            "We will then start gentle Codman exercises until the 4-6 week point.",
            "onset_duration",
            False,
        ),
        # the ninth session's fresh phrasings (PH1561-PH2040): an injury told by a relative or
        # caused by one is the patient's
        (
            "Woke at 0500 with R eye pain after his daughter scratched his eye with her fingernail "
            "at about 0300.",
            "injury_mechanism",
            True,
        ),
        (
            "Son called in: Dad fell in the bathroom early this morning, now c/o R hip pain.",
            "injury_date",
            True,
        ),
        ("Father died in motor vehicle accident at age 40 years.", "injury_mechanism", False),
        # what the patient went without is no denial of what happened
        (
            "Grinding metal w/o safety glasses, felt something fly into his L eye.",
            "injury_mechanism",
            True,
        ),
        (
            "C/o R foot pain after dropping a 25 lb dumbbell on it at the gym.",
            "injury_mechanism",
            True,
        ),
        (
            "He caught the tip of his left middle finger in the log splitter 3 days ago.",
            "injury_mechanism",
            True,
        ),
        ("She missed the last two steps going down to the basement.", "injury_mechanism", True),
        (
            "Electrician contacted a live 240V line with his R hand at 1015 today.",
            "injury_mechanism",
            True,
        ),
        (
            "Found in the driveway; unclear whether he fell or was struck.",
            "injury_mechanism",
            False,
        ),
        # no injury, or none the patient knows of, dates none; nor do an operation, a stay, an old
        # injury in a history, or a form's own date
        ("R knee pain x 1 week, denies any injury or trauma.", "injury_date", False),
        (
            "Mallet deformity; pt unaware of any injury, noticed it 2 weeks ago.",
            "injury_date",
            False,
        ),
        (
            "C/o R elbow pain after he struck it on a door frame, unsure when that was.",
            "injury_date",
            False,
        ),
        ("EE injured L knee on the job, s/p arthroscopy 10/20/2026.", "injury_date", False),
        (
            "She was admitted 11/12/2026-11/17/2026 with a femur fracture, treated with a plate on "
            "11/13.",
            "injury_date",
            False,
        ),
        ("Hx L wrist fx after a fall in 2019.", "injury_date", False),
        (
            "Past history includes a right hip fracture treated with a nail in 2021.",
            "injury_date",
            False,
        ),
        # a Y/N field answered N: no care
        ("Tried PT/chiro Y/N: N", "conservative_care", False),
        # a comma and a new predicate end a denial's scope; a corset and stretches that help are care
        (
            "Back pain began 6 weeks ago with no specific injury, has been wearing a lumbar support "
            "brace at work.",
            "conservative_care",
            True,
        ),
        (
            "A lumbar corset was fitted at his last visit and he reports it helps.",
            "conservative_care",
            True,
        ),
        ("The stretches you gave me help a little.", "conservative_care", True),
        # and its second round (PH2041-PH2520): sports, spine practices, chiropractic and primary
        # care, transcribed dictation
        ("Received a knee to the thigh during Tuesday's scrimmage.", "injury_mechanism", True),
        (
            "RB took a direct helmet hit to the L anterior thigh in yesterday's practice.",
            "injury_mechanism",
            True,
        ),
        ("Fell down 4 stairs carrying laundry Mon 11/30, landed on R hip.", "injury_date", True),
        ("67F s/p fall at home ~0630, tripped on a throw rug.", "injury_date", True),
        ("Presents 1 wk after a fender-bender in the store lot.", "injury_date", True),
        ("D/I: 06-19-2026", "injury_date", True),
        (
            "He had a previous work injury to the same area on 02/11/2019, claim closed.",
            "injury_date",
            False,
        ),
        (
            "Hurt his R shoulder at practice. Not sure how it happened, noticed pain after the "
            "tackling drill.",
            "injury_mechanism",
            False,
        ),
        (
            "Injured her R knee skiing; does not recall a specific fall or twist.",
            "injury_mechanism",
            False,
        ),
        (
            "Pain began when she was transferring a 250-lb patient from bed to wheelchair.",
            "injury_mechanism",
            True,
        ),
        (
            "She was walking her dog when the leash wrapped around her hand and she was pulled "
            "forward onto the sidewalk.",
            "injury_mechanism",
            True,
        ),
        ("Held from throwing x 1 week by AT, doing core stabilization.", "conservative_care", True),
        ("HEP handout given today to start.", "conservative_care", False),
        (
            "No therapy yet; I referred him to Dr. S at Riverside Chiropractic.",
            "conservative_care",
            False,
        ),
        ("How long have you had it? 6 weeks", "onset_duration", True),
        ("Lumbar pain beginning 11/03/2026 without injury.", "onset_duration", True),
        (
            "Back hurts. Since I started the new job at the warehouse on August 3rd.",
            "onset_duration",
            True,
        ),
        ("His back went out last Tuesday when he bent to tie his shoe.", "onset_duration", True),
        # set GG: lifting one's own arm is no mechanism
        ("He notices weakness lifting his arm to shoulder height.", "injury_mechanism", False),
        ("She lifted her arm and felt a pop.", "injury_mechanism", True),
        # what a reviewer of the session's change reproduced, each fixed
        (
            "Tripped over a curb and fell this morning, does not recall if he lost consciousness.",
            "injury_mechanism",
            True,
        ),
        ("Fell from a ladder yesterday, no other trauma.", "injury_date", True),
        ("He was asymptomatic prior to the injury on 10/14/2026.", "injury_date", True),
        ("52-year-old male with injury on 11/3/2026 while lifting at work.", "injury_date", True),
        (
            "Low back pain. He went out of town for 3 months to help his brother.",
            "onset_duration",
            False,
        ),
        (
            "Low back pain x 6 months with referred pain to the buttocks without radiation below the "
            "knee.",
            "axial_pain",
            True,
        ),
        (
            "Treated with rest and ibuprofen and avoided running for 6 weeks.",
            "conservative_care",
            True,
        ),
        (
            "He does not remember a specific time, slipped on a wet floor at work 3 weeks ago.",
            "injury_mechanism",
            True,
        ),
        (
            "She has been caring for her mother who fractured her hip on 10/15/2026.",
            "injury_date",
            False,
        ),
        (
            "His father injured his back in a fall in 2020 and now the patient does the heavy lifting.",
            "injury_mechanism",
            False,
        ),
        (
            "Since she was involved in an MVC on 9/14/2026, she has had neck pain.",
            "onset_duration",
            True,
        ),
        (
            "Roofer who works without fall protection. Low back pain x 3 months, no injury.",
            "injury_mechanism",
            False,
        ),
        (
            "She reports numbness in her hands and dropping things on the floor.",
            "injury_mechanism",
            False,
        ),
        ("She has pain and stiffness turning her head to the side.", "injury_mechanism", False),
        ("He is now taking full weight on the ankle with mild pain.", "injury_mechanism", False),
        (
            "HEP handout given at last visit and he has been doing it daily.",
            "conservative_care",
            True,
        ),
        ("Off work beginning 10/1/2026 due to back pain.", "onset_duration", False),
        # a third round (PH2521-PH2760: ED physicians, orthopedic and podiatry follow-ups)
        ("Kicked the bed frame at 0300 getting up to use the bathroom.", "injury_date", True),
        ("Pt slid into 2nd base headfirst 11/8 and jammed L thumb.", "injury_date", True),
        (
            "Originally slipped on wet leaves on her porch 10/30, splinted at the ED.",
            "injury_date",
            True,
        ),
        ("Injured her R wrist earlier that morning at cheer practice.", "injury_date", True),
        ("Assaulted outside a bar at closing (~0200), punched in the face.", "injury_date", True),
        (
            "Hurt R elbow when he was thrown and posted his arm during practice.",
            "injury_mechanism",
            True,
        ),
        ("Accidentally fired a framing nail into his L hand this AM.", "injury_mechanism", True),
        (
            "Prior R ankle fx 2019 from a fall off a bike, ORIF at that time.",
            "injury_mechanism",
            False,
        ),
        ("He twisted his ankle; strength 4/5 in eversion.", "injury_date", False),
        ("Pt presents 12/04/2026 at 1305 for L hand laceration.", "injury_date", False),
        (
            "Date of injury: ____\nToday's date: 12/01/2026\nPain location: R knee laceration",
            "injury_date",
            False,
        ),
        ("Neck and upper back pain since being rear-ended 11/2/26.", "onset_duration", True),
        ("Onset of symptoms: 08/15/2026", "onset_duration", True),
        ("Cervical radic C6 R, 3 wks.", "onset_duration", True),
        # set GJ: a purpose before a story's "when" plans nothing after it
        (
            "He was walking across the dock to get a pallet jack when he slipped and fell.",
            "injury_mechanism",
            True,
        ),
        (
            "Will refer to PT after the injection and start meloxicam if no GI issues.",
            "conservative_care",
            False,
        ),
        # set GI: a date reported to the employer is no injury date
        (
            "Mechanism: struck on the R forearm by a 2x4.\nDate reported to employer: 11/19/2026",
            "injury_date",
            False,
        ),
        # sets GF and GH: a rating told as a grade, a throbbing lump's rating
        ("She grades it 5/10 most days and 7/10 after a full schedule.", "pain_scale", True),
        ("R axillary lump, enlarging, throbbing, now 7/10.", "pain_scale", True),
        # a dictation's comma splice ends a clause; an opening phrase without a verb does not
        (
            "The patient is a 46-year-old who was struck by a falling tree limb while clearing "
            "brush, he has a history of a rotator cuff repair in 2013.",
            "injury_date",
            False,
        ),
        (
            "He was the driver of a car that struck a guardrail, he denies hitting his head, he is "
            "on aspirin following coronary stenting in 2024.",
            "injury_date",
            False,
        ),
        (
            "Approximately five weeks prior to his presentation, the patient was involved in a "
            "motor vehicle accident.",
            "injury_date",
            True,
        ),
        # tenth session (PH2761-PH3240): a study "w/o" contrast denies nothing; "overnight"
        (
            "CT C-spine w/o: 78F ground level fall at nursing home overnight.",
            "injury_mechanism",
            True,
        ),
        ("CT C-spine w/o: 78F ground level fall at nursing home overnight.", "injury_date", True),
        ("CT head w/o acute abnormality; no fracture.", "imaging_findings", False),
        # a street's abbreviation ends no sentence
        (
            "She was struck by a cyclist while crossing Harmon St. on Tuesday, knocked down.",
            "injury_date",
            True,
        ),
        # a referral's reason is no plan; "has not yet tried" is one denial
        (
            "Reason for referral: Cervicalgia x 4 months with occipital headaches.",
            "onset_duration",
            True,
        ),
        (
            "She has not yet tried physical therapy or any medications. We will refer her to physical "
            "therapy, 2 times per week for 6 weeks, and start a trial of naproxen 500 mg twice daily.",
            "conservative_care",
            False,
        ),
        (
            "Not on any treatment. Will get T-spine films; start acetaminophen 650 q6h prn.",
            "conservative_care",
            False,
        ),
        ("He started PT 6 weeks ago and continues it.", "conservative_care", True),
        # a denial opened in parentheses ends with them
        (
            "Has been doing activity modification (no lifting, limited stairs) per her PCP and takes "
            "ibuprofen prn.",
            "conservative_care",
            True,
        ),
        ("He denies numbness (no tingling) and weakness.", "radicular_findings", False),
        ("Sitting out practice this week and icing.", "conservative_care", True),
        # an old injury told as "prior"; an unspecified incident
        (
            "Pt denies recent fall. Prior L shoulder dislocation in 2015 after a fall from a ladder.",
            "injury_date",
            False,
        ),
        ("Facial lacerations from an incident at a party 2 nights ago.", "injury_mechanism", False),
        ("States he banged up his back on 11/11/26.", "injury_mechanism", False),
        (
            "He was involved in an accident at his son's farm and injured his leg.",
            "injury_mechanism",
            False,
        ),
        ("He was involved in a rollover on 11/2.", "injury_mechanism", True),
        # mechanisms and dates in more words
        (
            "Laceration to the right wrist from a mandoline slicer at work.",
            "injury_mechanism",
            True,
        ),
        (
            "Sustained a high-pressure grease gun injection injury to the L index finger.",
            "injury_mechanism",
            True,
        ),
        ("3 yo pulled up by the arm by caregiver earlier today.", "injury_date", True),
        (
            "Reports he got into a fistfight outside a bar the day after Christmas.",
            "injury_date",
            True,
        ),
        ("A car door swung open into her L elbow on Black Friday.", "injury_mechanism", True),
        ("On Veterans Day he stepped in a hole and twisted the right knee.", "injury_date", True),
        ("Assaulted 12/05, punched multiple times in face.", "injury_date", True),
        ("Hit in the L eye with a hockey puck 11/29 during a game.", "injury_date", True),
        (
            "She was bending to pick up her grandson when she felt a 'pop' in her neck.",
            "injury_mechanism",
            True,
        ),
        (
            "Her husband grabbed her by the arms and shoved her against the refrigerator.",
            "injury_mechanism",
            True,
        ),
        ("LBP since he 'threw his back out' over the weekend.", "injury_date", True),
        # its second round (PH3241-PH3720): an old or earlier injury's date; a report's; a gradual onset
        (
            "She has a prior right ankle fracture from a fall off a bike on 05/05/2018.",
            "injury_date",
            False,
        ),
        ("Previous R hamstring strain 10/04/2026 (grade I).", "injury_date", False),
        (
            "Previous L shoulder anterior dislocation 03/14/2026 (reduced in ED).",
            "injury_date",
            False,
        ),
        (
            "Mother states he had a similar injury two years ago to the same wrist.",
            "injury_date",
            False,
        ),
        (
            "Records include the employer's first report of injury dated 10/13/2026.",
            "injury_date",
            False,
        ),
        (
            "Denies any trauma. Pain started gradually 3 weeks ago after painting.",
            "injury_date",
            False,
        ),
        (
            "I saw her in clinic on December 2, 2026, for knee pain after she collided with a teammate.",
            "injury_date",
            False,
        ),
        ("He cut his hand on a table saw on 11/2.", "injury_date", True),
        (
            "On 06/20/2026 he dove into the shallow end, where no depth markings were posted.",
            "injury_mechanism",
            True,
        ),
        ("Neck pain and stiffness since waking 11/29/26.", "onset_duration", True),
        ("He has been working with a physical therapist weekly.", "conservative_care", True),
        # set GL: care given before arrival dates nothing
        (
            "Mechanism: fell from a ladder. Treatment prior to arrival: ice pack.",
            "injury_date",
            False,
        ),
        ("He fell from a ladder 2 hours prior to arrival.", "injury_date", True),
        # its third round (PH3721-PH4200): patients' spellings, farm and road mechanisms, a brace
        ("i fell off the step ladder last nite cleaning the gutters.", "injury_date", True),
        ("i think i broke my toe last nite lol its purple.", "injury_date", True),
        ("i messed up my neck at the gym a couple days ago.", "injury_date", True),
        (
            "He fell asleep at the wheel and went in the ditch friday night.",
            "injury_mechanism",
            True,
        ),
        ("Metal sliver into L eye grinding on a disc harrow yesterday.", "injury_mechanism", True),
        ("Glancing blow to L shin from a splitting maul ~1 hr PTA.", "injury_date", True),
        (
            "Thrown against the steering wheel when his log truck jackknifed.",
            "injury_mechanism",
            True,
        ),
        ("c/o neck pain after an accident. Hx MVC 2015 w/ C5-6 fusion.", "injury_mechanism", False),
        ("T8 compression fx. Fitted for TLSO in clinic today.", "conservative_care", True),
        # set GM: a plan of care as a two-column table
        ("PLAN OF CARE\n| Frequency | 2x/week |\n| Duration  | 8 weeks |", "poc_duration", True),
        # eleventh session: a new subject after "and" ends a denial's scope
        (
            "Got up around 0300 without his walker and he fell backward, striking his head.",
            "injury_mechanism",
            True,
        ),
        ("He denies any fall and he did not hit his head.", "injury_mechanism", False),
        # set GR: "considerably" considers nothing
        (
            "Low back pain with pain in both legs for about 2 years, considerably worse over the"
            " last 6 months.",
            "onset_duration",
            True,
        ),
        # set GQ: goals without a measure, another note's goals and their status by number, and a
        # medication list's and a follow-up's spans are no plan of care
        (
            "GOALS:\n1. Improve independence with LB dressing.\n2. Increase activity tolerance.",
            "poc_goals",
            False,
        ),
        ("GOALS:\n1. Pt will complete LB dressing independently in 4 weeks.", "poc_goals", True),
        (
            "GOALS: No changes to goals - see initial evaluation dated 09/14/2026 for STG/LTG."
            " Goal status: STG 1 met, STG 2 met; LTG 1-4 not met.",
            "poc_goals",
            False,
        ),
        ("ASSESSMENT: Progressing (3/4 STG met by PR 10/15).", "poc_goals", False),
        (
            "PMH: HTN. Meds: clopidogrel (through 11/14/2026).\nNeurology f/u 02/2027 (3 months).",
            "poc_duration",
            False,
        ),
        ("PLAN: OT 2x/week (8 weeks).", "poc_duration", True),
        # a start on the day after a holiday
        ("LBP since the day after Thanksgiving, when she moved a couch.", "onset_duration", True),
    ],
)
def test_what_the_later_sessions_found(vocab, text, element, want):
    """Causes found in the development part of the gold set and in the fresh phrasings of the eighth
    session (PH841-PH1320) and sets GA and GB, of the ninth (PH1561-PH2520), and of the tenth
    (PH2761-PH4200) and eleventh sessions."""
    assert bool(found(vocab, text).get(element, (False,))[0]) is want


@pytest.mark.parametrize(
    "clause, day",
    [
        ("has been on gabapentin since 10/29/2026", date(2026, 10, 29)),
        ("onset 08/03/2026 after lifting", date(2026, 8, 3)),
        ("he started a medrol dosepak on 10/01/2026 (brief relief)", date(2026, 10, 1)),
        ("pain since march 3, 2026", date(2026, 3, 3)),
        ("since 03/2026", date(2026, 3, 1)),
        ("since 9/2/26", date(2026, 9, 2)),
        ("onset 2026-07-04", date(2026, 7, 4)),
        # a month and day without a year, a year alone, no date, an impossible date: no start
        ("since 10/15 worse at night", None),
        ("since 2019", None),
        ("started 3 weeks ago", None),
        ("since 13/45/2026", None),
        # a car "rear-ended" stopped no care
        ("l-sided neck pain since mvc 04/2024 (restrained driver, rear-ended)", date(2024, 4, 1)),
        ("started gabapentin on 06/01/2026, self-discontinued due to dizziness", None),
    ],
)
def test_the_date_a_span_started_on(clause, day):
    """A start date, which the rules count to the claim's service date (tests/rules/cases/DOC002.yaml)."""
    got = pl.select(temporal.started(pl.lit(clause))).item()
    assert got == day
