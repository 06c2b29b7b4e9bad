"""The procedure rules' machinery: NCCI edits merged once per catalog, and the CMS file import in its
published layout. Each rule's own cases (NCCI bypass, deleted edits, MAI, visits across claims,
frequency windows, timely filing by payer) are in tests/rules/cases/<ID>.yaml."""

from __future__ import annotations

import polars as pl
import pytest
from openpyxl import Workbook

from cleanclaim.flows.cli import main
from cleanclaim.flows.cms_import import import_files, parse
from cleanclaim.validators.catalog import load_catalog
from cleanclaim.validators.checks import procedure
from cleanclaim.validators.engine import run_rules
from cleanclaim.validators.errors import ExtractError
from cleanclaim.validators.integrity import check_integrity
from tests.conftest import AS_OF, CMS_FIXTURES, claim_lines, with_cms_fixtures


def flagged(catalog, rows, rule_id):
    integrity = check_integrity(claim_lines(rows), catalog, AS_OF)
    found = run_rules(integrity.lines, catalog, AS_OF)
    return found.filter(pl.col("rule_id") == rule_id)


EVAL = {"procedure_code": "97161", "modifier_1": "GP", "dx_1": "M54.16"}
MANUAL = {"procedure_code": "97140", "modifier_1": "GP", "dx_1": "M54.16"}


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
