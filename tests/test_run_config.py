"""The run configuration everywhere: found as ruff finds its own, --select/--ignore over it, and the
machine-readable summary of a run."""

from __future__ import annotations

import json
import shutil

import polars as pl
import pytest

from cleanclaim.flows.cli import main
from cleanclaim.validators.config import RunConfig, find_config, split_rule_ids
from tests.conftest import REPO

SAMPLES = REPO / "sample_claims"


def validate(tmp_path, *extra: str, name: str = "f") -> int:
    return main(
        [
            "validate",
            str(SAMPLES),
            "--as-of",
            "2026-09-30",
            "--report",
            str(tmp_path / f"{name}.xlsx"),
            "--findings",
            str(tmp_path / f"{name}.csv"),
            *extra,
        ]
    )


def findings(path) -> pl.DataFrame:
    return pl.read_csv(path, infer_schema=False)


def test_a_cleanclaim_yaml_in_the_working_folder_is_used_and_announced_first(
    tmp_path, monkeypatch, capsys
):
    validate(tmp_path, "--config", str(SAMPLES / "cleanclaim.yaml"), "-q", name="given")
    work = tmp_path / "work" / "below"
    work.mkdir(parents=True)
    shutil.copy(SAMPLES / "cleanclaim.yaml", tmp_path / "work" / "cleanclaim.yaml")
    monkeypatch.chdir(work)  # as ruff: the closest one in the working folder or above
    capsys.readouterr()
    validate(tmp_path, name="found")
    first = capsys.readouterr().out.splitlines()[0]
    assert (
        f"config {tmp_path / 'work' / 'cleanclaim.yaml'} (found from the working folder)" in first
    )
    assert findings(tmp_path / "found.csv").equals(findings(tmp_path / "given.csv"))
    # the samples' configuration changes what is found (timely filing limits by payer)
    monkeypatch.chdir(tmp_path)
    validate(tmp_path, name="none")
    assert "no cleanclaim.yaml found: default configuration" in capsys.readouterr().out
    assert not findings(tmp_path / "none.csv").equals(findings(tmp_path / "given.csv"))


def test_find_config_stops_at_the_closest_file(tmp_path):
    (tmp_path / "cleanclaim.yaml").write_text("ignore: [GDL009]\n")
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "cleanclaim.yaml").write_text("ignore: [DOC]\n")
    (tmp_path / "a" / "b").mkdir()
    assert find_config(tmp_path / "a" / "b") == (tmp_path / "a" / "cleanclaim.yaml").resolve()


def test_select_and_ignore_on_the_command_line_apply_over_the_file_as_ruff_does():
    base = RunConfig(select=["ALL"], ignore=["GDL009"])
    # --select replaces the file's selection and its ignores
    chosen = base.with_selection(["FLD", "GDL009"], None)
    assert chosen.selects("GDL009") and chosen.selects("FLD001") and not chosen.selects("DUP001")
    # --ignore adds to the file's
    narrowed = base.with_selection(None, ["DUP"])
    assert not narrowed.selects("GDL009") and not narrowed.selects("DUP001")
    assert narrowed.selects("FLD001")
    assert split_rule_ids(["FLD,DUP001", " TMF "]) == ["FLD", "DUP001", "TMF"]


def test_select_and_ignore_reach_the_findings(tmp_path):
    validate(tmp_path, "--select", "DUP,TMF", "--ignore", "TMF002", "-q")
    rules = set(findings(tmp_path / "f.csv")["rule_id"])
    assert rules and rules <= {"DUP001", "TMF001"}


def test_an_unknown_rule_on_the_command_line_stops_the_run(tmp_path, capsys):
    assert validate(tmp_path, "--select", "NOPE123", "-q") == 2
    assert "NOPE123" in capsys.readouterr().err
    assert not (tmp_path / "f.csv").exists()


def test_format_json_prints_the_runs_counts_and_its_exit_code(tmp_path, capsys):
    code = validate(
        tmp_path, "--config", str(SAMPLES / "cleanclaim.yaml"), "--format", "json", name="j"
    )
    summary = json.loads(capsys.readouterr().out)  # nothing else on stdout
    found = findings(tmp_path / "j.csv")
    assert summary["exit_code"] == code == 1
    assert summary["config"] == str(SAMPLES / "cleanclaim.yaml")
    assert summary["findings"] == found.height == sum(summary["findings_by_rule"].values())
    assert summary["findings_by_rule"] == dict(found["rule_id"].value_counts().iter_rows())
    assert sum(summary["claims_by_status"].values()) == summary["claims"]
    assert summary["files"] == {"total": 5, "read": 5, "not_read": []}
    assert summary["seconds"] > 0


@pytest.mark.parametrize("command", ["nightly", "serve"])
def test_nightly_and_serve_take_the_configuration_and_verbosity_options(command):
    from cleanclaim.flows.cli import build_parser

    args = build_parser().parse_args(
        [command, "--inbox", "i", "--out", "o", "--config", "c.yaml", "--select", "FLD", "-q"]
    )
    assert (str(args.config), args.select, args.quiet) == ("c.yaml", ["FLD"], True)


def test_the_outputs_say_each_stage_as_it_starts(catalog, tmp_path):
    from datetime import date

    from cleanclaim.flows import pipeline

    result = pipeline.run(
        pipeline.discover([SAMPLES / "front_desk_typos.xlsx"]), catalog, date(2026, 9, 30)
    )
    heard = []
    pipeline.write_outputs(
        result, tmp_path / "r.xlsx", tmp_path / "f.csv", progress=lambda *s: heard.append(s)
    )
    assert heard == [
        ("writing", "the findings file"),
        ("scoring", "the claims"),
        ("writing", "the workbook"),
    ]
