"""Decisions recorded in a saved workbook come back the next night: round trip through openpyxl,
the run history's append-only audit trail, and their effect on status, score and dollars."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import openpyxl
import polars as pl
import pytest

from cleanclaim.flows import decisions, pipeline
from cleanclaim.flows.cli import main
from cleanclaim.flows.decisions import WorkbookError, read_workbook
from cleanclaim.flows.history import History
from cleanclaim.validators import decisions as dec
from cleanclaim.validators.catalog import load_catalog
from tests.conftest import REPO

AS_OF = date(2026, 9, 30)
BATCH = REPO / "sample_claims" / "pain_procedures_batch.csv"


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def night(catalog, extract: Path, out: Path, decided: pl.DataFrame | None) -> pipeline.Run:
    """One night's run of `extract`, its workbook under OUT/AS_OF/ as the nightly run writes it."""
    result = pipeline.run(pipeline.discover([extract]), catalog, AS_OF)
    result.decisions = decided
    folder = out / AS_OF.isoformat()
    pipeline.write_outputs(
        result, folder / f"{extract.name}.denial-risk.xlsx", folder / f"{extract.name}.csv"
    )
    return result


def decide(workbook: Path, choices: dict[tuple[str, str], tuple[str, str, str]], author: str):
    """Edit the Findings sheet as an analyst does: Status, Reason, Owner on the rows of (claim,
    rule), then save with a last-modified-by."""
    wb = openpyxl.load_workbook(workbook)
    ws = wb["Findings"]
    header = [c.value for c in ws[1]]
    col = {h: header.index(h) for h in ("Claim ID", "Rule", "Status", "Reason", "Owner")}
    touched = 0
    for row in ws.iter_rows(min_row=2):
        choice = choices.get((row[col["Claim ID"]].value, row[col["Rule"]].value))
        if choice:
            for name, value in zip(("Status", "Reason", "Owner"), choice, strict=True):
                row[col[name]].value = value
            touched += 1
    assert touched == len(choices)
    wb.properties.lastModifiedBy = author
    wb.save(workbook)


def claim(result: pipeline.Run, claim_id: str) -> dict:
    return result.claims.filter(pl.col("claim_id") == claim_id).row(0, named=True)


def sheet(workbook: Path, name: str) -> pl.DataFrame:
    rows = list(openpyxl.load_workbook(workbook)[name].iter_rows(values_only=True))
    return pl.DataFrame(rows[1:-1], schema=list(rows[0]), orient="row")  # without the totals row


def test_an_override_saved_in_the_morning_holds_when_the_corrected_claim_comes_again(
    catalog, tmp_path
):
    inbox, out = tmp_path / "in", tmp_path / "out"
    inbox.mkdir()
    first = inbox / "monday.csv"
    shutil.copy(BATCH, first)
    monday = night(catalog, first, out, None)
    assert claim(monday, "PB3004")["status"] == "hold" and claim(monday, "PB3004")["at_risk"] > 0
    assert claim(monday, "PB3001")["status"] == "hold"
    saved = out / AS_OF.isoformat() / "monday.csv.denial-risk.xlsx"
    decide(
        saved,
        {
            ("PB3004", "MUE004"): ("Override", "two levels documented, payer agreed", "dana"),
            ("PB3001", "NCC001"): ("fixed", None, "dana"),  # any case is understood
        },
        "Dana Analyst",
    )
    store = History(out)
    counts = decisions.refresh(store, decisions.saved_workbooks(out))
    assert counts == {"read": 1, "already read": 0, "unreadable": 0, "decisions": 2}
    log = store.decision_log()
    assert set(log["status"]) == {"Override", "Fixed"} and set(log["author"]) == {"Dana Analyst"}
    override = log.filter(pl.col("status") == "Override").row(0, named=True)
    assert override["reason"] == "two levels documented, payer agreed"
    assert override["owner"] == "dana" and override["workbook"] == saved.name
    assert override["decided_at"] is not None and override["recorded_at"] is not None

    # Tuesday: the same claims in a new file, PB3004's charge corrected
    second = inbox / "tuesday.csv"
    second.write_text(BATCH.read_text().replace(",2,2840.00,", ",2,1420.00,"))
    tuesday = night(catalog, second, out, store.latest_decisions())
    pb3004 = claim(tuesday, "PB3004")
    assert (pb3004["status"], pb3004["score"], pb3004["at_risk"]) == ("clean", 0, 0.0)
    assert pb3004["billed"] == 1420.0  # the corrected charge
    # the Fixed finding came back: it counts again, listed Open and marked recurred
    pb3001 = claim(tuesday, "PB3001")
    assert pb3001["status"] == "hold" and pb3001["at_risk"] == claim(monday, "PB3001")["at_risk"]
    found = sheet(out / AS_OF.isoformat() / "tuesday.csv.denial-risk.xlsx", "Findings")
    listed = {
        (r["Claim ID"], r["Rule"]): r
        for r in found.filter(pl.col("Rule").is_in(["MUE004", "NCC001"])).iter_rows(named=True)
    }
    assert listed["PB3004", "MUE004"]["Status"] == "Override"
    assert listed["PB3004", "MUE004"]["Reason"] == "two levels documented, payer agreed"
    assert listed["PB3004", "MUE004"]["At risk (counted once)"] == 0
    assert listed["PB3001", "NCC001"]["Status"] == "Open"
    assert listed["PB3001", "NCC001"]["Recurred"] == "fixed before, found again"
    # the Summary measures the rules by their decisions
    rules = tuesday.tables["Rules by decision"]
    mue = rules.filter(pl.col("Rule") == "MUE004").row(0, named=True)
    assert (mue["Override"], mue["Override rate"]) == (1, 1.0)
    assert rules.filter(pl.col("Rule") == "NCC001")["Recurred"].item() == 1
    # nothing new in Tuesday's untouched workbook: read, no decision added
    counts = decisions.refresh(store, decisions.saved_workbooks(out))
    assert counts == {"read": 1, "already read": 1, "unreadable": 0, "decisions": 0}


def test_the_audit_trail_is_appended_to_never_rewritten(catalog, tmp_path):
    out = tmp_path / "out"
    extract = tmp_path / "monday.csv"
    shutil.copy(BATCH, extract)
    night(catalog, extract, out, None)
    saved = out / AS_OF.isoformat() / "monday.csv.denial-risk.xlsx"
    store = History(out)
    store.folder.mkdir()  # as a nightly run leaves it: how the command finds --out
    decide(saved, {("PB3004", "MUE004"): ("Override", "payer agreed", "dana")}, "Dana Analyst")
    assert main(["decisions", "import", str(saved)]) == 0  # --out found above the workbook
    before = store.decision_log()
    assert before.height == 1
    # the same content again adds nothing; a later change is added beside the first decision
    assert main(["decisions", "import", str(saved), "--out", str(out)]) == 0
    decide(saved, {("PB3004", "MUE004"): ("False positive", "MUE004 misread", "lee")}, "Lee")
    assert main(["decisions", "import", str(saved)]) == 0
    after = store.decision_log()
    assert after.height == 2
    assert after.head(1).equals(before)  # the first decision is untouched
    assert after["seq"].to_list() == [1, 2] and after["author"].to_list() == ["Dana Analyst", "Lee"]
    assert store.decisions()["status"].to_list() == ["False positive"]


def test_finding_keys_ignore_rows_files_and_modifier_order():
    lines = pl.DataFrame(
        {
            "source_file": ["a.csv", "b.csv"],
            "source_row": [2, 9],
            "claim_id": ["C1", "C1"],
            "procedure_code": ["64483", "64483"],
            "modifier_1": ["LT", "XS"],
            "modifier_2": ["XS", "LT"],
            "modifier_3": [None, None],
            "modifier_4": [None, ""],
            "_service_date": [date(2026, 9, 1)] * 2,
        }
    )
    findings = pl.DataFrame(
        {
            "claim_id": ["C1", "C1", "C1"],
            "line_number": [1, 4, None],
            "rule_id": ["DXP001", "DXP001", "INJ001"],
            "source_file": ["a.csv", "b.csv", "a.csv"],
            "source_row": [2, 9, 2],
        }
    )
    keys = dec.keyed(findings, lines)["finding_key"].to_list()
    assert keys[0] == keys[1] == "C1|64483|LT+XS|2026-09-01|DXP001"
    assert keys[2] == "C1||||INJ001"


def test_a_row_is_new_when_it_differs_from_what_its_workbook_listed():
    log = pl.DataFrame(
        {
            "seq": [1, 2, 3],
            "finding_key": ["k1", "k2", "k6"],
            "status": ["Override", "Fixed", "Override"],
            "reason": ["ok", None, "payer agreed"],
            "owner": [None, "dana", None],
        }
    )
    rows = dec.normalise(
        pl.DataFrame(
            {
                "finding_key": ["k1", "k2", "k3", "k4", "k5", "k6", None],
                "status": ["OVERRIDE", "Open", None, "Fixed", "maybe", "Open", "Fixed"],
                "reason": ["ok", "", None, " ", None, None, None],
                "owner": [None, "dana", " ", None, None, None, None],
                "listed": ["1", "2", None, None, None, None, None],
            }
        )
    )
    # k1 as listed; k2 listed Open (its Fixed came back) and left Open; k3 blank is Open; k5 is
    # not a status; k6 is Open in a workbook written before its override: stale, not a decision
    assert dec.changes(rows, log)["finding_key"].to_list() == ["k4"]


def test_the_command_names_what_it_cannot_use_without_a_traceback(tmp_path, capsys):
    stray = tmp_path / "stray.denial-risk.xlsx"
    stray.write_bytes(b"not a workbook")
    assert main(["decisions", "import", str(stray)]) == 2  # no run history above it
    assert "--out" in capsys.readouterr().err
    assert main(["decisions", "import", str(stray), "--out", str(tmp_path)]) == 2
    assert "0 decisions recorded from 0 workbooks (0 read before, 1 unreadable)" in (
        capsys.readouterr().out
    )


def test_a_workbook_with_a_value_in_its_last_cell_is_unreadable_not_fatal(tmp_path):
    """calamine allocates a sheet's whole used range: a value typed into XFD1048576 would ask for
    512 GiB and abort the nightly run; the container check refuses it first."""
    book = openpyxl.Workbook()
    book.active.title = "Findings"
    book.active.append(["Rule", "Decision"])
    book.active["XFD1048576"] = "x"
    path = tmp_path / "x.denial-risk.xlsx"
    book.save(path)
    with pytest.raises(WorkbookError) as err:
        read_workbook(path)
    assert "row 1,048,576 and column 16,384" in err.value.problem
