"""Every rule's own examples, plus tests/rules/cases/<ID>.yaml, run against the real stages.

Test ids are `<ID>_<case>` so `pytest -k FLD011` runs one rule (as sqlfluff does). A trigger
example must flag every claim it lists; a passing example must not be flagged by the rule, and
for field-integrity rules it must be clean altogether (so the examples stay honest).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pandera.polars as pa
import polars as pl
import pytest
import yaml

from flows.extract import FIELD_COUNT_KIND, NOT_UTF8_KIND, read_extract
from flows.synth import to_837
from tests.conftest import AS_OF, claim_lines, with_cms_fixtures, write_csv
from validators import schema
from validators.catalog import load_catalog
from validators.checks import REGISTRY
from validators.engine import run_rules
from validators.integrity import check_integrity, rejected_row_findings

CASES_DIR = Path(__file__).parent / "cases"
CATALOG = with_cms_fixtures(load_catalog())


def _collect():
    params = []
    for rule in CATALOG.rules.values():
        params.append(
            pytest.param(
                rule.id, rule.examples.triggers, "trigger", None, id=f"{rule.id}_example_triggers"
            )
        )
        params.append(
            pytest.param(
                rule.id, rule.examples.passes, "pass", None, id=f"{rule.id}_example_passes"
            )
        )
    for path in sorted(CASES_DIR.glob("*.yaml")):
        doc = yaml.safe_load(path.read_text())
        rule_id = doc.pop("rule")
        for name, case in doc.items():
            params.append(
                pytest.param(
                    rule_id, case["claims"], "expect", case["expect"], id=f"{rule_id}_{name}"
                )
            )
    return params


def run_rule(rule_id: str, rows: list[dict], tmp_path: Path, monkeypatch) -> pl.DataFrame:
    """Findings for the rows, through the path the rule's check kind takes in a real run."""
    rule = CATALOG[rule_id]
    if rule.check == "row_structure":  # the file the example describes, damaged, through the reader
        if CATALOG.params[rule_id].problem == NOT_UTF8_KIND:
            path = write_csv(tmp_path / "case.csv", rows)
            records = path.read_bytes().split(b"\r\n")  # csv.writer ends rows with CRLF
            for i, r in enumerate(rows, 1):
                if r.get("csv_not_utf8"):
                    records[i] = records[i].decode("utf-8").encode("cp1252")
            path.write_bytes(b"\r\n".join(records))
        elif CATALOG.params[rule_id].problem == FIELD_COUNT_KIND:
            extra = {
                i: r["csv_extra_fields"] for i, r in enumerate(rows) if "csv_extra_fields" in r
            }
            missing = {
                i: r["csv_missing_fields"] for i, r in enumerate(rows) if "csv_missing_fields" in r
            }
            path = write_csv(
                tmp_path / "case.csv", rows, extra_fields=extra, missing_fields=missing
            )
        else:  # an 837P batch of the claims, each written with its defect or diagnosis qualifier
            lines = claim_lines(rows).with_columns(
                pl.Series("_defect", [r.get("x12_defect") for r in rows], dtype=pl.String),
                pl.Series("_dx_qualifier", [r.get("x12_dx_qualifier") or "ABK" for r in rows]),
            )
            path = tmp_path / "case.837"
            path.write_text(to_837(lines))
        extract = read_extract(path)
        integrity = check_integrity(extract.lines, CATALOG, AS_OF)
        return pl.concat(
            [integrity.findings, rejected_row_findings(CATALOG, extract.rejected, path.name)]
        )
    lines = claim_lines(rows)
    if REGISTRY[rule.check].stage == "engine":
        integrity = check_integrity(lines, CATALOG, AS_OF)
        return pl.concat([integrity.findings, run_rules(integrity.lines, CATALOG, AS_OF)])
    if rule.check == "engine_error" and rows is rule.examples.triggers:
        original = schema.build_schema

        def sabotaged(as_of, pos_codes):  # a check that raises: pandera reports it with no row
            s = original(as_of, pos_codes)
            boom = pa.Check(
                lambda d: d.lazyframe.select(pl.col("no_such_column")), name="exploding_check"
            )
            return s.update_column("claim_id", checks=[*s.columns["claim_id"].checks, boom])

        monkeypatch.setattr(schema, "build_schema", sabotaged)
        # A cache of its own, so the sabotaged schema is never served to the other cases.
        monkeypatch.setattr(
            schema, "_schema_without", lru_cache(schema._schema_without.__wrapped__)
        )
    return check_integrity(lines, CATALOG, AS_OF).findings


@pytest.mark.parametrize("rule_id, rows, mode, expect", _collect())
def test_rule_case(rule_id, rows, mode, expect, tmp_path, monkeypatch):
    findings = run_rule(rule_id, rows, tmp_path, monkeypatch)
    mine = findings.filter(pl.col("rule_id") == rule_id)
    if mode == "trigger" and CATALOG[rule_id].category == "engine":
        assert not mine.is_empty()  # an engine problem has no claim to blame, but it is reported
        assert "exploding_check" in mine["message"].item()
    elif mode == "trigger":
        # Claims named CTX... are context (another claim's note, an earlier session), not expected hits.
        claims = {r.get("claim_id", "C0") for r in rows} - {
            r["claim_id"] for r in rows if r.get("claim_id", "").startswith("CTX")
        }
        flagged = set(mine["claim_id"].to_list())
        assert claims <= flagged, f"{rule_id} did not flag {sorted(claims - flagged)}"
        assert (mine["message"].str.len_chars() > 0).all() and (
            mine["fix"].str.len_chars() > 0
        ).all()
    elif mode == "pass":
        assert mine.is_empty(), mine.select("claim_id", "message").to_dicts()
        if CATALOG[rule_id].family == "FLD":
            assert findings.is_empty(), (
                f"passing example is not clean: {findings['rule_id'].to_list()}"
            )
    else:
        got = sorted(
            (r["claim_id"], r["line_number"])
            for r in mine.select("claim_id", "line_number").to_dicts()
        )
        want = sorted((e["claim_id"], e.get("line_number")) for e in expect)
        assert got == want
