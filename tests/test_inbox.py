"""The nightly inbox's filesystem steps, without Prefect: lock, ledger, archive, quarantine."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time

import pytest

from flows import inbox as box
from flows.pipeline import discover
from validators.errors import ExtractError


def test_a_second_run_is_refused_while_the_first_holds_the_lock(tmp_path):
    with (
        box.inbox_lock(tmp_path),
        pytest.raises(box.InboxBusyError, match="another nightly run"),
        box.inbox_lock(tmp_path),
    ):
        pass
    assert not (tmp_path / box.LOCK_NAME).exists()  # released when the run ends


def test_a_lock_left_by_a_crashed_run_is_taken_over(tmp_path):
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    (tmp_path / box.LOCK_NAME).write_text(
        json.dumps({"pid": int(dead.stdout), "host": socket.gethostname(), "since": time.time()})
    )  # recent, but its process is gone
    with box.inbox_lock(tmp_path) as lock:
        assert json.loads(lock.read_text())["pid"] != int(dead.stdout)


def test_an_old_lock_from_another_host_expires(tmp_path):
    (tmp_path / box.LOCK_NAME).write_text(json.dumps({"pid": 1, "host": "elsewhere", "since": 0}))
    with box.inbox_lock(tmp_path, stale_seconds=60):
        pass
    (tmp_path / box.LOCK_NAME).write_text(
        json.dumps({"pid": 1, "host": "elsewhere", "since": 9e18})
    )
    with pytest.raises(box.InboxBusyError), box.inbox_lock(tmp_path, stale_seconds=60):
        pass


def test_ledger_ignores_a_line_torn_by_a_crash(tmp_path):
    ledger = box.Ledger(tmp_path)
    ledger.record("a" * 64, "x.csv", "r.xlsx")
    with open(ledger.path, "a") as handle:
        handle.write('{"sha256": "b')  # the crash
    assert set(box.Ledger(tmp_path).done()) == {"a" * 64}


def test_quarantine_moves_the_file_and_its_sidecars_with_a_reason(tmp_path):
    (tmp_path / "x.csv").write_text("")
    (tmp_path / "x.notes.csv").write_text("claim_id,note_text\n")
    (item,) = discover([tmp_path / "x.csv"])
    error = ExtractError(
        "x.csv", "the file is empty", "Export it again with its header row.", reason="empty_file"
    )
    moved = box.quarantine(item, tmp_path, "f" * 64, error)
    reason = (tmp_path / "quarantine" / "x.csv.reason.txt").read_text()
    assert (
        moved == tmp_path / "quarantine" / "x.csv"
        and (tmp_path / "quarantine" / "x.notes.csv").exists()
    )
    assert "the file is empty" in reason and "Export it again" in reason
    assert sorted(p.name for p in tmp_path.iterdir()) == ["quarantine"]


def test_archive_never_overwrites_an_earlier_file_of_the_same_name(tmp_path):
    for content in ("first", "second"):
        (tmp_path / "x.csv").write_text(content)
        (item,) = discover([tmp_path / "x.csv"])
        box.archive(item, tmp_path, box.file_sha256(item.path))
    kept = {p.read_text() for p in (tmp_path / "archive").iterdir()}
    assert kept == {"first", "second"}
