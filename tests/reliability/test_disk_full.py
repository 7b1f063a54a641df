"""A full disk while writing a checkpoint, predictions, the store or the report: a clear error
naming the path, finished work intact, and the rerun (space freed) completes with the same
numbers. The disk is filled by the ``enospc`` action of a fault point (no tmpfs needed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from reliability_helpers import same_results, store_metrics, xstilts_run

from xstilts.training.run_folder import RunFolder

# (fault, what the error must name)
FULL = {
    "checkpoint.state": ("checkpoint.state:4:enospc", "resume.tmp-"),
    "checkpoint.encoder": ("checkpoint.encoder:1:enospc", "encoder.tmp-"),
    "eval.predictions": ("eval.predictions:30:enospc", "predictions/"),
    "store.write": ("store.write:2:enospc", "xstilts.sqlite"),
    "report.write": ("report.write:1:enospc", "report/results.csv"),
}


@pytest.mark.slow
@pytest.mark.parametrize("point", sorted(FULL))
def test_disk_full_names_the_path_keeps_finished_work_and_rerun_completes(
        reference: tuple[Path, Path], tmp_path: Path, point: str) -> None:
    study, expected = reference
    out = tmp_path / "out"
    fault, named = FULL[point]
    full = xstilts_run(study, out, fault)
    assert full.returncode == 2, full.output[-3000:]
    assert "disk full while writing" in full.output and named in full.output, full.output[-3000:]
    assert "Traceback" not in full.output
    # what finished before is intact: its folder checks out and its numbers are the final ones
    finished = [p for p in (out / "runs").iterdir() if RunFolder(p).is_complete()]
    for folder in finished:
        assert RunFolder(folder).damage() is None
    reference_rows = set(store_metrics(expected))
    assert set(store_metrics(out)) <= reference_rows
    rerun = xstilts_run(study, out)
    assert rerun.returncode == 0, rerun.output
    same_results(out, expected)
