"""Decisions read back from the workbooks analysts saved, into the run history, and out to the runs.

An analyst sets Status (Open, Fixed, Override, False positive), Reason and Owner on the Findings
sheet and saves the workbook. The nightly run reads every workbook under its --out folder it has
not read before (by content), and `cleanclaim decisions import WORKBOOK...` does the same by hand:
each row whose decision differs from what the finding was listed with is appended to the run
history's audit trail with the workbook's last-modified-by and time (flows/history.py). "Differs"
is judged against the decision the workbook listed (its "Decision no."), so an old workbook saved
again for another finding never undoes a later decision. The
latest decision per finding is then left in OUT/.cleanclaim/decisions.parquet (History.snapshot),
which the writers of the night's workbooks read (validators/decisions.py applies it).

Nothing here logs or raises a cell value: workbooks are named by file name, decisions by count.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime
from pathlib import Path

import openpyxl
import polars as pl

from cleanclaim.flows.extract import check_xlsx_container
from cleanclaim.flows.history import History
from cleanclaim.flows.inbox import file_sha256
from cleanclaim.flows.report import atomic_path
from cleanclaim.validators import decisions as dec
from cleanclaim.validators.errors import FAULTS, ExtractError

log = logging.getLogger("cleanclaim")

WORKBOOK_GLOB = "*/*.denial-risk.xlsx"  # OUT/AS_OF/NAME.denial-risk.xlsx (flows/inbox.py)
HEADERS = {
    "Finding key": "finding_key",
    "Status": "status",
    "Reason": "reason",
    "Owner": "owner",
    "Decision no.": "listed",
}
# A saved workbook is a few MB; far more unpacked is not one of ours (a zip bomb).
MAX_UNPACKED = 500 * 2**20


class WorkbookError(Exception):
    """A workbook whose decisions cannot be read: `problem` says why, never quoting a cell; the
    message adds the file name (which can carry a patient's name: not logged in a nightly run)."""

    def __init__(self, name: str, problem: str):
        super().__init__(f"{name}: {problem}")
        self.problem = problem


def read_workbook(path: Path) -> tuple[pl.DataFrame, str, datetime]:
    """The decision columns of a saved workbook's Findings sheet (normalised), its author (last
    modified by) and when it was saved."""
    try:
        # the extract reader's checks of the zip: real sizes (a bomb), and a used range calamine
        # could not allocate (a value typed into the last cell aborts the process)
        check_xlsx_container(str(path), MAX_UNPACKED)
        book = openpyxl.load_workbook(path, read_only=True)  # properties only: sheets stream
        try:
            props = book.properties
            author = (props.lastModifiedBy or props.creator or "").strip()
            saved = props.modified
        finally:
            book.close()
        sheet = pl.read_excel(path, sheet_name="Findings", infer_schema_length=0)
    except WorkbookError:
        raise
    except ExtractError as exc:
        raise WorkbookError(path.name, exc.problem) from None
    except FAULTS as exc:  # openpyxl, calamine and zipfile errors can quote cell text
        raise WorkbookError(
            path.name, f"not readable as a workbook ({type(exc).__name__})"
        ) from None
    missing = [h for h in HEADERS if h not in sheet.columns]
    if missing:
        raise WorkbookError(path.name, f"its Findings sheet has no {', '.join(missing)} column")
    saved = saved or datetime.fromtimestamp(path.stat().st_mtime)
    rows = dec.normalise(sheet.select(pl.col(h).alias(c) for h, c in HEADERS.items()))
    return rows, author or "(not recorded)", saved.replace(tzinfo=None)


def import_workbooks(store: History, paths: list[Path]) -> dict[str, int]:
    """Read each workbook not read before, oldest save first, and append its new decisions.
    Returns counts: workbooks read, already read, unreadable, decisions added."""
    counts = {"read": 0, "already read": 0, "unreadable": 0, "decisions": 0}
    for path in sorted(paths, key=lambda p: p.stat().st_mtime):
        sha = file_sha256(path)
        if store.workbook_read(sha):
            counts["already read"] += 1
            continue
        try:
            rows, author, saved = read_workbook(path)
        except WorkbookError as exc:
            log.warning("a workbook's decisions were not read: %s", exc.problem)
            counts["unreadable"] += 1
            continue
        new = dec.changes(rows, store.decision_log()).with_columns(
            pl.lit(author).alias("author"),
            pl.lit(saved).cast(pl.Datetime("us")).alias("decided_at"),
            pl.lit(datetime.now()).cast(pl.Datetime("us")).alias("recorded_at"),
        )
        counts["decisions"] += store.record_decisions(new, path.name, sha)
        counts["read"] += 1
    log.info("decisions: %s", counts)
    return counts


def saved_workbooks(out: Path) -> list[Path]:
    """The workbooks under a nightly run's --out folder (not Excel's ~$ lock files or our .tmp-)."""
    return [
        p
        for p in Path(out).glob(WORKBOOK_GLOB)
        if p.is_file() and not p.name.startswith(("~$", ".", ".tmp-"))
    ]


def refresh(store: History, paths: list[Path]) -> dict[str, int]:
    """Import `paths`, then leave the latest decisions where the night's writers read them."""
    counts = import_workbooks(store, paths)
    with atomic_path(store.snapshot) as tmp:
        store.decisions().write_parquet(tmp)
    return counts


def history_folder(workbook: Path) -> Path | None:
    """The --out folder a workbook was written under: the nearest parent holding a run history."""
    for parent in Path(os.path.abspath(workbook)).parents:
        if (parent / ".cleanclaim").is_dir():
            return parent
    return None
