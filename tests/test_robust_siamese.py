"""Adversarial training of siamese (bi-encoder) pair models: each text its own perturbation.

A siamese head embeds the two texts of a pair in two encoder calls, each padded to its own
width, so one perturbation with the first text's shape cannot be added to the second text.
"""

from __future__ import annotations

import pytest
import torch

from xstilts.models import load_encoder
from xstilts.models.heads import TaskModel
from xstilts.tasks import get_task
from xstilts.tasks.base import Example
from xstilts.tasktypes import FeatureOptions, handler_for
from xstilts.training import robust
from xstilts.training.options import AdversarialOptions, TrainingOptions
from xstilts.training.phases import _model_with_heads
from xstilts.training.trainer import TrainingStream, train_model

STSB = get_task("stsb")
HUMANEVAL = get_task("humaneval-match")  # a pair classification task with built-in data


def _pairs(n: int) -> list[Example]:
    """Second texts much longer than first ones, so the two sides pad to different widths."""
    return [Example(str(i), (f"short {i}.", "a much longer second sentence with many words "
                             * (1 + i % 3)), float(i % 6), "en") for i in range(n)]


@pytest.fixture(scope="module")
def tiny() -> tuple:
    return load_encoder("tiny:random")


def _siamese_batch(tiny: tuple) -> tuple[TaskModel, dict[str, torch.Tensor]]:
    encoder, tokenizer = tiny
    handler = handler_for(STSB, "siamese")
    torch.manual_seed(0)
    model = TaskModel(encoder)
    model.add_head(STSB.name, handler.build_head(STSB, model.hidden_size, "mean"))
    features = handler.featurize(STSB, _pairs(4), tokenizer, FeatureOptions(), training=True)
    model.train()  # perturbations apply in training mode only
    return model, handler.collate(features, [0, 1, 2, 3], tokenizer.pad_token_id)


def _recorded(monkeypatch: pytest.MonkeyPatch) -> list[robust.Perturbations]:
    made: list[robust.Perturbations] = []

    class Recording(robust.Perturbations):
        def __init__(self) -> None:
            super().__init__()
            made.append(self)

    monkeypatch.setattr(robust, "Perturbations", Recording)
    return made


@pytest.mark.parametrize(("epsilon", "expected_norm"), [
    (1.0, 0.5),  # one step of L2 length step_size 0.5 from δ = 0 stays inside the ball
    (0.3, 0.3),  # ... and is projected back onto a ball of radius 0.3
])
def test_each_text_gets_a_perturbation_of_its_own_shape(
        tiny: tuple, monkeypatch: pytest.MonkeyPatch, epsilon: float,
        expected_norm: float) -> None:
    model, batch = _siamese_batch(tiny)
    width_a, width_b = batch["input_ids_a"].shape[1], batch["input_ids_b"].shape[1]
    assert width_a != width_b  # the case that crashed: the sides have different shapes
    made = _recorded(monkeypatch)
    options = AdversarialOptions(method="pgd", steps=1, epsilon=epsilon, step_size=0.5)
    loss = robust.adversarial_loss(model, STSB.name, batch, options, lambda v: v.backward())
    assert torch.isfinite(loss)
    (perturb,) = made
    hidden = model.hidden_size
    assert [tuple(d.shape) for d in perturb.deltas] == [(4, width_a, hidden),
                                                        (4, width_b, hidden)]
    for delta in perturb.deltas:  # each text of each pair in its own L2 ball
        norms = delta.detach().flatten(start_dim=1).norm(dim=1)
        assert norms.tolist() == pytest.approx([expected_norm] * 4, abs=1e-5)


def test_a_cross_encoder_still_gets_one_perturbation(
        tiny: tuple, monkeypatch: pytest.MonkeyPatch) -> None:
    encoder, tokenizer = tiny
    handler = handler_for(HUMANEVAL)
    torch.manual_seed(0)
    model = TaskModel(encoder)
    model.add_head(HUMANEVAL.name, handler.build_head(HUMANEVAL, model.hidden_size, "mean"))
    examples = [Example(str(i), ("a", "b c d"), i % 2, "en") for i in range(3)]
    features = handler.featurize(HUMANEVAL, examples, tokenizer, FeatureOptions(),
                                 training=True)
    batch = handler.collate(features, [0, 1, 2], tokenizer.pad_token_id)
    model.train()
    made = _recorded(monkeypatch)
    robust.adversarial_loss(model, HUMANEVAL.name, batch,
                            AdversarialOptions(method="freelb", steps=2),
                            lambda v: v.backward())
    (perturb,) = made
    assert [tuple(d.shape) for d in perturb.deltas] == [
        (3, batch["input_ids"].shape[1], model.hidden_size)]


@pytest.mark.parametrize("method", ["pgd", "freelb"])
def test_siamese_adversarial_training_trains_with_a_finite_loss(method: str) -> None:
    encoder, tokenizer = load_encoder("tiny:random")  # a fresh copy: training changes it
    handler = handler_for(STSB, "siamese")
    features = handler.featurize(STSB, _pairs(16), tokenizer, FeatureOptions(max_seq_length=32),
                                 training=True)
    stream = TrainingStream(STSB, handler, features)
    model = _model_with_heads(encoder, [stream], "mean", 0)
    before = {k: v.detach().clone() for k, v in model.encoder.state_dict().items()}
    options = TrainingOptions(epochs=1, batch_size=8, max_seq_length=32, learning_rate=1e-3,
                              warmup_ratio=0.0, pair_encoding="siamese",
                              adversarial=AdversarialOptions(method=method, steps=2))
    result = train_model(model, [stream], options, seed=0, pad_id=tokenizer.pad_token_id)
    assert result.steps == 2  # 16 examples / batch 8
    assert result.forward_passes_per_update == (4 if method == "pgd" else 2)  # 2 + steps | steps
    assert torch.isfinite(torch.tensor(result.final_loss))
    after = model.encoder.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)  # the encoder learned
