"""PHI stays in: no patient id, date of birth or note text in messages, logs or errors (T16, T17, T24)."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import openpyxl
import polars as pl
import pytest

from cleanclaim.flows.cli import main
from cleanclaim.flows.extract import read_extract
from cleanclaim.flows.synth import to_837
from cleanclaim.validators.contract import CANONICAL, PHI
from cleanclaim.validators.errors import ExtractError
from cleanclaim.validators.integrity import check_integrity
from tests.conftest import AS_OF, claim_lines, write_csv

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


# --------------------------------------------------------------------------- the contract, end to end
#
# What cleanclaim promises about input values (issue 33), for every input format and every way a
# file can fail:
# 1. What a run prints or logs, every error's text and chain, and every file-level message (the
#    Summary's facts and NOT READ lines, the Files table, an Input problems row for a whole file)
#    hold no input value at all: they name files, positions (row, column number, segment), counts,
#    reasons and rule ids. The Summary's tables group by payer id and billing NPI, by design.
# 2. A finding may quote its own row's values where they are what must be fixed (a code, an NPI, an
#    amount): in the findings file, the Findings sheet and, for structural findings, Input problems.
#    Never a PHI column's value (patient id, date of birth, note text): those show as "(hidden)".
# 3. The Claims sheet is the work list: claim id, patient id, payer, NPI and dates of service by
#    design; never a date of birth or note text.

TOKEN = r"ZQ\d\dCANARY"  # one per column: ZQ00CANARY in claim_id, ZQ01CANARY in line_number ...
TOKENS = {c: f"ZQ{i:02d}CANARY" for i, c in enumerate(CANONICAL)}
PHI_TOKENS = {TOKENS[c] for c in PHI}


def _canary_lines() -> pl.DataFrame:
    return claim_lines([{c: TOKENS[c] for c in CANONICAL}, {c: TOKENS[c] for c in CANONICAL}])


def _xlsx(path, rows) -> None:
    wb = openpyxl.Workbook()
    for row in rows:
        wb.active.append(list(row))
    wb.save(path)


def _build(kind: str, folder: Path) -> Path:
    """A file of the canary lines through one failing path of one format."""
    lines = _canary_lines()
    csv_path = write_csv(folder / "seed.csv", lines.select(CANONICAL).to_dicts())
    text = csv_path.read_bytes()
    target = folder / f"hostile.{kind.split('_', maxsplit=1)[0].replace('x12', '837')}"
    if kind == "csv_values":
        target.write_bytes(text)
    elif kind == "csv_unclosed_quote":
        target.write_bytes(text.replace(b"ZQ05", b'"ZQ05', 1))
    elif kind == "csv_ragged":
        write_csv(target, lines.select(CANONICAL).to_dicts(), extra_fields={0: 2})
    elif kind == "csv_no_header":
        target.write_bytes(text.split(b"\r\n", 1)[1])
    elif kind in ("xlsx_values", "xlsx_no_header", "xlsx_truncated"):
        rows = lines.select(CANONICAL).rows()
        _xlsx(target, rows if kind == "xlsx_no_header" else [CANONICAL, *rows])
        if kind == "xlsx_truncated":
            target.write_bytes(target.read_bytes()[: target.stat().st_size // 2])
    elif kind in ("parquet_values", "parquet_truncated"):
        lines.select(CANONICAL).write_parquet(target)
        if kind == "parquet_truncated":
            target.write_bytes(target.read_bytes()[: target.stat().st_size // 2])
    elif kind == "parquet_numeric_codes":
        lines.select(CANONICAL).with_columns(pl.lit(99213).alias("procedure_code")).write_parquet(
            target
        )
    elif kind in ("x12_values", "x12_truncated"):
        batch = to_837(lines)
        target.write_text(batch if kind == "x12_values" else batch[: batch.rindex("SE*")])
    elif kind in ("notes_values", "notes_unclosed_quote"):
        target = write_csv(folder / "hostile.csv", [{"claim_id": "N1"}])
        note = f"{TOKENS['clinical_note']} {TOKENS['patient_id']}"
        body = f'claim_id,note_text\nN1,"{note}"\n'
        if kind == "notes_unclosed_quote":
            body = body.rstrip('"\n')
        (folder / "hostile.notes.csv").write_text(body)
    csv_path.unlink()
    return target


@pytest.mark.parametrize(
    "kind",
    [
        "csv_values",
        "csv_unclosed_quote",
        "csv_ragged",
        "csv_no_header",
        "xlsx_values",
        "xlsx_no_header",
        "xlsx_truncated",
        "parquet_values",
        "parquet_truncated",
        "parquet_numeric_codes",
        "x12_values",
        "x12_truncated",
        "notes_values",
        "notes_unclosed_quote",
    ],
)
def test_no_input_value_leaks_through_any_format_or_failure(tmp_path, capsys, caplog, kind):
    from tests.test_hostile import validate

    inputs = tmp_path / "in"
    inputs.mkdir()
    hostile = _build(kind, inputs)
    good = write_csv(tmp_path / "good.csv", [{"claim_id": "G1", "dx_1": "M54.5"}])
    ran = validate(tmp_path, capsys, caplog, inputs, good)
    assert ran.code in (1, 2) and "Traceback" not in ran.terminal
    assert ran.findings.filter(pl.col("claim_id") == "G1").height  # the good file's findings

    def leaked(text: str, tokens=None) -> set[str]:
        found = set(re.findall(TOKEN, text))
        return found & tokens if tokens is not None else found

    assert not leaked(ran.terminal), "terminal"
    assert not leaked(ran.logs), "log"
    assert not leaked(str(ran.sheets["Rules"])), "Rules"
    assert not leaked(str(ran.sheets["Summary"]), PHI_TOKENS), "Summary"  # by payer and NPI
    whole_file = [r for r in ran.sheets["Input problems"][1:] if r[1] is None]
    assert not leaked(str(whole_file)), "a file-level problem"
    assert not leaked(ran.findings.write_csv(), PHI_TOKENS), "findings file"
    for sheet in ("Findings", "Input problems"):
        assert not leaked(str(ran.sheets[sheet]), PHI_TOKENS), sheet
    shown = {TOKENS["patient_id"]}  # the work list names the patient by id, never by birth date
    assert not leaked(str(ran.sheets["Claims"]), PHI_TOKENS - shown), "Claims"
    read = kind.endswith("_values") or kind == "csv_ragged"  # the ragged row is a finding
    assert (hostile.name in ran.set_aside()) is not read
