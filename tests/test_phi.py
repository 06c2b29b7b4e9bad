"""PHI stays in: no patient id, date of birth or note text in messages, logs or errors (T16, T17, T24)."""

from __future__ import annotations

import logging

import polars as pl
import pytest

from flows.cli import main
from flows.extract import read_extract
from tests.conftest import AS_OF, claim_lines, write_csv
from validators.errors import ExtractError
from validators.integrity import check_integrity

CANARY_ID = "ZEBEDIAH-CANARY-4471"
CANARY_DOB = (
    "1899-02-29"  # not a date: fails the date check, so its value would be quoted if anything were
)
CANARY_NOTE = "CANARYSON has a secret"


def test_failing_phi_fields_are_reported_without_their_values(catalog):
    rows = [
        {
            "claim_id": "C1",
            "patient_id": CANARY_ID,
            "patient_dob": CANARY_DOB,
            "clinical_note": CANARY_NOTE,
        },
        {"claim_id": "C1", "patient_id": CANARY_ID + "X", "patient_dob": "2030-01-01"},
    ]
    found = check_integrity(claim_lines(rows), catalog, AS_OF).findings
    assert {"FLD003", "FLD004"} <= set(found["rule_id"])  # the defects are reported...
    text = " ".join(found.select(pl.concat_str(pl.all().cast(pl.String).fill_null(""))).to_series())
    for canary in (CANARY_ID, CANARY_DOB, "2030-01-01", CANARY_NOTE):
        assert canary not in text  # ...without the values
    assert "(hidden)" in text


def test_run_logs_and_terminal_carry_no_phi(tmp_path, caplog, capsys):
    path = write_csv(
        tmp_path / "x.csv", [{"claim_id": "C1", "patient_id": CANARY_ID, "patient_dob": CANARY_DOB}]
    )
    with caplog.at_level(logging.DEBUG):
        main(
            [
                "validate",
                str(path),
                "--as-of",
                "2026-09-30",
                "--report",
                str(tmp_path / "r.xlsx"),
                "--findings",
                str(tmp_path / "f.csv"),
                "-v",
            ]
        )
    out = capsys.readouterr()
    for canary in (CANARY_ID, CANARY_DOB):
        assert canary not in caplog.text and canary not in out.out and canary not in out.err
        assert canary.encode() not in (tmp_path / "f.csv").read_bytes()


@pytest.mark.parametrize(
    "body",
    [
        f'C1,1,{CANARY_ID},"unclosed\n',  # parser failure
        f"C1,1,{CANARY_ID}\n",  # missing columns
    ],
)
def test_file_errors_never_quote_cell_values(tmp_path, body):
    (tmp_path / "x.csv").write_text("claim_id,line_number,patient_id,service_date\n" + body)
    with pytest.raises(ExtractError) as err:
        read_extract(tmp_path / "x.csv")
    assert CANARY_ID not in str(err.value)
    context = err.value.__context__  # a parser exception (which quotes cells) is never chained
    assert err.value.__cause__ is None and (context is None or err.value.__suppress_context__)
