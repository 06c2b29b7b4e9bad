"""X12 837P (005010X222A1) batch files -> the canonical claim frame, streaming.

A practice-management system writes the batch its clearinghouse receives; reading that file
checks the claims exactly as they leave. The reader is small and ours (the choice, against pyx12
and x12sdk, is argued in the README's "X12 837P input" section):

- the delimiters come from the ISA header (element at ISA position 4, component ISA16, segment
  terminator right after it), with or without line breaks;
- the file is read in blocks cut at segment terminators; each block becomes a polars frame of
  segments, and only the few elements a claim line needs are kept, as narrow tables keyed by
  segment position. Loop membership (which HL, claim and service line a segment belongs to) is
  a forward fill of those positions, carried from one block to the next, so a batch is never
  held whole twice and no claim is cut in two;
- at the end the narrow tables are joined into one row per service line (LX/SV1), with the
  claim (CLM, HI, DTP, 2310B), the subscriber or patient (2010BA/2010CA) and the billing
  provider (2010AA) of its HL hierarchy.

`source_row` is the position of the line's SV1 segment in the file (ISA = 1), so a finding names
the segment an analyst opens. What makes a batch unusable (no ISA, a malformed ISA, another
transaction type, UTF-16, a truncated interchange) is an `ExtractError`; what a clearinghouse
would reject inside a readable batch (segments out of order, missing composites, envelope counts,
ICD-9 qualifiers) is returned as `Extract.rejected` rows that become findings with their position.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from cleanclaim.validators.contract import CANONICAL, DX_SLOTS
from cleanclaim.validators.errors import ExtractError

BLOCK_BYTES = 16 << 20  # bytes read per step: bounds the memory of the segment frame
ISA_LENGTH = 106
# Where ISA's 16 fixed-width elements are separated (the element separator is ISA's 4th character).
ISA_WIDTHS = (
    2,
    10,
    2,
    10,
    2,
    15,
    2,
    15,
    6,
    4,
    1,
    5,
    9,
    1,
    1,
)  # ISA01-ISA15; ISA16 is one character
ISA_SEPARATORS = tuple(3 + sum(ISA_WIDTHS[:i]) + i for i in range(16))
PROFESSIONAL = ("005010X222", "005010X222A1", "005010X222A2")
ENVELOPE = ["ISA", "GS", "ST", "SE", "GE", "IEA"]
ICD9_QUALIFIERS = ("BK", "BF")  # HI code list qualifiers of ICD-9-CM diagnoses (principal, other)
DX_QUALIFIERS = (
    "ABK",
    "ABF",
    *ICD9_QUALIFIERS,
)  # ... and of ICD-10-CM ones: every diagnosis the HI carries
ICD10_EFFECTIVE = "20151001"  # ICD-9-CM codes are not accepted for services on or after this date
TRANSACTIONS = {
    "837": "a claim batch (837)",
    "999": "an implementation acknowledgment (999)",
    "997": "a functional acknowledgment (997)",
    "835": "a payment/remittance advice (835)",
    "277": "a claim status response (277)",
    "270": "an eligibility inquiry (270)",
    "271": "an eligibility response (271)",
    "834": "an enrollment file (834)",
    "276": "a claim status inquiry (276)",
}
SEGMENT_KIND = (
    "x12_segment"  # Extract.rejected kinds: the rule with params.problem = kind reports them
)
ICD9_KIND = "icd9_qualifier"


def _error(path: str, problem: str, expected: str, reason: str) -> ExtractError:
    return ExtractError(path, problem, expected, reason=reason)


def is_x12(head: bytes) -> bool:
    """An interchange (or a bare GS/ST whose ISA is missing), whatever the file is called; UTF-16 too,
    so that the reader can say what is wrong with it."""
    text = head.lstrip(codecs.BOM_UTF8)
    if text.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text = text[2:]
    text = text.replace(b"\x00", b"").lstrip()
    return text.startswith(b"ISA") or (
        text[:2] in (b"GS", b"ST") and text[2:3] in (b"*", b"|", b"^", b"~")
    )


def _delimiters(path: str, head: str) -> dict[str, str]:
    if not head.startswith("ISA"):
        first = head.split("*", 1)[0][:3]
        raise _error(
            path,
            f"the X12 file has no ISA interchange header (it starts with a {first} segment)",
            "Export the whole interchange from the practice-management system: an 837P batch "
            "starts with ISA and ends with IEA.",
            reason="no_isa",
        )
    if len(head) < ISA_LENGTH:
        raise _error(
            path,
            f"the file ends inside the ISA header ({len(head)} of its 106 characters)",
            "Export or download the batch again; the file is cut short.",
            reason="bad_isa",
        )
    element = head[3]
    if any(head[pos] != element for pos in ISA_SEPARATORS):
        found = head[: ISA_LENGTH + 20].split(element)[1:16]
        wrong = ", ".join(
            f"ISA{i:02d} is {len(value)}, not {width}"
            for i, (value, width) in enumerate(zip(found, ISA_WIDTHS, strict=False), 1)
            if len(value) != width
        )
        raise _error(
            path,
            "the ISA header is not the fixed 106 characters X12 requires"
            + (f" ({wrong} characters wide)" if wrong else ""),
            "ISA elements are fixed width (ISA06 and ISA08 are 15 characters, ISA13 is 9): fix the "
            "interchange header in the clearinghouse settings of the billing system.",
            reason="bad_isa",
        )
    # ISA11 (repetition separator) separates repeated elements, none of which a claim line reads.
    return {"element": element, "component": head[104], "segment": head[105]}


class _State:
    """What one block hands to the next: segment count and the loops open at its end."""

    def __init__(self) -> None:
        self.segments = 0
        self.open = {"st": None, "hl": None, "clm": None, "lx": None}
        self.previous: str | None = None
        self.encoding = "ascii"  # X12's character set; UTF-8 or cp1252 when the file says otherwise


def _blocks(path: str, terminator: str, state: _State):
    """Decoded text blocks of the file, each ending at a segment terminator."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()  # a leading BOM is not part of ISA
    carry = ""
    with open(path, "rb") as handle:
        while raw := handle.read(BLOCK_BYTES):
            if not raw.isascii() and state.encoding == "ascii":
                state.encoding = "utf-8"
            try:
                text = carry + decoder.decode(raw)
            except UnicodeDecodeError:  # a legacy export: cp1252 is exact for the bytes it defines
                state.encoding = "cp1252"
                text = carry + raw.decode("cp1252", errors="replace")
            cut = text.rfind(terminator)
            if cut < 0:
                carry = text
                continue
            yield text[: cut + 1]
            carry = text[cut + 1 :]
    if carry.strip():
        yield carry


def _element(i: int) -> pl.Expr:
    value = pl.col("_e").list.get(i, null_on_oob=True)
    return pl.when(value.str.len_bytes() > 0).then(value)


def _component(expr: pl.Expr, i: int, sep: str) -> pl.Expr:
    value = expr.str.split(sep).list.get(i, null_on_oob=True)
    return pl.when(value.str.len_bytes() > 0).then(value)


def _opened(
    segment: str, closers: list[str], carried: int | None, trailer: bool = False
) -> pl.Expr:
    """Position of the loop each segment sits in: set where `segment` starts one, cleared at a closer
    (which still belongs to the loop when it is the loop's trailer, as SE is to its ST)."""
    sid = pl.col("id")
    started = (
        pl.when(sid == segment)
        .then(pl.col("pos"))
        .when(sid.is_in(closers))
        .then(pl.lit(-1, dtype=pl.Int64))
    )
    filled = started.forward_fill().fill_null(carried if carried is not None else -1)
    if trailer:
        filled = (
            pl.when(sid.is_in(closers))
            .then(filled.shift(1).fill_null(carried if carried is not None else -1))
            .otherwise(filled)
        )
    return pl.when(filled >= 0).then(filled)


def segment_frame(text: str, d: dict[str, str], state: _State) -> pl.DataFrame:
    """A block's segments: position in the file (ISA = 1, counted on from earlier blocks), elements, id."""
    segs = (
        pl.DataFrame({"_s": [text]})
        .select(pl.col("_s").str.split(d["segment"]))
        .explode("_s")
        .select(pl.col("_s").str.strip_chars())
        .filter(pl.col("_s").str.len_bytes() > 0)
    )
    first = state.segments + 1
    state.segments += segs.height
    return segs.select(
        pl.int_range(first, first + pl.len(), dtype=pl.Int64).alias("pos"),
        pl.col("_s").str.split(d["element"]).alias("_e"),
    ).with_columns(pl.col("_e").list.first().alias("id"))


def _block_tables(text: str, d: dict[str, str], state: _State) -> dict[str, pl.DataFrame]:
    """One block of segments -> the narrow tables the claim lines are built from."""
    segs = segment_frame(text, d, state)
    comp = d["component"]
    sid = pl.col("id")
    o = state.open
    segs = segs.with_columns(
        _opened("ST", ["SE"], o["st"], trailer=True).alias("st"),
        _opened("HL", ["SE", "ST"], o["hl"]).alias("hl"),
        _opened("CLM", ["HL", "SE", "ST"], o["clm"]).alias("clm"),
        _opened("LX", ["CLM", "HL", "SE", "ST"], o["lx"]).alias("lx"),
        sid.shift(1).fill_null(state.previous or "").alias("prev"),
    )
    if segs.height:
        last = segs.row(segs.height - 1, named=True)
        state.open = {k: last[k] for k in o}
        state.previous = last["id"]

    def of(segment: str, *cols: pl.Expr) -> pl.DataFrame:
        return segs.filter(sid == segment).select(*cols)

    e = _element
    dx = (
        segs.filter(sid == "HI")
        .select("clm", "pos", "st", pl.col("_e").list.slice(1).alias("_c"))
        .explode("_c")
        .with_row_index("_k")
        .select(
            "clm",
            "pos",
            "st",
            "_k",
            pl.col("_c").alias("element"),
            _component(pl.col("_c"), 0, comp).alias("qualifier"),
            _component(pl.col("_c"), 1, comp).alias("code"),
        )
    )
    where = ("pos", "st", "clm")
    problems = pl.concat(
        [
            # Checks of what follows a segment look back from the next one: `prev` crosses block boundaries.
            segs.filter((sid == "N3") & (pl.col("prev") == "N4")).select(
                pl.col("pos") - 1,
                "st",
                "clm",
                pl.lit(
                    "N4 (city/state/ZIP) comes before its N3 address segment; N3 must come first"
                ).alias("problem"),
            ),
            segs.filter((sid == "SV1") & (pl.col("prev") != "LX")).select(
                *where,
                pl.lit("SV1 (service line) does not follow an LX line number").alias("problem"),
            ),
            segs.filter((pl.col("prev") == "LX") & (sid != "SV1")).select(
                pl.col("pos") - 1,
                "st",
                "clm",
                pl.lit("LX (line number) is not followed by an SV1 professional service").alias(
                    "problem"
                ),
            ),
            segs.filter((sid == "CLM") & pl.col("hl").is_null()).select(
                *where,
                pl.lit("CLM (claim) is outside any HL subscriber or patient loop").alias("problem"),
            ),
            segs.filter((sid == "NM1") & e(1).is_null()).select(
                *where,
                pl.lit(
                    "NM1 has no entity identifier code (NM101), so whose name and ID it carries is unknown"
                ).alias("problem"),
            ),
            segs.filter(
                (sid == "SV1") & e(1).is_not_null() & ~e(1).str.contains(comp, literal=True)
            ).select(
                *where,
                pl.format(
                    "SV101 {} has no '{}' component separator (ISA16) between the HC qualifier and the "
                    "procedure code",
                    e(1),
                    pl.lit(comp),
                ).alias("problem"),
            ),
            dx.filter(pl.col("code").is_null() & pl.col("element").is_not_null())
            .group_by(*where, maintain_order=True)
            .agg(pl.col("element").str.join(", "))
            .select(
                *where,
                pl.format(
                    "HI elements {} are not qualifier{}code composites (ISA16 is '{}'), so the "
                    "diagnoses cannot be read",
                    pl.col("element"),
                    pl.lit(comp),
                    pl.lit(comp),
                ).alias("problem"),
            ),
            segs.filter(~sid.str.contains(r"^[A-Z][A-Z0-9]{1,2}$")).select(
                *where,
                pl.lit(
                    "the segment identifier is not 2-3 letters and digits, so it is not an X12 segment"
                ).alias("problem"),
            ),
        ]
    )
    in_header = pl.col("clm").is_null()
    return {
        "envelope": segs.filter(sid.is_in(ENVELOPE)).select(
            "pos", "id", "st", e(1).alias("e1"), e(2).alias("e2"), e(8).alias("e8")
        ),
        "hl": of(
            "HL", "pos", "st", e(1).alias("hl_id"), e(2).alias("parent_id"), e(3).alias("level")
        ),
        "nm1": segs.filter((sid == "NM1") & e(1).is_in(["85", "IL", "PR", "QC", "82"])).select(
            "hl",
            "clm",
            "lx",
            e(1).alias("entity"),
            e(3).alias("last"),
            e(4).alias("first"),
            e(9).alias("id_code"),
        ),
        "dmg": segs.filter((sid == "DMG") & in_header).select(
            "hl", e(2).alias("dob"), e(3).alias("sex")
        ),
        # 2000B SBR09: the claim filing indicator (MB Medicare Part B, CI commercial, ...); the
        # SBR of 2320 (other payers) sits inside the claim and is not this claim's type.
        "sbr": segs.filter((sid == "SBR") & in_header).select(
            "hl", e(9).alias("claim_filing_indicator")
        ),
        "clm": of(
            "CLM",
            "pos",
            "hl",
            "st",
            e(1).alias("claim_id"),
            _component(e(5), 0, comp).alias("pos_claim"),
            *(_component(e(11), i, comp).alias(f"cause_{i}") for i in range(3)),
        ),
        "dx": dx.filter(pl.col("clm").is_not_null() & pl.col("code").is_not_null()).select(
            "clm", "pos", "_k", "qualifier", "code"
        ),
        "dtp": segs.filter(sid == "DTP").select(
            "clm", "lx", e(1).alias("qualifier"), e(3).alias("value")
        ),
        "lx": of("LX", "pos", "clm", e(1).alias("line_number")),
        "sv1": of(
            "SV1",
            "pos",
            "lx",
            *(_component(e(1), i, comp).alias(f"sv101_{i}") for i in range(6)),
            e(2).alias("charge_amount"),
            e(4).alias("units"),
            e(5).alias("pos_line"),
            e(7).str.replace_all(comp, ",", literal=True).alias("diagnosis_pointers"),
        ),
        "problems": problems,
    }


@dataclass(frozen=True)
class Transaction:
    """What a reader accepts, and how its refusals name it and say what to export instead."""

    code: str  # ST01
    versions: tuple[str, ...]  # GS08
    name: str  # "an 837 claim batch"
    version_name: str  # "837 professional 005010X222A1"
    export: str  # what to export instead, and from where
    wrong_kind: str  # why the other transaction types are not this one
    related: dict[str, str]  # GS08 prefix -> a note on what that version is instead


PROFESSIONAL_837 = Transaction(
    code="837",
    versions=PROFESSIONAL,
    name="an 837 claim batch",
    version_name="837 professional 005010X222A1",
    export="Export the batch as 837P 005010X222A1 from the practice-management system.",
    wrong_kind="Give cleanclaim the 837P file the billing system sends; acknowledgments and "
    "remittances come back from the clearinghouse.",
    related={"005010X223": "the institutional 837I"},
)


def check_envelope(path: str, env: pl.DataFrame, spec: Transaction = PROFESSIONAL_837) -> None:
    """Refuse a file that is not `spec`'s transaction and version, or that is cut short."""
    st = env.filter(pl.col("id") == "ST")
    gs = env.filter(pl.col("id") == "GS")
    if st.is_empty():
        raise _error(
            path,
            "the interchange holds no ST transaction set",
            f"Export the file again: {spec.name} has ISA, GS, ST ... SE, GE, IEA.",
            reason="no_claims",
        )
    other = st.filter(pl.col("e1") != spec.code)
    if other.height:
        kind = other["e1"][0]
        raise _error(
            path,
            f"this is {TRANSACTIONS.get(kind, f'an X12 {kind} transaction')}, not {spec.name}",
            spec.wrong_kind,
            reason="wrong_transaction",
        )
    versions = gs["e8"].unique().to_list()
    old = [v for v in versions if v not in spec.versions]
    if old:
        version = str(old[0])
        if version.startswith("004010"):
            what = f"a 4010 ({version}) file: HIPAA retired 4010 in 2012 and payers reject it"
        else:
            related = [f" ({note})" for p, note in spec.related.items() if version.startswith(p)]
            what = f"version {version}, not {spec.version_name}" + "".join(related)
        raise _error(path, f"the functional group is {what}", spec.export, reason="wrong_version")
    if env["id"][-1] != "IEA":
        raise _error(
            path,
            "the interchange has no closing IEA segment: the file is truncated",
            "Export or download the file again; a partial file would leave claims unread.",
            reason="truncated",
        )
    closed = env.filter(pl.col("id") == "SE").select("st")
    unclosed = st.join(closed, left_on="pos", right_on="st", how="anti")
    if unclosed.height:
        raise _error(
            path,
            f"the transaction set starting at segment {unclosed['pos'][0]} has no SE trailer: the "
            "file is truncated",
            "Export or download the file again.",
            reason="truncated",
        )


def _envelope(path: str, env: pl.DataFrame) -> pl.DataFrame:
    """File-level refusals and envelope problems (counts, control numbers) as problem rows."""
    check_envelope(path, env)
    st = env.filter(pl.col("id") == "ST")
    se = env.filter(pl.col("id") == "SE").select(
        pl.col("pos").alias("se_pos"),
        "st",
        pl.col("e1").alias("count"),
        pl.col("e2").alias("control"),
    )
    checks = st.select(pl.col("pos").alias("st"), pl.col("e2").alias("st_control")).join(
        se, on="st", how="left"
    )
    counted = checks.with_columns((pl.col("se_pos") - pl.col("st") + 1).alias("actual"))
    return pl.concat(
        [
            counted.filter(pl.col("count").cast(pl.Int64, strict=False) != pl.col("actual")).select(
                pl.col("se_pos").alias("pos"),
                pl.lit(None, dtype=pl.Int64).alias("clm"),
                pl.format(
                    "SE01 says the transaction set has {} segments but it has {}; a clearinghouse rejects "
                    "the whole set (999 IK5*R)",
                    pl.col("count"),
                    pl.col("actual"),
                ).alias("problem"),
            ),
            counted.filter(pl.col("control") != pl.col("st_control")).select(
                pl.col("se_pos").alias("pos"),
                pl.lit(None, dtype=pl.Int64).alias("clm"),
                pl.format(
                    "SE02 control number {} does not match ST02 {}",
                    pl.col("control"),
                    pl.col("st_control"),
                ).alias("problem"),
            ),
        ]
    )


def _date(expr: pl.Expr) -> pl.Expr:
    """CCYYMMDD (or the start of an RD8 range) -> ISO text; anything else is kept as written."""
    start = expr.str.slice(0, 8)
    return (
        pl.when(start.str.contains(r"^\d{8}$"))
        .then(
            pl.concat_str(
                start.str.slice(0, 4),
                pl.lit("-"),
                start.str.slice(4, 2),
                pl.lit("-"),
                start.str.slice(6, 2),
            )
        )
        .otherwise(expr)
    )


def _patient_key(member: pl.Expr, last: pl.Expr, first: pl.Expr, dob: pl.Expr) -> pl.Expr:
    """A dependent shares the subscriber's member ID: their own key adds a digest of name and birth date,
    so the Claims sheet shows no name or birth date. polars' hash is stable within a polars version
    (pinned in constraints.txt); after an upgrade a dependent's key changes once, and the run
    history's duplicate and frequency checks do not match that dependent's earlier claims."""
    who = pl.concat_str(last.fill_null(""), first.fill_null(""), dob.fill_null(""), separator="|")
    return pl.concat_str(member, who.hash(seed=11).cast(pl.String).str.slice(0, 8), separator="/")


def interchange_delimiters(path: str) -> dict[str, str]:
    """The delimiters of an interchange from its ISA header (refusing UTF-16 and a malformed ISA)."""
    with open(path, "rb") as handle:
        head = handle.read(4096)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or b"\x00" in head[:64]:
        raise _error(
            path,
            "the X12 file is UTF-16 text; X12 interchanges are plain ASCII",
            "Export the file again as ASCII (or UTF-8); a clearinghouse rejects UTF-16.",
            reason="bad_encoding",
        )
    return _delimiters(path, head.decode("utf-8", errors="replace").lstrip("\ufeff").lstrip())


def read_x12(path: str | Path, *, max_rows: int) -> tuple[pl.DataFrame, pl.DataFrame, dict]:
    """An 837P file -> (canonical text lines with source_row, problems: source_row/claim_id/problem/kind, facts)."""
    path = str(path)
    d = interchange_delimiters(path)
    state = _State()
    tables: dict[str, list[pl.DataFrame]] = {}
    for block in _blocks(path, d["segment"], state):
        for name, frame in _block_tables(block, d, state).items():
            tables.setdefault(name, []).append(frame)
    t = {name: pl.concat(frames, how="vertical_relaxed") for name, frames in tables.items()}
    envelope_problems = _envelope(path, t["envelope"])
    if t["clm"].is_empty():
        raise _error(
            path,
            "the 837 batch holds no CLM claim",
            "Export the batch again from the billing system.",
            reason="no_claims",
        )
    lines = _lines(t)
    if lines.height > max_rows:
        raise _error(
            path,
            f"the batch has {lines.height:,} service lines, more than the {max_rows:,} allowed",
            "Split the batch, or raise the limit with --max-rows.",
            reason="too_many_rows",
        )
    problems = _problems(t, envelope_problems, lines)
    gs = t["envelope"].filter(pl.col("id") == "GS")
    facts = {
        "format": "x12 837P",
        "encoding": state.encoding,
        "x12_version": ", ".join(sorted(gs["e8"].unique().to_list())),
        "segments": state.segments,
        "transaction_sets": t["envelope"].filter(pl.col("id") == "ST").height,
        "rows_in_file": lines.height,
        "blank_rows": 0,
        "rejected_rows": 0,
        "segment_problems": problems.filter(pl.col("kind") == SEGMENT_KIND).height,
    }
    return lines, problems, facts


def _lines(t: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """The narrow tables -> one canonical row per service line."""
    hl = t["hl"].with_columns(pl.col("pos").alias("_at"))
    # HL02 names the parent's HL01: the nearest earlier HL with that ID in the same transaction set
    # (IDs should be unique, but batches that reuse them exist; the nearest is the one meant).
    parents = hl.select(
        "st",
        pl.col("hl_id").alias("parent_id"),
        pl.col("pos").alias("parent_pos"),
        pl.col("level").alias("parent_level"),
        "_at",
    ).sort("_at")
    node = hl.sort("_at").join_asof(
        parents,
        on="_at",
        by=["st", "parent_id"],
        strategy="backward",
        allow_exact_matches=False,
        check_sortedness=False,
    )
    up = node.select("pos", "parent_pos", "parent_level")
    tree = node.join(
        up.rename({"pos": "parent_pos", "parent_pos": "grand_pos", "parent_level": "grand_level"}),
        on="parent_pos",
        how="left",
    )
    tree = tree.select(
        pl.col("pos").alias("hl"),
        pl.when(pl.col("level") == "23")
        .then(pl.col("parent_pos"))
        .otherwise(pl.col("pos"))
        .alias("subscriber_hl"),
        pl.when(pl.col("level") == "23").then(pl.col("pos")).alias("patient_hl"),
        pl.when(pl.col("parent_level") == "20")
        .then(pl.col("parent_pos"))
        .when(pl.col("grand_level") == "20")
        .then(pl.col("grand_pos"))
        .alias("billing_hl"),
    )
    nm1 = t["nm1"]
    header = nm1.filter(pl.col("clm").is_null())

    def entity(code: str, **cols: pl.Expr) -> pl.DataFrame:
        return (
            header.filter(pl.col("entity") == code).unique("hl", keep="first").select("hl", **cols)
        )

    dmg = t["dmg"].unique("hl", keep="first")
    billing = entity("85", billing_npi=pl.col("id_code")).rename({"hl": "billing_hl"})
    subscriber = (
        entity("IL", member=pl.col("id_code"), s_last=pl.col("last"), s_first=pl.col("first"))
        .join(dmg.rename({"dob": "s_dob", "sex": "s_sex"}), on="hl", how="left")
        .join(t["sbr"].unique("hl", keep="first"), on="hl", how="left")
        .join(
            entity("PR", payer_name=pl.col("last"), payer_id=pl.col("id_code")),
            on="hl",
            how="full",
            coalesce=True,
        )
        .rename({"hl": "subscriber_hl"})
    )
    patient = (
        entity("QC", p_last=pl.col("last"), p_first=pl.col("first"))
        .join(dmg.rename({"dob": "p_dob", "sex": "p_sex"}), on="hl", how="left")
        .rename({"hl": "patient_hl"})
    )
    dx = (
        t["dx"]
        .filter(pl.col("qualifier").is_in(DX_QUALIFIERS))
        .sort("pos", "_k")
        .with_columns(pl.int_range(pl.len()).over("clm").alias("slot"))
        .filter(pl.col("slot") < DX_SLOTS)
        .pivot(on="slot", index="clm", values="code")
    )
    dx = dx.rename({c: f"dx_{int(c) + 1}" for c in dx.columns if c != "clm"})
    dtp = t["dtp"]
    claim_level = pl.col("lx").is_null() & pl.col("clm").is_not_null()
    # DTP*439 is the accident date, DTP*431 the onset of the current illness: two fields, since
    # an onset date says nothing about an accident.
    claim_dates = (
        dtp.filter(claim_level & pl.col("qualifier").is_in(["439", "431"]))
        .unique(["clm", "qualifier"], keep="first")
        .pivot(on="qualifier", index="clm", values="value")
    )
    claim_dates = claim_dates.select(
        "clm",
        *(
            _date(pl.col(q)).alias(name)
            if q in claim_dates.columns
            else pl.lit(None, pl.String).alias(name)
            for q, name in (("439", "injury_date"), ("431", "onset_date"))
        ),
    )
    service = (
        dtp.filter((pl.col("qualifier") == "472") & pl.col("lx").is_not_null())
        .unique("lx", keep="first")
        .select("lx", _date(pl.col("value")).alias("service_date"))
    )
    rendering = nm1.filter(pl.col("entity") == "82")
    claim_rendering = (
        rendering.filter(pl.col("lx").is_null() & pl.col("clm").is_not_null())
        .unique("clm", keep="first")
        .select("clm", pl.col("id_code").alias("claim_rendering"))
    )
    line_rendering = (
        rendering.filter(pl.col("lx").is_not_null())
        .unique("lx", keep="first")
        .select("lx", pl.col("id_code").alias("line_rendering"))
    )
    causes = [pl.col(f"cause_{i}") for i in range(3)]
    accident = pl.coalesce(*(pl.when(c.is_in(["AA", "EM", "OA"])).then(c) for c in causes))
    claims = (
        t["clm"]
        .rename({"pos": "clm"})
        .join(tree, on="hl", how="left")
        .join(billing, on="billing_hl", how="left")
        .join(subscriber, on="subscriber_hl", how="left")
        .join(patient, on="patient_hl", how="left")
        .join(dx, on="clm", how="left")
        .join(claim_dates, on="clm", how="left")
        .join(claim_rendering, on="clm", how="left")
        .with_columns(accident.alias("accident_indicator"))
    )
    dependent = pl.col("patient_hl").is_not_null()
    lines = (
        t["lx"]
        .rename({"pos": "lx"})
        .join(t["sv1"].rename({"pos": "source_row"}), on="lx", how="left")
        .join(service, on="lx", how="left")
        .join(line_rendering, on="lx", how="left")
        .join(claims, on="clm", how="inner")
    )
    dx_cols = [c for c in claims.columns if c.startswith("dx_")]
    out = lines.select(
        "claim_id",
        "line_number",
        pl.when(dependent)
        .then(_patient_key(pl.col("member"), pl.col("p_last"), pl.col("p_first"), pl.col("p_dob")))
        .otherwise(pl.col("member"))
        .alias("patient_id"),
        _date(pl.when(dependent).then(pl.col("p_dob")).otherwise(pl.col("s_dob"))).alias(
            "patient_dob"
        ),
        pl.when(dependent).then(pl.col("p_sex")).otherwise(pl.col("s_sex")).alias("patient_sex"),
        "payer_id",
        "payer_name",
        "billing_npi",
        pl.coalesce("line_rendering", "claim_rendering").alias("rendering_npi"),
        pl.coalesce("pos_line", "pos_claim").alias("place_of_service"),
        "accident_indicator",
        "injury_date",
        "onset_date",
        "claim_filing_indicator",
        "service_date",
        pl.col("sv101_1").alias("procedure_code"),
        *(pl.col(f"sv101_{i + 2}").alias(f"modifier_{i + 1}") for i in range(4)),
        "units",
        "charge_amount",
        "diagnosis_pointers",
        *dx_cols,
        pl.coalesce("source_row", "lx").alias("source_row"),
    ).sort("source_row")
    absent = [pl.lit(None, dtype=pl.String).alias(c) for c in CANONICAL if c not in out.columns]
    return out.with_columns(absent).select(*CANONICAL, "source_row")


def _problems(
    t: dict[str, pl.DataFrame], envelope: pl.DataFrame, lines: pl.DataFrame
) -> pl.DataFrame:
    """Structural problems and ICD-9 qualifiers as rows the catalog's row_structure rules report."""
    claims = t["clm"].select(pl.col("pos").alias("clm"), "claim_id")
    no_lines = claims.join(t["lx"], on="clm", how="anti").select(
        pl.col("clm").alias("pos"),
        "clm",
        pl.lit(
            "CLM has no LX/SV1 service line, so the claim has nothing to bill and was not validated"
        ).alias("problem"),
    )
    # A problem in a subscriber or patient loop belongs to the claim that follows it in its transaction set.
    following = t["clm"].select(pl.col("pos").alias("_next"), "st").sort("_next")
    hl = t["hl"]
    repeated = hl.filter(
        pl.col("pos") > pl.col("pos").min().over("st", "hl_id")
    )  # not the first with its ID
    hl_problems = repeated.select(
        "pos",
        "st",
        pl.lit(None, dtype=pl.Int64).alias("clm"),
        pl.format(
            "HL01 {} repeats the ID of an earlier HL in this transaction set, so HL02 parent links are ambiguous",
            pl.col("hl_id"),
        ).alias("problem"),
    )
    inside = (
        pl.concat([t["problems"], hl_problems], how="vertical_relaxed")
        .sort("pos")
        .join_asof(
            following,
            left_on="pos",
            right_on="_next",
            by="st",
            strategy="forward",
            check_sortedness=False,
        )
        .select("pos", pl.coalesce("clm", "_next").alias("clm"), "problem")
    )
    # An envelope count or control number rejects its whole transaction set: each claim in the
    # set carries the problem (a set without claims keeps it unassigned).
    sets = t["envelope"].filter(pl.col("id") == "ST").select(pl.col("pos").alias("st")).sort("st")
    per_claim = (
        envelope.sort("pos")
        .join_asof(sets, left_on="pos", right_on="st", strategy="backward")
        .join(following.rename({"_next": "_clm"}), on="st", how="left")
        .select("pos", pl.coalesce("clm", "_clm").alias("clm"), "problem")
    )
    structural = pl.concat([inside, per_claim, no_lines], how="vertical_relaxed").with_columns(
        pl.lit(SEGMENT_KIND).alias("kind")
    )
    # ICD-9-CM qualifiers on a claim with a service on or after 2015-10-01 (the ICD-10 compliance date)
    first_service = lines.group_by("claim_id").agg(pl.col("service_date").min().alias("first"))
    icd9 = (
        t["dx"]
        .filter(pl.col("qualifier").is_in(ICD9_QUALIFIERS))
        .group_by("clm")
        .agg(
            pl.col("pos").min(),
            pl.col("qualifier").unique(maintain_order=True).str.join("/").alias("q"),
        )
        .join(claims, on="clm")
        .join(first_service, on="claim_id")
        .filter(pl.col("first").str.replace_all("-", "") >= ICD10_EFFECTIVE)
        .select(
            "pos",
            "clm",
            pl.format(
                "HI uses ICD-9-CM qualifier {} for a service on {}", pl.col("q"), pl.col("first")
            ).alias("problem"),
            pl.lit(ICD9_KIND).alias("kind"),
        )
    )
    return (
        pl.concat([structural, icd9], how="vertical_relaxed")
        .join(claims, on="clm", how="left")
        .select(pl.col("pos").alias("source_row"), "claim_id", "problem", "kind")
        .sort("source_row")
    )
