"""The claim's type (837P SBR09) sets the timely-filing default; onset is not an accident (issue 35)."""

from __future__ import annotations

from datetime import date

import polars as pl

from cleanclaim.flows.extract import read_extract
from cleanclaim.validators.config import RunConfig
from cleanclaim.validators.contract import BY_NAME, CLAIM_FILING_INDICATORS
from cleanclaim.validators.engine import run_rules
from cleanclaim.validators.integrity import check_integrity
from tests.conftest import claim_lines

AS_OF = date(2026, 9, 30)


def timely(catalog, rows, config=None) -> dict[str, list[str]]:
    integrity = check_integrity(claim_lines(rows), catalog, AS_OF)
    found = run_rules(integrity.lines, catalog, AS_OF, config)
    found = found.filter(pl.col("rule_id").cat.starts_with("TMF"))
    return {c: sorted(g["rule_id"]) for (c,), g in found.group_by("claim_id")}, found


def test_medicare_has_12_months_from_the_date_of_service_others_180_days(catalog):
    rows = [
        # 2025-11-15: 319 days before the as-of date, past 180 days, inside 12 months
        {"claim_id": "MCR", "claim_filing_indicator": "MB", "service_date": "2025-11-15"},
        {"claim_id": "BCBS", "claim_filing_indicator": "BL", "service_date": "2025-11-15"},
        {"claim_id": "NONE", "service_date": "2025-11-15"},
        # 12 months end 2026-09-29: one day late; 2025-10-15 is near (deadline 2026-10-15)
        {"claim_id": "LATE", "claim_filing_indicator": "MB", "service_date": "2025-09-29"},
        {"claim_id": "NEAR", "claim_filing_indicator": "mb", "service_date": "2025-10-15"},
    ]
    by_claim, found = timely(catalog, rows)
    assert by_claim == {
        "BCBS": ["TMF001"],
        "NONE": ["TMF001"],
        "LATE": ["TMF001"],
        "NEAR": ["TMF002"],
    }
    late = found.filter(pl.col("claim_id") == "LATE").row(0, named=True)
    assert "2026-09-29" in late["message"] and "42 CFR 424.44" in late["message"]
    near = found.filter(pl.col("claim_id") == "NEAR")["message"].item()
    assert "2026-10-15" in near


def test_the_run_configuration_overrides_the_claim_types_default(catalog):
    rows = [{"claim_id": "MCR", "claim_filing_indicator": "MB", "service_date": "2025-11-15"}]
    config = RunConfig(timely_filing_days={"BCBS1": 90})  # the payer id of every test line
    by_claim, found = timely(catalog, rows, config)
    assert by_claim == {"MCR": ["TMF001"]} and "90 days (run configuration)" in found["message"][0]


def test_the_filing_indicator_is_a_claim_level_code_column():
    assert BY_NAME["claim_filing_indicator"].claim_level
    assert {"MA", "MB", "MC", "CI", "BL", "HM", "16", "WC", "ZZ"} <= set(CLAIM_FILING_INDICATORS)
    assert len(CLAIM_FILING_INDICATORS) == 23


def test_837p_sbr09_and_onset_versus_accident_dates(tmp_path):
    """SBR09 of 2000B is the claim's type (2320's SBR is another payer's); DTP*431 is the onset date
    and DTP*439 the accident date."""
    segments = [
        "ISA*00*          *00*          *ZZ*SUBMITTER      *ZZ*RECEIVER       *260929*1830*^*00501*000000001*0*P*:",
        "GS*HC*SUBMITTER*RECEIVER*20260929*1830*1*X*005010X222A1",
        "ST*837*0001*005010X222A1",
        "BHT*0019*00*B1*20260929*1830*CH",
        "HL*1**20*1",
        "NM1*85*2*CLINIC*****XX*1049827367",
        "HL*2*1*22*0",
        "SBR*P*18*******MB",
        "NM1*IL*1*DOE*JANE****MI*M1",
        "DMG*D8*19500101*F",
        "NM1*PR*2*MEDICARE*****PI*MCR01",
        "CLM*ONSET*150***11:B:1*Y*A*Y*Y",
        "DTP*431*D8*20260801",
        "HI*ABK:M5412",
        "SBR*S*18*******CI",
        "LX*1",
        "SV1*HC:99213*150*UN*1***1",
        "DTP*472*D8*20260915",
        "CLM*ACCIDENT*150***11:B:1*Y*A*Y*Y*P*AA:::IL",
        "DTP*439*D8*20260828",
        "DTP*431*D8*20260827",
        "HI*ABK:S134XXA",
        "LX*1",
        "SV1*HC:99213*150*UN*1***1",
        "DTP*472*D8*20260915",
        "SE*25*0001",
        "GE*1*1",
        "IEA*1*000000001",
    ]
    path = tmp_path / "batch.837"
    path.write_text("~".join(segments) + "~")
    lines = read_extract(path).lines.sort("claim_id")
    assert lines.select(
        "claim_id", "claim_filing_indicator", "injury_date", "onset_date", "accident_indicator"
    ).rows() == [
        ("ACCIDENT", "MB", "2026-08-28", "2026-08-27", "AA"),
        ("ONSET", "MB", None, "2026-08-01", None),
    ]


def test_an_onset_date_is_not_an_accident(catalog):
    rows = [{"claim_id": "C1", "onset_date": "2026-08-01", "dx_1": "M54.2"}]
    integrity = check_integrity(claim_lines(rows), catalog, AS_OF)
    found = run_rules(integrity.lines, catalog, AS_OF)
    assert found.filter(pl.col("rule_id").cat.starts_with("INJ")).is_empty()
