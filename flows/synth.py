"""`cleanclaim synth`: a realistic synthetic claim extract and its notes, for benchmarks and demos.

A spine, pain and therapy heavy practice: claim types with their usual codes, payers and
diagnoses, 1-4 lines per claim, 1-6 diagnoses (the first from the type, the rest drawn from real
billable ICD-10-CM codes of common comorbidities), valid NPIs (Luhn with the 80840 prefix), and the
problems front offices make at realistic rates: about 1.5% of lines with a field defect (mistyped
NPI, impossible date, zero units, a formatted charge, a pointer to an empty slot), about 2% of
claims with their type's coding or modifier error, 1% with a header or incomplete diagnosis code,
and one note in six thin (the elements a reviewer looks for left out). The dirty profile is a new
client's first file: a therapy-heavy practice that never sends discipline modifiers, most notes
thin and the front office's mistakes five times as often. Deterministic with a seed; every column
is generated at once with numpy and polars.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from cleanclaim.validators.contract import CANONICAL

PAYERS = {
    "MCR01": "Medicare Part B",
    "BCBS1": "Blue Cross Blue Shield",
    "AET02": "Aetna",
    "PIP77": "Keystone Auto PIP",
}

# Claim types: share of claims, payers, first diagnosis, the codes of lines 1..n (the last repeats),
# the modifiers of lines 1..n, the error the front office makes on ~2% of such claims (the
# diagnosis or modifier it puts instead), and the range of lines per claim.
TYPES = {
    "office": (
        0.38,
        ["MCR01", "BCBS1", "AET02"],
        ["M54.2", "M54.50", "M54.12", "M62.830", "M47.816"],
        ["99213", "99214"],
        [None],
        ("dx_1", "M54.5"),
        (1, 2),
    ),
    "esi_l": (
        0.10,
        ["MCR01", "BCBS1"],
        ["M54.16", "M54.17", "M48.062"],
        ["64483", "64484", "77003"],
        [None],
        ("dx_1", "M54.50"),
        (1, 3),
    ),
    "esi_c": (0.05, ["MCR01", "BCBS1"], ["M54.12"], ["62321"], [None], ("dx_1", "M54.2"), (1, 1)),
    "facet": (
        0.08,
        ["MCR01", "BCBS1"],
        ["M47.816", "M47.812"],
        ["64493", "64494"],
        [None],
        ("dx_1", "M54.16"),
        (1, 2),
    ),
    "tpi": (
        0.07,
        ["BCBS1", "AET02"],
        ["M62.830", "M79.18"],
        ["99213", "20552"],
        ["25", None],
        ("modifier_1", None),
        (2, 2),
    ),
    "therapy": (
        0.27,
        ["BCBS1", "AET02", "MCR01"],
        ["M54.16", "M62.830", "M54.50"],
        ["97110", "97140", "97112", "97530"],
        ["GP"],
        ("modifier_1", None),
        (1, 4),
    ),
    "auto": (
        0.05,
        ["PIP77"],
        ["S13.4XXA", "S16.1XXA", "S33.5XXA"],
        ["99203", "97140"],
        [None, "GP"],
        ("dx_1", "M54.2"),
        (2, 3),
    ),
}
# Secondary diagnoses: real billable codes of the categories a spine and pain population carries.
# (Not spine codes: random pairs of those would breach Excludes1 far more often than coders do.)
COMORBIDITY_CATEGORIES = (
    "G47",
    "I10",
    "E11",
    "E78",
    "E66",
    "F32",
    "F41",
    "K21",
    "J45",
    "Z79",
    "Z87",
    "Z68",
)


@dataclass(frozen=True)
class Profile:
    """How a practice bills: its mix of claim types, how often the front office errs (a multiple of
    the rates above), the share of thin notes, and whether therapy lines carry their GP modifier."""

    shares: dict[str, float]
    defects: float
    thin_notes: float
    discipline_modifiers: bool


CLEAN = Profile({t: spec[0] for t, spec in TYPES.items()}, 1.0, 1 / 6, True)
DIRTY = Profile(
    {
        "office": 0.12,
        "esi_l": 0.05,
        "esi_c": 0.03,
        "facet": 0.04,
        "tpi": 0.05,
        "therapy": 0.63,
        "auto": 0.08,
    },
    5.0,
    0.85,
    False,
)
# What a complete note says besides its procedure's own elements (the spasm/cervicalgia template).
EXAM = (
    " Onset {weeks} weeks ago, aching and sharp. Exam: tenderness of the {side} lumbar paraspinals, reduced range "
    "of motion. Reflexes 2+ and symmetric, strength 5/5, sensation intact. Follow-up in 4 weeks."
)
# A note per procedure, therapy or injury claim: what the reviewer wants to read, and a thin version.
NOTES = {
    "esi_l": (
        "Low back pain radiating down the {side} leg below the knee with numbness for {weeks} weeks. Failed "
        "{weeks} weeks of physical therapy and NSAIDs. Exam: positive straight leg raise on the {side}, "
        "decreased ankle reflex. MRI: L5-S1 disc herniation. NRS pain {pain}/10, ODI {odi}%. Plan: "
        "transforaminal epidural steroid injection under fluoroscopy with contrast.",
        "Low back pain. Plan: lumbar epidural steroid injection.",
    ),
    "esi_c": (
        "Neck pain radiating to the {side} arm with numbness in the thumb for {weeks} weeks. Failed {weeks} "
        "weeks of physical therapy and NSAIDs. Exam: positive Spurling on the {side}. NRS pain {pain}/10, "
        "NDI {odi}%. Plan: cervical interlaminar ESI under fluoroscopy with contrast.",
        "Neck pain, no radiating symptoms. Plan: cervical epidural injection.",
    ),
    "facet": (
        "Axial low back pain for {weeks} weeks, worse with extension, no radiating pain. Failed {weeks} weeks "
        "of physical therapy and NSAIDs. NRS pain {pain}/10, ODI {odi}%. Plan: lumbar medial branch block "
        "under fluoroscopy.",
        "Back pain. Plan: facet injection.",
    ),
    "tpi": (
        "Aching low back muscle spasm for {weeks} weeks. Palpable taut band with local twitch response in the "
        "{side} erector spinae. Failed {weeks} weeks of home exercise and NSAIDs. Pain {pain}/10. Trigger point "
        "injection to {side} erector spinae.",
        "Back spasm. Trigger point injection.",
    ),
    "therapy": (
        "Plan of care: therapeutic exercise and manual therapy twice weekly for {weeks} weeks; goals: "
        "restore lumbar range of motion, ODI below {odi}%. Certified by the treating physician.",
        "Therapy visit.",
    ),
    "auto": (
        "Driver in a rear-end motor vehicle collision on 08/28/2026. Neck pain and stiffness since the accident. "
        "Exam: cervical paraspinal tenderness. Plan of care: manual therapy twice weekly for {weeks} weeks.",
        "Neck pain. Therapy.",
    ),
}


def valid_npis(rng: np.random.Generator, n: int) -> list[str]:
    """n distinct NPIs that pass the Luhn check (80840 prefix), type-1 style (first digit 1)."""
    body = np.unique(rng.integers(100_000_000, 200_000_000, size=n * 2))[:n]
    digits = (
        body[:, None] // 10 ** np.arange(8, -1, -1)
    ) % 10  # nine digits, most significant first
    doubled = (
        digits[:, ::-1][:, ::2] * 2
    )  # from the right: every other digit, starting with the last
    total = 24 + (doubled // 10 + doubled % 10).sum(axis=1) + digits[:, ::-1][:, 1::2].sum(axis=1)
    check = (10 - total % 10) % 10
    return [f"{b}{c}" for b, c in zip(body, check, strict=True)]


def comorbidity_codes(icd: pl.DataFrame) -> pl.Series:
    """Billable codes of COMORBIDITY_CATEGORIES that fit anyone (no sex, no manifestation, no 7th character)."""
    return icd.filter(
        pl.col("billable")
        & pl.col("code").str.slice(0, 3).is_in(COMORBIDITY_CATEGORIES)
        & pl.col("sex").is_null()
        & ~pl.col("manifestation")
        & ~pl.col("needs_seventh")
        & pl.col("side").is_null()
    )["code"].sort()


def synthesize(
    n_lines: int, folder: Path, icd: pl.DataFrame, seed: int = 7, profile: Profile = CLEAN
) -> tuple[Path, Path]:
    """Write `synthetic-N.csv` and `synthetic-N.notes.csv` into `folder` (`synthetic-dirty-N...`
    for any other profile than CLEAN); returns both paths."""
    rng = np.random.default_rng(seed)
    names = list(TYPES)
    n_claims = int(n_lines / 1.4)  # more than enough claims; the lines are cut at n_lines
    kind = rng.choice(len(names), size=n_claims, p=[profile.shares[t] for t in names])
    lo, hi = (np.array([TYPES[t][6][i] for t in names])[kind] for i in (0, 1))
    claim = np.repeat(np.arange(n_claims), rng.integers(lo, hi + 1))[:n_lines]
    n_claims = int(claim[-1]) + 1
    kind = kind[:n_claims]

    def pick(pool: list, size: int, bad: list | None = None, rate: float = 0.0) -> pl.Series:
        """Values from `pool`, with a fraction `rate` replaced by values from `bad`."""
        good = pl.Series(pool, dtype=pl.String).gather(rng.integers(0, len(pool), size=size))
        if not bad:
            return good
        wrong = pl.Series(bad, dtype=pl.String).gather(rng.integers(0, len(bad), size=size))
        return pl.select(
            pl.when(pl.Series(rng.random(size) < rate * profile.defects))
            .then(wrong)
            .otherwise(good)
        ).to_series()

    def by_type(column: int, kinds: np.ndarray, index: np.ndarray | None = None) -> pl.Series:
        """For each row, its type's value at `index` (the last one repeats), or a random one of them."""
        pools = [TYPES[t][column] for t in names]
        width = max(len(p) for p in pools)
        table = np.array(
            [[p[min(i, len(p) - 1)] for i in range(width)] for p in pools], dtype=object
        )
        sizes = np.array([len(p) for p in pools])[kinds]
        choice = np.minimum(index, sizes - 1) if index is not None else rng.integers(0, sizes)
        return pl.Series(table[kinds, choice].tolist(), dtype=pl.String)

    npis = valid_npis(rng, 60)
    extra = comorbidity_codes(icd)
    n_dx = rng.integers(1, 7, size=n_claims)  # 1-6 diagnoses
    error = rng.random(n_claims) < 0.02 * profile.defects
    claims = pl.DataFrame(
        {
            "_claim": np.arange(n_claims),
            "_kind": kind,
            "_error": error,
            "patient_id": "PT-"
            + pl.Series(rng.integers(1, max(n_claims // 2, 2), n_claims))
            .cast(pl.String)
            .str.zfill(7),
            "patient_dob": pl.Series(rng.integers(-18_000, 10_000, n_claims))
            .cast(pl.Date)
            .dt.to_string("%Y-%m-%d"),
            "patient_sex": pick(["F", "M"], n_claims),
            "payer_id": by_type(1, kind),
            "billing_npi": pick(npis[:8], n_claims, ["1049827360"], 0.003),
            "dx_1": by_type(2, kind),
            "service_date": pick(
                [f"2026-09-{d:02d}" for d in range(1, 31)], n_claims, ["09/31/2026"], 0.002
            ),
            **{
                f"dx_{i}": pl.select(
                    pl.when(pl.Series(n_dx >= i)).then(
                        extra.gather(rng.integers(0, len(extra), n_claims))
                    )
                ).to_series()
                for i in range(2, 7)
            },
        }
    )
    err_dx = {names.index(t): TYPES[t][5][1] for t in names if TYPES[t][5][0] == "dx_1"}
    bad_dx = pick(
        ["x"], n_claims, ["724.2", "M54.5", "M79.1", "S13.4"], 0.01
    )  # ICD-9, header, incomplete
    auto = names.index("auto")
    claims = claims.with_columns(
        pl.when(bad_dx != "x")
        .then(bad_dx)
        .when(pl.col("_error") & pl.col("_kind").is_in(list(err_dx)))
        .then(pl.col("_kind").replace_strict(err_dx, default=None))
        .otherwise("dx_1")
        .alias("dx_1"),
        pl.when(pl.col("_kind") == auto).then(pl.lit("V43.52XA")).otherwise("dx_2").alias("dx_2"),
        pl.when(pl.col("_kind") == auto).then(pl.lit("AA")).alias("accident_indicator"),
        pl.when(pl.col("_kind") == auto).then(pl.lit("2026-08-28")).alias("injury_date"),
    )

    lines = (
        pl.DataFrame({"_claim": claim})
        .with_columns(pl.int_range(pl.len()).over("_claim").alias("_line"))
        .join(claims, on="_claim", how="left")
    )
    kinds, index = lines["_kind"].to_numpy(), lines["_line"].to_numpy()
    mod_error = [names.index(t) for t in names if TYPES[t][5][0] == "modifier_1"]
    size = lines.height
    lines = lines.with_columns(
        by_type(3, kinds, index).alias("procedure_code"),
        by_type(4, kinds, index).alias("modifier_1"),
        pick(npis[8:], size, ["1234567890"], 0.003).alias("rendering_npi"),
        pick(["11", "11", "11", "22", "24"], size, ["1"], 0.003).alias("place_of_service"),
        pick(["1"], size, ["0"], 0.002).alias("units"),
        pick(["150.00", "1450.00", "65.00", "210.00"], size, ["$1,250"], 0.003).alias(
            "charge_amount"
        ),
        pick(["1"], size, ["3"], 0.003).alias("diagnosis_pointers"),
    ).with_columns(
        pl.when(
            (pl.col("_error") & pl.col("_kind").is_in(mod_error))
            | (pl.lit(not profile.discipline_modifiers) & (pl.col("modifier_1") == "GP"))
        )
        .then(None)
        .otherwise("modifier_1")
        .alias("modifier_1"),
        pl.format("CLM{}", pl.col("_claim")).alias("claim_id"),
        (pl.col("_line") + 1).cast(pl.String).alias("line_number"),
        pl.col("payer_id").replace(PAYERS).alias("payer_name"),
    )

    folder.mkdir(parents=True, exist_ok=True)
    stem = f"synthetic-{n_lines}" if profile == CLEAN else f"synthetic-dirty-{n_lines}"
    extract = folder / f"{stem}.csv"
    notes_path = folder / f"{stem}.notes.csv"
    lines.with_columns(
        pl.lit(None, dtype=pl.String).alias(c) for c in CANONICAL if c not in lines.columns
    ).select(CANONICAL).write_csv(extract)
    _notes(claims, rng, names, profile.thin_notes).write_csv(notes_path)
    return extract, notes_path


def _notes(
    claims: pl.DataFrame, rng: np.random.Generator, names: list[str], thin_rate: float
) -> pl.DataFrame:
    """One note per claim of a type that needs one; `thin_rate` of them thin."""
    full = {names.index(t): text + EXAM for t, (text, _) in NOTES.items()}
    thin = {names.index(t): text for t, (_, text) in NOTES.items()}
    n = claims.height
    template = pl.select(
        pl.when(pl.Series(rng.random(n) < thin_rate))
        .then(claims["_kind"].replace_strict(thin, default=None))
        .otherwise(claims["_kind"].replace_strict(full, default=None))
    ).to_series()
    values = {
        "side": pl.Series(np.where(rng.random(n) < 0.5, "left", "right")),
        "weeks": pl.Series(rng.integers(2, 26, n)).cast(pl.String),
        "pain": pl.Series(rng.integers(3, 10, n)).cast(pl.String),
        "odi": pl.Series(rng.integers(20, 60, n)).cast(pl.String),
    }
    text = pl.DataFrame(
        {"claim_id": "CLM" + claims["_claim"].cast(pl.String), "note_text": template}
    )
    for key, series in values.items():
        text = text.with_columns(
            pl.col("note_text").str.replace_all("{" + key + "}", series, literal=True)
        )
    return text.filter(pl.col("note_text").is_not_null())


# --------------------------------------------------------------------------- the same claims as an 837P batch


def _x12_date(column: str) -> pl.Expr:
    """ISO or MM/DD/YYYY text -> CCYYMMDD; a value that is neither is written as it is (a defect stays one)."""
    c = pl.col(column)
    us = c.str.extract_groups(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
    return (
        pl.when(c.str.contains(r"^\d{4}-\d{2}-\d{2}$"))
        .then(c.str.replace_all("-", "", literal=True))
        .when(us.struct.field("3").is_not_null())
        .then(
            pl.concat_str(
                us.struct.field("3"),
                us.struct.field("1").str.zfill(2),
                us.struct.field("2").str.zfill(2),
            )
        )
        .otherwise(c)
    )


def _optional(prefix: str, column: str | pl.Expr) -> pl.Expr:
    value = pl.col(column) if isinstance(column, str) else column
    return (
        pl.when(value.is_not_null())
        .then(pl.concat_str(pl.lit(prefix), value))
        .otherwise(pl.lit(""))
    )


def to_837(lines: pl.DataFrame, submitted: str = "20261001") -> str:
    """Canonical claim lines -> an 837P 005010X222A1 interchange: one ST per billing NPI, each
    claim under its own subscriber HL (patient = subscriber). Optional claim-level columns
    `_dx_qualifier` (e.g. "BK" to write ICD-9-CM qualifiers) and `_defect` ("component_separator":
    SV101 written with ">" while ISA16 is ":") let tests write the problems a reader must report."""
    frame = lines.with_columns(
        (pl.col("_dx_qualifier") if "_dx_qualifier" in lines.columns else pl.lit("ABK")).alias(
            "_q"
        ),
        (pl.col("_defect") if "_defect" in lines.columns else pl.lit(None, dtype=pl.String)).alias(
            "_defect"
        ),
    )
    sep = (
        pl.when(pl.col("_defect") == "component_separator").then(pl.lit(">")).otherwise(pl.lit(":"))
    )
    modifiers = pl.concat_str(*(_optional(":", f"modifier_{i}") for i in range(1, 5)))
    line_text = pl.concat_str(
        pl.lit("LX*"),
        pl.col("line_number").fill_null(""),
        pl.lit("~SV1*HC"),
        sep,
        pl.col("procedure_code").fill_null(""),
        modifiers,
        pl.lit("*"),
        pl.col("charge_amount").fill_null(""),
        pl.lit("*UN*"),
        pl.col("units").fill_null(""),
        pl.lit("*"),
        pl.col("place_of_service").fill_null(""),
        pl.lit("**"),
        pl.col("diagnosis_pointers").fill_null("").str.replace_all(r"[,;\s]+", ":"),
        pl.lit("~DTP*472*D8*"),
        _x12_date("service_date").fill_null(""),
        pl.lit("~"),
        _optional(
            "NM1*82*1*RENDERING*PROVIDER****XX*", pl.concat_str("rendering_npi", pl.lit("~"))
        ),
    )
    # the first diagnosis is principal (ABK/BK), the others ABF/BF
    qualifier = [
        pl.col("_q") if i == 1 else pl.col("_q").str.replace(r"K$", "F") for i in range(1, 13)
    ]
    dx = [
        _optional(
            "*", pl.concat_str(q, pl.lit(":"), pl.col(f"dx_{i}").str.replace(".", "", literal=True))
        )
        for i, q in enumerate(qualifier, 1)
    ]
    claims = (
        frame.with_columns(line_text.alias("_line"))
        .group_by("claim_id", maintain_order=True)
        .agg(
            pl.col(
                "billing_npi",
                "patient_id",
                "patient_dob",
                "patient_sex",
                "payer_id",
                "payer_name",
                "place_of_service",
                "accident_indicator",
                "injury_date",
                "_q",
                *[f"dx_{i}" for i in range(1, 13)],
            ).first(),
            pl.col("charge_amount").cast(pl.Float64, strict=False).sum().round(2).alias("_total"),
            pl.col("_line").str.join(""),
        )
    )
    claims = claims.with_columns(pl.int_range(pl.len()).over("billing_npi").alias("_n"))
    claim_text = pl.concat_str(
        pl.lit("HL*"),
        (pl.col("_n") + 2).cast(pl.String),
        pl.lit("*1*22*0~SBR*P*18*******CI~"),
        pl.lit("NM1*IL*1*PATIENT*SYNTHETIC****MI*"),
        pl.col("patient_id").fill_null(""),
        pl.lit("~DMG*D8*"),
        _x12_date("patient_dob").fill_null(""),
        pl.lit("*"),
        pl.col("patient_sex").fill_null(""),
        pl.lit("~NM1*PR*2*"),
        pl.col("payer_name").fill_null(""),
        pl.lit("*****PI*"),
        pl.col("payer_id").fill_null(""),
        pl.lit("~CLM*"),
        pl.col("claim_id"),
        pl.lit("*"),
        pl.col("_total").cast(pl.String),
        pl.lit("***"),
        pl.col("place_of_service").fill_null(""),
        pl.lit(":B:1*Y*A*Y*Y"),
        _optional("*P*", pl.concat_str("accident_indicator", pl.lit(":::PA"))),
        pl.lit("~"),
        _optional("DTP*439*D8*", pl.concat_str(_x12_date("injury_date"), pl.lit("~"))),
        pl.lit("HI"),
        *dx,
        pl.lit("~"),
        pl.col("_line"),
    )
    sets = (
        claims.group_by("billing_npi", maintain_order=True)
        .agg(claim_text.str.join("").alias("_body"))
        .with_row_index("_st", offset=1)
        .with_columns(pl.col("_st").cast(pl.String).str.zfill(4).alias("_ctl"))
        .with_columns(
            pl.concat_str(
                pl.lit("ST*837*"),
                pl.col("_ctl"),
                pl.lit("*005010X222A1~BHT*0019*00*"),
                pl.col("_ctl"),
                pl.lit(
                    f"*{submitted}*1200*CH~NM1*41*2*CLEANCLAIM SYNTHETIC*****46*SUBMIT01~"
                    "PER*IC*BILLING OFFICE*TE*5555550100~NM1*40*2*CLEARINGHOUSE*****46*RECV01~HL*1**20*1~"
                    "NM1*85*2*PRACTICE*****XX*"
                ),
                pl.col("billing_npi").fill_null(""),
                pl.lit("~N3*1 MAIN ST~N4*SPRINGFIELD*IL*62701~REF*EI*123456789~"),
                pl.col("_body"),
            ).alias("_set")
        )
    )
    return _interchange(sets, "HC", "SUBMIT01", "RECV01", submitted, "005010X222A1", 1)


def _interchange(
    sets: pl.DataFrame, kind: str, sender: str, receiver: str, day: str, version: str, control: int
) -> str:
    """Transaction sets (`_set` text without its SE, `_ctl`) closed with SE and wrapped in ISA/GS."""
    closed = pl.concat_str(
        pl.col("_set"),
        pl.lit("SE*"),
        (pl.col("_set").str.count_matches("~", literal=True) + 1).cast(pl.String),
        pl.lit("*"),
        pl.col("_ctl"),
        pl.lit("~"),
    )
    isa = (
        f"ISA*00*          *00*          *ZZ*{sender:<15}*ZZ*{receiver:<15}*{day[2:]}*1200*^*00501*"
        f"{control:09d}*0*T*:~"
    )
    return (
        isa
        + f"GS*{kind}*{sender}*{receiver}*{day}*1200*{control}*X*{version}~"
        + "".join(sets.select(closed)["_set"].to_list())
        + f"GE*{sets.height}*{control}~IEA*1*{control:09d}~"
    )


def write_837(extract: Path) -> Path:
    """The synthetic extract beside itself as an 837P batch: synthetic-N.837."""
    target = extract.with_suffix(".837")
    target.write_text(to_837(pl.read_csv(extract, infer_schema=False)), encoding="ascii")
    return target


# --------------------------------------------------------------------------- the payer's answer: an 835


def _amount(expr: pl.Expr) -> pl.Expr:
    return expr.round(2).cast(pl.String)


def to_835(lines: pl.DataFrame, answers: pl.DataFrame, produced: str = "20261030") -> str:
    """Canonical claim lines and the payer's decision per line -> an 835 005010X221A1 interchange,
    one transaction set per payer. `answers` has claim_id, line_number, group, carc, rarc: a line
    whose carc is null is paid at 80% of its charge (CO-45 writes off the rest), a line with a carc
    is adjusted to zero under it (with its remark code in LQ*HE when rarc is given). Each SVC carries
    REF*6R with the line number, as a billing system echoes its line item control number."""
    charge = pl.col("charge_amount").cast(pl.Float64, strict=False).fill_null(0.0)
    frame = lines.join(answers, on=["claim_id", "line_number"], how="left").with_columns(
        charge.alias("_charge"),
        pl.when(pl.col("carc").is_null())
        .then((charge * 0.8).round(2))
        .otherwise(0.0)
        .alias("_paid"),
    )
    modifiers = pl.concat_str(*(_optional(":", f"modifier_{i}") for i in range(1, 5)))
    adjustment = (
        pl.when(pl.col("carc").is_null())
        .then(pl.format("CAS*CO*45*{}~", _amount(pl.col("_charge") - pl.col("_paid"))))
        .otherwise(
            pl.format("CAS*{}*{}*{}~", "group", "carc", _amount(pl.col("_charge")))
            + _optional("LQ*HE*", pl.concat_str("rarc", pl.lit("~")))
        )
    )
    line_text = pl.concat_str(
        pl.lit("SVC*HC:"),
        pl.col("procedure_code").fill_null(""),
        modifiers,
        pl.lit("*"),
        _amount(pl.col("_charge")),
        pl.lit("*"),
        _amount(pl.col("_paid")),
        pl.lit("**"),
        pl.col("units").fill_null("1"),
        pl.lit("~DTM*472*"),
        _x12_date("service_date").fill_null(""),
        pl.lit("~"),
        adjustment,
        pl.lit("REF*6R*"),
        pl.col("line_number").fill_null(""),
        pl.lit("~"),
    )
    claims = (
        frame.with_columns(line_text.alias("_line"))
        .group_by("claim_id", maintain_order=True)
        .agg(
            pl.col("payer_id", "payer_name", "patient_id").first(),
            pl.col("_charge").sum().round(2),
            pl.col("_paid").sum().round(2),
            pl.col("carc").is_not_null().all().alias("_denied"),
            pl.col("_line").str.join(""),
        )
        .with_columns(pl.int_range(pl.len()).alias("_n"))
    )
    claim_text = pl.concat_str(
        pl.lit("CLP*"),
        pl.col("claim_id"),
        pl.when(pl.col("_denied")).then(pl.lit("*4*")).otherwise(pl.lit("*1*")),
        _amount(pl.col("_charge")),
        pl.lit("*"),
        _amount(pl.col("_paid")),
        pl.lit("**12*PCN"),
        pl.col("_n").cast(pl.String).str.zfill(9),
        pl.lit("~NM1*QC*1*PATIENT*SYNTHETIC****MI*"),
        pl.col("patient_id").fill_null(""),
        pl.lit("~"),
        pl.col("_line"),
    )
    sets = (
        claims.group_by("payer_id", maintain_order=True)
        .agg(
            pl.col("payer_name").first(),
            pl.col("_paid").sum().round(2),
            claim_text.str.join("").alias("_body"),
        )
        .with_row_index("_st", offset=1)
        .with_columns(pl.col("_st").cast(pl.String).str.zfill(4).alias("_ctl"))
        .with_columns(
            pl.concat_str(
                pl.lit("ST*835*"),
                pl.col("_ctl"),
                pl.lit("*005010X221A1~BPR*I*"),
                _amount(pl.col("_paid")),
                pl.lit(
                    f"*C*ACH*CCP*01*999999999*DA*123456*1512345678**01*999988880*DA*98765*{produced}~"
                ),
                pl.lit("TRN*1*"),
                pl.col("_ctl"),
                pl.lit(f"*1512345678~DTM*405*{produced}~N1*PR*"),
                pl.col("payer_name").fill_null(""),
                pl.lit("~REF*2U*"),
                pl.col("payer_id").fill_null(""),
                pl.lit("~N1*PE*PRACTICE*XX*1049827367~LX*1~"),
                pl.col("_body"),
            ).alias("_set")
        )
    )
    return _interchange(sets, "HP", "PAYER01", "SUBMIT01", produced, "005010X221A1", 2)


# Denials no rule predicts, on a share of the claims without findings: what a payer denies for
# reasons an extract cannot show (eligibility, authorization, duplicates, filing, coverage).
UNEXPLAINED_SHARE = 0.03
UNEXPLAINED_DENIALS = [
    ("CO", "16", "MA130"),
    ("CO", "197", None),
    ("CO", "18", None),
    ("CO", "29", None),
    ("CO", "96", "N362"),
]
REMIT_WEEKS = 4  # a month of remittances: one ERA a week


def adjudicate(lines: pl.DataFrame, findings: pl.DataFrame, catalog, seed: int = 7) -> pl.DataFrame:
    """The payer's decision per line (claim_id, line_number, group, carc, rarc): each finding is
    denied with its rule's chance (YAML weight x severity factor) under the rule's CARC -- on its
    line, or every line of the claim for a claim-level finding -- and UNEXPLAINED_SHARE of the
    claims without findings are denied for a reason no rule knows. Lines with no row are paid."""
    from cleanclaim.validators.scoring import SEVERITY_FACTOR

    rng = np.random.default_rng(seed)
    rules = pl.DataFrame(
        [
            {
                "rule_id": r.id,
                "_p": r.weight * SEVERITY_FACTOR[r.severity],
                "group": r.denial.group,
                "carc": r.denial.carc,
                "rarc": r.denial.rarc[0] if r.denial.rarc else None,
            }
            for r in catalog.rules.values()
            if r.denial
        ]
    )
    found = (
        findings.filter(pl.col("claim_id").is_not_null())
        .select(
            "claim_id", pl.col("line_number").cast(pl.String), pl.col("rule_id").cast(pl.String)
        )
        .join(rules, on="rule_id")
    )
    denied = found.filter(pl.Series(rng.random(found.height)) < pl.col("_p"))
    keys = lines.select("claim_id", "line_number")
    on_lines = pl.concat(
        [
            denied.filter(pl.col("line_number").is_not_null()).join(
                keys, on=["claim_id", "line_number"], how="semi"
            ),
            denied.filter(pl.col("line_number").is_null())
            .drop("line_number")
            .join(keys, on="claim_id"),
        ],
        how="diagonal",
    )
    clean = (
        keys.select("claim_id")
        .unique(maintain_order=True)
        .join(findings.select("claim_id"), on="claim_id", how="anti")
    )
    picked = clean.filter(pl.Series(rng.random(clean.height)) < UNEXPLAINED_SHARE)
    reasons = pl.DataFrame(UNEXPLAINED_DENIALS, schema=["group", "carc", "rarc"], orient="row")
    unexplained = picked.with_columns(
        pl.Series("_r", rng.integers(0, reasons.height, picked.height))
    ).join(reasons.with_row_index("_r").with_columns(pl.col("_r").cast(pl.Int64)), on="_r")
    return pl.concat(
        [
            on_lines.select("claim_id", "line_number", "group", "carc", "rarc"),
            unexplained.join(keys, on="claim_id").select(
                "claim_id", "line_number", "group", "carc", "rarc"
            ),
        ]
    ).unique(["claim_id", "line_number"], keep="first", maintain_order=True)


def write_remits(extract: Path, findings: pl.DataFrame, catalog, seed: int = 7) -> list[Path]:
    """A month of ERAs for the synthetic extract (one a week, each answering a quarter of its claims):
    `synthetic-N.remits/2026-10-DD.835`."""
    lines = pl.read_csv(extract, infer_schema=False)
    answers = adjudicate(lines, findings, catalog, seed)
    week = pl.col("claim_id").str.extract(r"(\d+)$").cast(pl.Int64) % REMIT_WEEKS
    folder = extract.with_suffix(".remits")
    folder.mkdir(exist_ok=True)
    written = []
    for i in range(REMIT_WEEKS):
        day = f"202610{9 + 7 * i:02d}"
        target = folder / f"{day[:4]}-{day[4:6]}-{day[6:]}.835"
        target.write_text(to_835(lines.filter(week == i), answers, day), encoding="ascii")
        written.append(target)
    return written
