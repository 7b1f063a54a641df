"""The results store: runs, their status and per-language metrics in SQLite under OUT.

SQLite gives transactional writes for free: a run's metrics and its 'done' status are written
in one transaction, so an interrupted study never shows half a result. Two processes may share
the file (WAL, a busy timeout, write transactions taken up front with ``BEGIN IMMEDIATE``).
SQLite checks its structure but not the values in it, so each run's metric rows are recorded
with a sha256 (table ``checksums``, same transaction) and :meth:`ResultStore.check` verifies
both: a damaged store is reported with its path, never read silently.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from xstilts import faults
from xstilts.integrity import CorruptFileError
from xstilts.results import Score
from xstilts.studies.planner import PlannedRun

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, encoder TEXT NOT NULL, intermediate TEXT NOT NULL,
    task TEXT NOT NULL, seed INTEGER NOT NULL, parent TEXT, settings TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending', started REAL, finished REAL, wall_seconds REAL,
    error TEXT, info TEXT
);
CREATE TABLE IF NOT EXISTS study_runs (
    study TEXT NOT NULL, run_id TEXT NOT NULL, PRIMARY KEY (study, run_id)
);
CREATE TABLE IF NOT EXISTS metrics (
    run_id TEXT NOT NULL, task TEXT NOT NULL, language TEXT NOT NULL, split TEXT NOT NULL,
    metric TEXT NOT NULL, value REAL NOT NULL, ci_low REAL, ci_high REAL, n INTEGER,
    PRIMARY KEY (run_id, task, language, split, metric)
);
CREATE TABLE IF NOT EXISTS checksums (run_id TEXT PRIMARY KEY, sha256 TEXT NOT NULL);
"""
STORE_FILE = "xstilts.sqlite"


def _digest(rows: Iterable[tuple]) -> str:
    """sha256 of a run's metric rows (task, language, split, metric, value, ci_low, ci_high,
    n), order-free, in the types SQLite gives back (REAL, INTEGER); floats by repr, which
    round-trips exactly."""
    def canonical(row: tuple) -> str:
        *names, value, low, high, n = row
        return repr((*map(str, names), *(None if v is None else float(v)
                                         for v in (value, low, high)),
                     None if n is None else int(n)))

    text = json.dumps(sorted(canonical(tuple(r)) for r in rows))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class ResultStore:
    """Thin, explicit wrapper over the SQLite file ``OUT/xstilts.sqlite``."""

    def __init__(self, out_dir: Path):
        out_dir.mkdir(parents=True, exist_ok=True)
        self.path = out_dir / STORE_FILE
        self._db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as err:  # "file is not a database", "malformed"
            self._db.close()
            raise CorruptFileError(self.path, f"not a readable SQLite store ({err})") from err

    def check(self) -> None:
        """Raise :class:`CorruptFileError` naming the store if SQLite finds its structure
        damaged or a run's metric rows no longer match the checksum written with them."""
        try:
            problems = [r[0] for r in self._db.execute("PRAGMA quick_check")]
            if problems != ["ok"]:
                raise CorruptFileError(self.path, "SQLite integrity check failed: "
                                                  + "; ".join(problems[:3]))
            recorded = dict(self._db.execute("SELECT run_id, sha256 FROM checksums"))
            rows: dict[str, list[tuple]] = {run_id: [] for run_id in recorded}
            for r in self._db.execute(
                    "SELECT run_id, task, language, split, metric, value, ci_low, ci_high, n "
                    "FROM metrics"):
                if r[0] in rows:
                    rows[r[0]].append(tuple(r)[1:])
        except sqlite3.DatabaseError as err:
            raise CorruptFileError(self.path, f"unreadable SQLite store ({err})") from err
        for run_id, digest in recorded.items():
            if _digest(rows[run_id]) != digest:
                raise CorruptFileError(self.path, f"the metrics of run {run_id} differ from "
                                                  "the checksum written with them")

    def close(self) -> None:
        self._db.close()

    def register(self, study: str, runs: Iterable[PlannedRun]) -> None:
        """Record a study as exactly these runs. Runs it had under an earlier version of its
        file leave the study (their results stay in the store and are reused if the runs come
        back), so a report of the study never mixes in results of settings it no longer has."""
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("DELETE FROM study_runs WHERE study = ?", (study,))
            for run in runs:
                self._db.execute(
                    "INSERT OR IGNORE INTO runs (id, kind, encoder, intermediate, task, seed, "
                    "parent, settings) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (run.id, run.kind, run.encoder, run.intermediate, run.task, run.seed,
                     run.parent, json.dumps(run.settings, sort_keys=True)),
                )
                self._db.execute("INSERT OR IGNORE INTO study_runs VALUES (?, ?)", (study, run.id))
            faults.point("store.register", self.path)

    def status(self, run_id: str) -> str | None:
        row = self._db.execute("SELECT status FROM runs WHERE id = ?", (run_id,)).fetchone()
        return row["status"] if row else None

    def mark_running(self, run_id: str) -> None:
        self._db.execute(
            "UPDATE runs SET status = 'running', started = ?, error = NULL WHERE id = ?",
            (time.time(), run_id),
        )

    def mark_failed(self, run_id: str, error: str) -> None:
        self._db.execute(
            "UPDATE runs SET status = 'failed', finished = ?, error = ? WHERE id = ?",
            (time.time(), error, run_id),
        )

    def mark_skipped(self, run_id: str, reason: str) -> None:
        self._db.execute("UPDATE runs SET status = 'skipped', error = ? WHERE id = ?",
                         (reason, run_id))

    def mark_done(self, run_id: str, metrics: list[Score], info: dict[str, Any]) -> None:
        """Metrics (placed scores: task, language, split) and 'done' in one transaction: all
        of it lands or none of it does."""
        rows = [(m.task, m.language, m.split, m.metric, m.value, m.ci_low, m.ci_high, m.n)
                for m in metrics]
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("DELETE FROM metrics WHERE run_id = ?", (run_id,))
            self._db.executemany("INSERT INTO metrics VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                 [(run_id, *row) for row in rows])
            self._db.execute("INSERT OR REPLACE INTO checksums VALUES (?, ?)",
                             (run_id, _digest(rows)))
            faults.point("store.write", self.path)
            self._db.execute(
                "UPDATE runs SET status = 'done', finished = ?, wall_seconds = ?, error = NULL, "
                "info = ? WHERE id = ?",
                (time.time(), info.get("wall_seconds"), json.dumps(info), run_id),
            )

    def runs(self, study: str | None = None) -> list[dict[str, Any]]:
        query = "SELECT r.* FROM runs r"
        args: tuple[Any, ...] = ()
        if study:
            query += " JOIN study_runs s ON s.run_id = r.id WHERE s.study = ?"
            args = (study,)
        return [dict(row) for row in self._db.execute(query + " ORDER BY r.rowid", args)]

    def metrics(self, run_ids: Iterable[str] | None = None) -> list[dict[str, Any]]:
        rows = [dict(r) for r in self._db.execute("SELECT * FROM metrics ORDER BY rowid")]
        if run_ids is not None:
            wanted = set(run_ids)
            rows = [r for r in rows if r["run_id"] in wanted]
        return rows

    def studies(self) -> list[str]:
        return [r[0] for r in self._db.execute("SELECT DISTINCT study FROM study_runs")]


def metric_rows_to_json(rows: list[Score]) -> list[dict[str, Any]]:
    return [r.to_dict() for r in rows]
