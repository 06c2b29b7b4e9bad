"""The derived ICD-10-CM table matches the package it comes from, and knows the focus codes."""

from __future__ import annotations

import re

import polars as pl
import pytest

from validators.icd10cm import build, excludes1_refs


@pytest.fixture(scope="module")
def rebuilt():
    return build()  # parses the tabular XML: 5-10 s


def test_committed_table_equals_a_fresh_build_from_the_installed_package(rebuilt, catalog):
    table, excludes = rebuilt
    assert catalog.codesets["icd10cm"].table.equals(table)
    assert catalog.codesets["icd10cm_excludes1"].table.equals(excludes)


def test_table_covers_the_package():
    import simple_icd_10_cm as cm

    with_items = set(cm.get_all_codes(with_dots=True))
    ours = set(pl.read_parquet("rules/codesets/icd10cm.parquet")["code"])
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
    from tests.conftest import AS_OF, claim_lines
    from validators.integrity import check_integrity

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
