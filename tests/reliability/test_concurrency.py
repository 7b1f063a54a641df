"""Two ``xstilts run`` processes on one output folder: no run trained twice, a consistent
store, and the second process says which runs it left to the first."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from reliability_helpers import (
    STUDY,
    predictions,
    same_results,
    store_metrics,
)

ENV = dict(os.environ, PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1", COLUMNS="1000")
ENV.pop("XSTILTS_FAULT", None)


def start(study: Path, out: Path, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "xstilts.cli", "run", str(study), "--out", str(out)],
        stdout=log.open("w"), stderr=subprocess.STDOUT, env=ENV)


def started_runs(text: str) -> list[str]:
    return re.findall(r"\((?:seed \d+, )?([0-9a-f]{16})\): running", text)


@pytest.mark.slow
def test_two_processes_on_one_folder_train_each_run_once(
        reference: tuple[Path, Path], tmp_path: Path) -> None:
    study, expected = reference
    other = tmp_path / "other.yaml"  # a second study sharing the 'none' runs with the first
    other.write_text(STUDY.replace("name: reliable", "name: other")
                     .replace("intermediate: [none, cldr-units]", "intermediate: [none]"))
    out = tmp_path / "out"
    procs = [start(study, out, tmp_path / "a.log"), start(study, out, tmp_path / "b.log"),
             start(other, out, tmp_path / "c.log")]
    for proc in procs:
        assert proc.wait(timeout=900) == 0
    logs = [(tmp_path / f"{name}.log").read_text() for name in "abc"]
    trained = [run for text in logs for run in started_runs(text)]
    assert len(trained) == len(set(trained)) == 3, logs  # each of the 3 runs trained once
    # the numbers; not the report, which each study's last process wrote for its own study
    assert store_metrics(out) == store_metrics(expected)
    assert predictions(out) == predictions(expected)
    metrics = store_metrics(out)
    assert len(metrics) == len(set(metrics))


HOLD = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from xstilts.studies.run_lock import try_lock
    lock = try_lock(Path(sys.argv[1]), sys.argv[2])
    print("held" if lock else "busy", flush=True)
    time.sleep(600)
""")


@pytest.mark.slow
def test_a_run_held_by_another_process_is_skipped_then_waited_for(
        reference: tuple[Path, Path], tmp_path: Path) -> None:
    """Another process holds the first run's lock: the study runs the rest first, says whose
    lock it waits for, and once that process is gone (killed: its lock is freed by the
    kernel) does the run itself."""
    study, expected = reference
    out = tmp_path / "out"
    held = next(json.loads(p.read_text())["id"] for p in (expected / "runs").glob("*/run.json")
                if json.loads(p.read_text())["parent"] is None
                and json.loads(p.read_text())["kind"] == "target")  # the first run, [1/3]
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(out), held],
                              stdout=subprocess.PIPE, text=True, env=ENV)
    assert holder.stdout.readline().strip() == "held"
    log = tmp_path / "run.log"
    proc = start(study, out, log)
    try:
        for _ in range(600):
            if "waiting for" in log.read_text() or proc.poll() is not None:
                break
            time.sleep(0.5)
        text = log.read_text()
        assert f"{held}): held by pid {holder.pid} on " in text, text
        assert f"{held}): waiting for pid {holder.pid}" in text, text
        assert held not in started_runs(text)  # not touched while held
        assert len(started_runs(text)) == 2  # the two other runs were done meanwhile
    finally:
        holder.kill()
        holder.wait()
    assert proc.wait(timeout=900) == 0
    assert started_runs(log.read_text())[-1] == held
    same_results(out, expected)
