"""kill -9 at random points of a study, then the same command again: identical results."""

from __future__ import annotations

import csv
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tiny_study import tiny_study

STUDY = tiny_study("killable", "epochs: 3, batch_size: 8, max_seq_length: 24, "
                   "max_train_examples: 96, max_dev_examples: 16, learning_rate: 0.001, "
                   "checkpoint_every_steps: 2")


def xstilts(study: Path, out: Path) -> subprocess.Popen:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.Popen(
        [sys.executable, "-m", "xstilts.cli", "run", str(study), "--out", str(out)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, text=True)


def finish(study: Path, out: Path) -> float:
    start = time.perf_counter()
    proc = xstilts(study, out)
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    return time.perf_counter() - start


def results(out: Path) -> list[tuple[str, str, str, str]]:
    with (out / "report" / "results.csv").open() as f:
        return sorted((r["intermediate"], r["language"], r["metric"], r["value"])
                      for r in csv.DictReader(f))


def predictions(out: Path) -> dict[str, str]:
    return {p.parent.parent.name + "/" + p.name: p.read_text()
            for p in (out / "runs").glob("*/predictions/*.jsonl")}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, float]:
    root = tmp_path_factory.mktemp("reference")
    study = root / "study.yaml"
    study.write_text(STUDY, encoding="utf-8")
    elapsed = finish(study, root / "out")
    return study, root / "out", elapsed


@pytest.mark.parametrize("kills", [1, pytest.param(2, marks=pytest.mark.slow)])
def test_kill_9_then_rerun_gives_identical_results(
    uninterrupted: tuple[Path, Path, float], tmp_path: Path, kills: int
) -> None:
    study, reference, duration = uninterrupted
    out = tmp_path / "out"
    rng = random.Random(kills)
    for _ in range(kills):
        proc = xstilts(study, out)
        time.sleep(rng.uniform(0.3, 0.9) * duration)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finish(study, out)
    assert results(out) == results(reference)
    assert predictions(out) == predictions(reference)


def test_rerun_of_a_finished_study_trains_nothing(uninterrupted: tuple[Path, Path, float]) -> None:
    """Every run is reused as it is (its folder untouched), none runs again; said by what the
    rerun does, not by how long it takes (timings on a shared machine prove nothing)."""
    study, reference, _ = uninterrupted
    before = results(reference)
    folders = {p: p.stat().st_mtime_ns for p in (reference / "runs").glob("*/run.json")}
    proc = subprocess.run(
        [sys.executable, "-m", "xstilts.cli", "run", str(study), "--out", str(reference)],
        capture_output=True, text=True, timeout=600, check=True)
    lines = [line.strip() for line in (proc.stdout + proc.stderr).splitlines()
             if line.strip().startswith("[") and "/" in line.split("]")[0]]
    assert len(lines) == len(folders) > 0
    assert all(line.endswith("done before, reused") for line in lines), lines
    assert {p: p.stat().st_mtime_ns for p in folders} == folders
    assert results(reference) == before
