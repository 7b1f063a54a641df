"""Siamese (SBERT) pair tasks: separate padding, heads, learning, and a whole sts17 study."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import numpy as np
import pytest
import torch

from xstilts.errors import XstiltsError
from xstilts.models import load_encoder
from xstilts.models.heads import TaskModel
from xstilts.report.summary import write_report
from xstilts.studies.executor import run_study
from xstilts.studies.spec import load_study
from xstilts.tasks import get_task
from xstilts.tasks.base import Example
from xstilts.tasktypes import FeatureOptions, handler_for
from xstilts.tasktypes.predict import predict
from xstilts.tasktypes.siamese import (
    SiameseClassificationHead,
    SiameseCosineHead,
    SiameseHandler,
)
from xstilts.training.options import TrainingOptions
from xstilts.training.trainer import TrainingStream, train_model

STSB = get_task("stsb")
PAWSX = get_task("pawsx")


@pytest.fixture(scope="module")
def tiny() -> tuple:
    return load_encoder("tiny:random")


def _model(encoder, task) -> TaskModel:
    torch.manual_seed(0)
    model = TaskModel(encoder)
    model.add_head(task.name, handler_for(task, "siamese").build_head(task, model.hidden_size,
                                                                      "mean"))
    return model


def _pairs(label_a: float | int, label_b: float | int) -> list[Example]:
    return [Example("a", ("Short.", "A much longer second sentence with many words."), label_a,
                    "en"),
            Example("b", ("A rather long first sentence, it goes on.", "Tiny."), label_b, "en")]


def test_siamese_is_registered_for_pairs_and_regression_only() -> None:
    assert isinstance(handler_for(STSB, "siamese"), SiameseHandler)
    assert isinstance(handler_for(PAWSX, "siamese"), SiameseHandler)
    assert isinstance(handler_for(get_task("xnli"), "siamese"), SiameseHandler)
    with pytest.raises(XstiltsError, match="siamese"):
        handler_for(get_task("copa"), "siamese")


def test_collate_pads_each_side_separately(tiny: tuple) -> None:
    _, tokenizer = tiny
    handler = handler_for(STSB, "siamese")
    examples = _pairs(4.0, 1.5)
    features = handler.featurize(STSB, examples, tokenizer, FeatureOptions(), training=True)
    row = features.rows[0]
    assert row["input_ids_a"] == tokenizer("Short.")["input_ids"]  # each text encoded alone
    batch = handler.collate(features, [0, 1], tokenizer.pad_token_id)
    width_a = max(len(r["input_ids_a"]) for r in features.rows)
    width_b = max(len(r["input_ids_b"]) for r in features.rows)
    assert batch["input_ids_a"].shape == (2, width_a)
    assert batch["input_ids_b"].shape == (2, width_b)
    assert batch["attention_mask_a"].sum(1).tolist() == [len(r["input_ids_a"])
                                                        for r in features.rows]
    assert batch["labels"].dtype == torch.float32
    assert batch["labels"].tolist() == pytest.approx([4.0, 1.5])


def test_cosine_head_predicts_five_times_cosine(tiny: tuple) -> None:
    encoder, tokenizer = tiny
    handler = handler_for(STSB, "siamese")
    features = handler.featurize(STSB, _pairs(4.0, 1.5), tokenizer, FeatureOptions(),
                                 training=True)
    batch = handler.collate(features, [0, 1], tokenizer.pad_token_id)
    model = _model(encoder, STSB).eval()
    assert isinstance(model.heads[STSB.name], SiameseCosineHead)
    with torch.no_grad():
        loss, outputs = model(STSB.name, batch)
    assert outputs.shape == (2,) and bool(((outputs >= -5) & (outputs <= 5)).all())
    expected = torch.nn.functional.mse_loss(outputs / 5, batch["labels"] / 5)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    # The same pair given as (a, a) is maximally similar: cosine 1 → prediction 5.
    same = {"input_ids_a": batch["input_ids_a"], "attention_mask_a": batch["attention_mask_a"],
            "input_ids_b": batch["input_ids_a"], "attention_mask_b": batch["attention_mask_a"]}
    with torch.no_grad():
        _, identical = model(STSB.name, same)
    assert identical.tolist() == pytest.approx([5.0, 5.0], abs=1e-4)


def test_classification_head_over_u_v_and_difference(tiny: tuple) -> None:
    encoder, tokenizer = tiny
    handler = handler_for(PAWSX, "siamese")
    features = handler.featurize(PAWSX, _pairs(1, 0), tokenizer, FeatureOptions(),
                                 training=True)
    batch = handler.collate(features, [0, 1], tokenizer.pad_token_id)
    assert batch["labels"].dtype == torch.long
    model = _model(encoder, PAWSX)
    head = model.heads[PAWSX.name]
    assert isinstance(head, SiameseClassificationHead)
    assert head.out.in_features == 3 * model.hidden_size
    loss, logits = model(PAWSX.name, batch)
    assert logits.shape == (2, PAWSX.num_labels) and torch.isfinite(loss)
    assert handler.decode(PAWSX, [], features, [np.array([0.1, 0.9]), np.array([2.0, 0.0])]) \
        == [1, 0]


def test_single_text_task_is_refused(tiny: tuple) -> None:
    _, tokenizer = tiny
    with pytest.raises(XstiltsError, match="two texts"):
        handler_for(PAWSX, "siamese").featurize(
            PAWSX, [Example("x", ("only one",), 0, "en")], tokenizer, FeatureOptions(),
            training=True)


def _losses(log: Path) -> list[float]:
    return [json.loads(line)["loss"] for line in log.read_text().splitlines() if '"loss"' in line]


def _fit_tiny(task, examples, tiny: tuple, log: Path, lr: float) -> list:
    """Train a dropout-free tiny bi-encoder on ``examples``; return train-set predictions."""
    encoder, tokenizer = tiny
    handler = handler_for(task, "siamese")
    features = handler.featurize(task, examples, tokenizer, FeatureOptions(max_seq_length=48),
                                 training=True)
    model = _model(encoder, task)
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0  # memorising is a wiring check; dropout only slows it down
    options = TrainingOptions(epochs=12, batch_size=8, learning_rate=lr, warmup_ratio=0.0,
                              freeze_embeddings=True, max_seq_length=48, log_every=1,
                              pair_encoding="siamese")
    train_model(model, [TrainingStream(task, handler, features)], options, seed=0,
                pad_id=tokenizer.pad_token_id, log_path=log)
    return predict(model, task, handler, examples, features, pad_id=tokenizer.pad_token_id)


def test_tiny_bi_encoder_fits_stsb(tiny: tuple, shared_data: Path, tmp_path: Path) -> None:
    examples = STSB.load("train", "en", shared_data)[:24]
    predictions = _fit_tiny(STSB, examples, tiny, tmp_path / "log.jsonl", 3e-3)
    losses = _losses(tmp_path / "log.jsonl")
    assert np.mean(losses[-3:]) < 0.5 * np.mean(losses[:3])
    spearman, pearson = handler_for(STSB, "siamese").score(STSB, examples, predictions,
                                                           resamples=50, confidence=0.95, seed=0)
    assert spearman.metric == "spearman" and pearson.metric == "pearson"
    assert spearman.value > 0.5


def test_tiny_bi_encoder_fits_pawsx(tiny: tuple, shared_data: Path, tmp_path: Path) -> None:
    examples = PAWSX.load("dev", "en", shared_data)[:24]
    predictions = _fit_tiny(PAWSX, examples, tiny, tmp_path / "log.jsonl", 1e-2)
    losses = _losses(tmp_path / "log.jsonl")
    assert np.mean(losses[-3:]) < 0.5 * np.mean(losses[:3])
    accuracy = handler_for(PAWSX, "siamese").score(PAWSX, examples, predictions, resamples=50,
                                                   confidence=0.95, seed=0)[0]
    assert accuracy.metric == "accuracy" and accuracy.value >= 0.9


@pytest.mark.slow
def test_bundled_bi_encoder_on_heldout_stsb(shared_data: Path, tmp_path: Path) -> None:
    """e5-small bi-encoder, 400 STS-B train pairs → Spearman on 200 held-out dev pairs.

    The pre-trained e5 vectors already rank STS well, so the check is that training keeps
    (or improves) that, with a falling loss.
    """
    encoder, tokenizer = load_encoder("bundled:multilingual-e5-small")
    handler = handler_for(STSB, "siamese")
    train = random.Random(0).sample(STSB.load("train", "en", shared_data), 400)
    dev = random.Random(1).sample(STSB.load("dev", "en", shared_data), 200)
    fopts = FeatureOptions(max_seq_length=64)
    model = _model(encoder, STSB)
    dev_features = handler.featurize(STSB, dev, tokenizer, fopts, training=False)
    before = handler.score(STSB, dev, predict(model, STSB, handler, dev, dev_features,
                                              pad_id=tokenizer.pad_token_id),
                           resamples=200, confidence=0.95, seed=0)[0]
    options = TrainingOptions(epochs=2, batch_size=16, learning_rate=5e-5,
                              freeze_embeddings=True, max_seq_length=64, log_every=1,
                              pair_encoding="siamese")
    train_model(model, [TrainingStream(STSB, handler, handler.featurize(
        STSB, train, tokenizer, fopts, training=True))], options, seed=0,
        pad_id=tokenizer.pad_token_id, log_path=tmp_path / "log.jsonl")
    losses = _losses(tmp_path / "log.jsonl")
    predictions = predict(model, STSB, handler, dev, dev_features, pad_id=tokenizer.pad_token_id)
    spearman, pearson = handler.score(STSB, dev, predictions, resamples=1000, confidence=0.95,
                                      seed=0)
    print(f"siamese STS-B dev: before {before.value:.3f}; after {spearman} {pearson}; "
          f"loss first 5 {np.mean(losses[:5]):.3f} last 5 {np.mean(losses[-5:]):.3f}")
    assert np.mean(losses[-5:]) < np.mean(losses[:5])
    assert spearman.value > 0.3


STUDY = """
name: tiny-sts
encoder: tiny:random
seeds: [0]
targets:
  - task: sts17
    languages: [en-en, ar-en]
    train_split: train
training: {epochs: 1, batch_size: 16, max_seq_length: 24, max_train_examples: 48,
           max_dev_examples: 16, learning_rate: 0.001, pair_encoding: siamese,
           freeze_embeddings: true}
evaluation: {max_examples: 20, bootstrap_resamples: 50}
"""


def test_siamese_sts17_study_reports_correlations(shared_data: Path, tmp_path: Path) -> None:
    path = tmp_path / "study.yaml"
    path.write_text(STUDY, encoding="utf-8")
    out = tmp_path / "out"
    outcome = run_study(load_study(path), out, data_dir=shared_data, study_path=path,
                        log=lambda _: None)
    assert not outcome.failed and len(outcome.done) == 1
    predictions = list((out / "runs").glob("*/predictions/ar-en.jsonl"))
    assert len(predictions) == 1
    first = json.loads(predictions[0].read_text().splitlines()[0])
    assert isinstance(first["prediction"], float) and isinstance(first["gold"], float)

    report = write_report(out)
    summary = (report / "summary.md").read_text()
    assert ("Pair encoding, sts17 with tiny:random (1 runs): siamese bi-encoder (each text "
            "encoded alone, as SBERT), the task's published protocol" in summary)
    # a track's column names both languages (not Arabic alone), as the page does
    assert "| English (en-en, n=20) | Arabic–English (ar-en, n=20) |" in summary
    with (report / "results.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert {(r["language"], r["metric"]) for r in rows} == {
        (lang, metric) for lang in ("en-en", "ar-en") for metric in ("spearman", "pearson")}
    for r in rows:
        assert r["target_task"] == "sts17"
        assert -1.0 <= float(r["ci_low"]) <= float(r["ci_high"]) <= 1.0
        assert -1.0 <= float(r["value"]) <= 1.0


def test_auto_pair_encoding_follows_the_tasks_protocol() -> None:
    """STS 2017's published numbers come from bi-encoders, so ``auto`` (the default) trains it
    siamese; every other pair task stays a cross-encoder (the old default), so their runs keep
    their ids; an explicit setting wins."""
    from xstilts.studies.planner import plan_study
    from xstilts.studies.spec import StudySpec

    assert isinstance(handler_for(get_task("sts17"), "auto"), SiameseHandler)
    assert not isinstance(handler_for(get_task("xnli"), "auto"), SiameseHandler)

    def runs(**training: str) -> dict:
        spec = StudySpec.model_validate({
            "name": "s", "seeds": [0],
            "targets": [{"task": "sts17"}, {"task": "xnli", "languages": ["en", "de"]}],
            "intermediate": ["none", "stsb"], "training": training})
        plan = plan_study(spec)  # keyed by kind, tasks and parent (the stsb arm's id or None)
        return {(r.run.kind, r.run.task_names, r.run.parent is None): r for r in plan.runs}

    default, cross = runs(), runs(pair_encoding="cross")
    encodings = {key: r.run.training.pair_encoding for key, r in default.items()}
    assert encodings == {
        ("target", ("sts17",), True): "siamese", ("target", ("sts17",), False): "siamese",
        ("target", ("xnli",), True): "cross", ("target", ("xnli",), False): "cross",
        ("intermediate", ("stsb",), True): "cross"}
    for key in default:
        assert (cross[key].id == default[key].id) == (key[1] != ("sts17",)), key
    assert cross[("target", ("sts17",), True)].run.training.pair_encoding == "cross"


def test_report_names_the_pair_encoding_of_each_pair_task() -> None:
    """The encoding is the model: the report says it per (encoder, task), and says where a
    run left the task's published protocol or where arms differ."""
    from xstilts.report.methods import pair_encoding_lines

    def run(task: str, encoding: str | None, status: str = "done") -> dict:
        training = {"pair_encoding": encoding} if encoding else {}
        return {"kind": "target", "status": status, "encoder": "e", "task": task,
                "settings": json.dumps({"training": training})}

    lines = pair_encoding_lines([run("sts17", "cross"), run("sts17", "cross"),
                                 run("xnli", "cross"), run("xnli", "siamese", "failed"),
                                 run("udpos", "cross"), run("no-such-task", "cross")])
    assert lines == [
        "Pair encoding, sts17 with e (2 runs): cross-encoder (both texts of a pair in one "
        "input); the task's published protocol is the siamese bi-encoder (each text encoded "
        "alone, as SBERT), so these scores are not comparable with published ones, the same "
        "for every intermediate configuration.",
        "Pair encoding, xnli with e (1 runs): cross-encoder (both texts of a pair in one "
        "input), the same for every intermediate configuration."]
    (mixed,) = pair_encoding_lines([run("pawsx", "cross"), run("pawsx", "siamese")])
    assert mixed.startswith("Pair encoding, pawsx with e (2 runs): MIXED: cross-encoder")
    assert "not comparable" in mixed
