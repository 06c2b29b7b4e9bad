"""The CLI end to end on the bundled samples, exit codes, bad files, and the rules commands."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import date

import openpyxl
import polars as pl
import pytest
import yaml

from cleanclaim.flows import report
from cleanclaim.flows.cli import main
from cleanclaim.validators import findings as fnd
from cleanclaim.validators import runtime
from cleanclaim.validators.catalog import HEADINGS, Rule, load_catalog
from cleanclaim.validators.config import default_threads
from cleanclaim.validators.errors import RuleConfigError
from cleanclaim.validators.ruledocs import explain_text
from tests.conftest import REPO, validate_outputs, write_csv

SAMPLES = REPO / "sample_claims"
SNAPSHOT = REPO / "tests" / "snapshots" / "sample_claims_findings.csv"


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    code = main(
        [
            "validate",
            str(SAMPLES),
            "--config",
            str(SAMPLES / "cleanclaim.yaml"),
            *validate_outputs(out),
            "--quiet",
        ]
    )
    return code, out


def test_samples_end_to_end_write_a_workbook_and_findings(sample_run):
    code, out = sample_run
    assert code == 1  # the front-desk typos include high findings
    found = pl.read_csv(
        out / "f.csv",
        # the file's text, the table's types (its rule-constant columns categorical)
        schema_overrides={c: t for c, t in fnd.FINDINGS_SCHEMA.items() if t != pl.String},
        infer_schema=False,
    )
    fnd.FindingsModel.validate(found)
    wb = openpyxl.load_workbook(out / "r.xlsx")
    assert wb.sheetnames == ["Summary", "Claims", "Findings", "Rules", "Input problems"]
    summary = {
        row[0].value: row[1].value for row in wb["Summary"].iter_rows() if row and row[0].value
    }
    assert summary["Files read"] == "5 of 5" and summary["Claim lines validated"] == 90
    # PB3101 is a FY2025 service: the Summary names the table used for each fiscal year
    assert summary["ICD-10-CM table by fiscal year"] == (
        "FY2025: FY2025 (April 1, 2025 update); FY2026: FY2026 (April 1, 2026 update)"
    )
    assert summary["As-of date"] == "2026-09-30" and summary["Claims"] == wb["Claims"].max_row - 2


def sheet_frame(ws) -> pl.DataFrame:
    """A data sheet's rows, without its totals row."""
    rows = list(ws.iter_rows(values_only=True))
    assert rows[-1][0] == "Total"
    return pl.DataFrame(rows[1:-1], schema=list(rows[0]), orient="row")


def summary_tables(ws) -> dict[str, list[tuple]]:
    """The Summary's titled tables: title -> rows (header first)."""
    tables, current = {}, None
    for row in ws.iter_rows(values_only=True):
        values = tuple(v for v in row if v is not None)
        if len(values) == 1 and isinstance(values[0], str):
            current = values[0]
            tables[current] = []
        elif values and current:
            tables[current].append(values)
    return tables


def test_workbook_lists_claims_by_risk_and_findings_of_the_claims_to_work(sample_run):
    _, out = sample_run
    wb = openpyxl.load_workbook(out / "r.xlsx")
    found = pl.read_csv(out / "f.csv", infer_schema=False)
    claims, findings = sheet_frame(wb["Claims"]), sheet_frame(wb["Findings"])
    # dollars first: the most dollars at risk first, hold before review before clean among equals
    at_risk = claims["At risk"].to_list()
    assert at_risk == sorted(at_risk, reverse=True) and at_risk[0] > 0
    assert set(claims["Status"]) == {"hold", "review", "clean"}
    assert (claims.filter(pl.col("Status") == "clean")["At risk"] == 0).all()
    # a claim is clean exactly when it has no high or medium finding
    urgent = set(found.filter(pl.col("severity").is_in(["high", "medium"]))["claim_id"])
    assert set(claims.filter(pl.col("Status") != "clean")["Claim ID"]) == urgent
    # scores by hand: SP1007 has COD002 (weight 0.9, high) and DOC004 (0.5, medium): 1 - 0.1 x (1 - 0.3) = 93;
    # FD2004 has FLD017 (0.8, high) and FLD022 (0.9, high): 1 - 0.2 x 0.1 = 98
    scores = dict(claims.select("Claim ID", "Score").iter_rows())
    assert (scores["SP1007"], scores["FD2004"], scores["LG3005"]) == (93, 98, 100)
    # a claim whose only row was set aside, or whose charge could not be read, is listed with its
    # billed amount unknown (not $0)
    billed = dict(claims.select("Claim ID", "Billed").iter_rows())
    assert billed["LG3005"] == "unknown"
    assert claims.filter(pl.col("Claim ID") == "LG3005").select("Status", "Lines").row(0) == (
        "hold",
        0,
    )
    unreadable = set(found.filter(pl.col("rule_id") == "FLD018")["claim_id"])
    assert unreadable and all(billed[c] == "unknown" for c in unreadable)
    # days left to file: the payer's limit (timely_filing_days in cleanclaim.yaml) from the first service
    limits = yaml.safe_load((SAMPLES / "cleanclaim.yaml").read_text())["timely_filing_days"]
    pb = claims.filter(pl.col("Claim ID") == "PB3004").row(0, named=True)
    assert pb["Payer"] in limits and pb["Payer name"]
    assert (
        pb["Days left to file"]
        == limits[pb["Payer"]] - (date(2026, 9, 30) - pb["First service"].date()).days
    )
    # a Medicare claim (SBR09 MB) of a payer the configuration does not name: 12 months, as TMF001
    mcr = claims.filter(pl.col("Claim ID") == "PB3102").row(0, named=True)
    assert mcr["Payer"] not in limits
    assert mcr["Days left to file"] == (date(2027, 2, 10) - date(2026, 9, 30)).days
    # Findings: the claims that need action, claim by claim in the Claims order, each rule id
    # linked to its row on Rules and each claim's id on Claims to its first finding
    assert set(findings["Claim ID"]) == urgent
    first_seen = list(dict.fromkeys(findings["Claim ID"]))
    assert first_seen == [c for c in claims["Claim ID"] if c in urgent]
    rules = {row[0].value: row[0].row for row in wb["Rules"].iter_rows(min_row=2)}
    for cell in next(
        wb["Findings"].iter_cols(min_col=3, max_col=3, min_row=2, max_row=findings.height + 1)
    ):
        assert cell.hyperlink.location == f"'Rules'!A{rules[cell.value]}"
    first_row = {c: i for i, c in reversed(list(enumerate(findings["Claim ID"], 2)))}
    for cell in next(wb["Claims"].iter_cols(min_col=1, max_col=1, min_row=2)):
        if cell.value in first_row:
            assert cell.hyperlink.location == f"'Findings'!A{first_row[cell.value]}"
    # the dollars reconcile: the Claims' at risk, the Findings' dollars counted once, the rules'
    # dollars at risk and the open findings by age all sum to the Summary's total; the per-finding
    # line charges overlap and are labelled so
    tables = summary_tables(wb["Summary"])
    by_status = tables["Claims by status"]
    total = sum(row[by_status[0].index("Dollars at risk")] for row in by_status[1:])
    assert total == claims["At risk"].sum() > 0
    assert findings["At risk (counted once)"].sum() == total
    assert findings["Line charge (not additive)"].fill_null(0).sum() > total
    rules_table = tables["Rules by dollars at risk"]
    assert sum(r[rules_table[0].index("Dollars at risk")] for r in rules_table[1:]) == total
    aged = tables["Open findings by age"]
    assert sum(r[aged[0].index("Dollars at risk")] for r in aged[1:]) == total
    # every finding can be decided: a drop-down of the decisions, default Open, a stable key
    assert set(findings["Status"]) == {"Open"} and findings["Finding key"].n_unique() > 1
    [choices] = wb["Findings"].data_validations.dataValidation
    assert choices.formula1 == '"Open,Fixed,Override,False positive"'
    # minimum necessary: no patient names, dates of birth or note text anywhere in the workbook
    cells = {
        str(c.value)
        for ws in wb.worksheets
        for row in ws.iter_rows()
        for c in row
        if c.value is not None
    }
    text = "\n".join(cells)
    dobs = set(pl.read_csv(SAMPLES / "spine_pain_clinic.csv", infer_schema=False)["patient_dob"])
    notes = pl.read_csv(SAMPLES / "spine_pain_clinic.notes.csv", infer_schema=False)
    assert "TESTPATIENT" not in text and not dobs & cells
    assert not any(chunk in text for chunk in notes[:, -1].str.slice(0, 40).to_list())
    money = wb["Claims"]["D2"]
    assert wb["Claims"]["D1"].value == "Billed" and money.number_format == report.MONEY


def test_sample_findings_match_the_reviewed_snapshot(sample_run):
    """Like ruff's .snap files: a change in what the samples produce must be reviewed and committed."""
    _, out = sample_run
    got = pl.read_csv(out / "f.csv", infer_schema=False).sort(
        "source_file", pl.col("source_row").cast(pl.Int64), "rule_id", "message"
    )
    if os.environ.get("CLEANCLAIM_UPDATE_SNAPSHOTS"):
        got.write_csv(SNAPSHOT)
    want = pl.read_csv(SNAPSHOT, infer_schema=False)
    assert got.to_dicts() == want.to_dicts()


def test_the_sample_837p_batch_is_validated_like_the_extracts(sample_run):
    _, out = sample_run
    found = pl.read_csv(out / "f.csv", infer_schema=False).filter(
        pl.col("source_file") == "clearinghouse_batch.837"
    )
    by_claim = found.group_by("claim_id").agg(pl.col("rule_id").unique().sort())
    assert dict(by_claim.iter_rows()) == {
        # CB2001 (a dependent's lumbar ESI for radiculopathy) and CB2002 (an auto injury) are clean
        "CB2003": ["COD005"],  # ICD-9 724.2 sent with qualifier BK for a 2026 service: once
        "CB2004": [
            "DOC002",
            "DOC007",
            "DXP001",
            "FLD027",
        ],  # cervical ESI for cervicalgia; N4 before N3
    }
    assert found.filter(pl.col("rule_id") == "FLD027")["source_row"].to_list() == [
        "64"
    ]  # the N4 segment


def test_every_sample_row_is_in_the_run_or_in_a_finding(sample_run):
    """Nothing is lost: each data row of each sample is validated or named by a finding."""
    _, out = sample_run
    found = pl.read_csv(out / "f.csv", infer_schema=False)
    set_aside = set(found.filter(pl.col("rule_id") == "FLD025")["source_row"].cast(pl.Int64))
    legacy_rows = (SAMPLES / "legacy_pm_export.csv").read_bytes().count(b"\n") - 1
    assert set_aside == {7} and legacy_rows == 6  # five validated rows + the one set aside


def test_coding_problems_of_the_samples_are_caught_and_clean_claims_stay_clean(sample_run):
    _, out = sample_run
    found = pl.read_csv(out / "f.csv", infer_schema=False).filter(
        pl.col("source_file") == "spine_pain_clinic.csv"
    )
    by_claim = found.group_by("claim_id").agg(pl.col("rule_id").unique().sort())
    assert dict(by_claim.iter_rows()) == {
        "SP1001": [
            "DOC002",
            "DOC007",
            "DXP001",
        ],  # cervical ESI for axial neck pain; the note denies radicular signs
        "SP1005": ["DOC007", "INJ001"],  # auto accident coded with neck pain M54.2 only; thin note
        "SP1006": ["COD002"],  # M54.5
        "SP1007": ["COD002", "DOC004"],  # M79.1; no trigger-point findings documented
        "SP1008": [
            "COD002",
            "DOC002",
            "DXP001",
        ],  # M51.36: a header, no radicular indication, thin ESI note
        "SP1009": ["COD003", "INJ003"],  # S13.4 without its 7th character, no external cause
    }
    # SP1001's note denies radiating pain: a documented negative answers the ESI note's question,
    # and the ESI pointing to cervicalgia alone is the pairing rule's finding
    radicular = found.filter(
        (pl.col("claim_id") == "SP1001") & pl.col("message").str.contains("radicular")
    )
    assert radicular.is_empty()
    fixes = dict(
        found.filter(pl.col("rule_id").is_in(["COD002", "INJ001"]))
        .select("claim_id", "fix")
        .iter_rows()
    )
    assert (
        "M54.50, M54.51, M54.59" in fixes["SP1006"]
        and "M79.10, M79.11, M79.12, M79.18" in fixes["SP1007"]
    )
    assert "M51.360, M51.361, M51.362, M51.369" in fixes["SP1008"]
    assert (
        "S13.4XXA, S13.4XXD, S13.4XXS" in found.filter(pl.col("rule_id") == "COD003")["fix"].item()
    )
    assert "S13.4XXA" in fixes["SP1005"]  # the neck: whiplash


def test_each_procedure_rule_fires_once_on_its_scenario_and_clean_claims_stay_clean(sample_run):
    _, out = sample_run
    found = pl.read_csv(out / "f.csv", infer_schema=False).filter(
        pl.col("source_file") == "pain_procedures_batch.csv"
    )
    by_rule = dict(found.group_by("rule_id").agg(pl.col("claim_id").sort()).iter_rows())
    assert by_rule == {
        "NCC001": ["PB3001"],
        "NCC002": ["PB3002"],
        "NCC003": ["PB3003"],
        "MUE004": ["PB3004"],
        "MUE005": ["PB3005"],
        "MUE006": ["PB3006"],
        "MOD001": ["PB3007", "PB3105"],  # PB3105: E/M beside a knee injection
        "MOD002": ["PB3008"],
        "MOD003": ["PB3009", "PB3104"],  # PB3104: OT evaluation without GO
        "MOD004": ["PB3010"],
        "DUP001": ["PB3012"],
        "DXP002": ["PB3013"],
        "DXP003": ["PB3014"],
        "DXP004": ["PB3015"],
        "FRQ001": ["PB3024"],
        "FRQ002": ["PB3033"],
        "FRQ004": ["PB3042"],
        "FRQ003": ["PB3074"],
        "TMF001": ["PB3050"],
        "TMF002": ["PB3051", "PB3101"],  # PB3101: prior-year Medicare, 12 months
    }  # PB3102 (Medicare, 232 days) and PB3103 (an onset date, no accident) are clean
    headline = pl.read_csv(out / "f.csv", infer_schema=False).filter(
        (pl.col("claim_id") == "SP1001") & (pl.col("rule_id") == "DXP001")
    )  # cervical ESI for cervicalgia M54.2
    assert "M54.12" in headline["fix"].item()


def test_exit_codes(tmp_path):
    clean = write_csv(tmp_path / "clean.csv", [{"claim_id": "C1"}])
    args = [
        *validate_outputs(tmp_path),
        "-q",
    ]
    assert main(["validate", str(clean), *args]) == 0
    bad = write_csv(tmp_path / "bad.csv", [{"claim_id": "C1", "units": "0"}])
    assert main(["validate", str(bad), *args]) == 1
    assert main(["validate", str(bad), *args, "--exit-zero"]) == 0
    (tmp_path / "empty.csv").write_text("")
    assert main(["validate", str(tmp_path / "empty.csv"), *args, "--exit-zero"]) == 2
    assert main(["validate", str(tmp_path / "nowhere.csv"), *args]) == 2


def test_threads_come_from_the_configuration_and_the_option_overrides_it(tmp_path, monkeypatch):
    """One concurrency setting: `threads:` in the run configuration, --threads over it, the CPU
    count when neither is given; it reaches the pipeline, which sizes every pool from it."""
    from cleanclaim.flows import pipeline

    seen = []
    real = pipeline.run

    def recorded(*args, **kwargs):
        seen.append(kwargs["config"].threads)
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "run", recorded)
    clean = write_csv(tmp_path / "clean.csv", [{"claim_id": "C1"}])
    (tmp_path / "c.yaml").write_text("threads: 3\n")
    args = ["validate", str(clean), "--report", str(tmp_path / "r.xlsx"), "-q"]
    args += ["--findings", str(tmp_path / "f.csv")]
    assert main(args) == 0
    assert main([*args, "--config", str(tmp_path / "c.yaml")]) == 0
    assert main([*args, "--config", str(tmp_path / "c.yaml"), "--threads", "1"]) == 0
    assert seen == [default_threads(), 3, 1]
    with pytest.raises(SystemExit):
        main([*args, "--threads", "0"])
    (tmp_path / "c.yaml").write_text("threads: 0\n")
    assert main([*args, "--config", str(tmp_path / "c.yaml")]) == 2


def test_a_bad_file_is_set_aside_and_the_others_still_run(tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    write_csv(folder / "a.csv", [{"claim_id": "C1"}])
    (folder / "b.csv").write_text("claim_id,line_number\nC2,1\n")
    code = main(
        [
            "validate",
            str(folder),
            *validate_outputs(tmp_path),
        ]
    )
    printed = capsys.readouterr().out
    assert code == 2
    assert "b.csv: required columns are missing" in printed and "--mapping" in printed
    texts = [
        c.value
        for row in openpyxl.load_workbook(tmp_path / "r.xlsx")["Summary"].iter_rows()
        for c in row
        if isinstance(c.value, str)
    ]
    assert any(t.startswith("NOT READ: b.csv") for t in texts)  # never a clean-looking report


def test_summary_output_reads_well(tmp_path, capsys):
    main(
        [
            "validate",
            str(SAMPLES / "front_desk_typos.xlsx"),
            *validate_outputs(tmp_path),
        ]
    )
    printed = capsys.readouterr().out
    assert "Read 1 of 1 files: 12 lines in 10 claims" in printed
    assert "Dollars at risk" in printed and "Top rules" in printed and "FLD002" in printed
    assert "PT-2000" not in printed  # no patient ids on the terminal


def test_rules_list_and_explain(capsys):
    assert main(["rules", "list"]) == 0
    assert "FLD011" in capsys.readouterr().out
    assert main(["rules", "explain", "billing-npi-check-digit-mismatch"]) == 0
    text = capsys.readouterr().out
    for words in (
        "FLD011",
        "What it checks",
        "Why payers deny it",
        "How to fix",
        "CO-16",
        "N257",
        "80840",
    ):
        assert words in text
    assert main(["rules", "explain", "NOPE01"]) == 2


def test_explain_prints_every_row_of_a_multi_row_example(catalog):
    """DUP001's examples differ only in their second rows: the duplicate, and the repeat with 76."""
    text = explain_text(catalog["DUP001"], catalog)
    triggers, passes = text.split("Example that triggers it")[1].split("Example that passes")
    assert triggers.count('"claim_id": "C1"') == 2 and passes.count('"claim_id": "C2"') == 2
    assert '"modifier_1": "76"' in passes and "modifier_1" not in triggers


def test_rules_new_writes_a_skeleton_the_catalog_refuses_until_it_is_filled_in(tmp_path, capsys):
    shutil.copytree(REPO / "rules", tmp_path / "rules")
    (tmp_path / "rules" / "RETIRED.yaml").write_text("retired: [INJ004]\n")
    assert main(["--rules", str(tmp_path / "rules"), "rules", "new", "INJ"]) == 0
    printed = capsys.readouterr().out
    rule_path = tmp_path / "rules" / "trauma" / "INJ005.yaml"  # INJ004 is retired: never reused
    cases_path = tmp_path / "tests" / "rules" / "cases" / "INJ005.yaml"
    assert str(rule_path) in printed and str(cases_path) in printed and "rules docs" in printed
    skeleton = yaml.safe_load(rule_path.read_text())
    assert set(skeleton) == set(Rule.model_fields) - {"payers", "aliases"}
    assert skeleton["status"] == "preview" and all(h in skeleton["explanation"] for h in HEADINGS)
    assert yaml.safe_load(cases_path.read_text())["rule"] == "INJ005"
    with pytest.raises(RuleConfigError, match=r"INJ005.yaml: fill in the TODO .* of name, title"):
        load_catalog(tmp_path / "rules")
    # a second rule waits for the first: the catalog does not load
    assert main(["--rules", str(tmp_path / "rules"), "rules", "new", "trauma"]) == 2
    assert "fill in the TODO" in capsys.readouterr().err
    # filled in (here with INJ001's content under a name of its own), it loads as a preview rule
    filled = yaml.safe_load((REPO / "rules" / "trauma" / "INJ001.yaml").read_text())
    filled |= {
        "id": "INJ005",
        "name": "accident-claim-without-injury-dx-again",
        "status": "preview",
    }
    rule_path.write_text(yaml.safe_dump(filled, sort_keys=False))
    assert load_catalog(tmp_path / "rules")["INJ005"].status == "preview"
    assert main(["--rules", str(tmp_path / "rules"), "rules", "new", "nowhere"]) == 2
    assert "the families are" in capsys.readouterr().err
    assert main(["--rules", str(tmp_path / "rules"), "rules", "new", "ncci"]) == 0
    assert (tmp_path / "rules" / "ncci" / "NCC004.yaml").exists()


def test_rules_docs_check_passes_on_the_committed_readme():
    assert main(["rules", "docs", "--check"]) == 0


def test_cli_does_not_import_prefect():
    code = "import sys, cleanclaim.flows.cli, cleanclaim.flows.pipeline; sys.exit('prefect' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=REPO).returncode == 0


def test_a_validation_does_not_load_hypothesis(tmp_path):
    """pandera loads it when installed (0.18 s of each command) for data synthesis cleanclaim never uses."""
    args = [
        "validate",
        "sample_claims/legacy_pm_export.csv",
        "--as-of",
        "2026-09-30",
        "-q",
        "--exit-zero",
        "--report",
        str(tmp_path / "r.xlsx"),
        "--findings",
        str(tmp_path / "f.csv"),
    ]
    code = f"import sys; from cleanclaim.flows.cli import main; sys.exit(main({args!r}) or 'hypothesis' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=REPO).returncode == 0
    assert (tmp_path / "r.xlsx").stat().st_size and len(
        (tmp_path / "f.csv").read_text().splitlines()
    ) > 1


# How each way in loads the package: the CLI, the Prefect deployments, which run their flow's file by
# path (prefect.utilities.importtools.load_script_as_module), not as flows.nightly, and the
# benchmarks, run as scripts.
DEPLOYED = (
    "from prefect.utilities.importtools import load_script_as_module; load_script_as_module('{}')"
)
ENTRY_POINTS = {
    "cli": "import cleanclaim.flows.cli",
    "nightly deployment": DEPLOYED.format("flows/nightly.py"),
    "ad-hoc deployment": DEPLOYED.format("flows/adhoc.py"),
    "benchmark": "import runpy; sys.path.insert(0, 'benchmarks'); runpy.run_path('benchmarks/bench_scale.py')",
}


def _in_fresh_process(code: str, env: dict[str, str]) -> str:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, check=True
    ).stdout.strip()


@pytest.mark.parametrize("entry", ENTRY_POINTS)
@pytest.mark.parametrize("own", [None, "narenas:4"])
def test_the_allocator_setting_is_in_place_when_polars_loads(entry, own):
    """jemalloc reads it once, as polars loads: set any later, it would change nothing. An operator's
    own setting is left alone."""
    code = (
        "import os, sys\n"
        "seen = []\n"
        "sys.addaudithook(lambda event, args: event == 'import' and args[0] == 'polars'"
        " and seen.append(os.environ.get('_RJEM_MALLOC_CONF')))\n"
        f"{ENTRY_POINTS[entry]}\n"
        "print(seen[0] if seen else 'polars not loaded')"
    )
    env = {k: v for k, v in os.environ.items() if k != "_RJEM_MALLOC_CONF"}
    env |= {"_RJEM_MALLOC_CONF": own} if own else {}
    assert _in_fresh_process(code, env) == (own or runtime.ALLOCATOR_SETTING)


def test_importing_the_package_as_a_library_changes_nothing_process_wide():
    """A program that imports validators and uses it keeps its own environment, polars settings and
    modules: the process ends up as importing polars alone leaves it (polars sets its own allocator
    default). Only the entry points configure the process."""
    probe = (
        "import os, sys\n"
        "before = dict(os.environ)\n"
        "{}\n"
        "import polars as pl\n"
        "changed = {{k: os.environ.get(k) for k in {{*before, *os.environ}} if before.get(k) != os.environ.get(k)}}\n"
        "print(sorted(changed.items()), [k for k, m in sys.modules.items() if m is None], pl.Config.state())"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("_RJEM", "POLARS_"))}
    library = "import cleanclaim.validators.catalog, cleanclaim.validators.engine; cleanclaim.validators.catalog.load_catalog()"
    assert _in_fresh_process(probe.format(library), env) == _in_fresh_process(
        probe.format("pass"), env
    )


def test_help_explains_exit_codes():
    out = subprocess.run(
        [sys.executable, "-m", "cleanclaim.flows.cli", "validate", "--help"],
        cwd=REPO,
        capture_output=True,
        text=True,
    ).stdout
    assert "exit codes" in out and "--as-of" in out and "mapping" in out


def test_a_row_without_a_claim_id_is_its_own_claim_on_hold_and_its_findings_are_listed(tmp_path):
    write_csv(tmp_path / "x.csv", [{"claim_id": ""}, {"claim_id": "C2"}])
    main(
        [
            "validate",
            str(tmp_path / "x.csv"),
            *validate_outputs(tmp_path),
            "-q",
        ]
    )
    wb = openpyxl.load_workbook(tmp_path / "r.xlsx")
    claims, findings = sheet_frame(wb["Claims"]), sheet_frame(wb["Findings"])
    assert claims.filter(pl.col("Claim ID").is_null())["Status"].to_list() == ["hold"]
    found = pl.read_csv(tmp_path / "f.csv", infer_schema=False).filter(pl.col("claim_id").is_null())
    assert found.height > 0 and findings.filter(pl.col("Claim ID").is_null()).height == found.height


def test_the_findings_file_and_sheet_keep_their_columns_and_text(sample_run, catalog):
    """The table holds each rule's fix once (a categorical): the file and the sheet show the text."""
    _, out = sample_run
    found = pl.read_csv(out / "f.csv", infer_schema=False)
    assert found.columns == list(fnd.FINDINGS_COLUMNS)
    assert all(found[c].dtype == pl.String for c in found.columns)  # as the file was read
    plain = {r.id: r.fix for r in catalog.rules.values() if "{" not in r.fix}
    fixes = found.filter(pl.col("rule_id").is_in(list(plain))).select("rule_id", "fix").unique()
    assert fixes.height > 3 and all(plain[rule] == fix for rule, fix in fixes.iter_rows())
    ws = openpyxl.load_workbook(out / "r.xlsx", read_only=True)["Findings"]
    rows = list(ws.iter_rows(values_only=True))
    assert list(rows[0]) == [
        "Claim ID", "Line", "Rule", "Severity", "Category", "CARC", "RARC", "Message", "Fix",
        "Denial wording", "Policy", "Line charge (not additive)", "At risk (counted once)",
        "Payer", "Payer name", "Provider NPI", "File", "Row", "Recurred", "Status", "Reason",
        "Owner", "Decision no.", "Finding key",
    ]  # fmt: skip
    shown = {(r[0], r[2], r[7], r[8]) for r in rows[1:] if r[2]}  # the totals row has no rule
    listed = set(found.select("claim_id", "rule_id", "message", "fix").iter_rows())
    assert shown and shown <= listed
