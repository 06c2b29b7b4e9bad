"""Scores computed by hand against validators/scoring.py."""

from __future__ import annotations

import polars as pl
import pytest

from cleanclaim.validators import findings as fnd
from cleanclaim.validators.scoring import score


def findings(rows: list[tuple[str, str, str]]) -> pl.DataFrame:
    """(claim_id, rule_id, severity) -> a findings table."""
    return pl.DataFrame(
        [
            {
                "claim_id": c,
                "line_number": None,
                "rule_id": r,
                "category": "field-integrity",
                "severity": s,
                "carc": "CO-16",
                "rarc": None,
                "message": "m",
                "fix": "f",
                "charge_at_risk": 10.0,
                "source_file": "x.csv",
                "source_row": 2,
            }
            for c, r, s in rows
        ],
        schema=fnd.FINDINGS_SCHEMA,
    )


def test_hand_computed_scores(catalog):
    weights = {r: catalog[r].weight for r in ("FLD025", "COD002", "GDL001", "INJ003", "GDL009")}
    assert (weights["FLD025"], weights["COD002"], weights["GDL001"], weights["INJ003"]) == (
        1.0,
        0.9,
        0.6,
        0.2,
    )
    result = score(
        findings(
            [
                ("A", "FLD025", "high"),  # 1 - (1 - 1.0) = 100
                ("B", "COD002", "high"),
                ("B", "COD002", "high"),  # the same rule twice counts once: 90
                ("C", "GDL001", "medium"),
                ("C", "INJ003", "low"),  # 1 - (1 - 0.6*0.6)(1 - 0.2*0.25) = 0.392 -> 39
                ("D", "INJ003", "low"),  # 0.2 * 0.25 = 0.05 -> 5
            ]
        ),
        catalog,
    )
    got = {r["claim"]: (r["score"], r["status"]) for r in result.iter_rows(named=True)}
    assert got == {"A": (100, "hold"), "B": (90, "hold"), "C": (39, "review"), "D": (5, "clean")}


def test_top_reasons_lead_with_the_largest_contribution(catalog):
    result = score(
        findings([("C", "INJ003", "low"), ("C", "GDL001", "medium"), ("C", "COD002", "high")]),
        catalog,
    )
    assert result["top_reasons"].item() == (
        "COD002 dx-header-not-billable; GDL001 excludes1-pair-on-claim; INJ003 injury-dx-without-external-cause"
    )


def test_preview_rules_are_reported_but_not_scored(catalog):
    import dataclasses

    preview = dataclasses.replace(
        catalog,
        rules={
            **catalog.rules,
            "COD002": catalog["COD002"].model_copy(update={"status": "preview"}),
        },
    )
    result = score(findings([("B", "COD002", "high")]), preview)
    assert result.select("score", "status").row(0) == (
        0,
        "hold",
    )  # still on hold: the finding is real


@pytest.mark.parametrize("severity, expected", [("high", 90), ("medium", 54), ("low", 22)])
def test_severity_factor(catalog, severity, expected):
    assert score(findings([("B", "COD002", severity)]), catalog)["score"].item() == expected
