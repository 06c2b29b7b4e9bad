"""Each claim's diagnoses are judged by the ICD-10-CM year in force on its service date (issue 35).

The codes on either side of the FY2026 boundary were read from the two packages' own code lists:
S30.1XXA is in simple-icd-10-cm 1.4.0 (April 2025) and not in 1.5.0 (April 2026: S30.1 split into
S30.11-S30.13); E11.A is in 1.5.0 only (new October 1, 2025).
"""

from __future__ import annotations

import shutil
from datetime import date

import polars as pl
import pytest

from cleanclaim.flows.cli import main
from cleanclaim.validators.catalog import load_catalog
from cleanclaim.validators.engine import run_rules
from cleanclaim.validators.errors import ExtractError
from cleanclaim.validators.icd10cm import read_order_codes, split_release_files, tabular_year
from cleanclaim.validators.integrity import check_integrity
from tests.conftest import REPO, claim_lines

FIXTURES = REPO / "tests" / "fixtures" / "cms" / "icd10cm"
ORDER, TABULAR = FIXTURES / "icd10cm_order_2027.txt", FIXTURES / "icd10cm_tabular_2027.xml"
LATER = date(2026, 12, 31)  # as-of date for claims in FY2027, so none is in the future
CODE_RULES = {"COD001", "COD002", "COD003", "COD004"}


def findings(catalog, rows, as_of=LATER) -> pl.DataFrame:
    integrity = check_integrity(claim_lines(rows), catalog, as_of)
    found = run_rules(integrity.lines, catalog, as_of)
    return found.filter(pl.col("rule_id").is_in(CODE_RULES)).sort("claim_id", "rule_id")


def rules_by_claim(found: pl.DataFrame) -> dict[str, list[str]]:
    return {c: sorted(g["rule_id"]) for (c,), g in found.group_by("claim_id")}


@pytest.mark.parametrize(
    "code, september, october",
    [("S30.1XXA", [], ["COD001"]), ("E11.A", ["COD001"], [])],
)
def test_a_code_is_judged_by_the_year_of_its_service_date(catalog, code, september, october):
    found = findings(
        catalog,
        [
            {"claim_id": "SEP", "service_date": "2025-09-15", "dx_1": code},
            {"claim_id": "OCT", "service_date": "2025-10-15", "dx_1": code},
        ],
    )
    by_claim = rules_by_claim(found)
    assert (by_claim.get("SEP", []), by_claim.get("OCT", [])) == (september, october)
    if october or september:
        release = "FY2026" if october else "FY2025"
        assert release in found.filter(pl.col("rule_id") == "COD001")["message"].item()


def test_the_suggestion_comes_from_the_claims_year(catalog):
    found = findings(catalog, [{"claim_id": "OCT", "service_date": "2025-10-15", "dx_1": "S30.1"}])
    # FY2026: S30.1 is split into S30.11-S30.13; FY2025: only a 7th character was missing
    assert found["rule_id"].to_list() == ["COD003"]
    assert "S30.11XA" in found["fix"].item() and "S30.1XXA" not in found["fix"].item()
    earlier = findings(
        catalog, [{"claim_id": "SEP", "service_date": "2025-09-15", "dx_1": "S30.1"}]
    )
    assert earlier["rule_id"].to_list() == ["COD003"] and "S30.1XXA" in earlier["fix"].item()


def test_after_the_newest_table_one_low_finding_names_the_import_and_no_code_is_invalid(catalog):
    found = findings(
        catalog,
        [
            {"claim_id": "NEW", "service_date": "2026-10-15", "dx_1": "E11.B", "dx_2": "M54.5"},
            {"claim_id": "NEW", "service_date": "2026-10-16", "dx_1": "E11.B", "dx_2": "M54.5"},
        ],
    )
    assert found["rule_id"].to_list() == ["COD002", "COD004"]  # M54.5 stays a header
    cod004 = found.filter(pl.col("rule_id") == "COD004").row(0, named=True)
    assert cod004["severity"] == "low" and "FY2027" in cod004["message"]
    assert "icd10cm_order_2027.txt" in cod004["fix"] and "codesets import" in cod004["fix"]


def test_before_the_oldest_table_validity_is_not_judged(catalog):
    # M51.36 was billable until FY2025 split it: a FY2024 claim must not read as a header
    found = findings(catalog, [{"claim_id": "OLD", "service_date": "2024-09-15", "dx_1": "M51.36"}])
    assert found["rule_id"].to_list() == ["COD004"]
    assert "FY2024" in found["message"].item() and "not judged" in found["fix"].item()


def test_excludes1_uses_the_claims_year(catalog):
    rows = [
        {"claim_id": c, "service_date": d, "dx_1": "M54.12", "dx_2": "M50.120"}
        for c, d in (("SEP", "2025-09-15"), ("OCT", "2025-10-15"))
    ]
    integrity = check_integrity(claim_lines(rows), catalog, LATER)
    found = run_rules(integrity.lines, catalog, LATER).filter(pl.col("rule_id") == "GDL001")
    assert sorted(found["claim_id"]) == ["OCT", "SEP"]


def test_release_files_are_read_in_the_published_layout(tmp_path):
    assert tabular_year(TABULAR) == 2027
    codes = read_order_codes(ORDER)
    assert codes[:3] == ["E11", "E119", "E11A"] and "S134XXA" in codes
    pairs, rest = split_release_files([ORDER, TABULAR, tmp_path / "PTP.txt"])
    assert pairs == [(ORDER, TABULAR)] and rest == [tmp_path / "PTP.txt"]
    with pytest.raises(ExtractError, match="no tabular XML"):
        split_release_files([ORDER])
    (tmp_path / "icd10cm_order_2027.txt").write_text("claim_id,line\nC1,1\n")
    with pytest.raises(ExtractError, match="order-file layout"):
        read_order_codes(tmp_path / "icd10cm_order_2027.txt")


def test_codesets_import_adds_a_fiscal_year(tmp_path, capsys):
    shutil.copytree(REPO / "rules", tmp_path / "rules")
    argv = ["--rules", str(tmp_path / "rules"), "codesets", "import", str(ORDER), str(TABULAR)]
    assert main(argv) == 0
    assert "imported ICD-10-CM FY2027: 15 codes" in capsys.readouterr().out
    assert main(argv) == 0  # importing again replaces the year, never lists it twice
    catalog = load_catalog(tmp_path / "rules")
    year = catalog.codesets["icd10cm_fy2027"]
    assert (str(year.info.effective_from), str(year.info.valid_to)) == ("2026-10-01", "2027-09-30")
    assert catalog.codesets["icd10cm"] is year and "icd10cm_tabular_2027.xml" in year.info.source
    index = (tmp_path / "rules" / "codesets" / "index.yaml").read_text()
    assert index.count("icd10cm_fy2027:") == 1 and "# Reference code sets" in index
    found = findings(
        catalog,
        [
            {"claim_id": "NEW", "service_date": "2026-10-15", "dx_1": "E11.B"},
            {"claim_id": "BAD", "service_date": "2026-10-15", "dx_1": "E11.C"},
            {"claim_id": "SEP", "service_date": "2025-09-15", "dx_1": "S30.1XXA"},
        ],
    )
    assert rules_by_claim(found) == {"BAD": ["COD001"]}
    assert "FY2027" in found["message"].item()


def test_the_build_script_installs_a_release_and_says_where_it_came_from(tmp_path, capsys):
    from cleanclaim.validators.icd10cm import main as build_main

    shutil.copytree(REPO / "rules", tmp_path / "rules")
    build_main(
        ["--tabular", str(TABULAR), "--order", str(ORDER), "--rules", str(tmp_path / "rules")]
    )
    assert "wrote FY2027: 15 codes" in capsys.readouterr().out
    year = load_catalog(tmp_path / "rules").codesets["icd10cm_fy2027"]
    assert "icd10cm_order_2027.txt" in year.info.source and "sha256" in year.info.source
    assert year.table.filter(pl.col("code") == "S13.4")["needs_seventh"].item()
