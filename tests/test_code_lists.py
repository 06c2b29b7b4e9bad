"""CARC/RARC wording: the shipped subset says where each wording comes from, and `codesets import`
reads X12's published code-list layout to replace it (issue 35)."""

from __future__ import annotations

import shutil
from datetime import date

import polars as pl

from cleanclaim.flows.cli import main
from cleanclaim.validators.codesets import read_x12_code_list
from tests.conftest import REPO

FIXTURE = REPO / "tests" / "fixtures" / "x12" / "carc_list_fixture.html"


def test_every_shipped_wording_names_its_source_and_whether_it_was_verified(catalog):
    for name in ("carc", "rarc"):
        table = catalog.codesets[name].table
        assert table["source"].str.len_chars().min() > 10
        assert set(table["verified"]) <= {"no", "secondary copy"} | {
            v for v in table["verified"] if v.startswith("X12 list")
        }
        assert not table["source"].str.contains("RULES_RESEARCH").any()
    # N211 was a MAC's paraphrase; the list's wording is the alert
    assert catalog.codesets["rarc"].wording("N211") == "Alert: You may not appeal this decision."


def test_the_published_layout_is_read():
    listed = read_x12_code_list(FIXTURE)
    assert listed["code"].to_list() == ["4", "17", "29", "50"]
    row = listed.row(3, named=True)
    assert row["wording"].startswith(
        "These are non-covered services because this is not deemed a 'medical necessity'"
    )
    assert "  " not in row["wording"] and row["last_modified"] == date(2015, 11, 1)
    stopped = listed.row(1, named=True)
    assert (stopped["status"], stopped["stop"]) == ("deactivated", date(2009, 7, 1))


def test_codesets_import_replaces_the_wording_of_the_shipped_codes(tmp_path, capsys):
    shutil.copytree(REPO / "rules", tmp_path / "rules")
    folder = tmp_path / "rules" / "codesets"
    assert main(["--rules", str(tmp_path / "rules"), "codesets", "import", str(FIXTURE)]) == 0
    assert "updated the wording of 3 CARC codes" in capsys.readouterr().out  # 17 is not shipped
    carc = pl.read_csv(folder / "carc.csv", infer_schema=False)
    row = carc.filter(pl.col("code") == "29").row(0, named=True)
    assert row["verified"] == "X12 list" and "carc_list_fixture.html" in row["source"]
    assert carc.filter(pl.col("code") == "16")["verified"].item() == "no"  # not in the file
    assert 'version: "X12 list of 2015-11-01"' in (folder / "index.yaml").read_text()
