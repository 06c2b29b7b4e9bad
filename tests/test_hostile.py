"""Hostile inputs run beside a good file (issue 33): never a traceback, never a lost claim.

Each attack is a file an adversary (or a broken export) hands `cleanclaim validate` next to a good
extract. What must hold every time: the exit code is the documented one, the good file's findings
are written, the hostile file is either set aside with its reason (Input problems, NOT READ in red on
the Summary) or read with its bad values as findings on their rows, and no value of the hostile file
reaches the terminal, the log or a file-level message. docs/exit-codes-and-limits.md lists them.
"""

from __future__ import annotations

import csv
import errno
import gc
import io
import logging
import os
import random
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import openpyxl
import polars as pl
import pytest

from cleanclaim.flows import pipeline, report
from cleanclaim.flows.cli import EXIT_CANT_WRITE, EXIT_HIGH, EXIT_UNUSABLE, EXIT_USAGE, main
from cleanclaim.flows.extract import MAX_COLUMNS, MAX_FIELD_BYTES
from cleanclaim.validators.contract import CANONICAL
from tests.conftest import AS_OF, validate_outputs, write_csv

CANARY = "QZCANARY"
CANARY_ROWS = [
    {"claim_id": f"C{CANARY}", "patient_id": f"P{CANARY}", "payer_name": f"N{CANARY}"},
    {"claim_id": f"C{CANARY}", "patient_id": f"P{CANARY}", "dx_1": f"D{CANARY}"},
]


@dataclass
class Ran:
    code: int
    terminal: str  # stdout + stderr
    logs: str
    findings: pl.DataFrame | None
    sheets: dict[str, list[tuple]]

    def text(self) -> str:
        """Every byte a user or a log collector sees, and every cell of both outputs."""
        cells = "\n".join(str(v) for rows in self.sheets.values() for r in rows for v in r)
        findings = self.findings.write_csv() if self.findings is not None else ""
        return "\n".join([self.terminal, self.logs, cells, findings])

    def set_aside(self) -> dict[str, str]:
        """File -> Status of the files the Summary's Files table says were not read."""
        return {
            r[0]: r[1]
            for r in self.sheets.get("Summary", [])
            if len(r) > 1 and isinstance(r[1], str) and r[1].startswith("NOT READ")
        }


def validate(tmp_path: Path, capsys, caplog, *paths, args=()) -> Ran:
    out = tmp_path / "out"
    with caplog.at_level(logging.INFO):
        code = main(
            [
                "validate",
                *map(str, paths),
                *validate_outputs(out),
                "-v",
                *args,
            ]
        )
    captured = capsys.readouterr()
    findings = sheets = None
    if (out / "f.csv").exists():
        findings = pl.read_csv(out / "f.csv", infer_schema=False)
    if (out / "r.xlsx").exists():
        wb = openpyxl.load_workbook(out / "r.xlsx", read_only=True)
        sheets = {ws.title: list(ws.iter_rows(values_only=True)) for ws in wb.worksheets}
    return Ran(code, captured.out + captured.err, caplog.text, findings, sheets or {})


@pytest.fixture
def good(tmp_path) -> Path:
    """A good extract whose one claim has a high finding (COD002, M54.5 is a header code)."""
    return write_csv(tmp_path / "good.csv", [{"claim_id": "G1", "dx_1": "M54.5"}])


def assert_good_file_reported(ran: Ran) -> None:
    assert "Traceback" not in ran.terminal
    good = ran.findings.filter(pl.col("source_file") == "good.csv")
    assert good["claim_id"].to_list() == ["G1"] and good["rule_id"].to_list() == ["COD002"]


def canary_csv(tmp_path: Path) -> str:
    return write_csv(tmp_path / "seed.csv", CANARY_ROWS).read_bytes().decode()  # CRLF kept


def _wide(text: str) -> bytes:
    header, rest = text.split("\r\n", 1)
    extra = MAX_COLUMNS - header.count(",")
    return (header + "".join(f",x{i}" for i in range(extra)) + "\r\n" + rest).encode()


def _panicking_parquet(text: str) -> bytes:
    """The canary rows as Parquet with a few bytes changed that make polars panic (PanicException, a
    BaseException) decoding a page, as a damaged file can: found by trying random changes."""
    out = io.BytesIO()
    pl.read_csv(io.StringIO(text), infer_schema=False).write_parquet(out)
    data, pick = bytearray(out.getvalue()), random.Random(207)
    for _ in range(pick.randint(1, 8)):
        data[pick.randrange(4, len(data) - 8)] = pick.randrange(256)
    return bytes(data)


def _far_cell_xlsx(text: str) -> bytes:
    """The canary rows as a workbook with one stray value in its last cell, XFD1048576: calamine would
    allocate the whole used range (512 GiB) and abort the process."""
    book = openpyxl.Workbook()
    sheet = book.active
    for row in csv.reader(io.StringIO(text)):
        sheet.append(row)
    sheet["XFD1048576"] = "x"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# name, file name, the file's bytes from the canary CSV text, the reason it is set aside for
SET_ASIDE = [
    ("blank first line", "a.csv", lambda t: ("\r\n" + t).encode(), "bad_header"),
    (
        "CR inside the header",
        "a.csv",
        lambda t: t.replace(",", ",\r", 1).encode(),
        "mixed_line_endings",
    ),
    (
        "header ends in a bare CR",
        "a.csv",
        lambda t: t.replace("\r\n", "\r", 1).encode(),
        "mixed_line_endings",
    ),
    ("random bytes named .csv", "a.csv", lambda t: random.Random(33).randbytes(5000), "not_text"),
    (
        "NUL in a value",
        "a.csv",
        lambda t: t.replace(CANARY, CANARY + "\x00", 1).encode(),
        "not_text",
    ),
    (
        "header field of 200 KB",
        "a.csv",
        lambda t: t.replace(",", "," + "h" * 200_000, 1).encode(),
        "bad_header",
    ),
    ("first line of 2 MB", "a.csv", lambda t: ("h" * (2 << 20) + "\n" + t).encode(), "bad_header"),
    ("more columns than Excel's", "a.csv", _wide, "too_many_columns"),
    (
        "a value over the field cap",
        "a.csv",
        lambda t: t.replace(CANARY, "v" * (MAX_FIELD_BYTES + 1), 1).encode(),
        "field_too_large",
    ),
    (
        "an unclosed quote",
        "a.csv",
        lambda t: t.replace(CANARY, '"' + CANARY, 1).encode(),
        "malformed_csv",
    ),
    ("only blank", "a.csv", lambda t: b" \r\n\r\n", "empty_file"),
    ("837 holding only ISA", "a.837", lambda t: b"ISA", "bad_isa"),
    ("837 cut inside its ISA", "a.837", lambda t: f"ISA*00*{CANARY}".encode(), "bad_isa"),
    ("legacy .xls", "a.xlsx", lambda t: b"\xd0\xcf\x11\xe0" + t.encode(), "encrypted_or_xls"),
    ("zip that is not a workbook", "a.xlsx", lambda t: b"PK\x03\x04" + t.encode(), "corrupt_zip"),
    ("truncated Parquet", "a.parquet", lambda t: b"PAR1" + t.encode(), "corrupt_parquet"),
    ("Parquet that makes polars panic", "a.parquet", _panicking_parquet, "corrupt_parquet"),
    ("workbook with a value in its last cell", "a.xlsx", _far_cell_xlsx, "xlsx_range_too_large"),
]


@pytest.mark.parametrize(
    "name, build, reason",
    [pytest.param(n, b, r, id=i) for i, n, b, r in SET_ASIDE],
)
def test_a_hostile_file_is_set_aside_and_the_good_file_is_reported(
    tmp_path, capsys, caplog, good, name, build, reason
):
    hostile = tmp_path / name
    hostile.write_bytes(build(canary_csv(tmp_path)))
    ran = validate(tmp_path, capsys, caplog, hostile, good)
    assert ran.code == EXIT_UNUSABLE
    assert_good_file_reported(ran)
    assert ran.set_aside() == {name: f"NOT READ: {reason}"}
    problems = [r for r in ran.sheets["Input problems"][1:] if r[0] == name]
    assert len(problems) == 1 and problems[0][1] is None  # the file, not a row of it
    assert CANARY not in ran.text()


# A bad value is a finding on its row (field integrity), never a crash or a set-aside file.
BAD_VALUES = [
    ("diagnosis_pointers", "9999999999"),  # ten digits: overflowed the pointer cast
    ("diagnosis_pointers", "\u0661"),  # ARABIC-INDIC DIGIT ONE: \d matched it, the cast did not
    ("diagnosis_pointers", "\uff11"),  # FULLWIDTH DIGIT ONE
    ("line_number", "0"),  # broke the findings model (line_number >= 1)
    ("line_number", "-1"),
    ("line_number", "99999999999999999999"),
    ("line_number", "\u0663"),
    ("units", "\u0661"),
    ("units", "1e309"),
    ("units", "NaN"),
    ("charge_amount", "\u0661\u0660\u0660"),
    ("charge_amount", "inf"),
    ("charge_amount", "99999999999999999999"),
    ("service_date", "\u0662\u0660\u0662\u0666-09-01"),
    ("service_date", "2026-02-30"),
    ("service_date", "0000-01-01"),  # year 0: polars parses it, Python's date (the workbook) cannot
    ("service_date", "01/01/0000"),
    ("patient_dob", "0000-01-01"),
    ("patient_dob", "99/99/9999"),
    ("billing_npi", "\u0661" * 10),
]


@pytest.mark.parametrize("column, value", BAD_VALUES)
def test_a_bad_value_is_a_finding_on_its_row(tmp_path, capsys, caplog, good, column, value):
    bad = write_csv(tmp_path / "v.csv", [{"claim_id": "V1", column: value}])
    ran = validate(tmp_path, capsys, caplog, bad, good)
    assert ran.code == EXIT_HIGH and not ran.set_aside()
    assert_good_file_reported(ran)
    on_row = ran.findings.filter(
        (pl.col("source_file") == "v.csv")
        & (pl.col("source_row") == "2")
        & (pl.col("category") == "field-integrity")
    )
    assert on_row.height >= 1


def test_a_notes_file_of_garbage_sets_its_extract_aside_and_says_so(tmp_path, capsys, caplog, good):
    folder = tmp_path / "in"
    folder.mkdir()
    write_csv(folder / "n.csv", CANARY_ROWS)
    (folder / "n.notes.csv").write_bytes(random.Random(7).randbytes(3000))
    ran = validate(tmp_path, capsys, caplog, folder, good)
    assert ran.code == EXIT_UNUSABLE and ran.set_aside() == {"n.csv": "NOT READ: not_text"}
    assert_good_file_reported(ran)
    assert "its notes file n.notes.csv cannot be used" in ran.terminal
    assert CANARY not in ran.text()


@pytest.mark.parametrize("kind", ["fifo", "device", "too_large", "missing", "dangling_link"])
def test_pipes_devices_and_oversized_files_are_refused_unopened(
    tmp_path, capsys, caplog, good, monkeypatch, kind
):
    if kind == "fifo":
        path = tmp_path / "pipe.csv"
        os.mkfifo(path)  # opening it for reading would block until a writer came
    elif kind == "device":
        path = Path("/dev/zero")  # reading it never ends
    elif kind == "too_large":
        path = write_csv(tmp_path / "big.csv", CANARY_ROWS * 20)
    else:
        path = tmp_path / "gone.csv"
        if kind == "dangling_link":
            path.symlink_to(tmp_path / "moved-away.csv")
    started = time.perf_counter()
    ran = validate(tmp_path, capsys, caplog, path, good, args=["--max-bytes", "4K"])
    assert time.perf_counter() - started < 60
    assert ran.code == EXIT_UNUSABLE
    assert_good_file_reported(ran)
    reason = {"too_large": "too_large", "missing": "unreadable", "dangling_link": "unreadable"}
    assert ran.set_aside() == {path.name: "NOT READ: " + reason.get(kind, "not_a_file")}


@pytest.mark.parametrize("stage", ["read", "check"])
def test_an_unforeseen_fault_sets_only_its_file_aside_without_its_message(
    tmp_path, capsys, caplog, good, monkeypatch, stage
):
    """Whatever raises inside one file's read or check (a library error quoting a cell) is that file's
    reason, by type and place only; the other files complete."""
    target = pipeline.read_extract if stage == "read" else pipeline.check_integrity

    def sabotaged(first, *args, **kwargs):
        name = Path(first).name if stage == "read" else first["source_file"].first()
        if name == "bad.csv":
            raise ValueError(f"could not parse `{CANARY}` as dtype i64")
        return target(first, *args, **kwargs)

    monkeypatch.setattr(pipeline, target.__name__, sabotaged)
    bad = write_csv(tmp_path / "bad.csv", CANARY_ROWS)
    ran = validate(tmp_path, capsys, caplog, bad, good)
    assert ran.code == EXIT_UNUSABLE
    assert_good_file_reported(ran)
    assert ran.set_aside() == {"bad.csv": f"NOT READ: {stage}_failed"}
    assert f"could not {stage} this file (ValueError at pipeline.py:" in ran.terminal
    assert CANARY not in ran.text()


@pytest.mark.parametrize("stage", ["read", "check"])
def test_the_stages_prefect_runs_as_tasks_raise_only_their_own_errors(
    tmp_path, catalog, monkeypatch, stage
):
    """The nightly and ad-hoc flows call pipeline.load and pipeline.check as Prefect tasks, whose
    state keeps the exception's text: it is an ExtractError naming the file, chaining nothing."""
    item = pipeline.InputFile(write_csv(tmp_path / "bad.csv", CANARY_ROWS))
    extract = pipeline.load(item, catalog)

    def sabotaged(*args, **kwargs):
        raise ValueError(f"could not parse `{CANARY}` as dtype i64")

    monkeypatch.setattr(
        pipeline, "read_extract" if stage == "read" else "check_integrity", sabotaged
    )
    with pytest.raises(pipeline.ExtractError) as err:
        if stage == "read":
            pipeline.load(item, catalog)
        else:
            pipeline.check(item, extract, catalog, AS_OF)
    assert err.value.reason == f"{stage}_failed" and CANARY not in str(err.value)
    assert err.value.__cause__ is None and err.value.__context__ is None


def test_utf16_without_a_bom_is_read(tmp_path, capsys, caplog, good):
    text = write_csv(tmp_path / "seed.csv", [{"claim_id": "U1", "dx_1": "M54.5"}]).read_text()
    for name, codec in (("le.csv", "utf-16-le"), ("be.csv", "utf-16-be")):
        (tmp_path / name).write_bytes(text.encode(codec))
    ran = validate(tmp_path, capsys, caplog, tmp_path / "le.csv", tmp_path / "be.csv", good)
    assert ran.code == EXIT_HIGH and not ran.set_aside()
    for name in ("le.csv", "be.csv"):
        assert ran.findings.filter(pl.col("source_file") == name)["claim_id"].to_list() == ["U1"]


# --------------------------------------------------------------------------- outputs


@pytest.mark.parametrize(
    "report_name, findings_name, says",
    [
        ("good.csv", "f.csv", "--report"),  # the extract itself
        ("r.xlsx", "good.csv", "--findings"),
        ("r.xlsx", "good.notes.csv", "--findings"),  # its notes sidecar
        ("same.xlsx", "same.xlsx", "the same file"),
        (".", "f.csv", "is a folder"),
        ("r.xlsx", ".", "is a folder"),
    ],
)
def test_outputs_that_would_replace_an_input_or_each_other_are_refused_first(
    tmp_path, capsys, good, report_name, findings_name, says
):
    write_csv(tmp_path / "good.notes.csv", [])  # a sidecar: an input too
    (tmp_path / "good.notes.csv").write_text("claim_id,note_text\nG1,pain\n")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    code = main(
        [
            "validate",
            str(good),
            "--report",
            str(tmp_path / report_name),
            "--findings",
            str(tmp_path / findings_name),
        ]
    )
    assert code == EXIT_USAGE
    assert says in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()} == before


def test_an_output_naming_a_device_is_refused_and_a_config_device_never_read(
    tmp_path, capsys, good
):
    """As root, renaming the report over /dev/null would have replaced the device."""
    out = ["--report", str(tmp_path / "r.xlsx"), "--findings", str(tmp_path / "f.csv")]
    assert main(["validate", str(good), "--report", "/dev/null"]) == EXIT_USAGE
    assert Path("/dev/null").is_char_device()
    with pytest.raises(OSError, match="not a regular file"), report.atomic_path("/dev/null"):
        pass  # the nightly flow writes through it too
    assert main(["validate", str(good), "--config", "/dev/zero", *out]) == EXIT_UNUSABLE
    assert "the path is a device" in capsys.readouterr().err


def test_a_usage_error_has_its_own_exit_code(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["validate", "x.csv", "--max-rows", "many"])
    assert exit_.value.code == EXIT_USAGE


@pytest.mark.parametrize(
    "where, error",
    [
        ("mkstemp", errno.EACCES),
        ("replace", errno.ENOSPC),
        ("save", errno.ENOSPC),
        ("zip_member", errno.ENOSPC),
    ],
)
def test_an_output_that_cannot_be_written_ends_clearly(
    tmp_path, capsys, good, monkeypatch, where, error
):
    """A read-only folder (mkstemp refused) or a full disk (the write or the rename refused: a root
    test process cannot make a folder read-only for itself, so the system calls are made to fail)."""
    failure = OSError(error, os.strerror(error), str(tmp_path / "out" / ".tmp-r.xlsx.x.xlsx"))
    if where == "mkstemp":
        monkeypatch.setattr(report.tempfile, "mkstemp", lambda **kw: (_ for _ in ()).throw(failure))
    elif where == "replace":
        monkeypatch.setattr(report.os, "replace", lambda *a: (_ for _ in ()).throw(failure))
    elif where == "zip_member":  # the disk fills inside openpyxl's save, its sheets half written
        calls = []

        def third_fails(original):
            def member(self, *args, **kwargs):
                calls.append(1)
                if len(calls) == 3:  # a fresh error: a kept one would keep the sheets alive
                    raise OSError(error, os.strerror(error))
                return original(self, *args, **kwargs)

            return member

        for name in ("write", "writestr"):
            monkeypatch.setattr(zipfile.ZipFile, name, third_fails(getattr(zipfile.ZipFile, name)))
    else:

        def half_then_full(self, path):
            Path(path).write_bytes(b"PK\x03\x04 half a zip")
            raise failure

        monkeypatch.setattr(report.Workbook, "save", half_then_full)
    unraisable = []  # what Python would print as "Exception ignored in ... Traceback"
    monkeypatch.setattr(sys, "unraisablehook", lambda u: unraisable.append(u.exc_type))
    out = tmp_path / "out"
    code = main(
        ["validate", str(good), "--report", str(out / "r.xlsx"), "--findings", str(out / "f.csv")]
    )
    gc.collect()
    assert not unraisable
    err = capsys.readouterr().err
    assert code == EXIT_CANT_WRITE
    assert "Traceback" not in err and "Exception ignored" not in err
    assert os.strerror(error) in err and str(out) in err
    assert not list(out.glob(".tmp-*"))  # no debris
    assert not (out / "r.xlsx").exists()


def test_stale_temporary_files_of_an_output_are_swept_and_fresh_ones_kept(tmp_path, good):
    out = tmp_path / "out"
    out.mkdir()
    stale, fresh, other = (
        out / n for n in (".tmp-r.xlsx.a1.xlsx", ".tmp-r.xlsx.b2.xlsx", ".tmp-x.xlsx.c3.xlsx")
    )
    for debris in (stale, fresh, other):
        debris.write_bytes(b"half a zip")
    old = time.time() - report.STALE_TEMP_SECONDS - 60
    os.utime(stale, (old, old))
    os.utime(other, (old, old))
    code = main(
        [
            "validate",
            str(good),
            "--report",
            str(out / "r.xlsx"),
            "--findings",
            str(out / "f.csv"),
            "-q",
        ]
    )
    assert code == EXIT_HIGH
    assert not stale.exists()  # a killed write of r.xlsx
    assert fresh.exists()  # maybe another run writing r.xlsx right now
    assert other.exists()  # another output's


def test_reading_is_linear_in_the_number_of_columns(tmp_path):
    """16,000 columns, just under the cap: the per-column work was quadratic in the columns."""
    from cleanclaim.flows.extract import read_extract

    text = write_csv(tmp_path / "seed.csv", [{"claim_id": "W1"}]).read_bytes().decode()
    header, row = text.split("\r\n")[:2]
    n = 16_000 - len(CANONICAL)
    (tmp_path / "wide.csv").write_text(
        header + "".join(f",x{i}" for i in range(n)) + "\n" + row + ",v" * n + "\n"
    )
    started = time.perf_counter()
    extract = read_extract(tmp_path / "wide.csv")
    assert time.perf_counter() - started < 20  # quadratic took minutes
    assert extract.lines.height == 1 and extract.lines["claim_id"].to_list() == ["W1"]
