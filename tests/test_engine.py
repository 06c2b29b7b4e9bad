"""The rule engine: crash isolation, run configuration, payer scope, rules run together and the
notes they read. Each rule's own cases (fixes in the claim's own words, history of earlier runs)
are in tests/rules/cases/<ID>.yaml."""

from __future__ import annotations

import re
import shutil

import polars as pl
import pytest
import yaml
from polars.exceptions import PanicException

from cleanclaim.validators.catalog import load_catalog
from cleanclaim.validators.checks import REGISTRY, CheckKind, HitsModel
from cleanclaim.validators.checks.context import Context, index_notes
from cleanclaim.validators.config import PayerConfig, RunConfig, load_config
from cleanclaim.validators.engine import finding_keys, run_rules
from cleanclaim.validators.errors import RuleConfigError
from cleanclaim.validators.integrity import check_integrity
from tests.conftest import AS_OF, REPO, claim_lines, with_cms_fixtures

ROWS = [
    {
        "claim_id": "A1",
        "payer_id": "PIP77",
        "accident_indicator": "AA",
        "injury_date": "2026-09-05",
        "dx_1": "M54.2",
    },
    {"claim_id": "A2", "payer_id": "MCR01", "dx_1": "S13.4XXA"},
    {"claim_id": "A3", "payer_id": "PIP77", "dx_1": "M54.5", "dx_2": "M54.5"},
]


def findings(catalog, rows=ROWS, config=None):
    integrity = check_integrity(claim_lines(rows), catalog, AS_OF)
    return run_rules(integrity.lines, catalog, AS_OF, config)


# polars' own faults are PanicExceptions, BaseExceptions that an `except Exception` lets through
@pytest.mark.parametrize("error", [ZeroDivisionError, PanicException])
def test_a_crashing_rule_is_reported_and_the_others_still_run(catalog, monkeypatch, caplog, error):
    kind = REGISTRY["dx_duplicate"]

    def explode(ctx, params):
        raise error("PT-SECRET")  # a message that could hold values is never shown

    monkeypatch.setitem(
        REGISTRY,
        "dx_duplicate",
        CheckKind(kind.name, kind.params, kind.fields, kind.stage, explode),
    )
    found = findings(catalog)
    engine = found.filter(pl.col("rule_id") == "ENG001")
    assert engine["message"].to_list() == [
        f"Check GDL009 (coding rules) could not run: {error.__name__}. Claims were not checked for it."
    ]
    assert {"INJ001", "COD002"} <= set(found["rule_id"])  # the other rules still ran
    assert "PT-SECRET" not in caplog.text and "GDL009" in caplog.text


def test_select_and_ignore_like_ruff(catalog):
    only_inj = findings(catalog, config=RunConfig(select=["INJ"], ignore=["INJ003"]))
    assert set(only_inj["rule_id"]) == {"INJ001", "INJ002"}


def test_per_payer_ignore_and_severity(catalog):
    config = RunConfig(
        payers={
            "MCR01": PayerConfig(ignore=["INJ002"]),
            "PIP77": PayerConfig(severity={"COD002": "low"}),
        }
    )
    found = findings(catalog, config=config)
    assert "A2" not in found.filter(pl.col("rule_id") == "INJ002")["claim_id"].to_list()
    assert found.filter(pl.col("rule_id") == "COD002")["severity"].to_list() == ["low"]
    default = findings(catalog)
    assert default.filter(pl.col("rule_id") == "COD002")["severity"].to_list() == ["high"]


def test_config_file_typos_fail_before_any_claim_is_read(tmp_path, catalog):
    (tmp_path / "c.yaml").write_text(
        "select: [INJ]\npayers:\n  PIP77: {severity: {INJ999: high}}\n"
    )
    with pytest.raises(RuleConfigError, match="INJ999"):
        load_config(tmp_path / "c.yaml", set(catalog.rules))
    (tmp_path / "c.yaml").write_text("selct: [INJ]\n")
    with pytest.raises(RuleConfigError, match="selct"):
        load_config(tmp_path / "c.yaml", set(catalog.rules))


def test_a_payer_scoped_rule_never_fires_for_other_payers(tmp_path):
    rules = tmp_path / "rules"
    shutil.copytree(REPO / "rules", rules)
    path = rules / "trauma" / "INJ003.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["payers"] = ["PIP77"]
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    scoped = load_catalog(rules)
    rows = [
        {"claim_id": "P1", "payer_id": "PIP77", "dx_1": "S13.4XXA"},
        {"claim_id": "M1", "payer_id": "MCR01", "dx_1": "S13.4XXA"},
    ]
    fired = findings(scoped, rows).filter(pl.col("rule_id") == "INJ003")["claim_id"].to_list()
    assert fired == ["P1"]


def test_field_that_failed_integrity_is_not_reported_again(catalog):
    rows = [{"claim_id": "F1", "dx_1": "724.2", "service_date": "2026-10-15"}]
    integrity = check_integrity(claim_lines(rows), catalog, AS_OF)
    assert {"FLD020", "FLD005"} <= set(integrity.findings["rule_id"])
    assert run_rules(integrity.lines, catalog, AS_OF).is_empty()


def test_no_check_kind_loops_over_rows_in_python():
    """Vectorized means polars expressions and joins: no map_elements/apply in any check kind."""
    for path in (REPO / "validators").rglob("*.py"):
        text = path.read_text()
        for banned in ("map_elements", ".apply(", "iter_rows", "element_wise"):
            assert banned not in text, f"{banned} in {path.name}"


def test_excludes1_pairs_are_exactly_those_the_tabular_notes_define(catalog):
    """GDL001 finds the excluded codes by slicing the sorted distinct codes; the reference here is the
    notes' literal meaning, pair by pair: a note of a code (or of one of its categories) excludes
    every code whose first len(lo) characters are >= lo and first len(hi) characters <= hi."""
    import random

    icd = catalog.codesets["icd10cm"].table.filter(pl.col("billable"))
    notes = catalog.codesets["icd10cm_excludes1"].table
    billable = sorted(icd["bare"].to_list())
    rng = random.Random(11)
    claims = []
    for owner, lo, hi in rng.sample(notes.select("owner", "lo", "hi").rows(), 80):
        own = [c for c in billable if c.startswith(owner)]
        inside = [c for c in billable if lo <= c[: len(lo)] and c[: len(hi)] <= hi]
        edges = [
            c for c in inside if c.startswith((lo, hi))
        ]  # the range's own ends, category or code
        if own and inside:
            picked = {
                rng.choice(own),
                rng.choice(inside),
                rng.choice(edges or inside),
                rng.choice(billable),
            }
            claims.append(sorted(picked))
    assert len(claims) > 40

    def dotted(bare):
        return bare if len(bare) <= 3 else f"{bare[:3]}.{bare[3:]}"

    rows = [
        {"claim_id": f"X{i}", **{f"dx_{s}": dotted(c) for s, c in enumerate(codes, 1)}}
        for i, codes in enumerate(claims)
    ]
    lines = check_integrity(claim_lines(rows), catalog, AS_OF).lines
    hits = REGISTRY["dx_excludes1"].func(
        Context(lines, catalog, AS_OF, RunConfig()), catalog.params["GDL001"]
    )
    found = {
        (claim, frozenset((a.replace(".", ""), b.replace(".", ""))))
        for claim, a, b in hits.join(lines.select("_row", "claim_id"), on="_row")
        .select("claim_id", "value", "other")
        .rows()
    }

    by_owner: dict[str, list[tuple[str, str]]] = {}
    for owner, lo, hi in notes.select("owner", "lo", "hi").rows():
        by_owner.setdefault(owner, []).append((lo, hi))
    expected = set()
    for i, codes in enumerate(claims):
        for a in codes:
            ranges = [r for n in range(3, 8) for r in by_owner.get(a[:n], [])]
            for b in codes:
                if b != a and any(b[: len(lo)] >= lo and b[: len(hi)] <= hi for lo, hi in ranges):
                    expected.add((f"X{i}", frozenset((a, b))))
    assert expected and found == expected


@pytest.mark.parametrize("sample", ["pain_procedures_batch.csv", "spine_pain_clinic.csv"])
def test_rules_two_at_a_time_find_what_they_find_one_at_a_time(catalog, sample):
    """A file checked alone runs its rules on two threads; its findings are those of running them one
    by one (both samples have notes; the first fires every procedure rule)."""
    from cleanclaim.flows import pipeline
    from cleanclaim.validators.findings import ordered

    item = pipeline.discover([REPO / "sample_claims" / sample])[0]
    extract = pipeline.load(item, catalog)
    lines = check_integrity(extract.lines, catalog, AS_OF).lines
    one = ordered(
        run_rules(lines, catalog, AS_OF, threads=1, file_notes=extract.notes)
    )  # a file's findings' order
    two = ordered(run_rules(lines, catalog, AS_OF, threads=2, file_notes=extract.notes))
    assert one.height > 10 and one.equals(two)


def test_a_claims_own_note_is_read_before_the_notes_files(catalog):
    """A note in the extract's own column is the claim's note; the notes file's (indexed when the file
    was read, by claim id) counts for the claims without one."""
    rows = [
        {"claim_id": "C1", "clinical_note": "Pain radiates down the left leg."},
        {"claim_id": "C2"},
        {"claim_id": "C3"},
    ]
    lines = check_integrity(claim_lines(rows), catalog, AS_OF).lines
    from_file = pl.DataFrame(
        {
            "claim_id": ["C1", "C2"],
            "text": ["Denies radiating pain.", "Pain radiating to the calf."],
        }
    )
    ctx = Context(
        lines,
        catalog,
        AS_OF,
        RunConfig(),
        file_notes=index_notes(from_file, catalog, key="claim_id"),
    )
    ids = ctx.claims.select("_row", "claim_id")
    found = ctx.notes.elements(["radiation"]).join(ids, on="_row").sort("claim_id")
    assert found.select("claim_id", "affirmed", "negated").rows() == [
        ("C1", True, False),
        ("C2", True, False),
    ]
    assert sorted(ctx.noted_claims.join(ids, on="_row")["claim_id"]) == ["C1", "C2"]


def test_every_check_kind_returns_what_the_contract_says():
    """Each engine rule's check, run on its own triggering example, returns HitsModel's rows: an
    integer `_row` of a line, `claim_level`, and every field the rule's templates name that the
    engine does not add. All the registered engine kinds are exercised."""
    catalog = with_cms_fixtures(load_catalog())
    engine_rules = [r for r in catalog.rules.values() if REGISTRY[r.check].stage == "engine"]
    for rule in engine_rules:
        lines = check_integrity(claim_lines(rule.examples.triggers), catalog, AS_OF).lines
        from_engine = {*finding_keys(lines).columns, "line_number", "charge_at_risk"}
        ctx = Context(lines, catalog, AS_OF, RunConfig())
        if rule.payers:
            ctx = ctx.for_payers(rule.payers)
        hits = HitsModel.validate(REGISTRY[rule.check].func(ctx, catalog.params[rule.id]))
        assert not hits.is_empty(), rule.id
        assert hits["_row"].is_between(0, lines.height - 1).all(), rule.id
        named = set(re.findall(r"\{(\w+)", rule.message + rule.fix))
        missing = named - set(hits.columns) - from_engine
        assert not missing, f"{rule.id} ({rule.check}) does not return {sorted(missing)}"
    kinds = {name for name, kind in REGISTRY.items() if kind.stage == "engine"}
    assert kinds == {r.check for r in engine_rules}


def test_a_payer_scope_is_built_once_and_reads_the_files_note_index(catalog):
    """A payer-scoped rule's context holds only its payers' lines; it is kept for the other rules of
    the same payers and reuses the file's note index instead of reading the notes again."""
    rows = [{**r, "clinical_note": "Neck pain after a car accident."} for r in ROWS]
    lines = check_integrity(claim_lines(rows), catalog, AS_OF).lines
    ctx = Context(lines, catalog, AS_OF, RunConfig())
    scope = ctx.for_payers(["PIP77"])
    assert scope is ctx.for_payers(["PIP77"]) and scope is not ctx.for_payers(["MCR01"])
    assert scope.claims["claim_id"].to_list() == ["A1", "A3"]
    assert scope.notes is ctx.notes and scope.noted_claims.height == 3
