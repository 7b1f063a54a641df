"""kill -9 at every named fault point (and at random times), then the same command again: every
number equals an uninterrupted run's, and no half-written file is read as valid."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from reliability_helpers import same_results, xstilts_run

from xstilts.faults import POINTS

# point:hit chosen so that the hit falls inside the study (3 runs, 6 optimizer steps each,
# a checkpoint after every step but the last, 2 languages evaluated per target run).
KILLS = {
    "store.register": "store.register:1",
    "tokenize": "tokenize:2",
    "train.step": "train.step:4",
    "checkpoint.state": "checkpoint.state:3",
    "checkpoint.state.swap": "checkpoint.state.swap:2",
    "checkpoint.encoder": "checkpoint.encoder:1",
    "eval.predictions": "eval.predictions:30",
    "run.record": "run.record:1",
    "run.rename": "run.rename:2",
    "run.renamed": "run.renamed:1",
    "store.write": "store.write:2",
    "report.write": "report.write:2",
}


def test_every_fault_point_has_a_kill_test() -> None:
    assert set(KILLS) == set(POINTS)


def test_kill_while_saving_resumable_state_then_rerun_equals_uninterrupted(
        reference: tuple[Path, Path], tmp_path: Path) -> None:
    """The default-suite case: killed with a half-written resumable state beside the last
    complete one; the rerun resumes from the complete one and ends with the same numbers."""
    study, expected = reference
    out = tmp_path / "out"
    died = xstilts_run(study, out, "checkpoint.state:3")
    assert died.killed, (died.returncode, died.output[-2000:])
    work = next((out / "runs").glob(".work-*"))
    assert list(work.glob(".resume.tmp-*")) and (work / "resume" / "state.json").is_file()
    finished = xstilts_run(study, out)
    assert finished.returncode == 0, finished.output
    same_results(out, expected)


@pytest.mark.slow
def test_kills_at_three_points_in_a_row_then_rerun_equal_uninterrupted(
        reference: tuple[Path, Path], tmp_path: Path) -> None:
    """A study killed mid-epoch, then while saving its resumable state, then while renaming
    a finished run into place, finishes with the same numbers."""
    study, expected = reference
    out = tmp_path / "out"
    for fault in ("train.step:3", "checkpoint.state:2", "run.rename:1"):
        died = xstilts_run(study, out, fault)
        assert died.killed, (fault, died.returncode, died.output[-2000:])
    finished = xstilts_run(study, out)
    assert finished.returncode == 0, finished.output
    same_results(out, expected)
    assert not list((out / "runs").glob(".work-*")) and not list((out / "runs").glob("*.failed"))


@pytest.mark.slow
@pytest.mark.parametrize("point", sorted(KILLS))
def test_kill_at_point_then_rerun_equals_uninterrupted(
        reference: tuple[Path, Path], tmp_path: Path, point: str) -> None:
    study, expected = reference
    out = tmp_path / "out"
    died = xstilts_run(study, out, KILLS[point])
    assert died.killed, (point, died.returncode, died.output[-2000:])
    finished = xstilts_run(study, out)
    assert finished.returncode == 0, finished.output
    same_results(out, expected)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_real_sigkills_at_random_times_then_rerun_equals_uninterrupted(
        reference: tuple[Path, Path], tmp_path: Path, seed: int) -> None:
    """Real SIGKILLs from outside at seeded random moments (up to 25 s into each attempt),
    twice in a row, then a complete rerun."""
    study, expected = reference
    out = tmp_path / "out"
    rng = random.Random(seed)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    env.pop("XSTILTS_FAULT", None)
    for _ in range(2):
        proc = subprocess.Popen(
            [sys.executable, "-m", "xstilts.cli", "run", str(study), "--out", str(out)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        time.sleep(rng.uniform(3.0, 25.0))
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finished = xstilts_run(study, out)
    assert finished.returncode == 0, finished.output
    same_results(out, expected)
