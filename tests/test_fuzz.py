"""Fuzzing every reader through the file boundary (issue 33): CSV, XLSX, 837P and notes inputs.

Each example is a claim file built from generated values, or a valid file with generated damage
(bytes cut, replaced or inserted). The properties: validate_file never raises; a file it cannot
use is set aside for an anticipated reason (never `read_failed`/`check_failed`, which mean an
exception cleanclaim did not foresee); its reason text holds no value of the file; a file it reads
gives findings that satisfy the findings contract. Few examples each: the fast suite runs it.
"""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path

import openpyxl
import polars as pl
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from cleanclaim.flows import pipeline
from cleanclaim.flows.synth import to_837
from cleanclaim.validators import findings as fnd
from cleanclaim.validators.contract import CANONICAL
from tests.conftest import AS_OF, claim_lines, write_csv

CANARY = "QZCANARY"
UNFORESEEN = {"read_failed", "check_failed"}
FUZZ = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)

# What breaks readers: quotes, separators, line ends, NUL, other scripts' digits, long runs.
cell = st.one_of(
    st.sampled_from(
        ["", " ", '"', '""', ",", "\r", "\n", "\r\n", "\x00", "\u0661", "\uff11", "-1"]
    ),
    st.text(max_size=12),
    st.from_regex(r"[0-9]{1,12}", fullmatch=True),
)
# The typed columns, with values of the right shape at the edges of what parses: dates of any
# year, amounts, units, line numbers and pointers (field integrity must catch what casts break on).
dates = st.one_of(
    st.sampled_from(["0000-01-01", "0001-01-01", "9999-12-31", "1900-02-29", "00/00/0000"]),
    st.from_regex(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", fullmatch=True),
    st.from_regex(r"[0-9]{1,2}/[0-9]{1,2}/[0-9]{4}", fullmatch=True),
)
numbers = st.one_of(
    st.sampled_from(["0", "-1", "1e309", "NaN", "inf", "99999999999", "\u0661", "1,2,3,4,5"]),
    st.from_regex(r"[0-9]{1,10}(\.[0-9]{1,3})?", fullmatch=True),
)
typed = st.fixed_dictionaries(
    {},
    optional={
        **dict.fromkeys(["service_date", "patient_dob", "injury_date"], dates),
        **dict.fromkeys(["units", "charge_amount", "line_number", "diagnosis_pointers"], numbers),
    },
)
row = st.dictionaries(st.sampled_from(CANONICAL[:-1]), cell, max_size=6)
# Damage: at a place (the header row's bytes more often), cut some bytes and insert others, biased
# to the bytes that delimit: line ends, quotes, separators, NUL, a cp1252 byte, a UTF-16 BOM.
damage = st.lists(
    st.tuples(
        st.one_of(st.integers(0, 400), st.integers(0, 20_000)),
        st.integers(0, 40),
        st.one_of(
            st.sampled_from([b"\r", b"\n", b'"', b",", b"\t", b"\x00", b"\xe9", b"\xff\xfe", b""]),
            st.binary(max_size=8),
        ),
    ),
    max_size=4,
)


def _damaged(data: bytes, cuts: list[tuple[int, int, bytes]]) -> bytes:
    for place, width, insert in cuts:
        at = place % (len(data) + 1)
        data = data[:at] + insert + data[at + width :]
    return data


def _check(tmp_path: Path, catalog, name: str, data: bytes, notes: bytes | None = None) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    notes_path = None
    if notes is not None:
        notes_path = tmp_path / (path.stem + ".notes.csv")
        notes_path.write_bytes(notes)
    outcome = pipeline.validate_file(pipeline.InputFile(path, notes=notes_path), catalog, AS_OF)
    event(outcome.error.reason if outcome.error else "read")
    if outcome.error is not None:
        assert outcome.error.reason not in UNFORESEEN, outcome.error.problem
        assert CANARY not in str(outcome.error)
    else:
        fnd.FindingsModel.validate(outcome.findings)


@FUZZ
@given(rows=st.lists(row, min_size=1, max_size=3), cuts=damage)
def test_fuzz_csv(tmp_path, catalog, rows, cuts):
    path = write_csv(tmp_path / "seed.csv", [{"claim_id": "C1"}, *rows])
    _check(tmp_path, catalog, "x.csv", _damaged(path.read_bytes(), cuts))


@FUZZ
@given(data=st.binary(max_size=300))
def test_fuzz_raw_bytes_named_csv_and_837(tmp_path, catalog, data):
    _check(tmp_path, catalog, "x.csv", data)
    _check(tmp_path, catalog, "y.837", b"ISA*" + data)


@FUZZ
@given(rows=st.lists(row, min_size=1, max_size=3), cuts=damage)
def test_fuzz_xlsx(tmp_path, catalog, rows, cuts):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(list(CANONICAL))
    for values in claim_lines([{"claim_id": "C1"}, *rows]).select(CANONICAL).iter_rows():
        ws.append([openpyxl.cell.cell.ILLEGAL_CHARACTERS_RE.sub("", v) if v else v for v in values])
    buffer = io.BytesIO()
    wb.save(buffer)
    _check(tmp_path, catalog, "x.xlsx", _damaged(buffer.getvalue(), cuts))


@FUZZ
@given(rows=st.lists(row, min_size=1, max_size=3), cuts=damage)
def test_fuzz_837(tmp_path, catalog, rows, cuts):
    # X12 delimiters in a value would make another file, not a damaged one: damage does that
    clean = [
        {k: v.replace("*", "").replace("~", "").replace(":", "") for k, v in r.items()}
        for r in rows
    ]
    batch = to_837(claim_lines([{"claim_id": "C1"}, *clean])).encode("utf-8")
    _check(tmp_path, catalog, "x.837", _damaged(batch, cuts))


@settings(FUZZ, max_examples=20)
@given(rows=st.lists(typed, min_size=1, max_size=3))
def test_fuzz_values_through_both_outputs(tmp_path, catalog, rows):
    """Values that parse at the edges reach the workbook and the findings file (a year-0 service
    date broke the workbook's writer, after the file had been read and checked)."""
    path = write_csv(tmp_path / "x.csv", [{"claim_id": "C1"}, *rows])
    outcome = pipeline.validate_file(pipeline.InputFile(path), catalog, AS_OF)
    assert outcome.error is None
    run = pipeline.Run([outcome], catalog, AS_OF, datetime.now())
    pipeline.write_outputs(run, tmp_path / "r.xlsx", tmp_path / "f.csv")
    fnd.FindingsModel.validate(outcome.findings)


@FUZZ
@given(notes=st.lists(st.tuples(cell, cell), max_size=4), cuts=damage)
def test_fuzz_notes(tmp_path, catalog, notes, cuts):
    extract = write_csv(tmp_path / "seed.csv", [{"claim_id": "C1"}]).read_bytes()
    text = pl.DataFrame(
        [("C1", f"pain {CANARY}"), *notes], schema=["claim_id", "note_text"], orient="row"
    ).write_csv()
    _check(tmp_path, catalog, "x.csv", extract, notes=_damaged(text.encode("utf-8"), cuts))
