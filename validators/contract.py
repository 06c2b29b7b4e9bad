"""The claim-extract contract: canonical columns, what each means, and which are claim-level.

One row per service line; claim-level fields repeat on every line of the claim. Every reader
(`flows/extract.py`) produces exactly these columns, as text, plus `source_file` and `source_row`.
"""

from __future__ import annotations

from dataclasses import dataclass

DX_SLOTS = 12
MODIFIER_SLOTS = 4
DX_COLUMNS = tuple(f"dx_{i}" for i in range(1, DX_SLOTS + 1))
MODIFIER_COLUMNS = tuple(f"modifier_{i}" for i in range(1, MODIFIER_SLOTS + 1))


@dataclass(frozen=True)
class Column:
    name: str
    label: str  # what an analyst calls it; used in messages and report headers
    x12: str  # where the value sits on an 837P / CMS-1500
    claim_level: bool = False  # repeats on every line of a claim and must agree across them
    required: bool = False  # a file without this column cannot be validated at all
    phi: bool = False  # identifies the patient: never in messages, logs or Prefect


COLUMNS: tuple[Column, ...] = (
    Column("claim_id", "Claim ID", "CLM01 patient control number", claim_level=True, required=True),
    Column("line_number", "Line number", "LX01 service line number", required=True),
    Column(
        "patient_id",
        "Patient ID",
        "2010BA NM109 member id / MRN",
        claim_level=True,
        required=True,
        phi=True,
    ),
    Column(
        "patient_dob",
        "Patient date of birth",
        "2010BA DMG02",
        claim_level=True,
        required=True,
        phi=True,
    ),
    Column("patient_sex", "Patient sex", "2010BA DMG03", claim_level=True, required=True),
    Column("payer_id", "Payer ID", "2010BB NM109", claim_level=True, required=True),
    Column("payer_name", "Payer name", "2010BB NM103", claim_level=True),
    Column(
        "billing_npi",
        "Billing NPI",
        "2010AA NM109 (CMS-1500 box 33a)",
        claim_level=True,
        required=True,
    ),
    Column("rendering_npi", "Rendering NPI", "2310B/2420A NM109 (box 24J)"),
    Column("place_of_service", "Place of service", "CLM05-1 / SV105 (box 24B)", required=True),
    Column(
        "accident_indicator",
        "Accident indicator",
        "CLM11 related causes (box 10b/10c)",
        claim_level=True,
    ),
    Column(
        "injury_date", "Accident date", "DTP*439 accident (box 14, qualifier 439)", claim_level=True
    ),
    Column(
        "onset_date",
        "Onset date",
        "DTP*431 onset of current illness or symptom (box 14, qualifier 431)",
        claim_level=True,
    ),
    Column(
        "claim_filing_indicator",
        "Claim filing indicator",
        "2000B SBR09 claim filing indicator code (MB Medicare Part B, CI commercial ...)",
        claim_level=True,
    ),
    Column("service_date", "Service date", "DTP*472 (box 24A)", required=True),
    Column("procedure_code", "Procedure code", "SV101-2 (box 24D)", required=True),
    *(
        Column(m, f"Modifier {i}", f"SV101-{i + 2} (box 24D)")
        for i, m in enumerate(MODIFIER_COLUMNS, 1)
    ),
    Column("units", "Units", "SV104 (box 24G)", required=True),
    Column("charge_amount", "Charge", "SV102 (box 24F)", required=True),
    Column("diagnosis_pointers", "Diagnosis pointers", "SV107 (box 24E)", required=True),
    *(
        Column(
            d,
            f"Diagnosis {i}",
            f"HI ABK/ABF slot {i} (box 21{'ABCDEFGHIJKL'[i - 1]})",
            claim_level=True,
            required=(i == 1),
        )
        for i, d in enumerate(DX_COLUMNS, 1)
    ),
    Column("clinical_note", "Clinical note", "medical record (not on the claim)", phi=True),
)

BY_NAME: dict[str, Column] = {c.name: c for c in COLUMNS}
CANONICAL: tuple[str, ...] = tuple(c.name for c in COLUMNS)
REQUIRED: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.required)
CLAIM_LEVEL: tuple[str, ...] = tuple(
    c.name for c in COLUMNS if c.claim_level and c.name != "claim_id"
)
PHI: frozenset[str] = frozenset(c.name for c in COLUMNS if c.phi)
LABELS: dict[str, str] = {c.name: c.label for c in COLUMNS}

# Columns every stage adds to name where a row came from (findings carry them).
SOURCE_COLUMNS = ("source_file", "source_row")

# Code columns are normalised (trimmed, upper-cased) before validation: payers read codes
# case-insensitively but clearinghouses reject lower case, so the report shows the upper form.
CODE_COLUMNS = (
    "patient_sex",
    "claim_filing_indicator",
    "place_of_service",
    "accident_indicator",
    "procedure_code",
    *MODIFIER_COLUMNS,
    *DX_COLUMNS,
    "diagnosis_pointers",
)
DATE_COLUMNS = ("patient_dob", "injury_date", "onset_date", "service_date")

# 837P 2000B SBR09, Claim Filing Indicator Code (ASC X12N 005010X222A1): the claim's type.
CLAIM_FILING_INDICATORS = {
    "11": "Other non-federal programs",
    "12": "Preferred provider organization (PPO)",
    "13": "Point of service (POS)",
    "14": "Exclusive provider organization (EPO)",
    "15": "Indemnity insurance",
    "16": "Health maintenance organization (HMO) Medicare risk",
    "17": "Dental maintenance organization",
    "AM": "Automobile medical",
    "BL": "Blue Cross/Blue Shield",
    "CH": "CHAMPUS (TRICARE)",
    "CI": "Commercial insurance",
    "DS": "Disability",
    "FI": "Federal employees program",
    "HM": "Health maintenance organization",
    "LM": "Liability medical",
    "MA": "Medicare Part A",
    "MB": "Medicare Part B",
    "MC": "Medicaid",
    "OF": "Other federal program",
    "TV": "Title V",
    "VA": "Veterans Affairs plan",
    "WC": "Workers' compensation health claim",
    "ZZ": "Mutually defined",
}
