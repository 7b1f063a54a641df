"""Running the tiny study in a subprocess, with faults, and comparing what it left behind."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tiny_study import tiny_study

# Three steps per epoch and a checkpoint every step: every training point is hit several times.
STUDY = tiny_study("reliable", "epochs: 2, batch_size: 8, max_seq_length: 24, "
                   "max_train_examples: 24, max_dev_examples: 8, learning_rate: 0.001, "
                   "checkpoint_every_steps: 1")


@dataclass
class Result:
    returncode: int
    output: str

    @property
    def killed(self) -> bool:
        return self.returncode == -signal.SIGKILL


def xstilts_run(study: Path, out: Path, fault: str | None = None,
                timeout: float = 600) -> Result:
    env = dict(os.environ, PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1", COLUMNS="1000")
    env.pop("XSTILTS_FAULT", None)
    if fault:
        env["XSTILTS_FAULT"] = fault
    proc = subprocess.run(
        [sys.executable, "-m", "xstilts.cli", "run", str(study), "--out", str(out)],
        capture_output=True, text=True, env=env, timeout=timeout)
    return Result(proc.returncode, proc.stdout + proc.stderr)


def write_study(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    study = folder / "study.yaml"
    study.write_text(STUDY, encoding="utf-8")
    return study


def store_metrics(out: Path) -> list[tuple]:
    """Every metric row in the store, with the run's status, exactly as stored."""
    with sqlite3.connect(out / "xstilts.sqlite") as db:
        return sorted(db.execute(
            "SELECT m.run_id, r.status, m.task, m.language, m.split, m.metric, m.value, "
            "m.ci_low, m.ci_high, m.n FROM metrics m JOIN runs r ON r.id = m.run_id"))


def predictions(out: Path) -> dict[str, bytes]:
    """The predictions files of the finished run folders (not of ``<id>.corrupt`` or
    ``<id>.failed`` ones set aside)."""
    return {f"{p.parent.parent.name}/{p.name}": p.read_bytes()
            for p in (out / "runs").glob("*/predictions/*.jsonl")
            if "." not in p.parent.parent.name}


def report_table(out: Path) -> tuple[str, list[str]]:
    """results.csv: its header and its rows, as a set of lines (the report lists rows in the
    order runs finished, which differs when another process or a rerun did some first)."""
    header, *rows = (out / "report" / "results.csv").read_text(encoding="utf-8").splitlines()
    return header, sorted(rows)


def same_results(out: Path, reference: Path) -> None:
    """Every number (store, predictions, report table) equals the reference run's."""
    assert store_metrics(out) == store_metrics(reference)
    assert predictions(out) == predictions(reference)
    assert report_table(out) == report_table(reference)
