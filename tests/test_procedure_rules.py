"""Procedure-side semantics that are easy to get wrong: NCCI bypass, deleted edits, MAI, visits across claims,
frequency windows, timely filing by payer; and the CMS file import in its published layout."""

from __future__ import annotations

import polars as pl
import pytest
from openpyxl import Workbook

from flows.cli import main
from flows.cms_import import import_files, parse
from tests.conftest import AS_OF, CMS_FIXTURES, claim_lines, with_cms_fixtures
from validators.catalog import load_catalog
from validators.checks import procedure
from validators.config import RunConfig
from validators.engine import run_rules
from validators.errors import ExtractError
from validators.integrity import check_integrity


@pytest.fixture(scope="module")
def cms_catalog(catalog):
    return with_cms_fixtures(catalog)


def flagged(catalog, rows, rule_id, config=None):
    integrity = check_integrity(claim_lines(rows), catalog, AS_OF)
    found = run_rules(integrity.lines, catalog, AS_OF, config)
    return found.filter(pl.col("rule_id") == rule_id)


EVAL = {"procedure_code": "97161", "modifier_1": "GP", "dx_1": "M54.16"}
MANUAL = {"procedure_code": "97140", "modifier_1": "GP", "dx_1": "M54.16"}


@pytest.mark.parametrize(
    "modifiers, fires",
    [
        ({}, True),
        ({"modifier_2": "59"}, False),
        ({"modifier_2": "XU"}, False),
        ({"modifier_2": "76"}, True),  # 22/76/77 never unbundle a pair
        ({"modifier_2": "22"}, True),
    ],
)
def test_indicator_1_pair_is_bypassed_only_by_ncci_associated_modifiers(catalog, modifiers, fires):
    rows = [{"claim_id": "C1", **EVAL}, {"claim_id": "C1", **MANUAL, **modifiers}]
    assert (not flagged(catalog, rows, "NCC002").is_empty()) is fires


def test_59_on_the_column_1_code_bypasses_too(catalog):
    rows = [{"claim_id": "C1", **EVAL, "modifier_2": "59"}, {"claim_id": "C1", **MANUAL}]
    assert flagged(catalog, rows, "NCC002").is_empty()


def test_pairs_are_found_across_claims_of_the_same_visit_but_not_across_patients(catalog):
    same_visit = [{"claim_id": "C1", **EVAL}, {"claim_id": "C2", **MANUAL}]
    assert flagged(catalog, same_visit, "NCC002")["claim_id"].to_list() == ["C2"]
    other_patient = [{"claim_id": "C1", **EVAL}, {"claim_id": "C2", **MANUAL, "patient_id": "PT-2"}]
    assert flagged(catalog, other_patient, "NCC002").is_empty()


def test_the_merged_ncci_edits_are_built_once_per_catalog_and_not_shared_with_another(monkeypatch):
    built, merge = (
        [],
        procedure.ptp_edits,
    )  # CMS's files hold millions of pairs: merging them is not per rule
    monkeypatch.setattr(
        procedure, "ptp_edits", lambda catalog: built.append(catalog) or merge(catalog)
    )
    fresh = load_catalog()
    rows = [{"claim_id": "C1", **EVAL}, {"claim_id": "C1", **MANUAL}]
    assert (
        not flagged(fresh, rows, "NCC002").is_empty()
        and not flagged(fresh, rows, "NCC002").is_empty()
    )
    assert len(built) == 1  # two NCCI rules, two runs
    imported = with_cms_fixtures(
        fresh
    )  # the same rules with CMS files imported: its own merged edits
    assert (
        imported.derived("ncci_ptp_edits", procedure.ptp_edits).height
        > fresh.derived("ncci_ptp_edits", procedure.ptp_edits).height
    )
    assert len(built) == 2


def test_deleted_and_indicator_9_edits_never_fire(cms_catalog):
    deleted = [
        {"claim_id": "C1", "procedure_code": "20552", "dx_1": "M62.830"},
        {"claim_id": "C1", "procedure_code": "20553", "dx_1": "M62.830"},
    ]  # fixture edit deleted 2020
    assert flagged(cms_catalog, deleted, "NCC002").is_empty()
    nine = [
        {"claim_id": "C1", "procedure_code": "99213"},
        {"claim_id": "C1", "procedure_code": "99214"},
    ]
    assert (
        flagged(cms_catalog, nine, "NCC001").is_empty()
        and flagged(cms_catalog, nine, "NCC002").is_empty()
    )


def test_mai_2_sums_units_across_lines_and_claims_mai_1_does_not(cms_catalog):
    split = [
        {"claim_id": "C1", "procedure_code": "20553", "dx_1": "M62.830"},
        {"claim_id": "C2", "procedure_code": "20553", "dx_1": "M62.830"},
    ]
    hit = flagged(cms_catalog, split, "MUE002")
    assert hit.height == 1 and "2 units" in hit["message"].item()
    per_line = [
        {"claim_id": "C1", "procedure_code": "J1040", "units": "2"},
        {"claim_id": "C1", "procedure_code": "J1040", "units": "2"},
    ]
    assert flagged(cms_catalog, per_line, "MUE001").is_empty()  # MAI 1: each line within 2


def test_without_an_imported_mue_file_nothing_is_claimed(catalog):
    rows = [{"claim_id": "C1", "procedure_code": "J1040", "units": "99"}]
    assert flagged(catalog, rows, "MUE001").is_empty()


def test_frequency_window_is_rolling_365_days(catalog):
    dates = ["2025-10-01", "2026-01-01", "2026-04-01", "2026-07-01", "2026-09-30"]
    rows = [
        {"claim_id": "C1", "procedure_code": "62323", "dx_1": "M54.16", "service_date": d}
        for d in dates
    ]
    assert (
        flagged(catalog, rows, "FRQ001").height == 1
    )  # the fifth session, 364 days after the first
    rows[0]["service_date"] = "2025-09-29"  # 366 days before the last: outside the window
    assert flagged(catalog, rows, "FRQ001").is_empty()


def test_regions_are_counted_separately(catalog):
    rows = [
        {"claim_id": "C1", "procedure_code": code, "dx_1": dx, "service_date": d}
        for d, code, dx in [
            ("2026-01-05", "62323", "M54.16"),
            ("2026-02-05", "62323", "M54.16"),
            ("2026-03-05", "62321", "M54.12"),
            ("2026-04-05", "62323", "M54.16"),
            ("2026-05-05", "62321", "M54.12"),
        ]
    ]
    assert flagged(catalog, rows, "FRQ001").is_empty()


def test_timely_filing_limit_comes_from_the_run_configuration(catalog):
    rows = [{"claim_id": "C1", "payer_id": "MCR01", "service_date": "2025-12-01"}]  # 303 days
    assert not flagged(catalog, rows, "TMF001").is_empty()  # default 180 days
    medicare = RunConfig(timely_filing_days={"MCR01": 365})
    assert flagged(catalog, rows, "TMF001", medicare).is_empty()
    assert flagged(catalog, rows, "TMF002", medicare).is_empty()  # 62 days left: not yet near
    rows[0]["service_date"] = "2025-10-10"  # 355 days: within 30 of 365
    assert flagged(catalog, rows, "TMF002", medicare)["message"].item().endswith("by 2026-10-10.")


def test_pairing_fix_names_the_regions_covered_alternatives(catalog):
    cervical = flagged(
        catalog, [{"claim_id": "C1", "procedure_code": "62321", "dx_1": "M54.2"}], "DXP001"
    )
    assert "M54.12" in cervical["fix"].item() and "M54.16" not in cervical["fix"].item()
    lumbar = flagged(
        catalog, [{"claim_id": "C2", "procedure_code": "64483", "dx_1": "M54.50"}], "DXP001"
    )
    assert "M54.16" in lumbar["fix"].item() and "M48.062" in lumbar["fix"].item()


def test_the_line_must_point_to_the_indication_not_just_have_it_on_the_claim(catalog):
    rows = [
        {
            "claim_id": "C1",
            "procedure_code": "62323",
            "dx_1": "M54.50",
            "dx_2": "M54.16",
            "diagnosis_pointers": "1",
        }
    ]
    assert not flagged(catalog, rows, "DXP001").is_empty()
    rows[0]["diagnosis_pointers"] = "1,2"
    assert flagged(catalog, rows, "DXP001").is_empty()


# --------------------------------------------------------------------------- CMS file import


def test_published_text_layout_parses():
    kind, ptp = parse(CMS_FIXTURES / "PTP_practitioner_fixture.txt")
    assert kind == "ptp" and ptp.height == 4
    row = ptp.filter(pl.col("column_1") == "20552").row(0, named=True)
    assert row["deletion_date"].isoformat() == "2020-01-01" and row["modifier_indicator"] == 1
    assert (
        ptp.filter(pl.col("column_1") == "64483")["deletion_date"].item() is None
    )  # "*" = no deletion
    kind, mue = parse(CMS_FIXTURES / "MUE_practitioner_fixture.txt")
    assert kind == "mue" and dict(mue.select("code", "adjudication_indicator").iter_rows()) == {
        "J1040": 1,
        "20553": 2,
        "97110": 3,
    }


def test_published_workbook_layout_with_title_rows_parses(tmp_path):
    wb = Workbook()
    ws = wb.active
    ws.append(["CPT codes, descriptions and other data only are copyright AMA."])
    ws.append([])
    ws.append(
        [
            "Column 1",
            "Column 2",
            "*=in existence prior to 1996",
            "Effective Date",
            "Deletion Date *=no data",
            "Modifier 0=not allowed 1=allowed 9=not applicable",
            "PTP Edit Rationale",
        ]
    )
    ws.append(
        ["64493", "77003", None, 20100101, "*", 0, "Misuse of column two code with column one code"]
    )
    wb.save(tmp_path / "ptp.xlsx")
    kind, ptp = parse(tmp_path / "ptp.xlsx")
    assert kind == "ptp" and ptp.select("column_1", "column_2", "modifier_indicator").row(0) == (
        "64493",
        "77003",
        0,
    )
    assert ptp["effective_date"].item().isoformat() == "2010-01-01"


def test_import_replaces_the_tables_and_a_stray_file_is_refused(tmp_path):
    written = import_files(
        [
            CMS_FIXTURES / "PTP_practitioner_fixture.txt",
            CMS_FIXTURES / "MUE_practitioner_fixture.txt",
        ],
        tmp_path,
    )
    assert written == {"ptp": 4, "mue": 3}
    assert pl.read_parquet(tmp_path / "mue_cms.parquet").height == 3
    (tmp_path / "other.txt").write_text("claim_id,line_number\nC1,1\n")
    with pytest.raises(ExtractError, match="CMS column names"):
        parse(tmp_path / "other.txt")


def test_codesets_import_command(tmp_path, monkeypatch, capsys):
    import shutil

    from tests.conftest import REPO

    shutil.copytree(REPO / "rules", tmp_path / "rules")
    assert (
        main(
            [
                "--rules",
                str(tmp_path / "rules"),
                "codesets",
                "import",
                str(CMS_FIXTURES / "MUE_practitioner_fixture.txt"),
            ]
        )
        == 0
    )
    assert "imported 3 MUE values" in capsys.readouterr().out
    assert pl.read_parquet(tmp_path / "rules" / "codesets" / "mue_cms.parquet").height == 3


# --------------------------------------------------------------------------- issue 35: reference data

KNEE = {"claim_id": "K1", "procedure_code": "20610", "modifier_1": "RT", "dx_1": "M17.11"}
VISIT = {"claim_id": "K1", "procedure_code": "99213", "dx_1": "M17.11"}


def test_an_em_beside_a_knee_injection_needs_25_and_with_25_its_documentation_is_checked(catalog):
    """20610 has a 0-day global period (curated list): an E/M beside it is MOD001 without 25, and
    with 25 DOC008 looks for the separately identifiable problem in the note."""
    assert flagged(catalog, [KNEE, VISIT], "MOD001")["line_number"].to_list() == [2]  # the E/M
    note = "Knee pain, injection planned and performed."
    with_25 = [KNEE | {"clinical_note": note}, VISIT | {"modifier_1": "25", "clinical_note": note}]
    assert flagged(catalog, with_25, "MOD001").is_empty()
    assert flagged(catalog, with_25, "DOC008")["line_number"].to_list() == [2]


def test_imported_global_periods_reach_every_minor_procedure(catalog, tmp_path):
    """A code outside the curated list (11042, 0-day in the fixture) counts once the PFS RVU file is
    imported; a 90-day code never does."""
    import dataclasses

    kind, table = parse(CMS_FIXTURES / "PPRRVU_fixture.csv")
    assert kind == "rvu" and table.sort("code").rows() == [
        ("11042", "000"),
        ("20610", "000"),
        ("27447", "090"),
        ("99213", "XXX"),
    ]
    sets = dict(catalog.codesets)
    sets["global_days_cms"] = dataclasses.replace(sets["global_days_cms"], table=table)
    imported = dataclasses.replace(catalog, codesets=sets)
    debridement = {"claim_id": "K1", "procedure_code": "11042", "dx_1": "L97.412"}
    assert flagged(catalog, [debridement, VISIT], "MOD001").is_empty()
    assert flagged(imported, [debridement, VISIT], "MOD001").height == 1
    knee_replacement = {"claim_id": "K1", "procedure_code": "27447", "dx_1": "M17.11"}
    assert flagged(imported, [knee_replacement, VISIT], "MOD001").is_empty()
    assert import_files([CMS_FIXTURES / "PPRRVU_fixture.csv"], tmp_path) == {"rvu": 4}


def test_an_ot_evaluation_without_go_is_flagged(catalog):
    ot = {"claim_id": "T1", "procedure_code": "97165", "dx_1": "M62.81"}
    assert flagged(catalog, [ot], "MOD003").height == 1
    assert flagged(catalog, [ot | {"modifier_1": "GO"}], "MOD003").is_empty()
    codes = set(catalog.codesets["always_therapy_codes"].table["code"])
    assert {"97165", "97166", "97167", "97168", "97535", "97116", "97150", "97750"} <= codes
    assert {"97760", "97761", "97763", "G0283"} <= codes


def test_therapeutic_activities_with_manual_therapy_need_a_distinct_service_modifier(catalog):
    rows = [
        {"claim_id": "T1", "procedure_code": "97530", "modifier_1": "GP", "dx_1": "M54.16"},
        {"claim_id": "T1", "procedure_code": "97140", "modifier_1": "GP", "dx_1": "M54.16"},
    ]
    assert flagged(catalog, rows, "NCC002")["line_number"].to_list() == [2]  # column 2: 97140
    rows[1] = rows[1] | {"modifier_2": "59"}
    assert flagged(catalog, rows, "NCC002").is_empty()


def test_a_both_sex_title_fits_either_sex(catalog):
    male = {"claim_id": "S1", "patient_sex": "M", "dx_1": "N39.3"}
    assert flagged(catalog, [male], "GDL004").is_empty()
    assert flagged(catalog, [male | {"dx_1": "N80.00"}], "GDL004").height == 1
