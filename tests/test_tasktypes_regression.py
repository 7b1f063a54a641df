"""Regression (cross-encoder STS): head, decoding, correlation scores, learning on STS-B."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import stats

from xstilts.errors import UnlabeledSplitError
from xstilts.evaluation.correlation_scores import score_correlations
from xstilts.models import load_encoder
from xstilts.models.heads import TaskModel
from xstilts.tasks import get_task
from xstilts.tasks.base import Example
from xstilts.tasktypes import FeatureOptions, handler_for
from xstilts.tasktypes.predict import predict
from xstilts.tasktypes.regression import RegressionHandler
from xstilts.training.options import TrainingOptions
from xstilts.training.trainer import TrainingStream, train_model

STSB = get_task("stsb")


@pytest.fixture(scope="module")
def tiny() -> tuple:
    return load_encoder("tiny:random")


def _model(encoder, handler, task=STSB) -> TaskModel:
    torch.manual_seed(0)
    model = TaskModel(encoder)
    model.add_head(task.name, handler.build_head(task, model.hidden_size, "mean"))
    return model


def test_cross_handler_is_registered_for_regression() -> None:
    assert isinstance(handler_for(STSB), RegressionHandler)
    assert isinstance(handler_for(get_task("sts17")), RegressionHandler)
    assert handler_for(STSB).primary_metric(STSB) == "spearman"


def test_collate_head_and_decode(tiny: tuple) -> None:
    encoder, tokenizer = tiny
    handler = handler_for(STSB)
    examples = [Example("a", ("A man plays.", "A man is playing a guitar."), 3.8, "en"),
                Example("b", ("Cats.", "The stock market fell today."), 0.0, "en")]
    features = handler.featurize(STSB, examples, tokenizer, FeatureOptions(), training=True)
    batch = handler.collate(features, [0, 1], tokenizer.pad_token_id)
    assert batch["labels"].dtype == torch.float32
    assert batch["labels"].tolist() == pytest.approx([3.8, 0.0])
    assert batch["input_ids"].shape == batch["attention_mask"].shape
    loss, outputs = _model(encoder, handler)(STSB.name, batch)
    assert outputs.shape == (2,) and loss is not None and torch.isfinite(loss)
    # The loss is on the 0-1 scale, the outputs on the task's 0-5 scale.
    expected = torch.nn.functional.mse_loss(outputs / 5.0, batch["labels"] / 5.0)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    decoded = handler.decode(STSB, examples, features, [np.float32(2.5), np.float32(1.0)])
    assert decoded == [2.5, 1.0] and all(isinstance(d, float) for d in decoded)


def test_correlation_scores_match_scipy_and_bracket_the_value() -> None:
    rng = np.random.default_rng(1)
    gold = rng.uniform(0, 5, 200)
    predicted = gold + rng.normal(0, 1.5, 200)
    spearman, pearson = score_correlations(list(gold), list(predicted), resamples=500, seed=3)
    assert spearman.metric == "spearman" and pearson.metric == "pearson"
    assert spearman.value == pytest.approx(stats.spearmanr(gold, predicted).statistic)
    assert pearson.value == pytest.approx(stats.pearsonr(gold, predicted).statistic)
    for score in (spearman, pearson):
        assert score.ci_low < score.value < score.ci_high and score.n == 200
        assert score.ci_high - score.ci_low < 0.3
    again = score_correlations(list(gold), list(predicted), resamples=500, seed=3)
    assert again == [spearman, pearson]  # seeded


def test_correlation_scores_refuse_unlabeled_and_constant() -> None:
    with pytest.raises(UnlabeledSplitError):
        score_correlations([1.0, None, 2.0], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="constant"):
        score_correlations([1.0, 2.0, 3.0], [0.5, 0.5, 0.5])


def _losses(log: Path) -> list[float]:
    return [json.loads(line)["loss"] for line in log.read_text().splitlines() if '"loss"' in line]


def _no_dropout(model: TaskModel) -> None:
    """Memorising a handful of examples is a wiring check; dropout only slows it down."""
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0


def test_tiny_model_fits_stsb(tiny: tuple, shared_data: Path, tmp_path: Path) -> None:
    """24 real STS-B pairs: the loss falls and train predictions follow the gold scores."""
    encoder, tokenizer = tiny
    handler = handler_for(STSB)
    examples = STSB.load("train", "en", shared_data)[:24]
    features = handler.featurize(STSB, examples, tokenizer, FeatureOptions(max_seq_length=48),
                                 training=True)
    model = _model(encoder, handler)
    _no_dropout(model)
    options = TrainingOptions(epochs=15, batch_size=8, learning_rate=5e-3, warmup_ratio=0.1,
                              freeze_embeddings=True, max_seq_length=48, log_every=1)
    train_model(model, [TrainingStream(STSB, handler, features)], options, seed=0,
                pad_id=tokenizer.pad_token_id, log_path=tmp_path / "log.jsonl")
    losses = _losses(tmp_path / "log.jsonl")
    assert np.mean(losses[-3:]) < 0.5 * np.mean(losses[:3])
    predictions = predict(model, STSB, handler, examples, features,
                          pad_id=tokenizer.pad_token_id)
    spearman, pearson = handler.score(STSB, examples, predictions, resamples=50,
                                      confidence=0.95, seed=0)
    assert spearman.value > 0.6 and pearson.value > 0.6


def heldout_stsb(shared_data: Path, n_train: int, n_dev: int) -> tuple[list, list]:
    """A seeded sample of STS-B train pairs, and dev pairs the model never sees."""
    train = random.Random(0).sample(STSB.load("train", "en", shared_data), n_train)
    dev = random.Random(1).sample(STSB.load("dev", "en", shared_data), n_dev)
    return train, dev


@pytest.mark.slow
def test_bundled_cross_encoder_beats_chance_on_stsb_dev(shared_data: Path,
                                                        tmp_path: Path) -> None:
    """e5-small, 400 STS-B train pairs, frozen embeddings → Spearman on 200 held-out dev pairs."""
    encoder, tokenizer = load_encoder("bundled:multilingual-e5-small")
    handler = handler_for(STSB)
    train, dev = heldout_stsb(shared_data, 400, 200)
    fopts = FeatureOptions(max_seq_length=64)
    model = _model(encoder, handler)
    options = TrainingOptions(epochs=2, batch_size=16, learning_rate=5e-5,
                              freeze_embeddings=True, max_seq_length=64, log_every=1)
    train_model(model, [TrainingStream(STSB, handler,
                                       handler.featurize(STSB, train, tokenizer, fopts,
                                                         training=True))],
                options, seed=0, pad_id=tokenizer.pad_token_id, log_path=tmp_path / "log.jsonl")
    losses = _losses(tmp_path / "log.jsonl")
    dev_features = handler.featurize(STSB, dev, tokenizer, fopts, training=False)
    predictions = predict(model, STSB, handler, dev, dev_features, pad_id=tokenizer.pad_token_id)
    spearman, pearson = handler.score(STSB, dev, predictions, resamples=1000, confidence=0.95,
                                      seed=0)
    print(f"cross STS-B dev: {spearman} {pearson}; loss first 5 {np.mean(losses[:5]):.3f} "
          f"last 5 {np.mean(losses[-5:]):.3f}")
    assert np.mean(losses[-5:]) < np.mean(losses[:5])
    assert spearman.value > 0.3 and spearman.ci_low > 0.0
