"""X12 835 (005010X221A1) remittance files -> the payer's answer per claim, line and adjustment.

The payer answers every claim in an 835 (an ERA). Reading it back is what measures the rules
against real denials (flows/outcomes.py). The reader stands on the 837P reader's foundations
(flows/x12.py): delimiters from the ISA header, content sniffing, blocks cut at segment
terminators and read as polars frames of segments, loop membership as a forward fill carried
from block to block, and the same refusals (UTF-16, no or malformed ISA, another transaction or
version, a truncated interchange) with a reason.

What is kept, per transaction set (ST/SE):
- the production date (DTM*405, else the payment date BPR16) and the payer (N1*PR, REF*2U);
- each claim (CLP loop 2100): CLP01 the patient control number -- the claim id cleanclaim
  validated --, CLP02 status (1-3 processed, 4 denied, 22 reversal of an earlier payment, 19-21
  forwarded), charge, paid, patient responsibility, CLP07 the payer's claim control number, the
  claim-level CAS adjustments and MOA remark codes;
- each service line (SVC loop 2110): the SVC01 composite (procedure and up to four modifiers),
  charge, paid, units, DTM*472 (or the DTM*150 period start), its CAS adjustments, LQ*HE remark
  codes and REF*6R line item control number;
- provider-level adjustments (PLB): counted and summed, never attributed to a claim.

PHI: NM1 segments are never selected, so patient names (NM1*QC) and member ids are not read into
any table; what leaves the reader is claim ids, codes, dates and amounts. Problems inside a
readable file (an SVC01 without the component separator, an amount that is not a number) are
returned as rows naming the segment position, never its values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from cleanclaim.flows.x12 import (
    ENVELOPE,
    Transaction,
    _blocks,
    _component,
    _date,
    _element,
    _error,
    _opened,
    _State,
    check_envelope,
    interchange_delimiters,
    segment_frame,
)

REMITTANCE_835 = Transaction(
    code="835",
    versions=("005010X221", "005010X221A1"),
    name="an 835 remittance (ERA)",
    version_name="835 health care claim payment/advice 005010X221A1",
    export="Download the ERA again as 835 005010X221A1 from the clearinghouse or payer portal.",
    wrong_kind="Give `cleanclaim remits` the 835 remittance the payer or clearinghouse returns; "
    "claim batches (837) are checked with `cleanclaim validate`.",
    related={},
)
REVERSAL = "22"  # CLP02: reversal of a previous payment (a correction follows as a new CLP)
CAS_TRIPLETS = 6  # CAS02-CAS19: up to six (reason, amount, quantity) per group
PLB_PAIRS = 6  # PLB03-PLB14: up to six (reason composite, amount) pairs
MOA_REMARKS = range(3, 8)  # MOA03-MOA07: claim-level remark codes
CLAIM_CLOSERS = ["LX", "SE", "ST", "PLB"]  # a CLP loop also ends where the next CLP starts
AMOUNTS = {"CLP": (3, 4, 5), "SVC": (2, 3), "CAS": (3, 6, 9, 12, 15, 18)}


@dataclass
class Remittance:
    """One 835 file: claims, service lines and adjustments keyed by segment position."""

    path: Path
    claims: pl.DataFrame
    lines: pl.DataFrame
    adjustments: pl.DataFrame
    plb: pl.DataFrame
    problems: pl.DataFrame
    facts: dict = field(default_factory=dict)


def _block_tables(text: str, d: dict[str, str], state: _State) -> dict[str, pl.DataFrame]:
    """One block of segments -> the narrow tables of the remittance (only the segments kept)."""
    comp, sid, e = d["component"], pl.col("id"), _element
    segs = (
        segment_frame(text, d, state).filter(
            sid != "NM1"
        )  # names and member ids are never read (PHI)
    )
    o = state.open
    segs = segs.with_columns(
        _opened("ST", ["SE"], o["st"], trailer=True).alias("st"),
        _opened("CLP", CLAIM_CLOSERS, o["clp"]).alias("clp"),
        _opened("SVC", ["CLP", *CLAIM_CLOSERS], o["svc"]).alias("svc"),
    )
    if segs.height:
        last = segs.row(segs.height - 1, named=True)
        state.open = {k: last[k] for k in o}
    segs = segs.lazy()  # the tables below are planned together and collected at once
    in_claim, in_line = pl.col("clp").is_not_null(), pl.col("svc").is_not_null()
    header = pl.col("st").is_not_null() & ~in_claim
    cas_segments = segs.filter((sid == "CAS") & in_claim)
    plb_segments = segs.filter(sid == "PLB")
    # one narrow select per triplet (pair), stacked: far cheaper than a list of structs per segment
    cas = pl.concat(
        cas_segments.select(
            "pos",
            "clp",
            "svc",
            pl.lit(k).alias("_k"),
            e(1).alias("group"),
            e(2 + 3 * k).alias("carc"),
            e(3 + 3 * k).alias("amount"),
            e(4 + 3 * k).alias("quantity"),
        )
        for k in range(CAS_TRIPLETS)
    )
    plb = pl.concat(
        plb_segments.select(
            "pos",
            "st",
            pl.lit(k).alias("_k"),
            _component(e(3 + 2 * k), 0, comp).alias("reason"),
            e(4 + 2 * k).alias("amount"),
        )
        for k in range(PLB_PAIRS)
    )
    amount_problems = [
        segs.filter(
            (sid == seg) & e(i).is_not_null() & e(i).cast(pl.Float64, strict=False).is_null()
        ).select(
            "pos", pl.lit(f"{seg}{i:02d} is not an amount, so it is read as empty").alias("problem")
        )
        for seg, positions in AMOUNTS.items()
        for i in positions
    ]
    tables = {
        "envelope": segs.filter(sid.is_in(ENVELOPE)).select(
            "pos", "id", "st", e(1).alias("e1"), e(2).alias("e2"), e(8).alias("e8")
        ),
        "header": segs.filter(header & sid.is_in(["BPR", "DTM", "N1", "REF"])).select(
            "st",
            "id",
            e(1).alias("e1"),
            e(2).alias("e2"),
            e(4).alias("e4"),
            e(16).alias("e16"),
        ),
        "clp": segs.filter(sid == "CLP").select(
            "pos",
            "st",
            e(1).alias("claim_id"),
            e(2).alias("status"),
            e(3).alias("charge"),
            e(4).alias("paid"),
            e(5).alias("patient_responsibility"),
            e(7).alias("payer_claim_control"),
        ),
        "moa": segs.filter((sid == "MOA") & in_claim & ~in_line).select(
            "clp", pl.concat_list(e(i) for i in MOA_REMARKS).alias("codes")
        ),
        "svc": segs.filter(sid == "SVC").select(
            "pos",
            "clp",
            *(_component(e(1), i, comp).alias(f"svc01_{i}") for i in range(6)),
            e(2).alias("charge"),
            e(3).alias("paid"),
            e(5).alias("units"),
        ),
        "dtm": segs.filter((sid == "DTM") & in_line & e(1).is_in(["472", "150"])).select(
            "svc", e(1).alias("qualifier"), e(2).alias("value")
        ),
        "lq": segs.filter((sid == "LQ") & in_line & (e(1) == "HE")).select(
            "svc", e(2).alias("code")
        ),
        "ref6r": segs.filter((sid == "REF") & in_line & (e(1) == "6R")).select(
            "svc", e(2).alias("control_number")
        ),
        "cas": cas.filter(pl.col("carc").is_not_null()),
        "plb": plb.filter(pl.col("reason").is_not_null()),
        "problems": pl.concat(
            [
                segs.filter(
                    (sid == "SVC") & e(1).is_not_null() & ~e(1).str.contains(comp, literal=True)
                ).select(
                    "pos",
                    pl.lit(
                        f"SVC01 has no '{comp}' component separator (ISA16) between the qualifier "
                        "and the procedure code, so the line's procedure cannot be read"
                    ).alias("problem"),
                ),
                segs.filter((sid == "CLP") & e(1).is_null()).select(
                    "pos",
                    pl.lit(
                        "CLP01 (patient control number) is empty: the claim cannot be linked"
                    ).alias("problem"),
                ),
                *amount_problems,
            ]
        ),
    }
    return dict(zip(tables, pl.collect_all(tables.values()), strict=True))


def _money(column: str) -> pl.Expr:
    return pl.col(column).cast(pl.Float64, strict=False)


def read_835(path: str | Path) -> Remittance:
    """An 835 file -> a Remittance, or ExtractError saying why the file cannot be used."""
    path = Path(path)
    d = interchange_delimiters(str(path))
    state = _State()
    state.open = {"st": None, "clp": None, "svc": None}
    tables: dict[str, list[pl.DataFrame]] = {}
    for block in _blocks(str(path), d["segment"], state):
        for name, frame in _block_tables(block, d, state).items():
            tables.setdefault(name, []).append(frame)
    t = {name: pl.concat(frames, how="vertical_relaxed") for name, frames in tables.items()}
    check_envelope(str(path), t["envelope"], REMITTANCE_835)
    claims = _claims(t)
    if claims["production_date"].is_null().any():
        raise _error(
            str(path),
            "a transaction set has neither a production date (DTM*405) nor a payment date (BPR16)",
            "Download the ERA again; an 835 names the day the payer produced it.",
            reason="no_production_date",
        )
    lines = _lines(t)
    adjustments = (
        t["cas"]
        .sort("pos", "_k")
        .select(
            pl.col("clp").alias("claim_pos"),
            pl.col("svc").alias("line_pos"),
            "group",
            "carc",
            _money("amount").alias("amount"),
            _money("quantity").alias("quantity"),
        )
    )
    plb = t["plb"].sort("pos", "_k").select("st", "reason", _money("amount").alias("amount"))
    gs = t["envelope"].filter(pl.col("id") == "GS")
    facts = {
        "file": path.name,
        "format": "x12 835",
        "encoding": state.encoding,
        "x12_version": ", ".join(sorted(gs["e8"].unique().to_list())),
        "segments": state.segments,
        "transaction_sets": t["envelope"].filter(pl.col("id") == "ST").height,
        "production_date": claims["production_date"].max() if claims.height else None,
        "claims": claims.height,
        "lines": lines.height,
        "plb_adjustments": plb.height,
        "plb_amount": float(plb["amount"].sum() or 0),
        "problems": t["problems"].height,
    }
    return Remittance(path, claims, lines, adjustments, plb, t["problems"].sort("pos"), facts)


def _iso_date(expr: pl.Expr) -> pl.Expr:
    return _date(expr).str.to_date("%Y-%m-%d", strict=False)


def _claims(t: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """One row per CLP with its transaction set's production date and payer."""
    h = t["header"]

    def first(cond: pl.Expr, value: pl.Expr, name: str) -> pl.DataFrame:
        return h.filter(cond).group_by("st").agg(value.first().alias(name))

    sets = (
        t["envelope"]
        .filter(pl.col("id") == "ST")
        .select(pl.col("pos").alias("st"))
        .join(
            first((pl.col("id") == "DTM") & (pl.col("e1") == "405"), pl.col("e2"), "_dtm"),
            on="st",
            how="left",
        )
        .join(first(pl.col("id") == "BPR", pl.col("e16"), "_bpr"), on="st", how="left")
        .join(
            first((pl.col("id") == "N1") & (pl.col("e1") == "PR"), pl.struct("e2", "e4"), "_n1"),
            on="st",
            how="left",
        )
        .join(
            first((pl.col("id") == "REF") & (pl.col("e1") == "2U"), pl.col("e2"), "_2u"),
            on="st",
            how="left",
        )
        .select(
            "st",
            _iso_date(pl.coalesce("_dtm", "_bpr")).alias("production_date"),
            pl.coalesce(pl.col("_2u"), pl.col("_n1").struct.field("e4")).alias("payer_id"),
            pl.col("_n1").struct.field("e2").alias("payer_name"),
        )
    )
    remarks = (
        t["moa"]
        .explode("codes")
        .drop_nulls("codes")
        .group_by("clp")
        .agg(pl.col("codes").str.join(",").alias("remarks"))
    )
    return (
        t["clp"]
        .join(sets, on="st", how="left")
        .join(remarks, left_on="pos", right_on="clp", how="left")
        .select(
            pl.col("pos").alias("claim_pos"),
            "claim_id",
            "status",
            _money("charge").alias("charge"),
            _money("paid").alias("paid"),
            _money("patient_responsibility").alias("patient_responsibility"),
            "payer_claim_control",
            "payer_id",
            "payer_name",
            "production_date",
            "remarks",
        )
        .sort("claim_pos")
    )


def _lines(t: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """One row per SVC: procedure and modifiers, amounts, date, control number, remark codes."""
    dates = (
        t["dtm"]
        .sort(pl.col("qualifier") != "472")  # the service date before a period's start
        .unique("svc", keep="first")
        .select("svc", _iso_date(pl.col("value")).alias("service_date"))
    )
    remarks = t["lq"].group_by("svc").agg(pl.col("code").str.join(",").alias("remarks"))
    control = t["ref6r"].unique("svc", keep="first")
    return (
        t["svc"]
        .join(dates, left_on="pos", right_on="svc", how="left")
        .join(control, left_on="pos", right_on="svc", how="left")
        .join(remarks, left_on="pos", right_on="svc", how="left")
        .select(
            pl.col("pos").alias("line_pos"),
            pl.col("clp").alias("claim_pos"),
            pl.col("svc01_1").alias("procedure_code"),
            *(pl.col(f"svc01_{i + 2}").alias(f"modifier_{i + 1}") for i in range(4)),
            _money("charge").alias("charge"),
            _money("paid").alias("paid"),
            _money("units").fill_null(1.0).alias("units"),  # SVC05 defaults to one unit
            "service_date",
            "control_number",
            "remarks",
        )
        .sort("line_pos")
    )
