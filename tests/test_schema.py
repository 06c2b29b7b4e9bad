"""One valid and one invalid frame per pandera constraint of ClaimLineModel (STYLE.md section 5)."""

from __future__ import annotations

import polars as pl
import pytest
from pandera.errors import SchemaErrors

from cleanclaim.validators.schema import (
    FAILS_ON_EMPTY,
    build_schema,
    check_names,
    failures,
    npi_check_digit_ok,
    prepare,
)
from tests.conftest import AS_OF, claim_lines

POS = ["11", "22", "24", "02"]

# check name -> (rows that pass it, rows that fail it)
CASES = {
    "not_nullable": ([{}], [{"procedure_code": None}]),
    "multiple_fields_uniqueness": (
        [{"claim_id": "C1"}, {"claim_id": "C1"}],
        [{"claim_id": "C1", "line_number": "1"}, {"claim_id": "C1", "line_number": "01"}],
    ),
    "line_number_format": ([{"line_number": "12"}], [{"line_number": "1a"}]),
    "date_format": ([{"service_date": "9/5/2026"}], [{"service_date": "2026-09-31"}]),
    "service_date_after_as_of": (
        [{"service_date": "2026-09-30"}],
        [{"service_date": "2026-10-01"}],
    ),
    "service_before_birth": ([{"patient_dob": "2026-09-15"}], [{"patient_dob": "2026-09-16"}]),
    "age_over_limit": ([{"patient_dob": "1906-09-15"}], [{"patient_dob": "1905-01-01"}]),
    "injury_after_service": (
        [{"accident_indicator": "OA", "injury_date": "2026-09-15"}],
        [{"accident_indicator": "OA", "injury_date": "2026-09-16"}],
    ),
    "injury_date_missing": (
        [{"accident_indicator": "AA", "injury_date": "2026-09-01"}],
        [{"accident_indicator": "AA", "injury_date": None}],
    ),
    "sex_code": ([{"patient_sex": "u"}], [{"patient_sex": "X"}]),
    "filing_indicator_code": (
        [{"claim_filing_indicator": "MB"}],
        [{"claim_filing_indicator": "MEDICARE"}],
    ),
    "npi_format": ([{"billing_npi": "0123456789"}], [{"billing_npi": "1.234567893E9"}]),
    "npi_check_digit": ([{"rendering_npi": "1588204713"}], [{"rendering_npi": "1588204731"}]),
    "pos_code": ([{"place_of_service": "02"}], [{"place_of_service": "2"}]),
    "accident_code": (
        [{"accident_indicator": "EM", "injury_date": "2026-09-01"}],
        [{"accident_indicator": "XX", "injury_date": "2026-09-01"}],
    ),
    "procedure_code_format": ([{"procedure_code": "0001U"}], [{"procedure_code": "6448"}]),
    "modifier_format": ([{"modifier_4": "XS"}], [{"modifier_4": "XSX"}]),
    "units_positive": ([{"units": "0.5"}], [{"units": "-1"}]),
    "charge_format": ([{"charge_amount": "0.10"}], [{"charge_amount": "1E5"}]),
    "pointer_format": (
        [{"diagnosis_pointers": "A,B", "dx_2": "M54.2"}],
        [{"diagnosis_pointers": "0"}],
    ),
    "pointer_to_empty_slot": (
        [{"diagnosis_pointers": "2", "dx_2": "M54.2"}],
        [{"diagnosis_pointers": "2"}],
    ),
    "icd10cm_format": ([{"dx_12": "Z99.89"}], [{"dx_12": "Z99.89123"}]),
    "claim_field_consistent": (
        [{"claim_id": "C1", "dx_1": "M54.12"}, {"claim_id": "C1", "dx_1": "M5412 "}],
        [{"claim_id": "C1", "patient_id": "P1"}, {"claim_id": "C1", "patient_id": "P2"}],
    ),
}


def reported(rows: list[dict]) -> set[str]:
    lines = claim_lines(rows).with_columns(pl.col("dx_1").str.strip_chars())
    rows_failed, table_failed = failures(prepare(lines), AS_OF, POS)
    assert table_failed.is_empty(), "a check crashed instead of judging rows"
    return set(rows_failed["check"])


def test_every_constraint_has_a_case():
    assert set(CASES) == check_names()


@pytest.mark.parametrize("check", sorted(CASES))
def test_constraint_passes_valid_and_catches_invalid(check):
    valid, invalid = CASES[check]
    assert check not in reported(valid)
    assert check in reported(invalid)


def test_a_check_passes_where_its_column_is_empty_unless_it_must_run_on_empty():
    """failures() leaves out the checks of a column empty in the whole frame; that is sound only for
    checks an empty value passes. Each failing case is re-run with the check's column emptied, on the
    full schema: only FAILS_ON_EMPTY may still fire (and failures() keeps those)."""
    schema = build_schema(AS_OF, tuple(POS))
    for column, spec in schema.columns.items():
        for check in spec.checks if spec.nullable else []:
            lines = claim_lines(CASES[check.name][1]).with_columns(
                pl.lit(None, dtype=pl.String).alias(column)
            )
            try:
                schema.validate(prepare(lines), lazy=True)
                fired = False
            except SchemaErrors as exc:
                cases = exc.failure_cases.filter(
                    (pl.col("column") == column) & (pl.col("check") == check.name)
                )
                fired = not cases.is_empty()
            assert fired == (check.name in FAILS_ON_EMPTY), (column, check.name)


def test_npi_check_digit_against_published_example():
    # CMS's worked example: 123456789 with the 80840 prefix gives check digit 3.
    ok = pl.DataFrame({"npi": ["1234567893", "1234567890", "123456789", None]}).select(
        npi_check_digit_ok(pl.col("npi"))
    )
    assert ok.to_series().to_list() == [True, False, False, False]


def test_us_and_iso_dates_parse_to_the_same_day():
    lines = prepare(
        claim_lines(
            [{"service_date": "09/05/2026"}, {"claim_id": "C2", "service_date": "2026-09-05"}]
        )
    )
    assert lines["_service_date"].n_unique() == 1 and lines["_service_date"].null_count() == 0


def test_day_first_is_never_guessed():
    # 03/04/2026 is March 4 (US); 13/04/2026 is not a US date and must not become April 13 (T15).
    lines = prepare(
        claim_lines(
            [{"service_date": "03/04/2026"}, {"claim_id": "C2", "service_date": "13/04/2026"}]
        )
    )
    assert lines["_service_date"].to_list()[0].month == 3
    assert lines["_service_date"].to_list()[1] is None


def test_lower_case_codes_are_upper_cased_and_pass():
    # practice systems export "m54.12" and "rt": the same codes as M54.12 and RT, never a finding
    lines = prepare(
        claim_lines(
            [
                {"procedure_code": "j3301", "modifier_1": "rt", "dx_1": "m54.12"},
                {"claim_id": "C2", "procedure_code": "99213", "dx_1": "M54.2"},
            ]
        )
    )
    assert lines.select("procedure_code", "modifier_1", "dx_1").rows() == [
        ("J3301", "RT", "M54.12"),
        ("99213", None, "M54.2"),
    ]
    found, _ = failures(lines, AS_OF, POS)
    assert found.is_empty()


def test_diagnosis_consistency_ignores_only_the_dot_and_blames_the_differing_line():
    rows = [
        {"claim_id": claim, "line_number": line, "dx_1": dx}
        for claim, line, dx in [
            ("C1", "1", "M54.12"),
            ("C2", "1", "M54.2"),
            ("C1", "2", "M5412"),
            ("C2", "2", "M54.12"),
            ("C2", "3", "M542"),
        ]
    ]
    found, _ = failures(prepare(claim_lines(rows)), AS_OF, POS)
    flagged = found.filter(
        (pl.col("check") == "claim_field_consistent") & (pl.col("column") == "dx_1")
    )
    assert flagged["_row"].to_list() == [3]  # C2's line 2; M542 is C2's M54.2 without the dot


@pytest.mark.parametrize(
    "order", [[0, 1, 2, 3, 4], [0, 3, 1, 4, 2]], ids=["claims together", "claims interleaved"]
)
def test_claim_consistency_blames_each_line_that_differs_from_the_claim_first_line(order):
    """Lines 2 and 3 of C1 agree with each other, not with line 1: both are blamed, whether the check
    compares neighbours (a claim's lines together) or each line with the claim's first line."""
    rows = [
        {"claim_id": claim, "line_number": line, "patient_id": patient}
        for claim, line, patient in [
            ("C1", "1", "P1"),
            ("C1", "2", "P2"),
            ("C1", "3", "P2"),
            ("C2", "1", "P3"),
            ("C2", "2", "P3"),
        ]
    ]
    found, _ = failures(prepare(claim_lines([rows[i] for i in order])), AS_OF, POS)
    flagged = found.filter(pl.col("check") == "claim_field_consistent")
    assert sorted(order[row] for row in flagged["_row"]) == [1, 2]


def test_duplicate_lines_with_an_overflowing_pointer_are_judged_not_crashed():
    """Two lines of one claim and line number, one pointer too long for an integer: the duplicate is
    found (pandera builds its failure cases from the whole rows, which once made polars panic)."""
    rows = [
        {"claim_id": "C1", "line_number": "2", "diagnosis_pointers": "99999999999"},
        {"claim_id": "C1", "line_number": "2", "diagnosis_pointers": "1e309"},
    ]
    found, table = failures(prepare(claim_lines(rows)), AS_OF, POS)
    assert table.is_empty()
    assert {"multiple_fields_uniqueness", "pointer_format"} <= set(found["check"])


def test_lazy_queries_run_in_memory():
    """polars 2 collects a LazyFrame on its streaming engine by default, where each of pandera's
    ~230 small queries per file costs twice as much; importing the validators sets in-memory."""
    assert pl.Config.state(if_set=True).get("POLARS_ENGINE_AFFINITY") == "in-memory"
    assert pl.LazyFrame({"a": [1, 2]}).select(pl.col("a").sum()).collect().item() == 3
