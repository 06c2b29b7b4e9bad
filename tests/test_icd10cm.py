"""The derived ICD-10-CM table matches the package it comes from, and knows the focus codes."""

from __future__ import annotations

import re

import polars as pl
import pytest

from cleanclaim.validators.icd10cm import build, excludes1_refs


@pytest.fixture(scope="module")
def rebuilt():
    return build()  # parses the tabular XML: 5-10 s


def test_committed_table_equals_a_fresh_build_from_the_installed_package(rebuilt, catalog):
    """The FY2026 tables are the pinned package's; the FY2025 ones were built from the 1.4.0 wheel
    (index.yaml says how) and cannot be rebuilt here without it."""
    table, excludes = rebuilt
    assert catalog.codesets["icd10cm"].table.equals(table)
    assert catalog.codesets["icd10cm_excludes1"].table.equals(excludes)
    assert catalog.codesets["icd10cm"] is catalog.codesets["icd10cm_fy2026"]


def test_each_year_is_in_force_for_its_fiscal_year(catalog):
    from cleanclaim.validators.codesets import Icd10cmEditions

    years = Icd10cmEditions.of(catalog.codesets).years
    assert [(y.name, str(y.info.effective_from), str(y.info.valid_to)) for y in years] == [
        ("icd10cm_fy2025", "2024-10-01", "2025-09-30"),
        ("icd10cm_fy2026", "2025-10-01", "2026-09-30"),
    ]
    assert "simple-icd-10-cm" in years[0].info.source and "1.4.0" in years[0].info.source
    assert "--wheel simple_icd_10_cm-1.4.0" in years[0].info.source


@pytest.mark.parametrize(
    "code, fy2025, fy2026",
    [
        ("S30.1XXA", True, None),  # contusion of abdominal wall: split into S30.11-S30.13 in FY2026
        ("S30.1", False, False),
        ("E11.A", None, True),  # type 2 diabetes in remission: new October 1 2025
        ("M51.360", True, True),
        ("M54.5", False, False),
    ],
)
def test_codes_across_the_fy2026_boundary(catalog, code, fy2025, fy2026):
    """Read from the two packages' tabulars: S30.1XXA is in 1.4.0's code list only, E11.A in 1.5.0's."""

    def billable(name):
        hit = catalog.codesets[name].table.filter(pl.col("code") == code)
        return hit["billable"].item() if hit.height else None

    assert (billable("icd10cm_fy2025"), billable("icd10cm_fy2026")) == (fy2025, fy2026)


def test_both_sex_titles_name_no_sex_and_manifestations_come_from_code_first_notes(catalog):
    table = catalog.codesets["icd10cm"].table
    row = {r["code"]: r for r in table.filter(pl.col("code").is_in(CODES)).iter_rows(named=True)}
    assert row["N39.3"]["sex"] is None  # Stress incontinence (female) (male)
    assert row["N40.0"]["sex"] == "M" and row["C50.011"]["sex"] == "F"
    assert row["F02.80"]["manifestation"] and "Alzheimer" in row["F02.80"]["code_first"]
    assert row["G55"]["manifestation"]
    # a code-first note without a "classified elsewhere" title: an etiology code, not a manifestation
    assert not row["E08.9"]["manifestation"] and not row["B95.0"]["manifestation"]


CODES = ["N39.3", "N40.0", "C50.011", "F02.80", "G55", "E08.9", "B95.0"]


def test_table_covers_the_package():
    import simple_icd_10_cm as cm

    with_items = set(cm.get_all_codes(with_dots=True))
    ours = set(pl.read_parquet("rules/codesets/icd10cm_fy2026.parquet")["code"])
    assert ours == {c for c in with_items if not cm.is_chapter_or_block(c)}


@pytest.mark.parametrize(
    "code, billable, under",
    [
        ("M54.5", False, "M54.50, M54.51, M54.59"),
        ("M79.1", False, "M79.10, M79.11, M79.12, M79.18"),
        ("M51.36", False, "M51.360, M51.361, M51.362, M51.369"),
        ("M62.83", False, "M62.830, M62.831, M62.838"),
        ("S13.4", False, "S13.4XXA, S13.4XXD, S13.4XXS"),
        ("M54.12", True, ""),
        ("M54.2", True, ""),
        ("S13.4XXA", True, ""),
    ],
)
def test_focus_codes(catalog, code, billable, under):
    row = catalog.codesets["icd10cm"].table.filter(pl.col("code") == code).row(0, named=True)
    assert (row["billable"], row["billable_under"]) == (billable, under)


def test_excludes1_references_are_parsed_from_note_text():
    assert excludes1_refs(
        "radiculopathy with lumbar and other intervertebral disc disorder (M51.1-)"
    ) == [("M511", "M511")]
    assert excludes1_refs("neoplasms (C00-D49)") == [("C00", "D49")]
    assert excludes1_refs("dorsopathies (M53.-, M54.-)") == [("M53", "M53"), ("M54", "M54")]


def test_suggested_injury_codes_exist_and_are_billable(catalog):
    table = catalog.codesets["icd10cm"].table
    suggested = " ".join(catalog.codesets["injury_regions"].table["suggestion"].to_list())
    suggested += " " + catalog["INJ001"].params["default_suggestion"] + " " + catalog["INJ001"].fix
    codes = set(re.findall(r"\b[A-Z]\d[0-9A-Z]\.[0-9A-Z]{4}\b", suggested))
    assert {"S13.4XXA", "S16.1XXA", "S33.5XXA", "S39.012A"} <= codes
    found = table.filter(pl.col("code").is_in(list(codes)))
    assert found.height == len(codes) and found["billable"].all()


def test_addon_codes_are_valid_procedure_codes_with_known_primaries(catalog):
    """Add-on codes are real codes (a peer tool rejects 64484); a '+' typed from the CPT book is explained."""
    from cleanclaim.validators.integrity import check_integrity
    from tests.conftest import AS_OF, claim_lines

    addons = catalog.codesets["addon_codes"].table
    assert {"64480", "64484", "64491", "64492", "64494", "64495", "64634", "64636"} == set(
        addons["code"]
    )
    rows = [{"claim_id": f"A{i}", "procedure_code": code} for i, code in enumerate(addons["code"])]
    rows += [
        {"claim_id": f"P{i}", "procedure_code": code}
        for i, code in enumerate(addons["primary_codes"])
    ]
    assert check_integrity(claim_lines(rows), catalog, AS_OF).findings.is_empty()
    plus = check_integrity(
        claim_lines([{"claim_id": "X", "procedure_code": "+64484"}]), catalog, AS_OF
    ).findings
    assert (
        plus["rule_id"].to_list() == ["FLD015"]
        and "+64484 is billed as 64484" in plus["fix"].item()
    )
