"""Multiple choice: padding of choices, masking, decoding, and learning on real COPA."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from xstilts.models import load_encoder
from xstilts.models.heads import TaskModel
from xstilts.tasks import get_task
from xstilts.tasks.base import ChoiceExample
from xstilts.tasktypes import FeatureOptions, handler_for
from xstilts.tasktypes.multiple_choice import MultipleChoiceHandler
from xstilts.tasktypes.predict import predict, row_outputs
from xstilts.training.options import TrainingOptions
from xstilts.training.trainer import TrainingStream, train_model

COPA = get_task("copa")


@pytest.fixture(scope="module")
def tiny() -> tuple:
    return load_encoder("tiny:random")


def _examples() -> list[ChoiceExample]:
    return [
        ChoiceExample("a", "The man fell. What was the CAUSE?", ("He slipped.", "He sang."), 1,
                      "en"),
        ChoiceExample("b", "It rained.", ("The road got wet.", "The sun set.", "A dog barked."), 0,
                      "en"),
    ]


def _model(encoder, handler, task=COPA) -> TaskModel:
    torch.manual_seed(0)
    model = TaskModel(encoder)
    model.add_head(task.name, handler.build_head(task, model.hidden_size, "mean"))
    return model


def test_handler_is_registered_for_multiple_choice() -> None:
    assert isinstance(handler_for(COPA), MultipleChoiceHandler)
    assert isinstance(handler_for(get_task("siqa")), MultipleChoiceHandler)


def test_collate_pads_choices_and_masks_them(tiny: tuple) -> None:
    encoder, tokenizer = tiny
    handler = handler_for(COPA)
    examples = _examples()
    features = handler.featurize(COPA, examples, tokenizer, FeatureOptions(max_seq_length=16),
                                 training=True)
    assert len(features) == 2 and features.example_index == [0, 1]
    assert [len(r["choices"]) for r in features.rows] == [2, 3]
    assert all(len(ids) <= 16 for r in features.rows for ids in r["choices"])
    batch = handler.collate(features, [0, 1], tokenizer.pad_token_id)
    width = max(len(ids) for r in features.rows for ids in r["choices"])
    assert batch["input_ids"].shape == (2, 3, width)
    assert batch["attention_mask"].shape == (2, 3, width)
    assert batch["choice_mask"].tolist() == [[True, True, False], [True, True, True]]
    assert batch["attention_mask"][0, 2].sum() == 0  # the padded choice attends nowhere
    assert batch["labels"].tolist() == [1, 0]

    loss, logits = _model(encoder, handler)(COPA.name, batch)
    assert logits.shape == (2, 3)
    assert torch.isneginf(logits[0, 2]) and torch.isfinite(logits[1]).all()
    assert loss is not None and torch.isfinite(loss)
    loss.backward()


def test_scores_do_not_depend_on_batch_mates(tiny: tuple) -> None:
    """A 2-choice example padded to 3 choices scores its real choices as when alone."""
    encoder, tokenizer = tiny
    handler = handler_for(COPA)
    examples = _examples()
    features = handler.featurize(COPA, examples, tokenizer, FeatureOptions(), training=False)
    model = _model(encoder, handler).eval()
    with torch.no_grad():
        _, together = model(COPA.name, handler.collate(features, [0, 1], 1))
        _, alone = model(COPA.name, handler.collate(features, [0], 1))
    assert torch.allclose(together[0, :2], alone[0], atol=1e-5)


def test_decode_never_picks_a_padded_choice() -> None:
    handler = MultipleChoiceHandler()
    outputs = [np.array([-3.0, -2.0, -np.inf]), np.array([0.1, 0.7, 0.2])]
    assert handler.decode(COPA, [], None, outputs) == [1, 1]


def test_unlabeled_rows_collate_without_labels(tiny: tuple) -> None:
    _, tokenizer = tiny
    handler = handler_for(COPA)
    unlabeled = [ChoiceExample("u", "ctx", ("x", "y"), None, "en")]
    features = handler.featurize(COPA, unlabeled, tokenizer, FeatureOptions(), training=False)
    assert "labels" not in handler.collate(features, [0], 1)
    assert not handler.labeled(COPA, unlabeled)


def _losses(log: Path) -> list[float]:
    return [json.loads(line)["loss"] for line in log.read_text().splitlines() if '"loss"' in line]


def _no_dropout(model: TaskModel) -> None:
    """Memorising a handful of examples is a wiring check; dropout only slows it down."""
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0


def test_tiny_model_memorises_copa(tiny: tuple, shared_data: Path, tmp_path: Path) -> None:
    """16 real COPA examples: loss falls and train accuracy reaches 100 % (wiring check)."""
    encoder, tokenizer = tiny
    handler = handler_for(COPA)
    examples = COPA.load("train", "en", shared_data)[:16]
    features = handler.featurize(COPA, examples, tokenizer, FeatureOptions(max_seq_length=48),
                                 training=True)
    model = _model(encoder, handler)
    _no_dropout(model)
    options = TrainingOptions(epochs=15, batch_size=8, learning_rate=1e-2, warmup_ratio=0.0,
                              freeze_embeddings=True, max_seq_length=48, log_every=1)
    train_model(model, [TrainingStream(COPA, handler, features)], options, seed=0,
                pad_id=tokenizer.pad_token_id, log_path=tmp_path / "log.jsonl")
    losses = _losses(tmp_path / "log.jsonl")
    assert np.mean(losses[-3:]) < 0.25 * np.mean(losses[:3])
    predictions = predict(model, COPA, handler, examples, features,
                          pad_id=tokenizer.pad_token_id)
    score = handler.score(COPA, examples, predictions, resamples=50, confidence=0.95, seed=0)
    assert score[0].metric == "accuracy" and score[0].value == 1.0


@pytest.mark.slow
def test_bundled_encoder_learns_copa(shared_data: Path, tmp_path: Path) -> None:
    """Real setting: e5-small on COPA train (400), scored on COPA dev (100, held out).

    COPA is hard for a small encoder with 400 examples. Measured (seed 0, 3 epochs): dev
    accuracy 0.54, 95 % CI 0.44-0.64, so NOT significantly above chance; the loss falls only
    from 0.69 to 0.67. The assertion (> 0.5) is therefore weak evidence; ``-s`` prints numbers.
    """
    encoder, tokenizer = load_encoder("bundled:multilingual-e5-small")
    handler = handler_for(COPA)
    train = COPA.load("train", "en", shared_data)
    dev = COPA.load("dev", "en", shared_data)
    fopts = FeatureOptions(max_seq_length=64)
    features = handler.featurize(COPA, train, tokenizer, fopts, training=True)
    dev_features = handler.featurize(COPA, dev, tokenizer, fopts, training=False)
    model = _model(encoder, handler)
    options = TrainingOptions(epochs=3, batch_size=16, learning_rate=3e-5,
                              freeze_embeddings=True, max_seq_length=64, log_every=1)
    train_model(model, [TrainingStream(COPA, handler, features)], options, seed=0,
                pad_id=tokenizer.pad_token_id, log_path=tmp_path / "log.jsonl")
    losses = _losses(tmp_path / "log.jsonl")
    outputs = row_outputs(model, COPA.name, handler, dev_features, pad_id=tokenizer.pad_token_id)
    predictions = handler.decode(COPA, dev, dev_features, outputs)
    accuracy = handler.score(COPA, dev, predictions, resamples=1000, confidence=0.95, seed=0)[0]
    print(f"COPA dev accuracy {accuracy}; loss first 5 {np.mean(losses[:5]):.3f} "
          f"last 5 {np.mean(losses[-5:]):.3f}")
    assert np.mean(losses[-5:]) < np.mean(losses[:5])
    assert accuracy.value > 0.5
