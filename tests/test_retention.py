"""Checkpoint retention: target models are dropped by default, kept (and reloadable) on request."""

from __future__ import annotations

from pathlib import Path

import pytest

import xstilts
from xstilts.errors import ModelLoadError
from xstilts.studies.executor import run_study
from xstilts.studies.planner import plan_study
from xstilts.studies.spec import load_study
from xstilts.tasktypes import FeatureOptions
from xstilts.tasktypes.zero_shot import EvaluationSettings, evaluate_languages
from xstilts.training.checkpoint import TARGET_MODEL_DIR, load_task_model

STUDY = """
name: keep
encoder: tiny:random
seeds: [0]
intermediate: [none]
targets:
  - task: cldr-continents
    languages: [en, de]
training: {{epochs: 1, batch_size: 16, max_seq_length: 24, max_train_examples: 48,
           max_dev_examples: 16, learning_rate: 0.001}}
evaluation: {{max_examples: 20, bootstrap_resamples: 20}}
{retention}
"""


def _study(root: Path, retention: str) -> Path:
    path = root / f"study-{len(retention)}.yaml"
    path.write_text(STUDY.format(retention=retention), encoding="utf-8")
    return path


def test_retention_is_not_part_of_run_ids(tmp_path: Path) -> None:
    default = plan_study(load_study(_study(tmp_path, "")))
    keep = plan_study(load_study(_study(tmp_path, "retention: {keep_target_checkpoints: true}")))
    assert [r.id for r in default.runs] == [r.id for r in keep.runs]
    assert [r.keep_checkpoint for r in keep.target_runs] == [True]
    assert [r.keep_checkpoint for r in default.target_runs] == [False]


def test_target_model_is_dropped_by_default_and_kept_on_request(tmp_path: Path) -> None:
    out = tmp_path / "out"
    messages: list[str] = []
    outcome = run_study(load_study(_study(tmp_path, "")), out, log=messages.append)
    run_dir = out / "runs" / outcome.done[0]
    assert (run_dir / "predictions" / "de.jsonl").is_file()
    assert not (run_dir / TARGET_MODEL_DIR).exists()

    # Asking for checkpoints afterwards does not redo the finished run, and says so.
    keep = load_study(_study(tmp_path, "retention: {keep_target_checkpoints: true}"))
    messages.clear()
    again = run_study(keep, out, log=messages.append)
    assert again.done == [] and again.reused == outcome.done
    assert any("keep_target_checkpoints" in m for m in messages)

    fresh = tmp_path / "fresh"
    kept = run_study(keep, fresh, log=lambda _: None)
    model_dir = fresh / "runs" / kept.done[0] / TARGET_MODEL_DIR
    assert (model_dir / "model.safetensors").is_file()
    assert (model_dir / "heads.safetensors").is_file()

    # The reloaded model predicts exactly what the run wrote for every example.
    model, tokenizer, task = xstilts.load_task_model(model_dir)
    assert task.name == "cldr-continents" and len(task.labels) > 1
    evaluate_languages(model, tokenizer, task, ["de"], "test", None, tmp_path / "again",
                       EvaluationSettings(FeatureOptions(max_seq_length=24), max_examples=20,
                                          bootstrap_resamples=20))
    written = (fresh / "runs" / kept.done[0] / "predictions" / "de.jsonl").read_text()
    assert (tmp_path / "again" / "de.jsonl").read_text() == written


def test_loading_an_encoder_folder_as_task_model_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="not a complete xstilts task model"):
        load_task_model(tmp_path)
