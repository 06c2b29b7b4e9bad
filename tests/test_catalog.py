"""The contract over every rule (QPP's ErrorCodeTest, ruff's check_docs_formatted) and the loader's errors."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from cleanclaim.validators.catalog import HEADINGS, load_catalog
from cleanclaim.validators.checks import REGISTRY
from cleanclaim.validators.errors import RuleConfigError
from cleanclaim.validators.integrity import owners
from cleanclaim.validators.ruledocs import rules_readme
from cleanclaim.validators.schema import check_names
from tests.conftest import REPO


def test_every_rule_is_complete(catalog):
    assert len(catalog.rules) >= 27
    for rule in catalog.rules.values():
        assert rule.id.startswith(rule.family) and rule.check in REGISTRY
        assert all(h in rule.explanation for h in HEADINGS)
        assert rule.citation and all(
            c.source and (c.effective_from or c.verified_on) for c in rule.citation
        )
        assert rule.examples.triggers and rule.examples.passes
        if rule.category != "engine":
            assert rule.denial is not None


def test_every_field_check_is_owned_by_exactly_one_rule(catalog):
    """A pandera check nobody owns would surface as an engine finding; two owners double-report."""
    table = owners(catalog)
    assert set(table["check"]) == check_names()
    assert table.select("check", "column").is_duplicated().sum() == 0


def test_rules_readme_is_generated_from_the_catalog(catalog):
    assert (REPO / "rules" / "README.md").read_text(encoding="utf-8") == rules_readme(catalog), (
        "rules/README.md is stale: run `cleanclaim rules docs`"
    )


@pytest.fixture
def rules_copy(tmp_path) -> Path:
    target = tmp_path / "rules"
    shutil.copytree(REPO / "rules", target)
    return target


def _edit(path: Path, **changes) -> None:
    doc = yaml.safe_load(path.read_text())
    doc.update(changes)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


@pytest.mark.parametrize(
    "change, message",
    [
        (
            {"params": {"checks": ["npi_check_digit"], "column": ["billing_npi"]}},
            "params do not fit",
        ),
        ({"check": "no_such_kind"}, "unknown check kind"),
        ({"message": "NPI {billing_npi_typo} is wrong."}, "does not provide"),
        ({"message": "Patient {patient_id} has a bad NPI."}, "patient identifiers"),
        ({"explanation": "**What it checks.** something"}, "lacks the headings"),
        ({"denial": {"group": "CO", "carc": "999"}}, "no wording"),
        ({"severity": "critical"}, "severity"),
        ({"id": "FLD999"}, "file name must be the rule id"),
    ],
)
def test_a_broken_rule_fails_when_the_catalog_loads(rules_copy, change, message):
    _edit(rules_copy / "field" / "FLD011.yaml", **change)
    with pytest.raises(RuleConfigError, match=message):
        load_catalog(rules_copy)


def test_duplicate_and_retired_ids_are_refused(rules_copy):
    shutil.copy(rules_copy / "field" / "FLD011.yaml", rules_copy / "engine" / "FLD011.yaml")
    with pytest.raises(RuleConfigError, match="defined twice"):
        load_catalog(rules_copy)
    (rules_copy / "engine" / "FLD011.yaml").unlink()
    (rules_copy / "RETIRED.yaml").write_text("retired: [FLD011]\n")
    with pytest.raises(RuleConfigError, match="retired"):
        load_catalog(rules_copy)


def test_catalog_version_changes_with_any_rule_text(rules_copy, catalog):
    before = load_catalog(rules_copy).version
    assert before == catalog.version
    _edit(rules_copy / "field" / "FLD011.yaml", weight=0.5)
    assert load_catalog(rules_copy).version != before


@pytest.mark.parametrize(
    "citation, message",
    [
        (
            {"source": "../notes/research.md R12", "effective_from": "2012-01-01"},
            "refers to '../', which does not ship with cleanclaim",
        ),
        (
            {"source": "CMS MUE table", "section": "3.2 [S21]", "effective_from": "2013-04-01"},
            r"'\[S21\]'",
        ),
        (
            {"source": "rules/codesets/modifiers.csv", "verified_on": "2026-11-21"},
            "'modifiers.csv'",
        ),
        (
            {"source": "A coding blog said so", "verified_on": "2026-11-21"},
            "names no recognised public source and has no url",
        ),
        (
            {"source": "A coding blog", "url": "blog/post", "verified_on": "2026-11-21"},
            "url",
        ),
    ],
)
def test_a_citation_a_user_cannot_follow_is_refused(rules_copy, citation, message):
    _edit(rules_copy / "field" / "FLD011.yaml", citation=[citation])
    with pytest.raises(RuleConfigError, match=message) as caught:
        load_catalog(rules_copy)
    assert "FLD011.yaml" in str(caught.value)
    assert citation.get("url") or "cite a public source" in str(caught.value)


def test_a_citation_with_a_url_needs_no_recognised_name(rules_copy):
    page = {"source": "A payer's page", "url": "https://example.org/p", "verified_on": "2026-11-21"}
    _edit(rules_copy / "field" / "FLD011.yaml", citation=[page])
    assert load_catalog(rules_copy)["FLD011"].citation[0].url == page["url"]


def test_shipped_rules_and_code_sets_cite_only_public_sources(catalog):
    """Every rule loads with public citations, and no code set source points into the team's notes."""
    assert len(catalog.rules) == 83
    for rule in catalog.rules.values():
        assert all(c.is_public() or rule.category == "engine" for c in rule.citation), rule.id
    # a path out of the repository (a relative link inside it, ../docs/, is fine)
    private = re.compile(r"\.\./(?!docs/)|RULES_?RESEARCH|\[[SPI]\d+[a-z]?\]")
    for name, codeset in catalog.codesets.items():
        assert not private.search(codeset.info.source), name
    for path in (REPO / "rules").rglob("*"):
        if path.suffix in {".csv", ".yaml", ".md"}:
            assert not private.search(path.read_text(encoding="utf-8")), path
