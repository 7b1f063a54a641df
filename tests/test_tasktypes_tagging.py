"""Token tagging: first-subword alignment, long-sentence splitting, metrics, learning, a study."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch

from xstilts.models import load_encoder
from xstilts.models.heads import TaskModel
from xstilts.report.summary import write_report
from xstilts.studies.executor import run_study
from xstilts.studies.spec import load_study
from xstilts.tasks import get_task
from xstilts.tasks.base import TaggingExample
from xstilts.tasktypes import FeatureOptions, handler_for
from xstilts.tasktypes.predict import predict
from xstilts.tasktypes.tagging import IGNORE, is_bio, split_into_pieces, unseen_words
from xstilts.training.options import TrainingOptions
from xstilts.training.trainer import TrainingStream, train_model

UDPOS = get_task("udpos")
PANX = get_task("panx")
HANDLER = handler_for(UDPOS)


@pytest.fixture(scope="module")
def tokenizer():
    """The tiny model's tokenizer is the bundled XLM-R-compatible fast tokenizer."""
    return load_encoder("tiny:random")[1]


def tagged(words: list[str], tags: list[str], task=UDPOS) -> TaggingExample:
    return TaggingExample("s", tuple(words), tuple(task.labels.index(t) for t in tags), "xx")


def perfect_outputs(features, examples, num_labels: int) -> list[np.ndarray]:
    """Fake head outputs that put the gold tag of each word at its first sub-token (and
    noise elsewhere, plus padding columns beyond the row's length)."""
    rng = np.random.default_rng(0)
    outputs = []
    for row, k in zip(features.rows, features.example_index, strict=True):
        out = rng.normal(size=(len(row["input_ids"]) + 3, num_labels)).astype(np.float32)
        for position, word in enumerate(row["word_at"]):
            if word >= 0:
                out[position, examples[k].tags[word]] = 50.0
        outputs.append(out)
    return outputs


def test_first_subtoken_carries_the_label(tokenizer) -> None:
    words = ["Unbelievably", ",", "Zürich", "北京大学", "القاهرة", "opened", "."]
    tags = ["ADV", "PUNCT", "PROPN", "PROPN", "PROPN", "VERB", "PUNCT"]
    example = tagged(words, tags)
    features = HANDLER.featurize(UDPOS, [example], tokenizer, FeatureOptions(64), training=True)
    assert len(features) == 1
    row = features.rows[0]
    word_ids = tokenizer([words], is_split_into_words=True).word_ids(0)
    assert len(word_ids) == len(row["input_ids"])
    firsts = [i for i, w in enumerate(word_ids) if w is not None and w != word_ids[i - 1]]
    assert [i for i, w in enumerate(row["word_at"]) if w >= 0] == firsts
    assert [row["word_at"][i] for i in firsts] == list(range(len(words)))
    assert [row["labels"][i] for i in firsts] == list(example.tags)
    assert all(row["labels"][i] == IGNORE for i in range(len(word_ids)) if i not in firsts)
    assert row["labels"][0] == IGNORE and row["labels"][-1] == IGNORE  # <s> and </s>
    assert len(row["input_ids"]) > len(words) + 2, "some words split into several sub-tokens"
    outputs = perfect_outputs(features, [example], UDPOS.num_labels)
    assert HANDLER.decode(UDPOS, [example], features, outputs) == [tags]


def test_long_sentences_become_several_rows_and_every_word_is_predicted(tokenizer) -> None:
    words = [f"Wort{i}" for i in range(40)] + ["Donaudampfschifffahrtsgesellschaft" * 3]
    tags = ["NOUN" if i % 2 else "VERB" for i in range(40)] + ["PROPN"]
    long_one, short_one = tagged(words, tags), tagged(["Hi", "!"], ["INTJ", "PUNCT"])
    examples = [long_one, short_one]
    features = HANDLER.featurize(UDPOS, examples, tokenizer, FeatureOptions(16), training=True)
    assert features.example_index.count(0) > 3 and features.example_index.count(1) == 1
    assert all(len(row["input_ids"]) <= 16 for row in features.rows)
    covered = sorted(w for row, k in zip(features.rows, features.example_index, strict=True)
                     if k == 0 for w in row["word_at"] if w >= 0)
    assert covered == list(range(len(words)))  # each word exactly once, none lost
    assert unseen_words(features) == 0
    outputs = perfect_outputs(features, examples, UDPOS.num_labels)
    predictions = HANDLER.decode(UDPOS, examples, features, outputs)
    assert predictions == [tags, ["INTJ", "PUNCT"]]
    score = HANDLER.score(UDPOS, examples, predictions, resamples=10, confidence=0.9, seed=0)
    assert [s.metric for s in score] == ["span_f1", "token_accuracy"]
    assert score[0].value == 1.0 and score[0].n == 2  # span F1: n = sentences
    assert score[1].value == 1.0 and score[1].n == len(words) + 2  # accuracy: n = tokens


def test_split_into_pieces() -> None:
    assert split_into_pieces([2, 2, 2], 4) == [(0, 2), (2, 3)]
    assert split_into_pieces([1, 9, 1], 4) == [(0, 1), (1, 2), (2, 3)]  # overlong word alone
    assert split_into_pieces([], 4) == [(0, 0)]


def test_unlabeled_rows_collate_without_labels(tokenizer) -> None:
    example = TaggingExample("u", ("a", "b"), None, "en")
    features = HANDLER.featurize(UDPOS, [example], tokenizer, FeatureOptions(16), training=False)
    batch = HANDLER.collate(features, [0], tokenizer.pad_token_id)
    assert "labels" not in batch and HANDLER.gold(UDPOS, example) is None


def test_metric_follows_the_label_scheme() -> None:
    assert is_bio(PANX.labels) and not is_bio(UDPOS.labels)
    assert HANDLER.primary_metric(PANX) == "entity_f1"
    assert HANDLER.primary_metric(UDPOS) == "span_f1"
    # UD-POS: the primary (first) score is XTREME's seqeval span F1, token accuracy second.
    # NOUN NOUN VERB vs NOUN VERB VERB: spans (0-1 N, 2 V) vs (0 N, 1-2 V) share none -> F1 0,
    # while 2 of 3 tags are right
    pos = tagged(["dogs", "cats", "run"], ["NOUN", "NOUN", "VERB"])
    pos_scores = HANDLER.score(UDPOS, [pos], [["NOUN", "VERB", "VERB"]], resamples=10,
                               confidence=0.9, seed=0)
    assert [(s.metric, s.value) for s in pos_scores] == [
        ("span_f1", 0.0), ("token_accuracy", pytest.approx(2 / 3))]
    gold = tagged(["Angela", "Merkel", "visited", "Paris"], ["B-PER", "I-PER", "O", "B-LOC"],
                  PANX)
    wrong_type = ["B-PER", "I-PER", "O", "B-ORG"]
    score = HANDLER.score(PANX, [gold], [wrong_type], resamples=10, confidence=0.9, seed=0)
    assert score[0].metric == "entity_f1" and score[0].value == pytest.approx(0.5)


def test_dev_model_selection_uses_span_f1_for_udpos(monkeypatch) -> None:
    """The trainer's dev score (best epoch, early stopping) is the first score: for UD-POS the
    seqeval span F1 (0.0 here), not the token accuracy (2/3)."""
    from xstilts.training import trainer

    dev = [tagged(["dogs", "cats", "run"], ["NOUN", "NOUN", "VERB"])]
    monkeypatch.setattr(trainer, "predict",
                        lambda *args, **kwargs: [["NOUN", "VERB", "VERB"]])
    stream = TrainingStream(UDPOS, HANDLER, train=None, dev_examples=dev, dev=object())
    scores = trainer._dev_scores(None, [stream], pad_id=0, batch_size=8,
                                 device=torch.device("cpu"), bf16=False)
    assert scores == {"udpos": 0.0}


def _train_and_score(task, train_examples, eval_sets, *, encoder_name: str,
                     options: TrainingOptions, tmp_path: Path, metric: str | None = None):
    """Train a fresh head (and encoder) on ``train_examples``; score each eval set with
    ``metric`` (default: the handler's primary metric, its first score)."""
    encoder, tokenizer = load_encoder(encoder_name)
    handler = handler_for(task)
    fopts = FeatureOptions(options.max_seq_length)
    train = handler.featurize(task, train_examples, tokenizer, fopts, training=True)
    torch.manual_seed(0)
    model = TaskModel(encoder)
    model.add_head(task.name, handler.build_head(task, model.hidden_size, "mean"))

    def scores() -> list[float]:
        out = []
        for examples in eval_sets:
            features = handler.featurize(task, examples, tokenizer, fopts, training=False)
            predictions = predict(model, task, handler, examples, features,
                                  pad_id=tokenizer.pad_token_id)
            scored = handler.score(task, examples, predictions, resamples=10,
                                   confidence=0.9, seed=0)
            out.append(next(s.value for s in scored
                            if s.metric == (metric or handler.primary_metric(task))))
        return out

    before = scores()
    log = tmp_path / "log.jsonl"
    result = train_model(model, [TrainingStream(task, handler, train)], options, seed=0,
                         pad_id=tokenizer.pad_token_id, log_path=log)
    losses = [json.loads(line)["loss"] for line in log.read_text().splitlines()
              if "loss" in line]
    return before, scores(), losses[0], result


@pytest.mark.parametrize("task_name", ["udpos", "panx"])
def test_tiny_model_overfits_real_sentences(task_name: str, shared_data: Path,
                                            tmp_path: Path) -> None:
    """Wiring proof: a random tiny encoder memorises 32 real English sentences."""
    task = get_task(task_name)
    examples = task.load("train", "en", shared_data)[:32]
    options = TrainingOptions(epochs=12, batch_size=64, learning_rate=1e-2, warmup_ratio=0.0,
                              weight_decay=0.0, max_seq_length=64, log_every=1)
    (before,), (after,), first_loss, result = _train_and_score(
        task, examples, [examples], encoder_name="tiny:random", options=options,
        tmp_path=tmp_path)
    print(f"{task_name} overfit: loss {first_loss:.2f} -> {result.final_loss:.2f}, "
          f"train {HANDLER.primary_metric(task)} {before:.3f} -> {after:.3f}, "
          f"{result.train_seconds}s")
    assert result.final_loss < first_loss / 4
    assert after > 0.7 and after > before + 0.4


def majority_accuracy(train_examples, eval_examples) -> float:
    """Token accuracy of always predicting the training set's most frequent tag."""
    counts = Counter(t for ex in train_examples for t in ex.tags)
    tag = counts.most_common(1)[0][0]
    tags = [t for ex in eval_examples for t in ex.tags]
    return sum(t == tag for t in tags) / len(tags)


@pytest.mark.slow
def test_bundled_encoder_learns_udpos_and_transfers_zero_shot(shared_data: Path,
                                                              tmp_path: Path) -> None:
    """Held-out check with a real encoder: 300 English sentences, one epoch, frozen word
    embeddings; accuracy on unseen English and German dev sentences far above the majority
    tag."""
    train = UDPOS.load("train", "en", shared_data)[:300]
    dev_en = UDPOS.load("dev", "en", shared_data)[:100]
    dev_de = UDPOS.load("dev", "de", shared_data)[:100]
    options = TrainingOptions(epochs=1, batch_size=32, learning_rate=3e-4, warmup_ratio=0.1,
                              max_seq_length=64, freeze_embeddings=True, log_every=1)
    before, (en, de), first_loss, result = _train_and_score(
        UDPOS, train, [dev_en, dev_de], encoder_name="bundled:multilingual-e5-small",
        options=options, tmp_path=tmp_path, metric="token_accuracy")
    majority = [majority_accuracy(train, dev) for dev in (dev_en, dev_de)]
    print(f"udpos bundled: loss {first_loss:.2f} -> {result.final_loss:.2f} in "
          f"{result.steps} steps ({result.train_seconds}s); accuracy en {before[0]:.3f} -> "
          f"{en:.3f}, de {before[1]:.3f} -> {de:.3f}; majority tag en {majority[0]:.3f}, "
          f"de {majority[1]:.3f}")
    assert en > max(0.4, 2 * majority[0])
    assert de > max(0.3, 2 * majority[1])


PANX_STUDY = """
name: tiny-panx
encoder: tiny:random
seeds: [0]
targets:
  - task: panx
    languages: [en, de]
    train_split: train
    eval_split: dev
training: {epochs: 1, batch_size: 32, max_seq_length: 32, max_train_examples: 64,
           max_dev_examples: 16, learning_rate: 0.001}
evaluation: {max_examples: 20, bootstrap_resamples: 50}
"""


def test_panx_study_end_to_end(shared_data: Path, tmp_path: Path) -> None:
    path = tmp_path / "study.yaml"
    path.write_text(PANX_STUDY, encoding="utf-8")
    out = tmp_path / "out"
    outcome = run_study(load_study(path), out, data_dir=shared_data, study_path=path,
                        log=lambda _: None)
    assert not outcome.failed and len(outcome.done) == 1
    predictions = next((out / "runs").glob("*/predictions/de.jsonl")).read_text().splitlines()
    assert len(predictions) == 20
    first = json.loads(predictions[0])
    assert len(first["prediction"]) == len(first["gold"])
    assert set(first["prediction"]) <= set(PANX.labels)
    with (write_report(out) / "results.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert {(r["language"], r["metric"]) for r in rows} == {("en", "entity_f1"),
                                                           ("de", "entity_f1")}
    for r in rows:
        assert r["target_task"] == "panx" and r["split"] == "dev"
        assert 0.0 <= float(r["ci_low"]) <= float(r["value"]) <= float(r["ci_high"]) <= 1.0
