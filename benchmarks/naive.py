"""The naive way, kept as the benchmark's reference (never used by cleanclaim itself): the two core
checks -- ICD-10-CM validity and diagnosis-procedure pairing -- as a per-row Python loop over dicts,
the way a first version of a claim scrubber is usually written.

- every filled diagnosis slot: unknown to ICD-10-CM (COD001) or a header code (COD002);
- every line of a service family with covered diagnoses (dx_indications.csv): none of the
  diagnoses its pointers name starts with a covered prefix for its region (DXP001-003).
"""

from __future__ import annotations

import csv
from pathlib import Path

import polars as pl


def load_reference(codesets: Path) -> tuple[set[str], set[str], dict[str, tuple[str, ...]]]:
    """(billable codes, header codes, procedure code -> covered diagnosis prefixes), dotted."""
    icd = pl.read_parquet(codesets / "icd10cm_fy2026.parquet")  # FY2026: the benchmark's services
    billable = set(icd.filter(pl.col("billable"))["code"])
    headers = set(icd.filter(~pl.col("billable"))["code"])
    covered: dict[tuple[str, str], list[str]] = {}
    with open(codesets / "dx_indications.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["role"] == "covered":
                covered.setdefault((row["family"], row["region"]), []).append(row["dx_prefix"])
    needs: dict[str, tuple[str, ...]] = {}
    with open(codesets / "service_families.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            prefixes = covered.get((row["family"], row["region"]))
            if prefixes:
                needs[row["procedure_code"]] = tuple(prefixes)
    return billable, headers, needs


def check(
    rows: list[dict], billable: set[str], headers: set[str], needs: dict[str, tuple[str, ...]]
) -> list[tuple]:
    """Findings as (claim_id, line_number, rule) tuples."""
    findings = []
    for row in rows:
        for slot in range(1, 13):
            code = row.get(f"dx_{slot}")
            if not code:
                continue
            code = code.strip().upper()
            if code in headers:
                findings.append((row["claim_id"], row["line_number"], "COD002"))
            elif code not in billable:
                findings.append((row["claim_id"], row["line_number"], "COD001"))
        prefixes = needs.get(row.get("procedure_code") or "")
        if prefixes:
            pointed = []
            for pointer in (row.get("diagnosis_pointers") or "").replace(",", "").replace(" ", ""):
                if pointer.isdigit() and row.get(f"dx_{pointer}"):
                    pointed.append(row[f"dx_{pointer}"].strip().upper())
            if not any(code.startswith(prefix) for code in pointed for prefix in prefixes):
                findings.append((row["claim_id"], row["line_number"], "DXP"))
    return findings
