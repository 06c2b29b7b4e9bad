"""The nightly inbox, as plain filesystem steps the Prefect flow wraps (flows/nightly.py).

Crash safety comes from the order of the steps for each extract: reports are written (atomically),
then the file's content hash is appended to the ledger, then the file moves to archive/. A run that
dies between any two steps is finished by the next one: reports are rewritten under the same names,
and a file whose hash is already in the ledger is only archived. Nothing is lost, nothing doubled.

No claim data passes through here: paths, hashes, counts and reasons only.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import socket
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from flows.pipeline import InputFile
from validators.errors import ExtractError

LOCK_NAME = ".cleanclaim-nightly.lock"
LEDGER_NAME = "processed.jsonl"
STALE_LOCK_SECONDS = 12 * 3600  # longer than any real run: a lock this old was left by a crash


class InboxBusyError(RuntimeError):
    """Another nightly run is working on this inbox."""


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _holder_is_gone(lock: Path, stale_seconds: float) -> bool:
    """A lock is stale when its run's process no longer exists on this host, or it is too old."""
    try:
        holder = json.loads(lock.read_text())
    except (OSError, ValueError):
        return time.time() - lock.stat().st_mtime > stale_seconds if lock.exists() else True
    if holder.get("host") == socket.gethostname():
        try:
            os.kill(int(holder["pid"]), 0)
        except ProcessLookupError:
            return True
        except PermissionError:  # alive, owned by someone else
            pass
    return time.time() - float(holder.get("since", 0)) > stale_seconds


@contextlib.contextmanager
def inbox_lock(inbox: Path, stale_seconds: float = STALE_LOCK_SECONDS) -> Iterator[Path]:
    """One nightly run at a time per inbox. A lock left by a crashed run is taken over, not obeyed forever."""
    lock = inbox / LOCK_NAME
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            if not _holder_is_gone(lock, stale_seconds):
                raise InboxBusyError(
                    f"another nightly run is working on {inbox} (lock file {lock.name}); "
                    "wait for it to finish. A lock left by a crashed run is taken over "
                    "automatically."
                ) from None
            lock.unlink(missing_ok=True)
            continue
        with os.fdopen(fd, "w") as handle:
            json.dump(
                {"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}, handle
            )
        break
    else:
        raise InboxBusyError(f"could not take the lock on {inbox}: another run took it first")
    try:
        yield lock
    finally:
        lock.unlink(missing_ok=True)


class Ledger:
    """Content hashes of the extracts already validated, one JSON line each (append-only, fsynced)."""

    def __init__(self, out: Path):
        self.path = out / ".cleanclaim" / LEDGER_NAME
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def done(self) -> dict[str, dict]:
        if not self.path.exists():
            return {}
        entries = {}
        for line in self.path.read_text().splitlines():
            with contextlib.suppress(
                ValueError
            ):  # a line torn by a crash is ignored: the file is redone
                entry = json.loads(line)
                entries[entry["sha256"]] = entry
        return entries

    def record(self, sha256: str, name: str, report: str) -> None:
        line = json.dumps(
            {
                "sha256": sha256,
                "file": name,
                "report": report,
                "at": datetime.now().isoformat(timespec="seconds"),
            }
        )
        with open(self.path, "a") as handle:
            handle.write(line + "\n")
            handle.flush()
            os.fsync(handle.fileno())


def _members(item: InputFile) -> list[Path]:
    """The extract and the sidecars that travel with it."""
    return [
        p
        for p in (item.path, item.mapping, item.notes)
        if p is not None and p.parent == item.path.parent
    ]


def _move(path: Path, folder: Path, tag: str) -> Path:
    """Move into folder; a name already there gets the content tag so nothing is overwritten."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / path.name
    if target.exists():
        target = folder / f"{path.stem}.{tag}{path.suffix}"
    shutil.move(path, target)
    return target


def _move_with_sidecars(item: InputFile, folder: Path, sha256: str) -> Path:
    """Sidecars first, the extract last: while the extract is still in the inbox the work is
    unfinished, and the next run picks it up again."""
    for sidecar in _members(item)[1:]:
        _move(sidecar, folder, sha256[:12])
    return _move(item.path, folder, sha256[:12])


def archive(item: InputFile, inbox: Path, sha256: str) -> Path:
    return _move_with_sidecars(item, inbox / "archive", sha256)


def quarantine(item: InputFile, inbox: Path, sha256: str, error: ExtractError) -> Path:
    """Set the file aside with a reason file next to it saying what is wrong and what to do."""
    moved = _move_with_sidecars(item, inbox / "quarantine", sha256)
    reason = moved.with_name(moved.name + ".reason.txt")
    reason.write_text(
        f"{item.path.name} could not be validated ({error.reason}).\n\n"
        f"Problem: {error.problem}\nWhat to do: {error.expected}\n\n"
        f"Put the corrected file back in {inbox} and the next run picks it up.\n"
    )
    return moved
