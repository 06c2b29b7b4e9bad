"""Files -> the canonical claim frame, losslessly.

Every value is read as text first (codes such as 0001, 99213 or 1E5 never become numbers, NPIs
keep their leading zeros); typing happens later, in `validators/schema.py`, where a value that
does not parse becomes a finding instead of a silent null.

A file that cannot be used raises `ExtractError` naming the file, the problem and what was
expected. A row that cannot be used (wrong number of fields) is kept out of the frame and
returned in `Extract.rejected`, which the pipeline turns into a finding, so every row of the
input is either in the run or in a finding that names it.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import re
import stat
import threading
import zipfile
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import fastexcel
import numpy as np
import polars as pl
import yaml

from cleanclaim.flows import x12
from cleanclaim.validators.contract import CANONICAL, CODE_COLUMNS, REQUIRED
from cleanclaim.validators.errors import FAULTS, ExtractError
from cleanclaim.validators.notes import NoteIndex

MAX_ROWS = 20_000_000  # a bigger file is refused rather than exhausting memory (T8)
MAX_BYTES = 2 * 1024**3  # a larger input file is refused before it is read (--max-bytes)
MAX_COLUMNS = 16_384  # Excel's own column limit: a wider header row is not a claim extract
MAX_HEADER_NAME = 256  # characters of one column header
MAX_HEADER_BYTES = 1 << 20  # the header row must end within this many bytes
MAX_FIELD_BYTES = 1 << 20  # bytes of one value: a clinical note of hundreds of pages fits
MAX_MAPPING_BYTES = 1 << 20  # a column-mapping file is a few lines of YAML
XLSX_MAX_INFLATED = 2 * 1024**3  # total uncompressed bytes accepted from one workbook (T6)
XLSX_MAX_RATIO = 200  # compression ratio above which a large member is treated as a bomb
# cells of a worksheet's used range (A1 to its furthest cell) accepted: calamine allocates the whole
# range at once, and one stray value in XFD1048576 asks for 512 GiB and aborts the process
XLSX_MAX_CELLS = 50_000_000
_CELL_REF = re.compile(rb'<c r="([A-Z]{1,7})([0-9]{1,12})"')


class _UsedRange:
    """The furthest row and column of the cells a worksheet's XML names, read a block at a time
    (a reference cut by a block's end is read with the next block)."""

    def __init__(self):
        self.rows = self.columns = 0
        self.tail = b""

    def read(self, block: bytes) -> None:
        text = self.tail + block
        for letters, row in _CELL_REF.findall(text):
            column = 0
            for letter in letters:
                column = column * 26 + letter - 64
            self.rows, self.columns = max(self.rows, int(row)), max(self.columns, column)
        self.tail = text[-32:]

    @property
    def cells(self) -> int:
        return self.rows * self.columns


_SCAN_CHUNK = 1 << 23  # bytes per step of the field-count scan: bounds its memory

NOTES_COLUMNS = ("claim_id", "note_text")
FIELD_COUNT_KIND = (
    "field_count"  # a CSV row with more or fewer fields than its header (finding FLD025)
)
NOT_UTF8_KIND = "not_utf8"  # a row of a UTF-8 file holding bytes read as Windows-1252 (FLD028)


@dataclass
class Extract:
    """One input file in canonical form, with what happened while reading it."""

    lines: pl.DataFrame  # CANONICAL text columns + source_file + source_row
    # rows set aside or structural problems: source_row, claim_id, problem, kind (the row_structure
    # rule whose params.problem equals the kind reports them)
    rejected: pl.DataFrame
    facts: dict = field(
        default_factory=dict
    )  # format, encoding, rows, ignored columns ... no values
    notes: NoteIndex | None = (
        None  # the notes file's, by claim id: what the rules read notes for, not the text
    )


# --------------------------------------------------------------------------- headers and mapping


def normalise_header(name: str) -> str:
    """'Patient Acct #' -> 'patient_acct'; the same rule applies to mapping-file keys."""
    return re.sub(r"[^0-9a-z]+", "_", name.replace("\ufeff", "").strip().lower()).strip("_")


def load_mapping(path: str | Path | None) -> dict[str, str]:
    """A practice's headers -> canonical names, from a YAML file `columns: {"DOS": service_date}`."""
    if path is None:
        return {}
    check_input_file(path, MAX_MAPPING_BYTES)
    try:
        doc = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ExtractError(
            path,
            f"the column-mapping file cannot be read ({type(exc).__name__})",
            "Expected a YAML file with a `columns:` section.",
            reason="bad_mapping",
        ) from None
    columns = doc.get("columns") if isinstance(doc, dict) else None
    if not isinstance(columns, dict) or not columns:
        raise ExtractError(
            path,
            "the column-mapping file has no `columns:` section",
            'Expected for example:\ncolumns:\n  "Patient Acct #": claim_id\n  DOS: service_date',
            reason="bad_mapping",
        )
    unknown = sorted({str(v) for v in columns.values()} - set(CANONICAL) - set(NOTES_COLUMNS))
    if unknown:
        raise ExtractError(
            path,
            f"the mapping names unknown target columns: {', '.join(unknown)}",
            f"Targets must be canonical column names: {', '.join(CANONICAL)}.",
            reason="bad_mapping",
        )
    return {normalise_header(str(k)): str(v) for k, v in columns.items()}


def _resolve_headers(
    path: str,
    headers: list[str],
    mapping: dict[str, str],
    required: tuple[str, ...],
    known: tuple[str, ...],
) -> tuple[dict[int, str], dict]:
    """Position -> canonical name for the columns we keep; facts about the rest (names only).

    Problems name columns by position, never by their header text: a file without a header row
    has claim values in its first row."""
    if len(headers) > MAX_COLUMNS:
        raise ExtractError(
            path,
            f"the header row has {len(headers):,} columns, more than the {MAX_COLUMNS:,} allowed",
            "Export only the claim columns (see the README's column list).",
            reason="too_many_columns",
        )
    long = next((pos for pos, raw in enumerate(headers) if len(raw or "") > MAX_HEADER_NAME), None)
    if long is not None:
        raise ExtractError(
            path,
            f"the header of column {long + 1} is longer than {MAX_HEADER_NAME} characters",
            "The first row must be the header row, with one short name per column.",
            reason="bad_header",
        )
    keep: dict[int, str] = {}
    seen: dict[str, str] = {}
    ignored = []
    for pos, raw in enumerate(headers):
        norm = normalise_header(raw or "")
        if not norm:
            raise ExtractError(
                path,
                f"column {pos + 1} of the header row is blank",
                "Every column needs a header; delete the empty column or name it.",
                reason="bad_header",
            )
        target = mapping.get(norm, norm)
        if target not in known:
            ignored.append(raw.strip())
            continue
        if target in seen:
            raise ExtractError(
                path,
                f"columns {seen[target]} and {pos + 1} both map to {target}",
                "Each canonical column may come from one header only; fix the header "
                "row or the mapping file.",
                reason="bad_header",
            )
        seen[target] = str(pos + 1)
        keep[pos] = target
    missing = [c for c in required if c not in seen]
    if missing:
        raise ExtractError(
            path,
            f"required columns are missing: {', '.join(missing)}",
            "Rename those headers, or map this export's headers with a column-mapping "
            "file (--mapping, see sample_claims/legacy_pm_export.mapping.yaml).",
            reason="missing_columns",
        )
    return keep, {
        "ignored_columns": ignored,
        "absent_optional_columns": [c for c in known if c not in seen],
    }


def _needs_trim(frame: pl.DataFrame, columns: list[str]) -> list[bool]:
    """Whether each column holds a value with space at an edge, or an empty string.

    Trimming is what `_canonical` would do: a value needs it when trimming shortens it. Stripping
    reads only the edges of each value and the lengths come from the string views, so this costs
    two thirds of an edge-space regex on codes and ids, and little on
    long notes, where the regex read every byte. A column with no value at all (unused diagnosis
    slots and modifiers, a notes column left empty) is known clean from its null count, which polars
    keeps: testing it would still walk every row."""

    def test(column: str) -> pl.Expr:
        text = pl.col(column).cast(pl.String)
        return (
            (text.str.strip_chars().str.len_bytes() != text.str.len_bytes()) | (text == "")
        ).any()

    filled = [c for c in columns if frame[c].null_count() < frame.height]
    found = (
        dict(zip(filled, frame.select(test(c) for c in filled).row(0), strict=True))
        if filled
        else {}
    )
    return [found.get(c, False) for c in columns]


def _canonical(
    frame: pl.DataFrame,
    keep: dict[int, str],
    known: tuple[str, ...],
    dirty: dict[int, bool] | None = None,
) -> pl.DataFrame:
    """Select and rename kept columns, trim text, turn empty text into null, add absent columns.

    Only a column that needs trimming is rewritten (`dirty`, by position, when the reader has
    already tested them); the others are taken as they are, without a copy (a 5M-line file's text
    columns are gigabytes)."""

    def trimmed(pos: int) -> pl.Expr:
        text = pl.col(frame.columns[pos]).cast(pl.String).str.strip_chars()
        return pl.when(text.str.len_bytes() > 0).then(text)

    if dirty is None:
        dirty = dict(
            zip(keep, _needs_trim(frame, [frame.columns[pos] for pos in keep]), strict=True)
        )
    out = frame.select(
        (trimmed(pos) if dirty[pos] else pl.col(frame.columns[pos]).cast(pl.String)).alias(name)
        for pos, name in keep.items()
    )
    absent = [pl.lit(None, dtype=pl.String).alias(c) for c in known if c not in out.columns]
    return out.with_columns(absent).select(known)


# --------------------------------------------------------------------------- CSV


# A byte that is not UTF-8 in a file that is otherwise UTF-8 is read as the Windows-1252 character
# (latin-1 for the five bytes cp1252 leaves undefined); the handler notes where, per thread, so that
# each row holding one is named (finding FLD028) instead of the whole file being transcoded.
_LEGACY_BYTES = threading.local()


def _legacy_byte(exc: UnicodeDecodeError) -> tuple[str, int]:
    byte = exc.object[exc.start : exc.start + 1]
    _LEGACY_BYTES.found.append(exc.start)
    try:
        return byte.decode("cp1252"), exc.start + 1
    except UnicodeDecodeError:
        return byte.decode("latin-1"), exc.start + 1


codecs.register_error("cleanclaim-legacy", _legacy_byte)


def _utf16_without_bom(head: bytes) -> str | None:
    """'utf-16-le' or 'utf-16-be' when every other byte of the start is NUL (ASCII text as UTF-16)."""
    even, odd = head[0::2], head[1::2]
    if len(odd) < 8:
        return None
    if odd.count(0) >= 0.4 * len(odd) and not even.count(0):
        return "utf-16-le"
    if even.count(0) >= 0.4 * len(even) and not odd.count(0):
        return "utf-16-be"
    return None


def _utf16(head: bytes) -> str | None:
    """The UTF-16 codec of a file that starts so (Excel "Unicode text", with or without BOM)."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    return _utf16_without_bom(head)


def _records_at(raw: bytes, positions: list[int]) -> np.ndarray:
    """Record index (0 = the header) of each byte position, honouring quotes as record_field_counts does."""
    whole = np.frombuffer(raw, dtype=np.uint8)
    newline = 10 if b"\n" in raw else 13  # a CR-only file's records end at CR
    quotes = np.flatnonzero(whole == 34)
    ends = np.flatnonzero(whole == newline)
    ends = ends[(np.searchsorted(quotes, ends) & 1) == 0]
    return np.unique(np.searchsorted(ends, np.asarray(positions, dtype=np.int64)))


def _decode(raw: bytes, path: str, encoding: str) -> tuple[bytes, str, np.ndarray]:
    """-> UTF-8 bytes, the encoding used, and the records (0 = header) whose non-UTF-8 bytes were
    read as Windows-1252 in an otherwise UTF-8 file. A byte that does not decode in an explicit
    encoding is an error."""
    none = np.zeros(0, dtype=np.int64)
    if encoding != "auto":
        try:
            return raw.decode(encoding).encode("utf-8"), encoding, none
        except (UnicodeDecodeError, LookupError) as exc:
            raise ExtractError(
                path,
                f"the file is not valid {encoding} ({type(exc).__name__})",
                "Check --encoding, or let cleanclaim detect it (--encoding auto).",
                reason="bad_encoding",
            ) from None
    if raw.startswith(codecs.BOM_UTF8):
        return raw[3:], "utf-8-sig", none
    utf16 = _utf16(raw[:4096])
    if utf16:
        try:
            return raw.decode(utf16).encode("utf-8"), utf16, none
        except UnicodeDecodeError:
            raise ExtractError(
                path,
                "the file starts like UTF-16 but does not decode as UTF-16",
                "Re-export it as CSV UTF-8.",
                reason="bad_encoding",
            ) from None
    if raw.isascii():  # most claim exports: valid UTF-8 by definition, checked at memory speed
        return raw, "utf-8", none
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        for start in range(0, len(raw), _SCAN_CHUNK):  # validate without a full decoded copy
            decoder.decode(raw[start : start + _SCAN_CHUNK], final=start + _SCAN_CHUNK >= len(raw))
        return raw, "utf-8", none
    except UnicodeDecodeError:
        pass
    if raw.decode("utf-8", errors="ignore").isascii():
        # No UTF-8 character anywhere: a legacy Windows export, whose every byte cp1252 defines
        # exactly (latin-1 takes the five bytes cp1252 leaves undefined).
        for legacy in ("cp1252", "latin-1"):
            try:
                return raw.decode(legacy).encode("utf-8"), legacy, none
            except UnicodeDecodeError:
                continue
    _LEGACY_BYTES.found = []
    text = raw.decode("utf-8", errors="cleanclaim-legacy")
    found, _LEGACY_BYTES.found = _LEGACY_BYTES.found, []
    return text.encode("utf-8"), "utf-8, some rows windows-1252", _records_at(raw, found)


def _sniff_separator(first_line: bytes) -> str:
    counts = {sep: first_line.count(sep.encode()) for sep in (",", "\t", ";", "|")}
    return max(counts, key=counts.get)


def _stretch_sums(mask: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """`mask` summed over [bounds[k], bounds[k + 1]) and [bounds[-1], end), for sorted bounds.

    np.add.reduceat with its two quirks handled: a bound may be the end, and an empty stretch gives
    the next element instead of 0. Sums are taken in int16 when no stretch can reach 2**15 (several
    times faster than int32 or int64 here)."""
    lengths = np.diff(bounds, append=len(mask))
    inner = bounds < len(mask)
    sums = np.zeros(len(bounds), dtype=np.int64)
    if inner.any():
        dtype = np.int16 if lengths.max() < 2**15 else np.int64
        sums[inner] = np.add.reduceat(mask, bounds[inner], dtype=dtype)
    return np.where(lengths > 0, sums, 0)


def record_field_counts(data: bytes, sep: str) -> tuple[np.ndarray, np.ndarray]:
    """Fields per CSV record and whether the record is blank, honouring quotes; vectorized.

    polars pads short rows silently (T13), so this count is how ragged rows are found. A byte is
    inside quotes when an odd number of quote characters precede it (an escaped "" toggles twice,
    so it is neutral); records end at newlines outside quotes. Separators are summed per stretch
    between record ends and quote characters, leaving out the stretches inside quotes: only quotes
    and newlines are located, not every separator (a running parity over all of them costs more).
    """
    sep_byte, counts, blanks = ord(sep), [], []
    parity, carry, record_start = 0, 0, 0
    whole = np.frombuffer(data, dtype=np.uint8)
    for start in range(0, len(data), _SCAN_CHUNK):
        chunk = whole[start : start + _SCAN_CHUNK]
        quotes = np.flatnonzero(chunk == 34)
        ends = np.flatnonzero(chunk == 10)
        # a newline after an odd number of quotes (counted from the file's start) is data
        ends = ends[((np.searchsorted(quotes, ends) + parity) & 1) == 0]
        seps = chunk == sep_byte
        # Stretches cut at each record end in the chunk and at each quote: the separators of a
        # stretch inside quotes are data, not field breaks. Sorted by position, a record's bound
        # comes before a span opening at the same byte (the other of the two stretches is empty), an
        # opening before a closing at byte 0 (a chunk that starts inside quotes).
        bounds = np.concatenate(([0], ends + 1))
        edges = np.concatenate(([0], quotes)) if parity else quotes
        opened = edges[0::2]
        closed = np.append(edges[1::2], len(chunk))[
            : len(opened)
        ]  # the last may close in a later chunk
        at = np.concatenate((bounds, opened, closed))
        kind = np.repeat(
            np.array([0, 1, 2], dtype=np.int8), [len(bounds), len(opened), len(closed)]
        )
        order = np.lexsort((kind, at))
        kind = kind[order]
        record = np.cumsum(kind == 0) - 1  # each record ending in the chunk, then the rest
        sums = _stretch_sums(seps, at[order])
        per = np.bincount(
            record, weights=np.where(kind == 1, 0, sums), minlength=len(bounds)
        ).astype(np.int64)
        if len(ends):
            per_record = per[:-1]
            per_record[0] += carry
            counts.append(per_record + 1)
            ends += start
            starts = np.concatenate(([record_start], ends[:-1] + 1))
            ends_cr = (ends > 0) & (whole[np.maximum(ends - 1, 0)] == 13)
            blanks.append((per_record == 0) & ((ends - starts - ends_cr) == 0))
            record_start = int(ends[-1]) + 1
            carry = 0
        carry += int(per[-1])
        parity = (parity + len(quotes)) & 1
    if parity:
        raise ValueError(record_start)  # an opening quote never closes
    tail = data[record_start:].rstrip(b"\r")
    if tail:
        counts.append(np.array([carry + 1]))
        blanks.append(np.array([False]))
    if not counts:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=bool)
    return np.concatenate(counts), np.concatenate(blanks)


def _newlines(data: bytes) -> int:
    """bytes.count(b"\\n") at a fraction of its time, a chunk at a time."""
    return sum(
        int(
            np.count_nonzero(
                np.frombuffer(
                    data, dtype=np.uint8, count=min(_SCAN_CHUNK, len(data) - start), offset=start
                )
                == 10
            )
        )
        for start in range(0, len(data), _SCAN_CHUNK)
    )


_BOUNDARY = np.zeros(256, dtype=bool)
_BOUNDARY[[10, 13, 34]] = (
    True  # what may touch a field's first or last byte: line ends, quotes (and the separator)
)


def edge_space_free(data: bytes, sep: str, start: int) -> bool:
    """Whether the bytes from `start` (after the header) prove that no value has white space at an
    edge or is an empty string: then no column needs `_needs_trim`'s test, a third of reading a clean
    export. Anything it cannot rule out sends the file to the test.

    In an ASCII file (no Unicode white space) without "" (an empty string or an escaped quote), each
    quote opens a field (after a separator or a line end) or closes one (before either), so which
    bytes are inside quotes follows from the count of quotes before them, as in record_field_counts;
    a file whose quotes do not sit so is not judged. A value's first byte then follows a separator, a
    record's line end or its opening quote, and its last byte precedes one or its closing quote: no
    space or control byte there means no value needs trimming. Inside quotes only the quotes are edges
    ("a, b" is one value)."""
    if (
        not data.isascii() or start <= 0 or ord(sep) <= 32
    ):  # a tab-separated file is left to the test
        return False
    sep_byte, parity, last_quote = ord(sep), 0, -2
    boundary = _BOUNDARY.copy()
    boundary[sep_byte] = True
    whole = np.frombuffer(data, dtype=np.uint8)
    end = len(whole)
    if whole[-1] <= 32 and whole[-1] != 10:  # the file ends in white space (or a lone CR)
        return False
    for offset in range(start, end, _SCAN_CHUNK):
        chunk = whole[offset : offset + _SCAN_CHUNK]
        found = (
            np.flatnonzero(chunk <= 34) + offset
        )  # quotes, spaces and controls (and "!") in one pass
        if len(found) > max(
            len(chunk) // 16, 4096
        ):  # free text: long values, whose per-column test is cheap
            return False
        byte = whole[found]
        quotes, low = found[byte == 34], found[byte <= 32]
        if len(quotes):
            if quotes[0] == last_quote + 1 or (np.diff(quotes) == 1).any():  # ""
                return False
            opens = (np.arange(len(quotes)) + parity) % 2 == 0
            after_close = quotes[~opens] + 1
            if not (
                boundary[whole[quotes[opens] - 1]].all()
                and ((after_close == end) | boundary[whole[np.minimum(after_close, end - 1)]]).all()
            ):
                return False
            last_quote = int(quotes[-1])
        inside = ((np.searchsorted(quotes, low) + parity) & 1) == 1
        parity = (parity + len(quotes)) & 1
        byte, before, after = whole[low], whole[low - 1], whole[np.minimum(low + 1, end - 1)]
        # Outside quotes a line feed ends a record, and a carriage return before one is the line end;
        # inside quotes only the quotes are edges ("a, b" is one value).
        line_end = ~inside & ((byte == 10) | ((byte == 13) & (after == 10)))
        edge = np.where(inside, (before == 34) | (after == 34), boundary[before] | boundary[after])
        if (edge & ~line_end).any():
            return False
    return parity == 0


def _field_counts(path: str, data: bytes, sep: str, max_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """record_field_counts with the file's problems as ExtractErrors: an unclosed quote, too many rows."""
    try:
        counts, blank = record_field_counts(data, sep)
    except ValueError as exc:
        line = data.count(b"\n", 0, exc.args[0]) + 1
        raise ExtractError(
            path,
            f"a quotation mark opened on or after line {line} is never closed",
            "The rows cannot be split reliably; fix the stray quote in a text editor "
            "(a field with a quote inside must be quoted and the quote doubled).",
            reason="malformed_csv",
        ) from None
    if len(counts) > max_rows + 1:
        raise ExtractError(
            path,
            f"the file has {len(counts) - 1:,} rows, more than the {max_rows:,} allowed",
            "Split the extract, or raise the limit with --max-rows.",
            reason="too_many_rows",
        )
    return counts, blank


def _not_text(path: str) -> ExtractError:
    return ExtractError(
        path,
        "the file holds NUL bytes, so it is not delimited text",
        "Expected a CSV or TSV export (or an .xlsx, Parquet or 837P file).",
        reason="not_text",
    )


def _header(path: str, line: bytes, sep: str) -> list[str]:
    """The header row's names, from the file's first line."""
    if not line.strip():
        raise ExtractError(
            path,
            "the first line is blank",
            "The header row must be the first line of the file; delete the blank lines above it.",
            reason="bad_header",
        )
    if b"\r" in line.rstrip(b"\r"):  # polars would split the rows at LF only, the header at CR too
        raise ExtractError(
            path,
            "the first line holds a carriage return (CR) that does not end it: the file mixes "
            "line endings",
            "Re-save the file as CSV UTF-8 so that every line ends the same way.",
            reason="mixed_line_endings",
        )
    try:
        return next(csv.reader(io.StringIO(line.decode("utf-8").rstrip("\r")), delimiter=sep), [])
    except csv.Error:  # its message may quote the header: not passed on
        raise ExtractError(
            path,
            "the header row cannot be split into columns (a quote in it is not closed, or one "
            "name is longer than 128 KB)",
            "The first line must be the header row, with one short name per column.",
            reason="bad_header",
        ) from None


def read_csv_text(
    path: str | Path,
    *,
    required: tuple[str, ...],
    known: tuple[str, ...],
    mapping: dict[str, str] | None = None,
    encoding: str = "auto",
    max_rows: int = MAX_ROWS,
    max_bytes: int = MAX_BYTES,
) -> Extract:
    """A delimited text file (CSV, TSV, Excel "Unicode text") -> canonical text frame."""
    path = str(path)
    try:
        with open(path, "rb") as handle:
            head = handle.read(4096)  # a binary file is known by its start, before it is read whole
            if encoding == "auto" and b"\x00" in head and not _utf16(head):
                raise _not_text(path)
            raw = head + handle.read(max_bytes + 1 - len(head))  # a growing file: up to the cap
    except OSError as exc:
        raise ExtractError(
            path,
            f"the file cannot be opened ({exc.strerror or type(exc).__name__})",
            "Check the path and that you may read the file.",
            reason="unreadable",
        ) from None
    if len(raw) > max_bytes:
        raise ExtractError(
            path,
            f"the file is more than the {max_bytes:,} bytes allowed",
            "Split the extract, or raise the limit with --max-bytes.",
            reason="too_large",
        )
    data, used, legacy_records = _decode(raw, path, encoding)
    del raw
    if not data or data.isspace():  # not data.strip(): that copies the whole file to test its ends
        raise ExtractError(
            path,
            "the file is empty",
            "Expected a header row and at least one claim line.",
            reason="empty_file",
        )
    if b"\x00" in data:  # text never holds NUL: random bytes, a database file, a misnamed binary
        raise _not_text(path)
    if b"\n" not in data and b"\r" in data:  # classic-Mac / mainframe CR-only line endings (T12)
        data = data.replace(b"\r", b"\n")
        line_endings = "CR"
    else:
        line_endings = "CRLF" if b"\r\n" in data[:65536] else "LF"
    header_end = data.find(b"\n", 0, MAX_HEADER_BYTES)
    if header_end < 0 and len(data) > MAX_HEADER_BYTES:
        raise ExtractError(
            path,
            f"the first line is longer than {MAX_HEADER_BYTES:,} bytes",
            "The first line must be the header row, with one short name per column.",
            reason="bad_header",
        )
    header_line = data[: header_end if header_end >= 0 else len(data)]
    sep = _sniff_separator(header_line)
    header = _header(path, header_line, sep)
    keep, facts = _resolve_headers(path, header, mapping or {}, required, known)
    # A file with more newlines than the row limit may be over it: counted (and refused) before parsing.
    counted = _field_counts(path, data, sep, max_rows) if _newlines(data) > max_rows + 1 else None
    width = len(header)
    # The quote-aware field count runs beside polars' parser (numpy and polars both release the
    # GIL); its verdict on the file comes first, the parser's error after it.
    with ThreadPoolExecutor(max_workers=1) as pool:
        scan = pool.submit(_field_counts, path, data, sep, max_rows) if counted is None else None
        clean_edges = pool.submit(edge_space_free, data, sep, header_end + 1)
        try:
            # The header row sets the width (with has_header=False polars takes it from the first data
            # row); columns are renamed by position, so duplicate or odd headers cannot shift data.
            frame = pl.read_csv(
                data,
                has_header=True,
                separator=sep,
                infer_schema=False,
                new_columns=[f"_c{i}" for i in range(width)],
                truncate_ragged_lines=True,
                quote_char='"',
                raise_if_empty=False,
            )
            parse_error = None
        except pl.exceptions.PolarsError as exc:  # message may quote cell values: never passed on
            frame, parse_error = None, type(exc).__name__
        counts, blank = counted if scan is None else scan.result()
        clean_edges = clean_edges.result()
    if parse_error:
        raise ExtractError(
            path,
            f"the file could not be parsed as delimited text ({parse_error})",
            "Expected a CSV with one header row; open it in a spreadsheet and re-save as "
            "CSV UTF-8.",
            reason="malformed_csv",
        )
    del data  # parsed: the raw text is not kept while the frame is shaped
    # The parser returns each column in hundreds of chunks; the first operation that meets a
    # contiguous column beside them would copy the whole frame at once, gigabytes at 5M lines. Made
    # contiguous here one column at a time instead, so the file is never held twice. Each column's
    # trimming test runs in a thread beside the next column's copy (the copy is mostly the kernel
    # handing out fresh pages, the test a regex), unless the bytes
    # have shown that no value needs trimming (edge_space_free).
    # The columns are taken out as a list and replaced in it one by one: dropping them from the frame
    # one at a time rebuilt the frame each time, quadratic in the number of columns.
    columns, dirty = frame.get_columns(), {}
    del frame
    with ThreadPoolExecutor(max_workers=1) as pool:
        for pos in range(len(columns)):
            columns[pos] = columns[pos].rechunk()
            if pos in keep and not clean_edges:
                dirty[pos] = pool.submit(
                    lambda c: _needs_trim(c.to_frame(), [c.name])[0], columns[pos]
                )
        dirty = (
            {pos: future.result() for pos, future in dirty.items()}
            if dirty
            else dict.fromkeys(keep, False)
        )
    frame = pl.DataFrame(columns)
    del columns
    data_counts, data_blank = counts[1:], blank[1:]
    if frame.height != len(data_counts):  # the two splitters disagree: refuse rather than guess
        raise ExtractError(
            path,
            f"the rows could not be split consistently ({frame.height} vs {len(data_counts)})",
            "Re-save the file as CSV UTF-8 and try again.",
            reason="malformed_csv",
        )
    source_row = pl.int_range(2, frame.height + 2, dtype=pl.Int64).alias("source_row")
    frame = frame.with_columns(
        source_row,
        pl.Series("_fields", data_counts, dtype=pl.Int64),
        pl.Series("_blank", data_blank),
    )
    if (data_counts == width).all() and not data_blank.any():  # the common case: skip two filters
        lines = _canonical(frame, keep, known, dirty).with_columns(frame["source_row"])
        facts.update(
            format="csv",
            encoding=used,
            separator={"\t": "tab"}.get(sep, sep),
            line_endings=line_endings,
            rows_in_file=len(data_counts),
            blank_rows=0,
            rejected_rows=0,
        )
        return Extract(lines=lines, rejected=_legacy_rows(frame, keep, legacy_records), facts=facts)
    ragged = frame.filter((pl.col("_fields") != width) & ~pl.col("_blank"))
    rejected = ragged.select(
        "source_row",
        _raw_claim_id(keep),
        pl.format("has {} fields where the header has {}", pl.col("_fields"), pl.lit(width)).alias(
            "problem"
        ),
        pl.lit(FIELD_COUNT_KIND).alias("kind"),
    )
    good = frame.filter((pl.col("_fields") == width) & ~pl.col("_blank"))
    lines = _canonical(good, keep, known, dirty).with_columns(
        good["source_row"]
    )  # dirty: of all rows, so safe
    facts.update(
        format="csv",
        encoding=used,
        separator={"\t": "tab"}.get(sep, sep),
        line_endings=line_endings,
        rows_in_file=len(data_counts),
        blank_rows=int(data_blank.sum()),
        rejected_rows=rejected.height,
    )
    return Extract(
        lines=lines,
        rejected=pl.concat([rejected, _legacy_rows(frame, keep, legacy_records)]),
        facts=facts,
    )


def _raw_claim_id(keep: dict[int, str]) -> pl.Expr:
    """The claim id of a row of the parsed (not yet canonical) frame, where the file has one."""
    claim_pos = next((pos for pos, name in keep.items() if name == "claim_id"), None)
    if claim_pos is None:
        return pl.lit(None, dtype=pl.String).alias("claim_id")
    return pl.col(f"_c{claim_pos}").str.strip_chars().alias("claim_id")


def _legacy_rows(frame: pl.DataFrame, keep: dict[int, str], records: np.ndarray) -> pl.DataFrame:
    """The rows (records of the file, 0 = header) that held bytes read as Windows-1252, as problem
    rows for FLD028, with their claim id."""
    if not len(records):
        return _no_rejects()
    rows = pl.DataFrame({"source_row": records + 1}, schema={"source_row": pl.Int64})
    return rows.join(
        frame.select("source_row", _raw_claim_id(keep)), on="source_row", how="left"
    ).select(
        "source_row",
        "claim_id",
        pl.lit("holds characters that are not UTF-8, though the rest of the file is").alias(
            "problem"
        ),
        pl.lit(NOT_UTF8_KIND).alias("kind"),
    )


# --------------------------------------------------------------------------- XLSX


def check_xlsx_container(path: str, max_inflated: int = XLSX_MAX_INFLATED) -> None:
    """Refuse zip bombs, lying size headers, encrypted or macro workbooks before any parser runs.

    Python's zipfile trusts the declared size and calamine ignores it (T6), so every member is
    inflated here with a cap and its real size compared with the declared one.
    """

    def bomb(detail: str) -> ExtractError:
        return ExtractError(
            path,
            f"the workbook looks like a zip bomb ({detail})",
            "Open it in Excel and save it again as a normal .xlsx.",
            reason="zip_bomb",
        )

    try:
        with zipfile.ZipFile(path) as archive, open(path, "rb") as handle:
            infos = archive.infolist()
            names = {i.filename for i in infos}
            if len(infos) > 10_000:
                raise bomb(f"{len(infos)} parts")
            if "[Content_Types].xml" not in names or not any(
                n.startswith("xl/worksheets/") for n in names
            ):
                raise ExtractError(
                    path,
                    "the file is a zip archive but not an Excel workbook",
                    "Expected an .xlsx saved by Excel or a compatible program.",
                    reason="not_xlsx",
                )
            if any(n.lower().startswith("xl/vbaproject") for n in names):
                raise ExtractError(
                    path,
                    "the workbook contains macros",
                    "Save it as a macro-free .xlsx.",
                    reason="macros",
                )
            total = 0
            for info in infos:
                if info.flag_bits & 0x1:
                    raise ExtractError(
                        path,
                        "the workbook is encrypted",
                        "Remove the password and save it again.",
                        reason="encrypted",
                    )
                handle.seek(info.header_offset)
                local = handle.read(30)
                if len(local) < 30 or local[:4] != b"PK\x03\x04":
                    raise zipfile.BadZipFile("bad local header")
                handle.seek(
                    int.from_bytes(local[26:28], "little") + int.from_bytes(local[28:30], "little"),
                    1,
                )
                cap = max_inflated - total
                real = 0
                used = _UsedRange()
                sheet = info.filename.startswith("xl/worksheets/")
                if info.compress_type == zipfile.ZIP_STORED:
                    block = handle.read(info.compress_size)
                    real = len(block)
                    if sheet:
                        used.read(block)
                elif info.compress_type == zipfile.ZIP_DEFLATED:
                    inflater = zlib.decompressobj(-15)
                    remaining = info.compress_size
                    while remaining > 0 and not inflater.eof:
                        block = handle.read(min(1 << 20, remaining))
                        if not block:
                            break
                        remaining -= len(block)
                        out = inflater.decompress(block, cap + 1 - real)
                        while inflater.unconsumed_tail and real + len(out) <= cap:
                            out += inflater.decompress(
                                inflater.unconsumed_tail, cap + 1 - real - len(out)
                            )
                        real += len(out)
                        if real > cap:
                            raise bomb("more than the allowed uncompressed size")
                        if sheet:
                            used.read(out)
                else:
                    raise zipfile.BadZipFile("unsupported compression")
                if used.cells > XLSX_MAX_CELLS:
                    raise ExtractError(
                        path,
                        f"a worksheet's cells reach row {used.rows:,} and column {used.columns:,}, "
                        f"a range of more than {XLSX_MAX_CELLS:,} cells",
                        "Delete the stray cells far below or to the right of the data (or save the "
                        "sheet as CSV) and send the file again.",
                        reason="xlsx_range_too_large",
                    )
                if real != info.file_size:
                    raise ExtractError(
                        path,
                        "a part of the workbook is not the size its header declares",
                        "The file is damaged or crafted; save it again from Excel.",
                        reason="corrupt_zip",
                    )
                if real > 10 * 1024**2 and real / max(info.compress_size, 1) > XLSX_MAX_RATIO:
                    raise bomb(f"compression ratio over {XLSX_MAX_RATIO}:1")
                total += real
    except ExtractError:
        raise
    except FAULTS as exc:  # every parser failure, never a hand-picked list (T7)
        raise ExtractError(
            path,
            f"the workbook is damaged ({type(exc).__name__})",
            "Open it in Excel and save it again as .xlsx.",
            reason="corrupt_zip",
        ) from None


def read_xlsx(
    path: str | Path,
    *,
    required: tuple[str, ...],
    known: tuple[str, ...],
    mapping: dict[str, str] | None = None,
    max_rows: int = MAX_ROWS,
) -> Extract:
    """First worksheet of an .xlsx -> canonical text frame. Formulas come back as their cached values."""
    path = str(path)
    check_xlsx_container(path)
    try:
        reader = fastexcel.read_excel(path)
        sheet = reader.load_sheet(0, header_row=None, dtypes="string", n_rows=max_rows + 2)
        frame = sheet.to_polars()
    except FAULTS as exc:  # calamine errors can quote cell text
        raise ExtractError(
            path,
            f"the workbook could not be read ({type(exc).__name__})",
            "Open it in Excel and save it again as .xlsx.",
            reason="corrupt_xlsx",
        ) from None
    if frame.height == 0:
        raise ExtractError(
            path,
            "the first worksheet is empty",
            "Expected a header row and claim lines.",
            reason="empty_file",
        )
    if frame.height > max_rows + 1:
        raise ExtractError(
            path,
            f"the worksheet has more than {max_rows:,} rows",
            "Split the extract, or raise the limit with --max-rows.",
            reason="too_many_rows",
        )
    header = ["" if v is None else str(v) for v in frame.row(0)]
    while header and not header[-1].strip():  # trailing formatted-but-empty columns
        header.pop()
    frame = frame.select(frame.columns[: len(header)]).slice(1)
    keep, facts = _resolve_headers(path, header, mapping or {}, required, known)
    frame = frame.with_columns(
        pl.int_range(2, frame.height + 2, dtype=pl.Int64).alias("source_row")
    )
    lines = _canonical(frame, keep, known).with_columns(frame["source_row"])
    blank = pl.all_horizontal(pl.col(c).is_null() for c in keep.values())
    facts.update(
        format="xlsx",
        rows_in_file=lines.height,
        blank_rows=lines.filter(blank).height,
        rejected_rows=0,
    )
    return Extract(lines=lines.filter(~blank), rejected=_no_rejects(), facts=facts)


# --------------------------------------------------------------------------- Parquet


def read_parquet(
    path: str | Path,
    *,
    required: tuple[str, ...],
    known: tuple[str, ...],
    mapping: dict[str, str] | None = None,
    max_rows: int = MAX_ROWS,
) -> Extract:
    """Parquet -> canonical text frame; row count and code-column types are checked from the footer first."""
    path = str(path)
    try:
        schema = pl.read_parquet_schema(path)
        rows = pl.scan_parquet(path).select(pl.len()).collect().item()
    except FAULTS as exc:
        raise ExtractError(
            path,
            f"the Parquet file is damaged ({type(exc).__name__})",
            "Write the file again from its source.",
            reason="corrupt_parquet",
        ) from None
    if rows > max_rows:
        raise ExtractError(
            path,
            f"the file has {rows:,} rows, more than the {max_rows:,} allowed",
            "Split the extract, or raise the limit with --max-rows.",
            reason="too_many_rows",
        )
    names = list(schema)
    keep, facts = _resolve_headers(path, names, mapping or {}, required, known)
    numeric_codes = [
        names[pos]
        for pos, name in keep.items()
        if (name in CODE_COLUMNS or name.endswith(("_id", "_npi")))
        and not (
            schema[names[pos]] in (pl.String, pl.Categorical)
            or isinstance(schema[names[pos]], pl.Enum)
        )
    ]
    nested = [
        name
        for pos, name in keep.items()
        if not schema[names[pos]].is_numeric()
        and not isinstance(schema[names[pos]], (pl.Enum, pl.Datetime))
        and schema[names[pos]]
        not in (pl.String, pl.Categorical, pl.Boolean, pl.Null, pl.Date, pl.Time)
    ]
    if nested:  # a list, struct, binary or duration has no one text form to check
        raise ExtractError(
            path,
            f"columns are not stored as text, numbers or dates: {', '.join(nested)}",
            "Write each claim field as a plain (string) column.",
            reason="bad_schema",
        )
    if (
        numeric_codes
    ):  # the leading zeros are already gone at the source (T8): refuse, never cast back
        raise ExtractError(
            path,
            f"code columns are stored as numbers: {', '.join(numeric_codes)}",
            "Codes and identifiers lose leading zeros as numbers; write them as text "
            "(string) columns.",
            reason="bad_schema",
        )
    try:
        frame = pl.read_parquet(path, columns=[names[pos] for pos in keep])
    except FAULTS as exc:
        raise ExtractError(
            path,
            f"the Parquet file could not be read ({type(exc).__name__})",
            "Write the file again from its source.",
            reason="corrupt_parquet",
        ) from None
    frame = frame.with_columns(
        pl.col(pl.Date).dt.to_string("%Y-%m-%d"),
        pl.col(pl.Datetime).dt.to_string("%Y-%m-%d"),
    ).with_columns(pl.int_range(2, frame.height + 2, dtype=pl.Int64).alias("source_row"))
    positional = dict(enumerate(keep.values()))
    lines = _canonical(frame, positional, known).with_columns(frame["source_row"])
    facts.update(format="parquet", rows_in_file=rows, blank_rows=0, rejected_rows=0)
    return Extract(lines=lines, rejected=_no_rejects(), facts=facts)


# --------------------------------------------------------------------------- dispatch


def _no_rejects() -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            "source_row": pl.Int64,
            "claim_id": pl.String,
            "problem": pl.String,
            "kind": pl.String,
        }
    )


def check_input_file(path: str | Path, max_bytes: int) -> None:
    """Refuse, from the file's metadata alone, what is not a regular file or is too large: a FIFO
    or a device such as /dev/zero is never opened, since reading one can block or never end."""
    try:
        info = os.stat(path)
    except OSError as exc:
        raise ExtractError(
            path,
            f"the file cannot be opened ({exc.strerror or type(exc).__name__})",
            "Check the path and that you may read the file.",
            reason="unreadable",
        ) from None
    if not stat.S_ISREG(info.st_mode):
        kind = (
            "a folder"
            if stat.S_ISDIR(info.st_mode)
            else "a named pipe (FIFO)"
            if stat.S_ISFIFO(info.st_mode)
            else "a device"
            if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode)
            else "not a regular file"
        )
        raise ExtractError(
            path,
            f"the path is {kind}, not a file",
            "Give the file itself; cleanclaim never reads pipes or devices.",
            reason="not_a_file",
        )
    if info.st_size > max_bytes:
        raise ExtractError(
            path,
            f"the file is {info.st_size:,} bytes, more than the {max_bytes:,} allowed",
            "Split the extract, or raise the limit with --max-bytes.",
            reason="too_large",
        )


def check_field_sizes(path: str, lines: pl.DataFrame, max_field: int = MAX_FIELD_BYTES) -> None:
    """Refuse a file with a value longer than `max_field` bytes, naming its row and column."""
    text = [c for c, t in lines.schema.items() if t == pl.String and c != "source_file"]
    longest = lines.select(pl.col(text).str.len_bytes().max()).row(0) if text else ()
    over = next((c for c, n in zip(text, longest, strict=True) if (n or 0) > max_field), None)
    if over is None:
        return
    row = lines.filter(pl.col(over).str.len_bytes() > max_field)["source_row"].first()
    raise ExtractError(
        path,
        f"the {over} value in row {row} is longer than {max_field:,} bytes",
        "A value that long is not a claim field; check that row of the export.",
        reason="field_too_large",
    )


def sniff_format(path: str) -> str:
    """By content, never by extension: an .xlsx renamed .csv is still a workbook."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(512)
    except OSError as exc:
        raise ExtractError(
            path,
            f"the file cannot be opened ({exc.strerror or type(exc).__name__})",
            "Check the path and that you may read the file.",
            reason="unreadable",
        ) from None
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    if head.startswith(b"PAR1"):
        return "parquet"
    if x12.is_x12(head):
        return "x12"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise ExtractError(
            path,
            "the file is a legacy .xls or a password-protected workbook",
            "Save it as a normal .xlsx (or CSV UTF-8).",
            reason="encrypted_or_xls",
        )
    return "csv"


def read_table(
    path: str | Path,
    *,
    required: tuple[str, ...],
    known: tuple[str, ...],
    mapping: dict[str, str] | None = None,
    encoding: str = "auto",
    max_rows: int = MAX_ROWS,
    max_bytes: int = MAX_BYTES,
) -> Extract:
    path = str(path)
    check_input_file(path, max_bytes)  # before anything opens it
    kind = sniff_format(path)
    if kind == "xlsx":
        extract = read_xlsx(
            path, required=required, known=known, mapping=mapping, max_rows=max_rows
        )
    elif kind == "parquet":
        extract = read_parquet(
            path, required=required, known=known, mapping=mapping, max_rows=max_rows
        )
    elif kind == "x12" and known == CANONICAL:
        lines, problems, facts = x12.read_x12(path, max_rows=max_rows)
        extract = Extract(
            lines=_canonical(lines, dict(enumerate(CANONICAL)), known).with_columns(
                lines["source_row"]
            ),
            rejected=problems,
            facts=facts,
        )
    else:
        extract = read_csv_text(
            path,
            required=required,
            known=known,
            mapping=mapping,
            encoding=encoding,
            max_rows=max_rows,
            max_bytes=max_bytes,
        )
    check_field_sizes(path, extract.lines)
    extract.lines = extract.lines.with_columns(pl.lit(Path(path).name).alias("source_file"))
    extract.facts["file"] = Path(path).name
    return extract


def read_notes(
    path: str | Path, encoding: str = "auto", max_bytes: int = MAX_BYTES
) -> pl.DataFrame:
    """Notes file (claim_id, note_text) -> one note per claim; several notes of a claim are joined."""
    notes = read_table(
        path, required=NOTES_COLUMNS, known=NOTES_COLUMNS, encoding=encoding, max_bytes=max_bytes
    ).lines
    if (
        notes["claim_id"].null_count() or notes["note_text"].null_count()
    ):  # else no copy: notes are big
        notes = notes.filter(pl.col("claim_id").is_not_null() & pl.col("note_text").is_not_null())
    if notes["claim_id"].is_unique().all():  # the usual export, one note per claim: nothing to join
        return notes.select("claim_id", pl.col("note_text").alias("clinical_note"))
    return notes.group_by("claim_id", maintain_order=True).agg(
        pl.col("note_text").str.join("\n\n").alias("clinical_note")
    )


def read_extract(
    path: str | Path,
    *,
    mapping: str | Path | None = None,
    encoding: str = "auto",
    max_rows: int = MAX_ROWS,
    max_bytes: int = MAX_BYTES,
) -> Extract:
    """A claim extract -> canonical frame of text columns (its notes file: read_notes)."""
    extract = read_table(
        path,
        required=REQUIRED,
        known=CANONICAL,
        mapping=load_mapping(mapping),
        encoding=encoding,
        max_rows=max_rows,
        max_bytes=max_bytes,
    )
    extract.facts["mapping_file"] = Path(mapping).name if mapping else None
    return extract
