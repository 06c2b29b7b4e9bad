"""The documentation gold set (tests/data/notes_gold): loading it, splitting it, and scoring the note
reader and the documentation rules against it.

Each labelled note becomes a claim built from the codes its labeller billed, with the note attached,
and goes through `cleanclaim validate` like any extract. Two scores:

- per element: is each element the labeller judged for the note documented (present, or, for
  radicular findings, documented as negative) or not, and does the note index agree;
- per rule: a documentation rule that applies to the claim (by its codes) should fire exactly when
  the labels say an element it requires is missing.

The test part (a fixed third of the notes, by a hash of the note id) is only reported, never tuned on.
"""

from __future__ import annotations

import json
import re
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import polars as pl

GOLD = Path(__file__).resolve().parent / "data" / "notes_gold"
MTSAMPLES = Path(__file__).resolve().parent / "data" / "notes" / "mtsamples_dev.csv"
# 25 more real MTSamples notes (pain procedures, therapy, spine visits), not in mtsamples_dev.csv:
# labelled as MS00-MS24 by their 0-based row
SUBSET = Path(__file__).resolve().parent / "data" / "notes" / "mtsamples_neck_back_subset.csv"
SERVICE_DATE = "2026-06-15"
AS_OF = "2026-06-30"

# gold element -> what in the product's note index documents it (any of them; a tuple in a list:
# all of them)
ELEMENTS = {
    "radicular_findings": ("radicular_findings", "neurogenic_claudication"),
    "pain_duration": ("onset_duration",),
    "conservative_care": ("conservative_care", "prior_relief"),
    "pain_scale": ("pain_scale", "function_scale"),
    "imaging_guidance": ("imaging_guidance",),
    "axial_vs_radicular": ("axial_pain", "radicular_findings"),
    "muscles_named": ("muscles_named",),
    "plan_of_care": [("poc_goals", "poc_frequency", "poc_duration")],
    "injury_mechanism": ("injury_mechanism",),
    "injury_date": ("injury_date",),
    "separate_problem": ("separate_problem",),
    "laterality_site": ("laterality",),
}
# a documented negative answers the question for these (LABELLING.md section 6)
NEGATIVE_DOCUMENTS = {"radicular_findings"}
# rule -> the gold elements whose absence it reports
RULE_ELEMENTS = {
    "DOC002": [
        "radicular_findings",
        "pain_duration",
        "conservative_care",
        "pain_scale",
        "imaging_guidance",
    ],
    "DOC003": ["axial_vs_radicular", "pain_duration", "pain_scale"],
    "DOC004": ["muscles_named"],
    "DOC012": ["plan_of_care"],
    "DOC006": ["injury_mechanism", "injury_date"],
    "DOC008": ["separate_problem"],
}


def _injury_pattern() -> re.Pattern:
    """INJ001's injury codes (not adverse effects or underdosing), read from its YAML: a claim
    coded so reports its accident, as a billing office would."""
    from cleanclaim.validators.catalog import load_catalog

    return re.compile(load_catalog().params["INJ001"].dx_pattern)


def is_test(note_id: str) -> bool:
    """The fixed test part: a third of the notes by a hash of the id, so a note never moves part."""
    return zlib.crc32(note_id.encode()) % 3 == 0


@dataclass(frozen=True)
class Gold:
    labels: dict[str, dict]  # note_id -> the labeller's entry (labels.json schema)
    texts: dict[str, str]  # note_id -> note text

    def part(self, test: bool) -> Gold:
        keep = {k: v for k, v in self.labels.items() if is_test(k) == test}
        return Gold(keep, {k: self.texts[k] for k in keep})


def load_gold() -> Gold:
    labels: dict[str, dict] = {}
    for path in sorted(GOLD.glob("labels_*.json")):
        for note_id, entry in json.loads(path.read_text()).items():
            labels.setdefault(note_id, entry)
    texts = dict(
        pl.read_csv(MTSAMPLES, infer_schema=False)
        .filter(pl.col("note_id").is_in(list(labels)))
        .select("note_id", "note_text")
        .iter_rows()
    )
    texts |= {
        f"MS{row:02d}": text
        for row, text in enumerate(pl.read_csv(SUBSET, infer_schema=False)["transcription"])
    }
    written = GOLD / "written_notes.csv"
    if written.exists():
        texts |= dict(
            pl.read_csv(written, infer_schema=False).select("note_id", "note_text").iter_rows()
        )
    labels = {k: v for k, v in labels.items() if k in texts}
    return Gold(labels, texts)


def documented(entry: dict, element: str) -> bool:
    label = entry["elements"][element]
    status = label["status"]
    if "components" in label:  # a plan of care counts with its goals, frequency and duration
        return all(c.get("present") for c in label["components"].values())
    return status == "present" or (status == "negated" and element in NEGATIVE_DOCUMENTS)


def element_predictions(gold: Gold, note_index) -> pl.DataFrame:
    """(note_id, element, gold, predicted): documented or not, per labelled element."""
    has = {}
    for row in note_index.elements().iter_rows(named=True):
        if row["affirmed"] or (row["negated"] and row["element"] in ("radicular_findings",)):
            has.setdefault(row[note_index.key], set()).add(row["element"])
    rows = []
    for note_id, entry in gold.labels.items():
        for element in entry["elements"]:
            if element not in ELEMENTS:
                continue
            found = has.get(note_id, set())
            wanted = ELEMENTS[element]
            predicted = (
                set(wanted[0]) <= found if isinstance(wanted, list) else bool(set(wanted) & found)
            )
            rows.append((note_id, element, documented(entry, element), predicted))
    return pl.DataFrame(rows, schema=["note_id", "element", "gold", "predicted"], orient="row")


def scores(frame: pl.DataFrame, by: str) -> pl.DataFrame:
    """Precision and recall of reporting a missing element (the positive class: not documented)."""
    missing_gold, missing_pred = ~pl.col("gold"), ~pl.col("predicted")
    return (
        frame.group_by(by)
        .agg(
            (missing_gold & missing_pred).sum().alias("tp"),
            (~missing_gold & missing_pred).sum().alias("fp"),
            (missing_gold & ~missing_pred).sum().alias("fn"),
            pl.len().alias("n"),
        )
        .with_columns(
            (pl.col("tp") / (pl.col("tp") + pl.col("fp"))).alias("precision"),
            (pl.col("tp") / (pl.col("tp") + pl.col("fn"))).alias("recall"),
        )
        .sort(by)
    )


def claim_rows(gold: Gold) -> tuple[list[dict], list[dict]]:
    """Claim lines and notes (claim id = note id) from the codes each note's labeller billed."""
    lines, notes = [], []
    injury = _injury_pattern()
    for note_id, entry in gold.labels.items():
        codes = entry["codes"]
        dx = codes["icd10cm"][:12] or ["R69"]
        services = codes["cpt"] + [
            {"code": h["code"], "units": h.get("units") or 1, "modifiers": [], "dx": []}
            for h in codes.get("hcpcs", [])
        ]
        for number, line in enumerate(services, 1):
            pointers = [str(dx.index(d) + 1) for d in line.get("dx", []) if d in dx][:4] or ["1"]
            modifiers = (line.get("modifiers") or [])[:4]
            lines.append(
                {
                    "claim_id": note_id,
                    "line_number": str(number),
                    "patient_id": f"P{note_id}",
                    "patient_dob": "1965-03-01",
                    "patient_sex": "U",  # the labels do not record it; U is X12's unknown
                    "payer_id": "BCBS1",
                    "billing_npi": "1049827367",
                    "rendering_npi": "1937462517",
                    "place_of_service": "11",
                    "service_date": SERVICE_DATE,
                    "procedure_code": line["code"],
                    **{f"modifier_{i}": m for i, m in enumerate(modifiers, 1)},
                    "units": str(line.get("units") or 1),
                    "charge_amount": "100.00",
                    "diagnosis_pointers": ",".join(pointers),
                    **{f"dx_{i}": d for i, d in enumerate(dx, 1)},
                    # a claim coded for an injury reports its accident, as the billing office would
                    **(
                        {"injury_date": SERVICE_DATE, "accident_indicator": "OA"}
                        if any(injury.match(code.replace(".", "")) for code in dx)
                        else {}
                    ),
                }
            )
        if services:
            notes.append({"claim_id": note_id, "note_text": gold.texts[note_id]})
    return lines, notes


def rule_findings(gold: Gold) -> pl.DataFrame:
    """The findings of `cleanclaim validate` over the gold claims with their notes."""
    from cleanclaim.flows.cli import main

    lines, notes = claim_rows(gold)
    with tempfile.TemporaryDirectory() as folder:
        extract, notes_file, out = (
            Path(folder) / "gold.csv",
            Path(folder) / "gold.notes.csv",
            Path(folder) / "findings.csv",
        )
        pl.DataFrame(lines, infer_schema_length=None).write_csv(
            extract
        )  # every column of every row
        pl.DataFrame(notes).write_csv(notes_file)
        main(
            [
                "validate",
                str(extract),
                "--as-of",
                AS_OF,
                "--findings",
                str(out),
                "--exit-zero",
                "--quiet",
            ]
        )
        return pl.read_csv(out, infer_schema=False)


def rule_predictions(
    gold: Gold, findings: pl.DataFrame, triggered: dict[str, set[str]]
) -> pl.DataFrame:
    """(note_id, rule, gold, predicted) over the claims each rule applies to: gold = every element
    the rule requires is documented (by the labels), predicted = the rule did not fire."""
    fired = set(findings.select("claim_id", "rule_id").iter_rows())
    rows = []
    for rule, elements in RULE_ELEMENTS.items():
        for note_id in triggered.get(rule, set()):
            entry = gold.labels[note_id]
            judged = [e for e in elements if e in entry["elements"]]
            complete = all(documented(entry, e) for e in judged)
            rows.append((note_id, rule, complete, (note_id, rule) not in fired))
    return pl.DataFrame(rows, schema=["note_id", "rule", "gold", "predicted"], orient="row")


def triggered(gold: Gold, catalog) -> dict[str, set[str]]:
    """rule -> the gold claims it applies to, by the claim's codes alone (the rule's own trigger)."""
    from datetime import date

    from cleanclaim.validators.checks.context import Context, index_notes
    from cleanclaim.validators.checks.documentation import _triggers
    from cleanclaim.validators.config import RunConfig
    from cleanclaim.validators.integrity import check_integrity
    from tests.conftest import claim_lines

    lines, notes = claim_rows(gold)
    frame = claim_lines(lines)
    checked = check_integrity(frame, catalog, date.fromisoformat(AS_OF)).lines
    noted = index_notes(pl.DataFrame(notes).rename({"note_text": "text"}), catalog, key="claim_id")
    ctx = Context(checked, catalog, date.fromisoformat(AS_OF), RunConfig(), file_notes=noted)
    ids = ctx.claims.select(pl.col("_row").alias("_claim"), "claim_id")
    out = {}
    for rule in RULE_ELEMENTS:
        hits = _triggers(ctx, catalog.params[rule]).join(ids, on="_claim")
        out[rule] = set(hits["claim_id"])
    return out


PHRASINGS = GOLD / "phrasings.csv"
# phrasings.csv label -> the note-index element that documents it
PHRASING_ELEMENTS = {
    "injury_date": "injury_date",
    "injury_mechanism": "injury_mechanism",
    "pain_weeks": "onset_duration",
    "conservative_care": "conservative_care",
}


def phrasing_predictions(catalog, test: bool) -> pl.DataFrame:
    """(id, label, gold, predicted) over the short history passages of phrasings.csv (one part):
    gold = the writer labelled the element documented, predicted = the note index affirms it."""
    from cleanclaim.validators.notes import detect

    passages = pl.read_csv(PHRASINGS, infer_schema=False)
    passages = passages.filter(pl.Series([is_test(i) == test for i in passages["id"]]))
    found = detect(
        passages.select(pl.int_range(pl.len()).alias("_row"), pl.col("text")),
        catalog.codesets["doc_elements"].table,
        catalog.codesets["note_sections"].table,
    ).filter(pl.col("affirmed"))
    has = set(zip(found["_row"].to_list(), found["element"].to_list(), strict=True))
    rows = []
    for number, passage in enumerate(passages.iter_rows(named=True)):
        for label, element in PHRASING_ELEMENTS.items():
            value = passage[label]
            if value:  # a label the passage's kind has
                rows.append(
                    (
                        passage["id"],
                        label,
                        value not in ("absent", "planned"),
                        (number, element) in has,
                    )
                )
    return pl.DataFrame(rows, schema=["id", "label", "gold", "predicted"], orient="row")
