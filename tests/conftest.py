"""Shared fixtures: the real catalog, a fixed as-of date, and a claim-line factory.

A case lists only the columns it needs; `claim_lines` fills the rest with valid defaults (a
clean office visit for cervical radiculopathy) so a case fails only for the reason it names.
"""

from __future__ import annotations

from cleanclaim.validators import runtime

runtime.configure()  # the settings the product's entry points run with, before polars loads

import csv
import dataclasses
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from cleanclaim.validators.catalog import load_catalog
from cleanclaim.validators.contract import CANONICAL

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data"  # public files copied with their provenance (PROVENANCE.md)
AS_OF = date(2026, 9, 30)

DEFAULT_LINE = {
    "claim_id": "C0",
    "line_number": "1",
    "patient_id": "PT-1",
    "patient_dob": "1970-01-01",
    "patient_sex": "F",
    "payer_id": "BCBS1",
    "payer_name": "Blue Cross Blue Shield",
    "billing_npi": "1049827367",
    "rendering_npi": "1937462517",
    "place_of_service": "11",
    "service_date": "2026-09-15",
    "procedure_code": "99213",
    "units": "1",
    "charge_amount": "150.00",
    "diagnosis_pointers": "1",
    "dx_1": "M54.12",
}


def line_dicts(rows: list[dict]) -> list[dict]:
    """Defaults + the case's values; a row without line_number is numbered within its claim."""
    out, seen = [], {}
    for row in rows:
        full = dict.fromkeys(CANONICAL) | DEFAULT_LINE
        claim = row.get("claim_id", DEFAULT_LINE["claim_id"])
        seen[claim] = seen.get(claim, 0) + 1
        full["line_number"] = str(seen[claim])
        full.update({k: v for k, v in row.items() if k in CANONICAL})
        out.append(full)
    return out


def claim_lines(rows: list[dict], source_file: str = "case.csv") -> pl.DataFrame:
    """Canonical text frame as a reader would produce it."""
    frame = pl.DataFrame(line_dicts(rows), schema=dict.fromkeys(CANONICAL, pl.String))
    return frame.with_columns(
        pl.lit(source_file).alias("source_file"),
        pl.int_range(2, frame.height + 2, dtype=pl.Int64).alias("source_row"),
    )


def write_csv(
    path: Path,
    rows: list[dict],
    *,
    extra_fields: dict[int, int] | None = None,
    missing_fields: dict[int, int] | None = None,
) -> Path:
    """Rows -> a canonical CSV; optionally damage row i by adding or removing trailing fields."""
    lines = line_dicts(rows)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CANONICAL)
        for i, row in enumerate(lines):
            values = ["" if row[c] is None else row[c] for c in CANONICAL]
            values += ["x"] * (extra_fields or {}).get(i, 0)
            cut = (missing_fields or {}).get(i, 0)
            writer.writerow(values[: len(values) - cut] if cut else values)
    return path


CMS_FIXTURES = Path(__file__).parent / "fixtures" / "cms"


def with_cms_fixtures(catalog):
    """The catalog as if a team had imported CMS PTP and MUE files: the fixtures in tests/fixtures/cms,
    in the published layout, whose values are invented for tests (they are not CMS values)."""
    from cleanclaim.flows.cms_import import parse

    sets = dict(catalog.codesets)
    for path, name in (
        (CMS_FIXTURES / "PTP_practitioner_fixture.txt", "ncci_ptp_cms"),
        (CMS_FIXTURES / "MUE_practitioner_fixture.txt", "mue_cms"),
    ):
        sets[name] = dataclasses.replace(sets[name], table=parse(path)[1])
    return dataclasses.replace(catalog, codesets=sets)


@pytest.fixture(scope="session")
def catalog():
    return load_catalog()


@pytest.fixture
def as_of() -> date:
    return AS_OF
