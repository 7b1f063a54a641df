"""Continued masked-language modelling as a phase-2 option (X-STILTs' MLM comparison)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from xstilts.errors import StudyConfigError
from xstilts.models.encoders import load_encoder, load_mlm_encoder
from xstilts.studies.executor import run_study
from xstilts.studies.planner import check_study, plan_study
from xstilts.studies.spec import load_study
from xstilts.tasks import Example, get_task
from xstilts.tasktypes.base import FeatureOptions
from xstilts.tasktypes.mlm import IGNORE_INDEX, MlmHandler

STUDY = """
name: tiny-mlm
encoder: {encoder}
seeds: [0]
intermediate: [{intermediate}]
targets:
  - task: cldr-continents
    languages: [en]
training: {{epochs: 1, batch_size: 16, max_seq_length: 24, max_train_examples: 48,
           max_dev_examples: 16, learning_rate: 0.001, log_every: 1}}
evaluation: {{max_examples: 10, bootstrap_resamples: 20}}
"""


def _study(tmp_path: Path, intermediate: str, encoder: str = "tiny:random") -> Path:
    path = tmp_path / "study.yaml"
    path.write_text(STUDY.format(encoder=encoder, intermediate=intermediate), encoding="utf-8")
    return path


def _handler(seed: int) -> tuple[MlmHandler, object]:
    _, predictor, tokenizer = load_mlm_encoder("tiny:random")
    return MlmHandler(predictor, tokenizer, seed=seed), tokenizer


def _features(handler: MlmHandler, tokenizer: object, n: int = 8):
    examples = [Example(id=str(i), texts=(f"the number {i} is written in words",), label=0,
                        language="en") for i in range(n)]
    task = get_task("cldr-units")
    return handler.featurize(task, examples, tokenizer, FeatureOptions(max_seq_length=16),
                             training=True)


def test_mlm_intermediate_runs_both_streams_and_saves_a_loadable_encoder(
        tmp_path: Path) -> None:
    path = _study(tmp_path, "{task: cldr-units, mlm: true}")
    out = tmp_path / "out"
    outcome = run_study(load_study(path), out, study_path=path, log=lambda _: None)
    assert not outcome.failed and len(outcome.done) == 2
    inter = next(r for r in plan_study(load_study(path)).runs if r.kind == "intermediate")
    assert inter.intermediate == "cldr-units (mlm)"
    log = [json.loads(line) for line in
           (out / "runs" / inter.id / "log.jsonl").read_text().splitlines()]
    assert {"cldr-units", "cldr-units:mlm"} <= {row["task"] for row in log if "task" in row}
    encoder, _ = load_encoder(str(out / "runs" / inter.id / "encoder"))
    assert encoder.config.hidden_size == 32


def test_masking_is_deterministic_per_seed() -> None:
    handler, tokenizer = _handler(seed=0)
    features = _features(handler, tokenizer)
    first = handler.collate(features, [0, 1, 2, 3], tokenizer.pad_token_id)
    again = handler.collate(features, [0, 1, 2, 3], tokenizer.pad_token_id)
    assert torch.equal(first["input_ids"], again["input_ids"])
    assert torch.equal(first["labels"], again["labels"])
    other, _ = _handler(seed=1)
    changed = other.collate(features, [0, 1, 2, 3], tokenizer.pad_token_id)
    assert not torch.equal(first["labels"], changed["labels"])
    masked = first["labels"] != IGNORE_INDEX
    assert masked.any()
    specials = torch.tensor([r["special"] for r in features.rows[:4]]) == 1
    assert not (masked & specials).any()  # [CLS]/[SEP] are never masked


def test_mlm_loss_falls_on_a_tiny_overfit() -> None:
    encoder, predictor, tokenizer = load_mlm_encoder("tiny:random")
    # The head stays tied to the word embeddings, so the saved encoder carries what MLM learnt.
    assert predictor.predictions.decoder.weight is encoder.get_input_embeddings().weight
    handler = MlmHandler(predictor, tokenizer, seed=0, probability=0.3)
    features = _features(handler, tokenizer, n=4)
    head = handler.build_head(get_task("cldr-units"), 32, "mean")
    batch = handler.collate(features, [0, 1, 2, 3], tokenizer.pad_token_id)
    params = list({id(p): p for p in [*encoder.parameters(), *head.parameters()]}.values())
    optimizer = torch.optim.AdamW(params, lr=1e-2)
    encoder.train()
    losses = []
    for _ in range(12):
        loss, _ = head(encoder, batch)
        losses.append(float(loss.detach()))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert losses[-1] < losses[0] * 0.5


def test_bundled_encoder_with_mlm_fails_before_training(tmp_path: Path) -> None:
    path = _study(tmp_path, "{task: cldr-units, mlm: true}",
                  encoder="bundled:multilingual-e5-small")
    with pytest.raises(StudyConfigError) as err:
        check_study(load_study(path), path, None)
    message = str(err.value)
    assert "bundled:multilingual-e5-small" in message
    assert "needs an encoder with a masked-LM head" in message


def test_mlm_false_keeps_run_ids(tmp_path: Path) -> None:
    plain = plan_study(load_study(_study(tmp_path, "{task: cldr-units}")))
    off = plan_study(load_study(_study(tmp_path, "{task: cldr-units, mlm: false}")))
    on = plan_study(load_study(_study(tmp_path, "{task: cldr-units, mlm: true}")))
    assert [r.id for r in plain.runs] == [r.id for r in off.runs]
    assert {r.id for r in on.runs}.isdisjoint(r.id for r in plain.runs)
