"""The results store: runs, their status and per-language metrics in SQLite under OUT.

SQLite gives transactional writes for free: a run's metrics and its 'done' status are written
in one transaction, so an interrupted study never shows half a result.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

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
"""


class ResultStore:
    """Thin, explicit wrapper over the SQLite file ``OUT/xstilts.sqlite``."""

    def __init__(self, out_dir: Path):
        out_dir.mkdir(parents=True, exist_ok=True)
        self.path = out_dir / "xstilts.sqlite"
        self._db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def register(self, study: str, runs: Iterable[PlannedRun]) -> None:
        """Record a study as exactly these runs. Runs it had under an earlier version of its
        file leave the study (their results stay in the store and are reused if the runs come
        back), so a report of the study never mixes in results of settings it no longer has."""
        with self._db:
            self._db.execute("BEGIN")
            self._db.execute("DELETE FROM study_runs WHERE study = ?", (study,))
            for run in runs:
                self._db.execute(
                    "INSERT OR IGNORE INTO runs (id, kind, encoder, intermediate, task, seed, "
                    "parent, settings) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (run.id, run.kind, run.encoder, run.intermediate, run.task, run.seed,
                     run.parent, json.dumps(run.settings, sort_keys=True)),
                )
                self._db.execute("INSERT OR IGNORE INTO study_runs VALUES (?, ?)", (study, run.id))

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
        with self._db:
            self._db.execute("BEGIN")
            self._db.execute("DELETE FROM metrics WHERE run_id = ?", (run_id,))
            self._db.executemany(
                "INSERT INTO metrics VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(run_id, m.task, m.language, m.split, m.metric, m.value, m.ci_low, m.ci_high,
                  m.n) for m in metrics],
            )
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
