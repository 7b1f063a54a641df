"""One lock per run, so that two ``xstilts run`` processes on one output folder (the same
study or two studies sharing runs) never train a run twice or write one folder together.

``OUT/.locks/<id>.lock`` (beside ``runs/``, whose entries stay run folders) is held with
``fcntl.flock`` while a process works on the run. Stale locks need no recovery code: the
kernel releases a flock when its holder dies (kill -9, OOM), so a lock file left behind by a
dead process is simply free.
The holder writes its pid and host into the file, for the other process's message. flock is
per open file description and local to a machine (on NFS it may not be honoured).
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path

LOCKS_DIR = ".locks"


def lock_path(out_dir: Path, run_id: str) -> Path:
    return Path(out_dir) / LOCKS_DIR / f"{run_id}.lock"


@dataclass
class RunLock:
    """A held lock; :meth:`release` (or process death) frees it."""

    path: Path
    _fd: int

    def release(self) -> None:
        if self._fd < 0:
            return
        try:
            os.ftruncate(self._fd, 0)
        except OSError:
            pass  # the holder note is informative only
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = -1


def holder(path: Path) -> str:
    """Who holds the lock at ``path``, as its holder recorded it ("pid N on HOST")."""
    try:
        note = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        note = {}
    if "pid" not in note:
        return "another process"
    return f"pid {note['pid']} on {note.get('host', '?')}"


def try_lock(out_dir: Path, run_id: str) -> RunLock | None:
    """The run's lock if no other process holds it, else None (never waits)."""
    return _lock(lock_path(out_dir, run_id), fcntl.LOCK_EX | fcntl.LOCK_NB)


def wait_lock(out_dir: Path, run_id: str) -> RunLock:
    """The run's lock, waiting for its holder to finish (or die) if necessary."""
    lock = _lock(lock_path(out_dir, run_id), fcntl.LOCK_EX)
    assert lock is not None  # a blocking flock returns only once held
    return lock


def _lock(path: Path, operation: int) -> RunLock | None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, operation)
    except BlockingIOError:
        os.close(fd)
        return None
    note = json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                       "since": time.time()}).encode("utf-8")
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, note, 0)
    except OSError:
        pass  # a full disk must not stop the run here; the note is informative only
    return RunLock(path, fd)
