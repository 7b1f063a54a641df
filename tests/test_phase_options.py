"""Phase options: a 3-type multi-task mix, few-shot model selection, truncated encoders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from transformers import AutoConfig

from xstilts.errors import StudyConfigError, XstiltsError
from xstilts.models import load_encoder
from xstilts.studies.executor import run_dir_of, run_study
from xstilts.studies.planner import check_study, plan_study
from xstilts.studies.spec import load_study
from xstilts.training.phases import truncate_layers

MIX = """
name: mix3
encoder: tiny:random
intermediate:
  - mix: [cldr-units, {task: copa, train_split: train}, {task: udpos, train_split: train}]
    sampling: {sampler: uniform}
targets:
  - task: cldr-continents
    languages: [en, de]
training: {epochs: 1, batch_size: 8, max_seq_length: 32, max_train_examples: 24,
           max_dev_examples: 8, learning_rate: 0.001, log_every: 1, num_layers: 1}
evaluation: {max_examples: 16, bootstrap_resamples: 20}
"""


def test_multi_task_mix_of_three_task_types(shared_data: Path, tmp_path: Path) -> None:
    study = tmp_path / "mix.yaml"
    study.write_text(MIX, encoding="utf-8")
    outcome = run_study(load_study(study), tmp_path / "out", data_dir=shared_data,
                        study_path=study, log=lambda _: None)
    assert not outcome.failed and len(outcome.done) == 2
    inter = outcome.plan.intermediate_runs[0]
    assert inter.intermediate == "mix(cldr-units+copa+udpos)"
    folder = run_dir_of(tmp_path / "out", inter.id)
    log = [json.loads(line) for line in (folder / "log.jsonl").read_text().splitlines()]
    assert {row["task"] for row in log if "task" in row} == {"cldr-units", "copa", "udpos"}
    dev = [row for row in log if "dev" in row]
    assert set(dev[-1]["dev"]) == {"cldr-units", "copa", "udpos"}
    # The saved phase-2 encoder keeps the truncated depth and no task heads.
    config = AutoConfig.from_pretrained(folder / "encoder")
    assert config.num_hidden_layers == 1
    assert not (folder / "encoder" / "heads.safetensors").exists()


def test_dev_language_selects_the_few_shot_protocol(tmp_path: Path) -> None:
    study = tmp_path / "s.yaml"
    study.write_text("name: s\ntargets: [{task: cldr-continents, dev_language: de}]\n")
    spec = load_study(study)
    check_study(spec, study, None)
    target = plan_study(spec).target_runs[0]
    assert target.settings["dev_language"] == "de"
    zero_shot = plan_study(load_study(_write(tmp_path, "name: s\ntargets: [cldr-continents]\n")))
    assert zero_shot.target_runs[0].settings["dev_language"] == "en"
    assert zero_shot.target_runs[0].id != target.id
    bad = _write(tmp_path, "name: s\ntargets: [{task: cldr-continents, dev_language: xx}]\n")
    with pytest.raises(StudyConfigError, match="dev_language: task 'cldr-continents' has no "
                       "language 'xx'"):
        check_study(load_study(bad), bad, None)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "other.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_truncate_layers() -> None:
    encoder, _ = load_encoder("tiny:random")
    truncate_layers(encoder, None)
    assert len(encoder.encoder.layer) == 2
    with pytest.raises(XstiltsError, match="only 2 layers"):
        truncate_layers(encoder, 5)
    truncate_layers(encoder, 1)
    assert len(encoder.encoder.layer) == 1 and encoder.config.num_hidden_layers == 1
