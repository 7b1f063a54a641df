"""Damaged files (truncated, one bit flipped) are detected by the checksums written with them,
reported with their path, and rebuilt or refused; never loaded silently."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from reliability_helpers import same_results, xstilts_run


def flip_bit(path: Path, offset: int = -40) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x04
    path.write_bytes(bytes(data))


def finished_copy(reference: tuple[Path, Path], tmp_path: Path) -> Path:
    out = tmp_path / "out"
    shutil.copytree(reference[1], out)
    return out


def target_with_parent(out: Path) -> tuple[str, str]:
    """(target run id, its intermediate parent's id)."""
    for record in (out / "runs").glob("*/run.json"):
        run = json.loads(record.read_text())
        if run["kind"] == "target" and run["parent"]:
            return run["id"], run["parent"]
    raise AssertionError("no target run with a parent")


@pytest.mark.slow
def test_bit_flipped_predictions_file_is_named_and_its_run_redone(
        reference: tuple[Path, Path], tmp_path: Path) -> None:
    study, expected = reference
    out = finished_copy(reference, tmp_path)
    target, _ = target_with_parent(out)
    damaged = out / "runs" / target / "predictions" / "de.jsonl"
    flip_bit(damaged, 10)
    rerun = xstilts_run(study, out)
    assert rerun.returncode == 0, rerun.output
    assert f"{damaged}: sha256 differs" in rerun.output
    assert f"{target}): running" in rerun.output
    same_results(out, expected)


@pytest.mark.slow
def test_truncated_phase2_checkpoint_is_named_and_its_run_redone(
        reference: tuple[Path, Path], tmp_path: Path) -> None:
    study, expected = reference
    out = finished_copy(reference, tmp_path)
    _, parent = target_with_parent(out)
    weights = out / "runs" / parent / "encoder" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-100])
    rerun = xstilts_run(study, out)
    assert rerun.returncode == 0, rerun.output
    assert f"{weights}: " in rerun.output and "truncated" in rerun.output
    assert f"{parent}): running" in rerun.output
    same_results(out, expected)


@pytest.mark.slow
def test_bit_flipped_phase2_checkpoint_is_refused_when_loaded_then_redone(
        reference: tuple[Path, Path], tmp_path: Path) -> None:
    """Same size, one bit off: a reused folder is checked by size, so the flip is found when
    a target run loads the encoder; that run fails naming the file, the parent is set aside,
    and the next rerun redoes both with the original numbers."""
    study, expected = reference
    out = finished_copy(reference, tmp_path)
    target, parent = target_with_parent(out)
    weights = out / "runs" / parent / "encoder" / "model.safetensors"
    flip_bit(weights)
    shutil.rmtree(out / "runs" / target)  # so that the target run loads the encoder again
    refused = xstilts_run(study, out)
    assert refused.returncode == 1, refused.output  # a failed run: exit 1, the rest done
    assert f"FAILED: CorruptFileError: {weights}: sha256 differs" in refused.output
    rerun = xstilts_run(study, out)
    assert rerun.returncode == 0, rerun.output
    assert f"{parent}): running" in rerun.output and f"{target}): running" in rerun.output
    same_results(out, expected)


@pytest.mark.slow
def test_bit_flipped_resumable_state_is_named_and_training_restarts(
        reference: tuple[Path, Path], tmp_path: Path) -> None:
    study, expected = reference
    out = tmp_path / "out"
    died = xstilts_run(study, out, "train.step:4")
    assert died.killed, died.output[-2000:]
    work = next((out / "runs").glob(".work-*"))
    state = work / "resume" / "trainable.safetensors"
    flip_bit(state)
    rerun = xstilts_run(study, out)
    assert rerun.returncode == 0, rerun.output
    assert f"resumable state damaged: {state}: sha256 differs" in rerun.output
    same_results(out, expected)


@pytest.mark.slow
def test_store_with_a_changed_value_is_named_set_aside_and_rebuilt(
        reference: tuple[Path, Path], tmp_path: Path) -> None:
    study, expected = reference
    out = finished_copy(reference, tmp_path)
    with sqlite3.connect(out / "xstilts.sqlite") as db:
        db.execute("UPDATE metrics SET value = value + 1e-9 WHERE rowid = 1")
    rerun = xstilts_run(study, out)
    assert rerun.returncode == 0, rerun.output
    assert f"results store damaged: {out / 'xstilts.sqlite'}: the metrics of run" in rerun.output
    assert "finished folder found, recorded" in rerun.output
    assert "running" not in rerun.output  # nothing retrained: the run folders had it all
    same_results(out, expected)
