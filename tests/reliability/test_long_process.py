"""A long-lived process (issue #17): 50 consecutive tiny runs in one process keep memory flat
and leave no file open behind them.

One study of 50 seeds (tiny random encoder, one target language) runs in-process; the log
callback samples the resident set size and the open file descriptors after every run. A leak
of one tiny model per run would grow RSS by megabytes a run; the bounds below are generous
for allocator noise and catch that. The measured figures are printed (``pytest -s``).
"""

from __future__ import annotations

import gc
import os
from pathlib import Path
from statistics import median

import pytest

from xstilts.studies.executor import run_study
from xstilts.studies.spec import load_study

RUNS = 50
WARM_UP = 20  # caches (tokenised examples, imports, allocator arenas) fill in the first runs
# Median RSS of the last 10 runs against that of runs 21-30: a leak of 1 MB a run (about one
# tiny model's weights) adds 20 MB; allocator noise moves single samples by ~20 MB, medians less.
MAX_GROWTH_MB = 20.0

STUDY = f"""
name: long-process
encoder: tiny:random
seeds: {list(range(RUNS))}
targets:
  - task: cldr-continents
    languages: [en]
training: {{epochs: 1, batch_size: 8, max_seq_length: 24, max_train_examples: 32,
           max_dev_examples: 8, learning_rate: 0.001}}
evaluation: {{max_examples: 16, bootstrap_resamples: 20}}
"""


def rss_mb() -> float:
    """This process's resident set size (VmRSS), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS line in /proc/self/status")


def open_files() -> dict[int, str]:
    """Open descriptors of this process and what each points to."""
    fds = {}
    for name in os.listdir("/proc/self/fd"):
        try:
            fds[int(name)] = os.readlink(f"/proc/self/fd/{name}")
        except FileNotFoundError:  # the descriptor listdir itself used
            continue
    return fds


def slope(values: list[float]) -> float:
    """Least-squares slope of ``values`` against their index."""
    n = len(values)
    mean_x, mean_y = (n - 1) / 2, sum(values) / n
    num = sum((i - mean_x) * (v - mean_y) for i, v in enumerate(values))
    return num / sum((i - mean_x) ** 2 for i in range(n))


@pytest.mark.slow
def test_fifty_runs_in_one_process_keep_memory_flat_and_close_their_files(
        tmp_path: Path) -> None:
    study = tmp_path / "study.yaml"
    study.write_text(STUDY, encoding="utf-8")
    spec = load_study(study)
    gc.collect()
    files_before, rss_start = open_files(), rss_mb()
    samples: list[float] = []
    descriptors: list[int] = []

    def sample(line: str) -> None:
        if ": done in " in line:
            gc.collect()
            samples.append(rss_mb())
            descriptors.append(len(open_files()))

    outcome = run_study(spec, tmp_path / "out", study_path=study, log=sample)
    gc.collect()
    files_after = open_files()
    assert len(outcome.done) == len(samples) == RUNS, outcome.failed

    warm = samples[WARM_UP:]
    growth, per_run = median(samples[-10:]) - median(warm[:10]), slope(warm)
    print(f"\nRSS (MB): {rss_start:.1f} before, {samples[0]:.1f} after run 1, {warm[0]:.1f} "
          f"after run {WARM_UP + 1}, {samples[-1]:.1f} after run {RUNS} (max {max(warm):.1f}); "
          f"growth after warm-up: {growth:+.1f} (medians of 10 runs), {per_run:+.3f} per run "
          f"(least squares); open files: {len(files_before)} before, "
          f"{min(descriptors)}-{max(descriptors)} between runs, {len(files_after)} after\n"
          f"every run: {[round(v) for v in samples]}")
    assert growth < MAX_GROWTH_MB, [round(v, 1) for v in samples]
    # every descriptor a run opened is closed again (the store closes with the study)
    left_open = {fd: target for fd, target in files_after.items()
                 if files_before.get(fd) != target}
    assert len(left_open) <= 2, left_open
    assert not [t for t in left_open.values() if str(tmp_path) in t], left_open
    assert max(descriptors) - min(descriptors) <= 2, descriptors
