"""Readers: every encoding and layout of the contract, and the file-level errors."""

from __future__ import annotations

import codecs
import csv
import io
import struct
import zipfile
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from cleanclaim.flows import extract, pipeline
from cleanclaim.flows.extract import (
    NOT_UTF8_KIND,
    check_xlsx_container,
    read_extract,
    read_notes,
    read_table,
)
from cleanclaim.validators.contract import CANONICAL
from cleanclaim.validators.errors import ExtractError
from tests.conftest import DATA, line_dicts, write_csv

HEADER = ",".join(CANONICAL)
# Unicode White_Space, what the reader trims; Python's str.strip() also eats \x1c-\x1f, which are data.
WHITE_SPACE = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680"
    + "".join(map(chr, range(0x2000, 0x200B)))
    + "\u2028\u2029\u202f\u205f\u3000"
)


def csv_text(rows: list[dict], sep: str = ",") -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=sep, lineterminator="\n")
    writer.writerow(CANONICAL)
    for row in line_dicts(rows):
        writer.writerow(["" if row[c] is None else row[c] for c in CANONICAL])
    return buf.getvalue()


# --------------------------------------------------------------------------- CSV encodings and layouts


@pytest.mark.parametrize(
    "encoding, payload",
    [
        ("utf-8", lambda t: t.encode("utf-8")),
        ("utf-8-sig", lambda t: codecs.BOM_UTF8 + t.encode("utf-8")),
        (
            "utf-16",
            lambda t: t.replace(",", "\t").replace("\n", "\r\n").encode("utf-16"),
        ),  # Excel "Unicode text"
        ("cp1252", lambda t: t.encode("cp1252")),
    ],
)
def test_each_encoding_reads_exactly(tmp_path, encoding, payload):
    text = csv_text([{"claim_id": "C1", "payer_name": "Blue Cross\u00ae Bl\u00fc\u00e9 Shield"}])
    path = tmp_path / "x.csv"
    path.write_bytes(payload(text))
    extract = read_extract(path)
    assert extract.lines["payer_name"].to_list() == ["Blue Cross\u00ae Bl\u00fc\u00e9 Shield"]
    assert extract.facts["encoding"] == encoding


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_without_a_bom_is_recognised_by_its_nul_bytes(tmp_path, codec):
    text = csv_text([{"claim_id": "C1", "payer_name": "Bl\u00fc\u00e9 Shield"}])
    (tmp_path / "x.csv").write_bytes(text.encode(codec))
    extract = read_extract(tmp_path / "x.csv")
    assert extract.lines["payer_name"].to_list() == ["Bl\u00fc\u00e9 Shield"]
    assert extract.facts["encoding"] == codec


def test_a_utf8_file_with_a_few_cp1252_rows_is_not_transcoded_whole(tmp_path):
    """One Windows-1252 row in a UTF-8 file: the UTF-8 rows keep their text ("Médicare" never becomes
    "MÃ©dicare"), the other row's bytes are read as Windows-1252, and that row is named (FLD028)."""
    rows = [
        {"claim_id": "C1", "payer_name": "M\u00e9dicare"},
        {"claim_id": "C2", "payer_name": "CAJA M\u00c9DICA", "clinical_note": 'said "a\nb"'},
        {"claim_id": "C3", "payer_name": "Pe\u00f1a Health"},
    ]
    records = write_csv(tmp_path / "x.csv", rows).read_bytes().split(b"\r\n")
    records[3] = records[3].decode("utf-8").encode("cp1252")  # C3, after C2's quoted line break
    (tmp_path / "x.csv").write_bytes(b"\r\n".join(records))
    extract = read_extract(tmp_path / "x.csv")
    assert extract.lines["payer_name"].to_list() == [
        "M\u00e9dicare",
        "CAJA M\u00c9DICA",
        "Pe\u00f1a Health",
    ]
    assert extract.rejected.select("source_row", "claim_id", "kind").rows() == [
        (4, "C3", NOT_UTF8_KIND)
    ]
    assert extract.facts["encoding"] == "utf-8, some rows windows-1252"


def test_a_header_problem_names_columns_by_position_not_by_text(tmp_path):
    """A file without its header row has claim values where the names should be."""
    text = csv_text([{"claim_id": "C1"}]).replace("payer_name", "payer_id", 1)
    (tmp_path / "x.csv").write_text(text)
    with pytest.raises(ExtractError, match=r"columns 6 and 7 both map to payer_id"):
        read_extract(tmp_path / "x.csv")


@pytest.mark.parametrize("ending", ["\r\n", "\r", "\n"])
def test_line_endings(tmp_path, ending):
    text = csv_text([{"claim_id": "C1"}, {"claim_id": "C2"}]).replace("\n", ending)
    (tmp_path / "x.csv").write_bytes(text.encode())
    lines = read_extract(tmp_path / "x.csv").lines
    assert lines["claim_id"].to_list() == ["C1", "C2"]
    assert lines["dx_1"].to_list() == ["M54.12", "M54.12"]  # no stray \r on the last column


def test_quoted_newlines_and_commas_stay_in_their_field(tmp_path):
    rows = [
        {"claim_id": "C1", "payer_name": 'Smith, Jones "and" Co\nsecond line'},
        {"claim_id": "C2"},
    ]
    write_csv(tmp_path / "x.csv", rows)
    extract = read_extract(tmp_path / "x.csv")
    assert extract.lines["payer_name"].to_list()[0] == 'Smith, Jones "and" Co\nsecond line'
    assert extract.lines["source_row"].to_list() == [2, 3] and extract.rejected.is_empty()


def test_ragged_rows_are_reported_with_their_row_never_padded(tmp_path):
    rows = [
        {"claim_id": " C1"},
        {"claim_id": "C2"},
        {"claim_id": "C3"},
        {"claim_id": "C4"},
    ]  # kept rows still trimmed
    write_csv(tmp_path / "x.csv", rows, extra_fields={1: 1}, missing_fields={2: 3})
    extract = read_extract(tmp_path / "x.csv")
    assert extract.lines["claim_id"].to_list() == ["C1", "C4"]
    assert extract.rejected.rows() == [
        (
            3,
            "C2",
            f"has {len(CANONICAL) + 1} fields where the header has {len(CANONICAL)}",
            "field_count",
        ),
        (
            4,
            "C3",
            f"has {len(CANONICAL) - 3} fields where the header has {len(CANONICAL)}",
            "field_count",
        ),
    ]


def test_blank_lines_are_skipped_and_counted(tmp_path):
    text = csv_text([{"claim_id": "C1"}, {"claim_id": "C2"}]).replace("\nC2", "\n\n\nC2")
    (tmp_path / "x.csv").write_text(text)
    extract = read_extract(tmp_path / "x.csv")
    assert extract.lines["claim_id"].to_list() == ["C1", "C2"] and extract.facts["blank_rows"] == 2
    assert extract.lines["source_row"].to_list() == [2, 5]


@pytest.mark.parametrize("sep", ["\t", ";", "|"])
def test_separator_is_sniffed_from_the_header(tmp_path, sep):
    (tmp_path / "x.txt").write_text(csv_text([{"claim_id": "C1", "payer_name": "A, B"}], sep=sep))
    assert read_extract(tmp_path / "x.txt").lines["payer_name"].to_list() == ["A, B"]


def test_codes_are_never_coerced(tmp_path):
    values = {
        "claim_id": "0001",
        "patient_id": "1E5",
        "billing_npi": "0123456789",
        "place_of_service": "02",
        "procedure_code": "0001U",
        "dx_1": "250.00",
        "units": "-0",
        "payer_name": "NA",
        "payer_id": "Null",
    }
    write_csv(tmp_path / "x.csv", [values])
    row = read_extract(tmp_path / "x.csv").lines.row(0, named=True)
    assert {k: row[k] for k in values} == values


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.text(
            alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
            max_size=30,
        ),
        min_size=1,
        max_size=4,
    ),
    st.sampled_from(["utf-8", "utf-8-sig", "utf-16"]),
)
def test_any_text_round_trips_exactly(tmp_path, names, encoding):
    """Hypothesis: whatever a payer name contains (quotes, commas, CR, LF, unicode), it comes back as written."""
    rows = [{"claim_id": f"C{i}", "payer_name": name} for i, name in enumerate(names)]
    path = write_csv(tmp_path / "x.csv", rows)
    path.write_bytes(path.read_bytes().decode("utf-8").encode(encoding))
    lines = read_extract(path).lines
    expected = [
        n.strip(WHITE_SPACE) or None for n in names
    ]  # the reader trims and turns empty text into null
    assert lines["payer_name"].to_list() == expected


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.lists(
            st.lists(st.sampled_from(["a", ",", '"', "\n", "\r\n", " "]), max_size=6).map("".join),
            max_size=5,
        ),
        max_size=8,
    ),
    st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]),
    st.sampled_from(["\n", "\r\n"]),
    st.sampled_from([1, 2, 3, 7, 64, 1 << 23]),
)
def test_field_counts_match_the_csv_module_across_scan_chunks(
    monkeypatch, rows, quoting, newline, chunk
):
    """Hypothesis: the quote-aware field count agrees with Python's csv writer record by record, also
    when quoted fields, separators and CRLF straddle the scan's chunks (records of any width, blank ones).
    A CR only comes before LF: the writer leaves a lone CR unquoted, which makes its own file ambiguous."""
    buf = io.StringIO()
    csv.writer(buf, quoting=quoting, lineterminator=newline).writerows(rows)
    monkeypatch.setattr(extract, "_SCAN_CHUNK", chunk)
    counts, blank = extract.record_field_counts(buf.getvalue().encode(), ",")
    assert counts.tolist() == [max(len(row), 1) for row in rows]
    assert blank.tolist() == [not row for row in rows]


# A field of a CSV for the byte scan: any text of its alphabet, or text kept off the edges by letters.
_TEXT = st.text(alphabet=st.sampled_from(list('a ,"\t\r\n\x1f!')), max_size=5)
FIELD = st.one_of(_TEXT, _TEXT.map(lambda middle: f"a{middle}a"))


@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(st.lists(FIELD, min_size=3, max_size=3), min_size=1, max_size=6),
    st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]),
    st.sampled_from(["\n", "\r\n"]),
    st.sampled_from([1, 2, 3, 7, 1 << 23]),
)
def test_a_file_said_to_need_no_trimming_needs_none(monkeypatch, rows, quoting, newline, chunk):
    """Hypothesis: whenever the byte scan clears a file, no value polars reads from it has white space
    at an edge or is empty (what the per-column test would look for), also across scan chunks."""
    buf = io.StringIO()
    csv.writer(buf, quoting=quoting, lineterminator=newline).writerows([["h1", "h2", "h3"], *rows])
    data = buf.getvalue().encode()
    monkeypatch.setattr(extract, "_SCAN_CHUNK", chunk)
    if extract.edge_space_free(data, ",", data.index(b"\n") + 1):
        frame = pl.read_csv(data, infer_schema=False, truncate_ragged_lines=True, quote_char='"')
        assert not any(extract._needs_trim(frame, frame.columns))


@pytest.mark.parametrize(
    "text, sep, clean",
    [
        ('h1,h2\nC1,Blue Cross\nC2,"Aetna, Inc"\n', ",", True),  # a separator inside quotes is data
        ('"h1","h2"\r\n"C1","Blue Cross"\r\n"C2",""\r\n', ",", False),  # "" may be an empty string
        ('"h1","h2"\r\n"C1","Blue Cross"\r\n"C2","x"\r\n', ",", True),  # every field quoted, CRLF
        (
            "h1\th2\nC1\tBlue Cross\n",
            "\t",
            False,
        ),  # tab-separated: a tab is white space and a separator
        ("h1,h2\nC1, Blue Cross\n", ",", False),
        ("h1,h2\nC1,Blue Cross \n", ",", False),
        ('h1,h2\nC1,"Blue Cross "\n', ",", False),
        ('h1,h2\nC1,"\nBlue Cross"\n', ",", False),
        ("h1,h2\nC1\t,x\n", ",", False),
        ('h1,h2\nC1,Blue"Cross\n', ",", False),  # a quote that neither opens nor closes a field
        ("h1,h2\nC1,Blue Cross\u00a0\n", ",", False),  # Unicode white space is left to the test
    ],
)
def test_the_byte_scan_clears_clean_files_only(text, sep, clean):
    data = text.encode()
    assert extract.edge_space_free(data, sep, data.index(b"\n") + 1) is clean


def test_a_clean_export_is_not_tested_column_by_column(monkeypatch):
    """The sample export passes the byte scan, so the reader never runs the per-column test on it
    (and a file that fails the scan still gets trimmed: test_ragged_rows_are_reported_with_their_row_never_padded)."""

    def per_column_test(frame, columns):
        raise AssertionError("the per-column trimming test ran on a file the scan cleared")

    monkeypatch.setattr(extract, "_needs_trim", per_column_test)
    assert (
        read_extract(
            Path(__file__).parents[1] / "sample_claims" / "spine_pain_clinic.csv"
        ).lines.height
        > 0
    )


# --------------------------------------------------------------------------- header mapping


def test_header_variants_are_normalised(tmp_path):
    text = (
        csv_text([{"claim_id": "C1"}])
        .replace("claim_id", " Claim ID ", 1)
        .replace("service_date", "SERVICE-DATE", 1)
    )
    (tmp_path / "x.csv").write_text(text)
    assert read_extract(tmp_path / "x.csv").lines["claim_id"].to_list() == ["C1"]


def test_mapping_file_maps_a_practice_export(tmp_path):
    text = csv_text([{"claim_id": "C9", "service_date": "09/15/2026"}])
    text = text.replace("claim_id", "Patient Acct #", 1).replace("service_date", "DOS", 1)
    (tmp_path / "x.csv").write_text(text + "")
    (tmp_path / "m.yaml").write_text(
        'columns:\n  "Patient Acct #": claim_id\n  DOS: service_date\n'
    )
    lines = read_extract(tmp_path / "x.csv", mapping=tmp_path / "m.yaml").lines
    assert lines.select("claim_id", "service_date").row(0) == ("C9", "09/15/2026")


def test_unknown_columns_are_not_read(tmp_path):
    text = csv_text([{"claim_id": "C1"}])
    head, body = text.split("\n", 1)
    (tmp_path / "x.csv").write_text(head + ",Patient Name\n" + body.replace("\n", ',"DOE, JANE"\n'))
    extract = read_extract(tmp_path / "x.csv")
    assert "Patient Name" in extract.facts["ignored_columns"]
    assert "DOE, JANE" not in str(extract.lines.to_dicts())


@pytest.mark.parametrize(
    "mutate, reason, words",
    [
        (lambda t: t.replace("procedure_code,", "", 1), "missing_columns", "procedure_code"),
        (lambda t: t.replace("payer_name", "payer_id", 1), "bad_header", "both map to payer_id"),
        (lambda t: t.replace("payer_name", "", 1), "bad_header", "blank"),
        (lambda t: "", "empty_file", "empty"),
        (lambda t: " \r\n\t\n", "empty_file", "empty"),
        (lambda t: t.replace("PT-1,", 'PT-1,"unclosed', 1), "malformed_csv", "never closed"),
    ],
)
def test_bad_files_name_the_problem(tmp_path, mutate, reason, words):
    (tmp_path / "x.csv").write_text(mutate(csv_text([{"claim_id": "C1"}])))
    with pytest.raises(ExtractError) as err:
        read_extract(tmp_path / "x.csv")
    assert err.value.reason == reason and words in str(err.value) and "x.csv" in str(err.value)


def test_header_only_file_has_no_lines(tmp_path):
    (tmp_path / "x.csv").write_text(HEADER + "\n")
    assert read_extract(tmp_path / "x.csv").lines.height == 0


def test_too_many_rows_is_refused_before_parsing(tmp_path):
    write_csv(tmp_path / "x.csv", [{"claim_id": f"C{i}"} for i in range(5)])
    with pytest.raises(ExtractError, match="more than the 3 allowed"):
        read_extract(tmp_path / "x.csv", max_rows=3)


def test_rows_are_counted_not_newlines_against_the_row_limit(tmp_path):
    # six newlines inside quoted notes: more newlines than the limit, but three rows, which it allows
    rows = [
        {"claim_id": f"C{i}", "clinical_note": "Neck pain.\nNo numbness.\nPlan: PT."}
        for i in range(3)
    ]
    write_csv(tmp_path / "x.csv", rows)
    assert (tmp_path / "x.csv").read_bytes().count(b"\n") > 3 + 1
    extract = read_extract(tmp_path / "x.csv", max_rows=3)
    assert extract.lines["claim_id"].to_list() == ["C0", "C1", "C2"]
    assert extract.lines["clinical_note"][0] == "Neck pain.\nNo numbness.\nPlan: PT."


def test_explicit_encoding_that_does_not_fit_is_an_error(tmp_path):
    (tmp_path / "x.csv").write_bytes(csv_text([{"payer_name": "Bl\u00fc"}]).encode("cp1252"))
    with pytest.raises(ExtractError, match="not valid utf-8"):
        read_extract(tmp_path / "x.csv", encoding="utf-8")


# --------------------------------------------------------------------------- XLSX


def xlsx(path: Path, rows: list[list]) -> Path:
    wb = Workbook()
    ws = wb.active
    for row in rows:
        ws.append(row)
    wb.save(path)
    return path


def test_xlsx_reads_numbers_as_their_text_and_formulas_as_values(tmp_path):
    row = line_dicts([{"claim_id": "C1"}])[0]
    values = [row[c] for c in CANONICAL]
    values[CANONICAL.index("procedure_code")] = 99213  # a numeric cell
    values[CANONICAL.index("payer_name")] = (
        '=HYPERLINK("http://evil.invalid","x")'  # never evaluated, never kept
    )
    path = xlsx(tmp_path / "x.xlsx", [list(CANONICAL), values])
    lines = read_extract(path).lines
    assert lines["procedure_code"].to_list() == ["99213"]
    assert lines["payer_name"].to_list() == [
        None
    ]  # openpyxl writes no cached value: calamine gives the value, not the formula
    assert lines["source_row"].to_list() == [2]


def test_xlsx_extension_does_not_matter(tmp_path):
    row = line_dicts([{"claim_id": "C1"}])[0]
    path = xlsx(tmp_path / "renamed.csv", [list(CANONICAL), [row[c] for c in CANONICAL]])
    assert read_extract(path).facts["format"] == "xlsx"


def _zip_with(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def test_zip_bomb_is_rejected_before_parsing(tmp_path):
    path = _zip_with(
        tmp_path / "bomb.xlsx",
        {"[Content_Types].xml": b"<x/>", "xl/worksheets/sheet1.xml": b" " * (40 * 1024**2)},
    )
    with pytest.raises(ExtractError) as err:
        check_xlsx_container(str(path), max_inflated=20 * 1024**2)
    assert err.value.reason == "zip_bomb"
    with pytest.raises(ExtractError) as err:  # and by ratio, under the size cap
        check_xlsx_container(str(path))
    assert err.value.reason == "zip_bomb"


def test_declared_size_that_lies_is_caught(tmp_path):
    path = _zip_with(
        tmp_path / "lie.xlsx",
        {
            "[Content_Types].xml": b"<x/>",
            "xl/worksheets/sheet1.xml": b"<sheetData>" + b"a" * 100_000,
        },
    )
    data = bytearray(path.read_bytes())
    # Forge the uncompressed size in the central directory entry of the sheet to 795 bytes.
    cd = data.rfind(b"PK\x01\x02")
    struct.pack_into("<I", data, cd + 24, 795)
    path.write_bytes(bytes(data))
    with pytest.raises(ExtractError) as err:
        check_xlsx_container(str(path))
    assert err.value.reason == "corrupt_zip"


@pytest.mark.parametrize(
    "content, reason",
    [
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 512, "encrypted_or_xls"),
        (b"PK\x03\x04 truncated", "corrupt_zip"),
    ],
)
def test_malformed_workbooks_give_reason_codes(tmp_path, content, reason):
    (tmp_path / "x.xlsx").write_bytes(content)
    with pytest.raises(ExtractError) as err:
        read_extract(tmp_path / "x.xlsx")
    assert err.value.reason == reason


def test_zip_that_is_not_a_workbook(tmp_path):
    path = _zip_with(tmp_path / "x.xlsx", {"readme.txt": b"hello"})
    with pytest.raises(ExtractError) as err:
        read_extract(path)
    assert err.value.reason == "not_xlsx"


def test_bundled_sample_workbook_reads(tmp_path):
    extract = read_extract(Path(__file__).parents[1] / "sample_claims" / "front_desk_typos.xlsx")
    assert extract.lines.height == 12 and extract.lines["claim_id"].to_list()[0] == "FD2001"


# --------------------------------------------------------------------------- Parquet


def test_parquet_reads_and_dates_become_iso_text(tmp_path):
    frame = pl.DataFrame(
        line_dicts([{"claim_id": "C1"}]), schema=dict.fromkeys(CANONICAL, pl.String)
    )
    frame = frame.with_columns(pl.col("service_date").str.to_date(), pl.col("units").cast(pl.Int64))
    frame.write_parquet(tmp_path / "x.parquet")
    lines = read_extract(tmp_path / "x.parquet").lines
    assert lines.select("service_date", "units").row(0) == ("2026-09-15", "1")


def test_parquet_with_numeric_codes_is_refused(tmp_path):
    frame = pl.DataFrame(
        line_dicts([{"claim_id": "C1"}]), schema=dict.fromkeys(CANONICAL, pl.String)
    )
    frame.with_columns(pl.col("billing_npi").cast(pl.Int64)).write_parquet(tmp_path / "x.parquet")
    with pytest.raises(ExtractError) as err:
        read_extract(tmp_path / "x.parquet")
    assert err.value.reason == "bad_schema" and "billing_npi" in str(err.value)


def test_parquet_row_count_is_checked_from_the_footer(tmp_path):
    pl.DataFrame(line_dicts([{}] * 10), schema=dict.fromkeys(CANONICAL, pl.String)).write_parquet(
        tmp_path / "x.parquet"
    )
    with pytest.raises(ExtractError) as err:
        read_extract(tmp_path / "x.parquet", max_rows=5)
    assert err.value.reason == "too_many_rows"


def test_truncated_parquet(tmp_path):
    pl.DataFrame(line_dicts([{}]), schema=dict.fromkeys(CANONICAL, pl.String)).write_parquet(
        tmp_path / "x.parquet"
    )
    data = (tmp_path / "x.parquet").read_bytes()
    (tmp_path / "x.parquet").write_bytes(data[: len(data) // 2])
    with pytest.raises(ExtractError) as err:
        read_extract(tmp_path / "x.parquet")
    assert err.value.reason == "corrupt_parquet"


# --------------------------------------------------------------------------- notes and real public data


@pytest.mark.parametrize(
    "large", [False, True]
)  # a large notes file is read before the lines, not beside them
def test_a_notes_file_is_read_into_the_note_index_of_its_claims_and_its_text_let_go(
    tmp_path, catalog, large, monkeypatch
):
    if large:
        monkeypatch.setattr(pipeline, "NOTES_BESIDE_BYTES", 10)
    write_csv(
        tmp_path / "x.csv",
        [{"claim_id": "C1"}, {"claim_id": "C1", "line_number": "2"}, {"claim_id": "C2"}],
    )
    (tmp_path / "x.notes.csv").write_text(
        'claim_id,note_text\nC1,"Pain radiating down the left leg, 8 weeks."\n'
        "C1,Under fluoroscopic guidance.\nC3,No such claim.\n"
    )
    assert read_notes(tmp_path / "x.notes.csv")["clinical_note"].to_list()[0] == (
        "Pain radiating down the left leg, 8 weeks.\n\nUnder fluoroscopic guidance."
    )  # a claim's notes joined
    extract = pipeline.load(pipeline.discover([tmp_path / "x.csv"])[0], catalog)
    assert extract.lines["clinical_note"].null_count() == 3  # the text does not ride with the lines
    assert extract.facts["claims_with_notes"] == 2 and extract.facts["notes_file"] == "x.notes.csv"
    found = extract.notes.elements()
    assert set(found["claim_id"]) == {"C1"}  # C3's note names no element
    assert {"radiation", "side_left", "imaging_guidance"} <= set(found["element"])


@pytest.mark.parametrize(
    "suffix", [".csv", ".parquet"]
)  # the CSV reader tests each column as it copies it
def test_long_text_is_trimmed_and_a_blank_note_is_no_note(tmp_path, suffix):
    text = "Pain radiating down the left leg. " * 4  # long: its edges are tested, not every byte
    notes = pl.DataFrame(
        {"claim_id": ["C1", "C2", "C3"], "note_text": [f"\t {text}", text.strip(), " \n "]}
    )
    path = tmp_path / f"n{suffix}"
    notes.write_csv(path) if suffix == ".csv" else notes.write_parquet(path)
    assert read_notes(path).rows() == [("C1", text.strip()), ("C2", text.strip())]


def test_real_mtsamples_csv_splits_exactly_like_the_csv_module():
    """25 real transcriptions with quoted commas and newlines: the vectorized field scan agrees with csv."""
    path = DATA / "notes" / "mtsamples_neck_back_subset.csv"
    columns = ("description", "medical_specialty", "sample_name", "transcription", "keywords")
    ours = read_table(path, required=("transcription",), known=columns)
    with open(path, newline="", encoding="utf-8") as handle:
        theirs = [r for r in csv.DictReader(handle) if any(v.strip() for v in r.values())]
    assert ours.lines.height == len(theirs) == 25 and ours.rejected.is_empty()
    assert ours.lines["transcription"].to_list() == [
        r["transcription"].strip() or None for r in theirs
    ]


def test_compressed_members_of_a_real_workbook_pass_the_guard(tmp_path):
    row = line_dicts([{}])[0]
    path = xlsx(tmp_path / "ok.xlsx", [list(CANONICAL)] + [[row[c] for c in CANONICAL]] * 500)
    check_xlsx_container(str(path))  # within every limit: no error
    assert read_extract(path).lines.height == 500


@pytest.mark.parametrize(
    "column, value",
    [
        ("units", pl.lit([1, 2])),
        ("payer_name", pl.struct(a=pl.lit(1))),
        ("payer_name", pl.lit(b"\xff\x00")),
        ("units", pl.duration(days=1)),
    ],
)
def test_parquet_columns_with_no_one_text_form_are_refused(tmp_path, column, value):
    """A list, struct, binary or duration column broke the text cast as an unforeseen error."""
    frame = pl.DataFrame(
        [line_dicts([{"claim_id": "C1"}])[0]], schema=dict.fromkeys(CANONICAL, pl.String)
    )
    frame.with_columns(value.alias(column)).write_parquet(tmp_path / "x.parquet")
    with pytest.raises(
        ExtractError, match=f"not stored as text, numbers or dates: {column}"
    ) as err:
        read_extract(tmp_path / "x.parquet")
    assert err.value.reason == "bad_schema"


def test_a_parquet_code_column_may_be_an_enum(tmp_path):
    frame = pl.DataFrame(
        [line_dicts([{"claim_id": "C1"}])[0]], schema=dict.fromkeys(CANONICAL, pl.String)
    )
    frame.with_columns(pl.col("procedure_code").cast(pl.Enum(["99213"]))).write_parquet(
        tmp_path / "x.parquet"
    )
    assert read_extract(tmp_path / "x.parquet").lines["procedure_code"].to_list() == ["99213"]
