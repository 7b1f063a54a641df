"""A long-lived process (issue #17): 50 consecutive tiny runs in one process keep memory flat
and leave no file open behind them.

One study of 50 seeds (tiny random encoder, one target language) runs in-process; the log
callback samples the resident set size and the open file descriptors after every run. Before
each RSS sample glibc returns its free memory to the system (``malloc_trim``), so the samples
count memory in use rather than what the allocator keeps: without it single samples jump by
~30 MB either way and a 1 MB-a-run leak passed or failed by chance. The measured figures are
printed (``pytest -s``).

Known leak (2026-12-03): the trimmed samples grow by ~1.0 MB a run, run after run (470 ->
522 MB over 50 runs on an AVX2 EPYC), so the memory test is marked as an expected failure,
strictly: it fails the suite once the leak is fixed, and the marker must go. What was ruled
out: Python objects (``gc`` counts flat, tracked tensors' storage flat, tracemalloc's diffs a
few KB), glibc malloc (``mallinfo2`` in-use bytes flat with ``MALLOC_ARENA_MAX=1``), pyarrow's
pool (``ARROW_DEFAULT_MEMORY_POOL=system``: the same); the growth is anonymous memory that
native code maps itself.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from xstilts.studies.executor import run_study
from xstilts.studies.spec import load_study

RUNS = 50
WARM_UP = 20  # caches (tokenised examples, imports, allocator arenas) fill in the first runs
# Least-squares slope of RSS over runs 21-50: a leak of 1 MB a run (about one tiny model's
# weights) gives ~1.0; with glibc's free memory trimmed, flat memory gives ~0 (samples move by
# well under 1 MB). Medians of runs 21-30 and 41-50 sat 20 runs apart, so a 1 MB-a-run leak
# grew them by ~20 MB, right at the old 20 MB bound: that test passed or failed by chance.
MAX_SLOPE_MB_PER_RUN = 0.25

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


def release_free_memory() -> None:
    """Return glibc's free heap memory to the system, so RSS counts memory in use."""
    name = ctypes.util.find_library("c")
    if name:
        trim = getattr(ctypes.CDLL(name), "malloc_trim", None)
        if trim is not None:  # glibc only
            trim(0)


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


@dataclass
class LongProcess:
    """What the 50 runs left behind: RSS and descriptor samples, files before and after."""

    runs_done: int
    samples: list[float]
    descriptors: list[int]
    files_before: dict[int, str]
    files_after: dict[int, str]
    out_dir: Path


@pytest.fixture(scope="module")
def long_process(tmp_path_factory: pytest.TempPathFactory) -> LongProcess:
    tmp_path = tmp_path_factory.mktemp("long-process")
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
            release_free_memory()
            samples.append(rss_mb())
            descriptors.append(len(open_files()))

    outcome = run_study(spec, tmp_path / "out", study_path=study, log=sample)
    gc.collect()
    files_after = open_files()
    assert len(outcome.done) == len(samples) == RUNS, outcome.failed
    warm = samples[WARM_UP:]
    print(f"\nRSS (MB): {rss_start:.1f} before, {samples[0]:.1f} after run 1, {warm[0]:.1f} "
          f"after run {WARM_UP + 1}, {samples[-1]:.1f} after run {RUNS} (max {max(warm):.1f}); "
          f"{slope(warm):+.3f} per run after warm-up (least squares); open files: "
          f"{len(files_before)} before, {min(descriptors)}-{max(descriptors)} between runs, "
          f"{len(files_after)} after\nevery run: {[round(v) for v in samples]}")
    return LongProcess(len(outcome.done), samples, descriptors, files_before, files_after,
                       tmp_path)


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason="known native leak of ~1 MB a run (module docstring); "
                   "remove this marker once the test passes")
def test_fifty_runs_in_one_process_keep_memory_flat(long_process: LongProcess) -> None:
    samples = long_process.samples
    assert slope(samples[WARM_UP:]) < MAX_SLOPE_MB_PER_RUN, [round(v, 1) for v in samples]


@pytest.mark.slow
def test_fifty_runs_in_one_process_close_their_files(long_process: LongProcess) -> None:
    # every descriptor a run opened is closed again (the store closes with the study)
    files_before, files_after = long_process.files_before, long_process.files_after
    left_open = {fd: target for fd, target in files_after.items()
                 if files_before.get(fd) != target}
    assert len(left_open) <= 2, left_open
    assert not [t for t in left_open.values() if str(long_process.out_dir) in t], left_open
    descriptors = long_process.descriptors
    assert max(descriptors) - min(descriptors) <= 2, descriptors
