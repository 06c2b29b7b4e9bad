"""Remittances against the rules, end to end: a nightly-style run writes the history, the payer's
835 for those claims comes back, and `cleanclaim remits` measures each rule and lists the denials
no rule predicted."""

from __future__ import annotations

import re
import zipfile
from datetime import date, datetime

import openpyxl
import polars as pl
import pytest

from cleanclaim.flows import cli, pipeline
from cleanclaim.flows.history import History, RemitHistory, file_meta
from cleanclaim.flows.outcomes import calibrate, link_lines, nightly_remits, process, remittances_in
from cleanclaim.flows.remits import read_835
from cleanclaim.flows.synth import to_835
from cleanclaim.validators.config import load_config
from cleanclaim.validators.errors import RuleConfigError
from tests.conftest import REPO

AS_OF = date(2026, 9, 30)
RULE = "DXP001"  # flags SP1001 and SP1008 of the sample; its YAML predicts CO-50
UNFLAGGED = "SP1002"  # no finding at all


def nightly_history(out, catalog, name: str = "spine_pain_clinic.csv") -> pipeline.Run:
    """Validate a sample as the nightly run does and leave its rows in OUT's run history
    (flows/nightly.py publish_extract: stage, then ingest)."""
    item = pipeline.discover([REPO / "sample_claims" / name])[0]
    run = pipeline.Run(
        [pipeline.validate_file(item, catalog, AS_OF)], catalog, AS_OF, datetime(2026, 9, 30, 2)
    )
    store = History(out)
    sha = name.encode().hex().ljust(64, "0")[:64]
    store.stage(
        sha,
        file_meta(name, "run-1", AS_OF, run.claims.height, run.findings.height),
        run.lines,
        run.claims,
        run.findings,
    )
    store.ingest()
    return run


def canonical_lines(name: str = "spine_pain_clinic.csv") -> pl.DataFrame:
    return pl.read_csv(REPO / "sample_claims" / name, infer_schema=False)


def answers_for(
    lines: pl.DataFrame, denied: dict[str, tuple[str, str, str | None]]
) -> pl.DataFrame:
    """Every line of each claim in `denied` adjusted to zero under (group, carc, rarc)."""
    rows = [
        {"claim_id": c, "group": g, "carc": carc, "rarc": rarc}
        for c, (g, carc, rarc) in denied.items()
    ]
    decided = pl.DataFrame(
        rows,
        schema={"claim_id": pl.String, "group": pl.String, "carc": pl.String, "rarc": pl.String},
    )
    return lines.select("claim_id", "line_number").join(decided, on="claim_id", how="inner")


def write_era(path, lines, answers, produced="20261030"):
    path.write_text(to_835(lines, answers, produced), encoding="ascii")
    return path


def test_judged_scenario_precision_one_and_the_unpredicted_denial_listed(catalog, tmp_path):
    out = tmp_path / "reports"
    run = nightly_history(out, catalog)
    flagged = sorted(run.findings.filter(pl.col("rule_id") == RULE)["claim_id"].unique())
    assert flagged == ["SP1001", "SP1008"]
    assert UNFLAGGED not in set(run.findings["claim_id"])
    rule = catalog.rules[RULE]
    lines = canonical_lines()
    denied = dict.fromkeys(flagged, (rule.denial.group, rule.denial.carc, rule.denial.rarc[0]))
    denied[UNFLAGGED] = ("CO", "16", "MA130")  # missing information, which no finding predicted
    era = write_era(tmp_path / "payer.835", lines, answers_for(lines, denied))

    assert cli.main(["remits", str(era), "--out", str(out)]) == 0

    outcomes = pl.read_csv(out / "remits" / "2026-10-30.rule-outcomes.csv")
    row = outcomes.filter(pl.col("rule_id") == RULE).row(0, named=True)
    assert row == {
        "rule_id": RULE,
        "flagged_claims": 2,
        "remitted": 2,
        "denied": 2,
        "denied_with_rule_carc": 2,  # every denial confirmed under the rule's own CARC
        "paid": 0,
        "precision": 1.0,
    }
    # a rule whose flagged claims were paid has precision 0
    cod002 = outcomes.filter(pl.col("rule_id") == "COD002").row(0, named=True)
    assert (cod002["remitted"], cod002["denied"]) == (3, 1)  # SP1008 denied, SP1006/7 paid
    unexplained = pl.read_csv(
        out / "remits" / "2026-10-30.unexplained.csv", schema_overrides={"carc": pl.String}
    )
    assert unexplained.columns == ["claim_id", "line_number", "group", "carc", "rarc", "amount"]
    assert unexplained.select("claim_id", "line_number", "group", "carc", "rarc").rows() == [
        (UNFLAGGED, 1, "CO", "16", "MA130")
    ]
    assert unexplained["amount"][0] == pytest.approx(1450.0)
    # every answered claim links: nothing unlinked
    assert pl.read_csv(out / "remits" / "2026-10-30.unlinked.csv").is_empty()
    # the history keeps the answer and the date's outcomes
    store = RemitHistory(out)
    assert store.remits()["remit_claims"].height == run.claims.height
    trend = store.remit_trend()
    assert trend.select("claims", "linked", "denied", "unexplained").row(0) == (14, 14, 3, 1)


def test_reversal_and_correction_in_a_later_era_replace_the_denial(catalog, tmp_path):
    out = tmp_path / "reports"
    nightly_history(out, catalog)
    lines = canonical_lines()
    first = write_era(
        tmp_path / "a.835", lines, answers_for(lines, {"SP1001": ("CO", "50", "N115")}), "20261030"
    )
    assert cli.main(["remits", str(first), "--out", str(out)]) == 0
    # the payer reverses its denial of SP1001 (CLP02 22) and pays it in a corrected claim
    paid = to_835(lines.filter(pl.col("claim_id") == "SP1001"), answers_for(lines, {}), "20261106")
    clp = paid[paid.index("CLP*") : paid.index("SE*")]
    reversal = clp.replace("CLP*SP1001*1*", "CLP*SP1001*22*", 1)
    second = tmp_path / "b.835"
    body = paid.replace(clp, reversal + clp)
    segments = body[body.index("ST*") : body.index("SE*")].count("~") + 1
    second.write_text(
        body.replace(body[body.index("SE*") : body.index("~GE")], f"SE*{segments}*0001")
    )
    assert read_835(second).claims["status"].to_list() == ["22", "1"]
    assert cli.main(["remits", str(second), "--out", str(out)]) == 0
    later = pl.read_csv(out / "remits" / "2026-11-06.rule-outcomes.csv")
    assert later.filter(pl.col("rule_id") == RULE).select("remitted", "denied").row(0) == (1, 0)


def test_remits_for_claims_never_validated_are_listed_not_dropped(catalog, tmp_path):
    out = tmp_path / "reports"
    nightly_history(out, catalog)
    lines = canonical_lines().with_columns(
        pl.when(pl.col("claim_id") == "SP1003")
        .then(pl.lit("ZZ9999"))
        .otherwise("claim_id")
        .alias("claim_id")
    )
    era = write_era(tmp_path / "x.835", lines, answers_for(lines, {"ZZ9999": ("CO", "197", None)}))
    assert cli.main(["remits", str(era), "--out", str(out)]) == 0
    unlinked = pl.read_csv(out / "remits" / "2026-10-30.unlinked.csv")
    assert unlinked.select("claim_id", "denied").rows() == [("ZZ9999", True)]
    # a denial on a claim cleanclaim never saw is not counted as one no rule predicted
    assert pl.read_csv(out / "remits" / "2026-10-30.unexplained.csv").is_empty()


def test_lines_link_by_control_number_else_by_procedure_modifiers_and_date():
    validated = pl.DataFrame(
        {
            "claim_id": ["C1", "C1", "C1"],
            "_line_number": [1, 2, 3],
            "procedure_code": ["97110", "97110", "97140"],
            "modifier_1": ["GP", "GP", "59"],
            "modifier_2": [None, None, "GP"],
            "modifier_3": [None, None, None],
            "modifier_4": [None, None, None],
            "_service_date": [date(2026, 9, 1)] * 3,
        }
    )
    remit = pl.DataFrame(
        {
            "sha256": ["s"] * 4,
            "line_pos": [10, 20, 30, 40],
            "claim_id": ["C1"] * 4,
            "procedure_code": ["97140", "97110", "97110", "99213"],
            "modifier_1": ["GP", "GP", "GP", None],  # modifiers in another order still match
            "modifier_2": ["59", None, None, None],
            "modifier_3": [None] * 4,
            "modifier_4": [None] * 4,
            "service_date": [date(2026, 9, 1)] * 4,
            "control_number": [None, "C1-2", None, None],  # names line 2: the other 97110 is line 1
        }
    )
    linked = link_lines(remit, validated).sort("line_pos")
    assert linked["line_number"].to_list() == [3, 2, 1, None]  # 99213 was never billed: no link


def sheet_rows(path, title) -> list[tuple]:
    wb = openpyxl.load_workbook(path)
    return [r for r in wb[title].iter_rows(values_only=True) if any(v is not None for v in r)]


def test_the_workbook_shows_rules_carcs_payers_blind_spots_and_trend(catalog, tmp_path):
    out = tmp_path / "reports"
    nightly_history(out, catalog)
    lines = canonical_lines()
    denied = dict.fromkeys(["SP1001", "SP1008"], ("CO", "50", "N115"))
    denied["SP1002"] = ("CO", "16", "MA130")
    write_era(
        tmp_path / "a.835", lines, answers_for(lines, {"SP1001": ("CO", "50", None)}), "20261023"
    )
    write_era(tmp_path / "b.835", lines, answers_for(lines, denied), "20261030")
    assert (
        cli.main(["remits", str(tmp_path / "a.835"), str(tmp_path / "b.835"), "--out", str(out)])
        == 0
    )
    book = out / "remits" / "2026-10-30.remits.xlsx"
    wb = openpyxl.load_workbook(book)
    assert wb.sheetnames == [
        "Summary",
        "By rule",
        "By CARC",
        "By payer",
        "Unexplained denials",
        "Unlinked remits",
        "Trend",
    ]
    rules = {r[0]: r for r in sheet_rows(book, "By rule")[1:]}
    assert rules[RULE][3:10] == ("CO-50", 2, 2, 2, 2, 0, 1)  # CARC, flagged ... precision
    assert rules[RULE][10] == catalog.rules[RULE].weight  # the YAML weight beside ...
    assert 0 < rules[RULE][11] <= 1  # ... the weight the outcomes suggest
    carcs = {(r[0], r[1]): r for r in sheet_rows(book, "By CARC")[1:]}
    assert "medical necessity" in carcs[("CO", "50")][2] and carcs[("CO", "50")][6] == 2
    assert carcs[("CO", "16")][3:7] == (1, 1, 1450, 0)  # one claim, predicted by no finding
    assert [r[0] for r in sheet_rows(book, "Unexplained denials")[1:]] == [UNFLAGGED]
    payers = {r[0]: r for r in sheet_rows(book, "By payer")[1:]}
    assert payers["MCR01"][2:4] == (8, 3)
    trend = sheet_rows(book, "Trend")[1:]
    assert [str(r[0])[:10] for r in trend] == ["2026-10-23", "2026-10-30"]
    assert [r[4] for r in trend] == [1, 3]


def test_workbook_text_from_a_remit_never_becomes_a_formula(catalog, tmp_path):
    out = tmp_path / "reports"
    lines = canonical_lines().head(1).with_columns(pl.lit("=1+1").alias("claim_id"))
    era = write_era(tmp_path / "x.835", lines, answers_for(lines, {}))
    assert cli.main(["remits", str(era), "--out", str(out)]) == 0
    book = out / "remits" / "2026-10-30.remits.xlsx"
    cell = openpyxl.load_workbook(book)["Unlinked remits"]["A2"]
    assert cell.value == "=1+1" and cell.data_type == "s"
    assert pl.read_csv(out / "remits" / "2026-10-30.unlinked.csv")["claim_id"][0] == "'=1+1"


def test_a_real_remittance_without_history_is_all_listed_as_unlinked(catalog, tmp_path):
    # its GS08 is masked (999999X999X9) and so are its patient control numbers (363 of the 375 CLP01
    # read 9999999999-999): the test restores the version and numbers the claims in file order
    text = (
        (REPO / "tests/data/x12/oopfactory/835_4010_FromNth_835_DeIdent_02.dat")
        .read_text()
        .replace("*999999X999X9~", "*005010X221A1~")
    )
    parts = re.split(r"CLP\*[^*]*\*", text)
    numbered = parts[0] + "".join(f"CLP*DEID{i:04d}*{p}" for i, p in enumerate(parts[1:]))
    era = tmp_path / "deident.835"
    era.write_text(numbered)
    out = tmp_path / "reports"
    assert cli.main(["remits", str(era), "--out", str(out)]) == 0
    unlinked = pl.read_csv(out / "remits" / "2011-04-01.unlinked.csv", infer_schema=False)
    # every claim listed, none dropped, but the 8 reversals (CLP02 22): numbered apart from the
    # claims they take back, each is a claim whose last word is a reversal, counted on the Summary
    assert unlinked.height == 375 - 8
    summary = dict(sheet_rows(out / "remits" / "2011-04-01.remits.xlsx", "Summary")[1:])
    assert summary["Reversed with no correction yet (not counted)"] == 8
    carcs = {
        (r[0], r[1]) for r in sheet_rows(out / "remits" / "2011-04-01.remits.xlsx", "By CARC")[1:]
    }
    assert {
        ("CO", "97"),
        ("CO", "50"),
        ("CO", "96"),
        ("CO", "16"),
        ("CO", "151"),
        ("CO", "4"),
    } <= carcs
    assert ("CO", "45") not in carcs  # a contractual write-off, not a denial


def test_unusable_files_are_named_and_the_others_still_processed(catalog, tmp_path, capsys):
    out = tmp_path / "reports"
    good = write_era(tmp_path / "good.835", canonical_lines(), answers_for(canonical_lines(), {}))
    code = cli.main(
        [
            "remits",
            str(REPO / "tests/data/x12/linuxforhealth/demo.837"),
            str(good),
            "--out",
            str(out),
        ]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "not an 835 remittance" in err and "Traceback" not in err
    assert (out / "remits" / "2026-10-30.rule-outcomes.csv").exists()


def test_calibration_moves_from_the_yaml_weight_towards_the_outcomes(catalog):
    rule = catalog.rules[RULE]  # high severity: factor 1
    outcomes = pl.DataFrame(
        {"rule_id": [RULE] * 4, "remitted": [0, 2, 100, 100], "denied": [0, 2, 0, 100]}
    ).with_columns(precision=pl.col("denied") / pl.col("remitted"))
    weights = [
        calibrate(outcomes.slice(i, 1), catalog)["calibrated_weight"].to_list() for i in range(4)
    ]
    assert weights[0] == []  # no answered claim: nothing to say
    assert weights[1][0] == pytest.approx(
        min(rule.weight, 0.99), abs=0.05
    )  # two claims: the prior holds
    assert weights[2][0] < 0.2  # a hundred paid claims pull it down
    assert weights[3][0] > 0.95


def test_write_weights_is_a_run_configuration_that_validate_accepts(catalog, tmp_path, capsys):
    out = tmp_path / "reports"
    run = nightly_history(out, catalog)
    lines = canonical_lines()
    era = write_era(
        tmp_path / "paid.835", lines, answers_for(lines, {})
    )  # the payer paid everything
    weights = tmp_path / "weights.yaml"
    assert cli.main(["remits", str(era), "--out", str(out), "--write-weights", str(weights)]) == 0
    text = weights.read_text()
    assert text.startswith("# Rule weights calibrated from remittances") and f"  {RULE}: " in text
    written = load_config(weights, set(catalog.rules)).weights
    assert written[RULE] < catalog.rules[RULE].weight  # its flagged claims were paid
    # never applied by itself: the next validation scores as before unless --config names the file
    sample = str(REPO / "sample_claims" / "spine_pain_clinic.csv")
    plain, tuned = tmp_path / "plain.xlsx", tmp_path / "tuned.xlsx"
    cli.main(
        [
            "validate",
            sample,
            "--as-of",
            "2026-09-30",
            "--report",
            str(plain),
            "-q",
            "--findings",
            str(tmp_path / "f1.csv"),
        ]
    )
    cli.main(
        [
            "validate",
            sample,
            "--as-of",
            "2026-09-30",
            "--report",
            str(tuned),
            "-q",
            "--findings",
            str(tmp_path / "f2.csv"),
            "--config",
            str(weights),
        ]
    )
    scores = []
    for book in (plain, tuned):
        header, *rows = sheet_rows(book, "Claims")
        claim, score = header.index("Claim ID"), header.index("Score")
        scores.append(
            {r[claim]: r[score] for r in rows if r[claim] != "Total"}
        )  # not the totals row
    assert scores[0] == dict(zip(run.claims["claim_id"], run.claims["score"], strict=True))
    assert scores[1]["SP1001"] < scores[0]["SP1001"]
    capsys.readouterr()


@pytest.mark.parametrize(
    ("text", "says"),
    [("weights: {DXP001: 1.5}", "less than or equal to 1"), ("weights: {DXP}", "DXP")],
)
def test_a_weights_override_must_name_rules_and_stay_between_0_and_1(catalog, tmp_path, text, says):
    path = tmp_path / "w.yaml"
    path.write_text(text)
    with pytest.raises(RuleConfigError) as caught:
        load_config(path, set(catalog.rules))
    assert says in str(caught.value)


def test_synth_remits_answers_every_claim_once_with_predicted_and_unpredicted_denials(
    catalog, tmp_path
):
    assert cli.main(["synth", "--lines", "3000", "--out", str(tmp_path), "--remits"]) == 0
    eras = sorted((tmp_path / "synthetic-3000.remits").glob("*.835"))
    assert [p.name for p in eras] == [
        "2026-10-09.835",
        "2026-10-16.835",
        "2026-10-23.835",
        "2026-10-30.835",
    ]
    read = [read_835(p) for p in eras]
    claims = pl.concat([r.claims for r in read])
    extract = pl.read_csv(tmp_path / "synthetic-3000.csv", infer_schema=False)
    assert claims["claim_id"].sort().to_list() == extract["claim_id"].unique().sort().to_list()
    assert sum(r.lines.height for r in read) == extract.height
    # the loop, measured: validate as the nightly does, then read the month back
    out = tmp_path / "reports"
    run = pipeline.run(pipeline.discover([tmp_path / "synthetic-3000.csv"]), catalog, AS_OF)
    History(out).stage(
        "e" * 64, file_meta("s.csv", "r", AS_OF, 0, 0), run.lines, run.claims, run.findings
    )
    History(out).ingest()
    done = process(eras, out, catalog)
    totals = [d.measured.totals for d in done.days]
    assert all(t["linked"] == t["claims"] for t in totals)
    assert sum(t["predicted"] for t in totals) > 0 and sum(t["unexplained"] for t in totals) > 0
    flagged = set(run.findings["claim_id"])
    for day in done.days:
        assert not set(day.measured.unexplained["claim_id"]) & flagged
    # the same seed writes the same remittances
    again = tmp_path / "again"
    assert cli.main(["synth", "--lines", "3000", "--out", str(again), "--remits"]) == 0
    assert (again / "synthetic-3000.remits" / "2026-10-09.835").read_bytes() == eras[0].read_bytes()


def test_the_nightly_hook_recognises_835s_by_content_archives_them_and_quarantines_a_bad_one(
    catalog, tmp_path
):
    out, inbox = tmp_path / "reports", tmp_path / "inbox"
    inbox.mkdir()
    run = nightly_history(out, catalog)
    lines = canonical_lines()
    write_era(inbox / "week.txt", lines, answers_for(lines, {"SP1001": ("CO", "50", "N115")}))
    text = to_835(lines, answers_for(lines, {}), "20261106")
    (inbox / "cut.835").write_text(text[: text.index("SE*")])  # truncated
    (inbox / "batch.837").write_bytes(
        (REPO / "sample_claims" / "clearinghouse_batch.837").read_bytes()
    )
    (inbox / "extract.csv").write_bytes(
        (REPO / "sample_claims" / "spine_pain_clinic.csv").read_bytes()
    )
    eras = remittances_in(inbox)
    assert [p.name for p in eras] == ["cut.835", "week.txt"]
    night = nightly_remits(eras, inbox, out, catalog)
    assert {name: o.outcome for name, o in night.status.items()} == {
        "cut.835": "quarantined",
        "week.txt": "remittance",
    }
    # the night's consolidated workbook carries tonight's remittance outcomes after its own sheets
    book = tmp_path / "night.xlsx"
    pipeline.write_outputs(run, book, None, extra_sheets=night.sheets)
    names = openpyxl.load_workbook(book, read_only=True).sheetnames
    assert names[names.index("Input problems") + 1 :] == [
        "ERA By rule",
        "ERA By CARC",
        "ERA By payer",
        "ERA Unexplained denials",
        "ERA Unlinked remits",
        "ERA Trend",
    ]
    assert (inbox / "archive" / "week.txt").exists()
    reason = (inbox / "quarantine" / "cut.835.reason.txt").read_text()
    assert "(truncated)" in reason and "no closing IEA" in reason
    assert sorted(p.name for p in inbox.iterdir() if p.is_file()) == ["batch.837", "extract.csv"]
    outcomes = pl.read_csv(out / "remits" / "2026-10-30.rule-outcomes.csv")
    assert outcomes.filter(pl.col("rule_id") == RULE).select("remitted", "denied").row(0) == (2, 1)


def test_segments_read_with_a_problem_are_named_by_position_on_the_summary(
    catalog, tmp_path, capsys
):
    out = tmp_path / "reports"
    assert (
        cli.main(
            [
                "remits",
                str(REPO / "tests/data/x12/linuxforhealth/secondary-payment.835"),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert "2 segments read with a problem" in capsys.readouterr().out
    summary = dict(sheet_rows(out / "remits" / "2005-04-12.remits.xlsx", "Summary")[1:])
    text = summary["Read with problems: secondary-payment.835"]
    assert (
        text.startswith("segment 29: SVC01 has no ':' component separator") and "66543" not in text
    )


def test_patient_names_and_member_ids_of_an_835_reach_no_output_log_or_history(
    catalog, tmp_path, capsys, caplog
):
    out = tmp_path / "reports"
    nightly_history(out, catalog)
    lines = canonical_lines().with_columns(pl.lit("ZEBEDIAH-CANARY-4471").alias("patient_id"))
    text = to_835(lines, answers_for(lines, {"SP1002": ("CO", "16", "MA130")}))
    era = tmp_path / "canary.835"
    era.write_text(text.replace("NM1*QC*1*PATIENT*SYNTHETIC", "NM1*QC*1*CANARYSON*ZEBEDIAH"))
    with caplog.at_level("DEBUG"):
        assert (
            cli.main(
                ["remits", str(era), "--out", str(out), "--write-weights", str(out / "w.yaml")]
            )
            == 0
        )
    said = capsys.readouterr()
    written = [p for p in out.rglob("*") if p.is_file()]
    assert any(p.suffix == ".duckdb" for p in written) and any(p.suffix == ".xlsx" for p in written)
    for canary in ("CANARYSON", "ZEBEDIAH"):
        assert canary not in said.out + said.err + caplog.text
        for path in written:
            data = path.read_bytes()
            if path.suffix == ".xlsx":  # zipped: look inside
                with zipfile.ZipFile(path) as z:
                    data = b"".join(z.read(n) for n in z.namelist())
            assert canary.encode() not in data, path.name
