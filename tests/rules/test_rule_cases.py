"""Every rule's own examples, plus tests/rules/cases/<ID>.yaml, run against the real stages.

Test ids are `<ID>_<case>` so `pytest -k FLD011` runs one rule (as sqlfluff does). A trigger
example must flag every claim it lists; a passing example must not be flagged by the rule, and
for field-integrity rules it must be clean altogether (so the examples stay honest).

A case of a case file holds `claims` (rows; the factory fills the other columns) and `expect`, the
rule's findings as claim_id and line_number (null: a claim-level finding). It may add:
- `params`: merged into the rule's params for this case;
- `config`: a run configuration (validators.config.RunConfig), e.g. timely_filing_days;
- `history`: lines of earlier runs (no finding may name their claims);
- `notes`: a notes file's rows, claim_id and text;
- `cms_files: false`: the shipped code sets only, without the imported CMS NCCI and MUE files.
An expected finding may also name finding columns (message, fix, severity, charge_at_risk: equal)
or `<column>_contains` / `<column>_excludes` (a list of phrases); a finding of the same claim and
line must have them all.
"""

from __future__ import annotations

import dataclasses
import re
from functools import lru_cache
from pathlib import Path

import pandera.polars as pa
import polars as pl
import pytest
import yaml

from cleanclaim.flows.extract import FIELD_COUNT_KIND, NOT_UTF8_KIND, read_extract
from cleanclaim.flows.synth import to_837
from cleanclaim.validators import schema
from cleanclaim.validators.catalog import load_catalog
from cleanclaim.validators.checks import REGISTRY
from cleanclaim.validators.checks.context import index_notes
from cleanclaim.validators.config import RunConfig
from cleanclaim.validators.engine import history_rows, run_rules
from cleanclaim.validators.integrity import check_integrity, rejected_row_findings
from tests.conftest import AS_OF, claim_lines, with_cms_fixtures, write_csv

CASES_DIR = Path(__file__).parent / "cases"
SHIPPED = load_catalog()
CATALOG = with_cms_fixtures(SHIPPED)
CASE_KEYS = {"claims", "expect", "params", "config", "history", "notes", "cms_files"}
_TODO = re.compile(r"\bTODO\b")


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
        text = path.read_text()
        assert not _TODO.search(text), f"{path.name}: fill in its TODO placeholders"
        doc = yaml.safe_load(text)
        rule_id = doc.pop("rule")
        assert path.stem == rule_id and rule_id in CATALOG.rules, path.name
        for name, case in doc.items():
            assert set(case) <= CASE_KEYS, f"{path.name} {name}: {sorted(set(case) - CASE_KEYS)}"
            params.append(
                pytest.param(rule_id, case["claims"], "expect", case, id=f"{rule_id}_{name}")
            )
    return params


def case_catalog(rule_id: str, case: dict):
    """The catalog a case runs against: with or without the CMS files, the rule's params overridden."""
    catalog = CATALOG if case.get("cms_files", True) else SHIPPED
    if "params" not in case:
        return catalog
    rule = catalog[rule_id]
    merged = {**rule.params, **case["params"]}
    checked = REGISTRY[rule.check].params.model_validate(merged)
    return dataclasses.replace(
        catalog,
        rules={**catalog.rules, rule_id: rule.model_copy(update={"params": merged})},
        params={**catalog.params, rule_id: checked},
    )


def run_rule(
    rule_id: str, rows: list[dict], tmp_path: Path, monkeypatch, case: dict | None = None
) -> pl.DataFrame:
    """Findings for the rows, through the path the rule's check kind takes in a real run."""
    case = case or {}
    catalog = case_catalog(rule_id, case)
    rule = catalog[rule_id]
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
        integrity = check_integrity(lines, catalog, AS_OF)
        history = case.get("history")
        notes = case.get("notes")
        found = run_rules(
            integrity.lines,
            catalog,
            AS_OF,
            RunConfig(**case.get("config", {})),
            history=history_rows(check_integrity(claim_lines(history), catalog, AS_OF).lines)
            if history
            else None,
            file_notes=index_notes(pl.DataFrame(notes), catalog, key="claim_id") if notes else None,
        )
        return pl.concat([integrity.findings, found])
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
    return check_integrity(lines, catalog, AS_OF).findings


def has(finding: dict, want: dict) -> bool:
    """The finding has every column value and phrase the expected finding names."""
    for key, value in want.items():
        if key.endswith(("_contains", "_excludes")):
            column, _, how = key.rpartition("_")
            phrases = [value] if isinstance(value, str) else value
            if any((p in finding[column]) != (how == "contains") for p in phrases):
                return False
        elif finding[key] != value:
            return False
    return True


@pytest.mark.parametrize("rule_id, rows, mode, case", _collect())
def test_rule_case(rule_id, rows, mode, case, tmp_path, monkeypatch):
    findings = run_rule(rule_id, rows, tmp_path, monkeypatch, case)
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
        expect = case["expect"]
        got = sorted((r["claim_id"], r["line_number"]) for r in mine.to_dicts())
        want = sorted((e["claim_id"], e.get("line_number")) for e in expect)
        assert got == want
        for e in expect:
            details = {k: v for k, v in e.items() if k not in ("claim_id", "line_number")}
            same_line = [
                f
                for f in mine.to_dicts()
                if (f["claim_id"], f["line_number"]) == (e["claim_id"], e.get("line_number"))
            ]
            assert any(has(f, details) for f in same_line), (details, same_line)
        if case.get("history"):  # the earlier runs' own lines never become findings
            earlier = {r["claim_id"] for r in case["history"]}
            assert not earlier & set(findings["claim_id"])
