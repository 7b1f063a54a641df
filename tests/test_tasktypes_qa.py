"""Extractive QA: span alignment with the real XLM-R tokenizer, decoding, scoring, learning."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from xstilts.errors import XstiltsError
from xstilts.models import load_encoder
from xstilts.models.heads import TaskModel
from xstilts.tasks import get_task
from xstilts.tasks.base import Answer, QAExample
from xstilts.tasktypes import FeatureOptions, handler_for
from xstilts.tasktypes.extractive_qa import (
    best_span,
    check_overflow_windows,
    span_text,
    token_span_of_answer,
    truncate_question,
)
from xstilts.tasktypes.predict import predict
from xstilts.training.options import TrainingOptions
from xstilts.training.trainer import TrainingStream, train_model

XQUAD = get_task("xquad")
MLQA = get_task("mlqa")
HANDLER = handler_for(XQUAD)


@pytest.fixture(scope="module")
def tokenizer():
    """The tiny model's tokenizer is the bundled XLM-R-compatible fast tokenizer."""
    return load_encoder("tiny:random")[1]


def qa(context: str, answer: str, question: str = "What is asked?", language: str = "en",
       qid: str = "q") -> QAExample:
    start = context.index(answer)
    return QAExample(qid, question, context, (Answer(answer, start),), language)


def one_hot_outputs(features, spans: dict[int, tuple[int, int, float]]) -> list[np.ndarray]:
    """Fake head outputs: per row a (start, end, strength) peak, zeros elsewhere, plus padding
    columns with huge logits that decode must ignore (it trims to the row's length)."""
    outputs = []
    for r, row in enumerate(features.rows):
        out = np.zeros((len(row["input_ids"]) + 5, 2), dtype=np.float32)
        out[len(row["input_ids"]):] = 1e6  # padding of a wider batch
        if r in spans:
            s, e, strength = spans[r]
            out[s, 0] = out[e, 1] = strength
        outputs.append(out)
    return outputs


@pytest.mark.parametrize("context, answer, language", [
    ("The Eiffel Tower was completed in 1889 in Paris, France.", "1889", "en"),
    ("The Eiffel Tower was completed in 1889 in Paris, France.", "Paris, France", "en"),
    ("北京是中华人民共和国的首都，位于华北平原。", "首都", "zh"),
    ("北京是中华人民共和国的首都，位于华北平原。", "北京", "zh"),
    ("القاهرة هي عاصمة جمهورية مصر العربية وأكبر مدنها.", "مصر العربية", "ar"),
    ("القاهرة هي عاصمة جمهورية مصر العربية وأكبر مدنها.", "عاصمة", "ar"),
    ("Unbelievably, Zürich's Hauptbahnhof opened in 1847.", "Hauptbahnhof", "de"),
])
def test_answer_span_round_trips_to_the_exact_text(tokenizer, context: str, answer: str,
                                                   language: str) -> None:
    example = qa(context, answer, language=language)
    features = HANDLER.featurize(XQUAD, [example], tokenizer, FeatureOptions(64, 16, 16),
                                 training=True)
    assert len(features) == 1
    row = features.rows[0]
    assert 0 < row["start"] <= row["end"]
    assert row["offsets"][row["start"]] is not None and row["offsets"][row["end"]] is not None
    assert span_text(context, row["offsets"], row["start"], row["end"]) == answer
    outputs = one_hot_outputs(features, {0: (row["start"], row["end"], 10.0)})
    assert HANDLER.decode(XQUAD, [example], features, outputs) == [answer]


def test_only_context_tokens_have_offsets(tokenizer) -> None:
    example = qa("Paris is the capital.", "Paris", question="Which city is the capital?")
    row = HANDLER.featurize(XQUAD, [example], tokenizer, FeatureOptions(64, 16, 16),
                            training=False).rows[0]
    assert "start" not in row
    tokens = tokenizer.convert_ids_to_tokens(row["input_ids"])
    context_tokens = [t for t, o in zip(tokens, row["offsets"], strict=True) if o is not None]
    assert "".join(context_tokens).replace("▁", " ").strip() == "Paris is the capital."
    assert row["offsets"][0] is None and row["offsets"][-1] is None


def long_context(n: int = 60) -> str:
    return " ".join(f"Sentence {i} mentions item{i}." for i in range(n))


class WindowDroppingTokenizer:
    """Behaves like tokenizers 0.23.2: the overflowing windows stop halfway through the
    context (here by windowing only its first half), while plain encodes stay whole."""

    def __init__(self, inner) -> None:
        self.inner = inner

    def __call__(self, *texts, **kwargs):
        if kwargs.get("return_overflowing_tokens"):
            texts = (texts[0], texts[1][: len(texts[1]) // 2])
        return self.inner(*texts, **kwargs)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_a_tokenizer_that_drops_overflow_windows_is_refused(tokenizer) -> None:
    check_overflow_windows(tokenizer)  # the installed tokenizers windows the whole context
    example = qa(long_context(20), "item9")
    options = FeatureOptions(max_seq_length=48, doc_stride=12, max_query_length=16)
    with pytest.raises(XstiltsError, match="tokenizers#2091"):
        HANDLER.featurize(XQUAD, [example], WindowDroppingTokenizer(tokenizer), options,
                          training=True)


def test_answer_in_second_window_with_doc_stride(tokenizer) -> None:
    context = long_context(20)
    answer = "item9"
    example = qa(context, answer)
    options = FeatureOptions(max_seq_length=48, doc_stride=12, max_query_length=16)
    features = HANDLER.featurize(XQUAD, [example], tokenizer, options, training=True)
    assert len(features) > 2 and set(features.example_index) == {0}
    labelled = [r for r, row in enumerate(features.rows) if row["start"] > 0]
    assert labelled and labelled[0] >= 1, "the answer sits beyond the first window"
    first = features.rows[0]
    assert (first["start"], first["end"]) == (0, 0)  # CLS: the answer is not in window 1
    for r in labelled:
        row = features.rows[r]
        assert span_text(context, row["offsets"], row["start"], row["end"]) == answer
    # Consecutive windows overlap by doc_stride context tokens.
    spans = [[o for o in row["offsets"] if o is not None] for row in features.rows]
    assert spans[0][-12:] == spans[1][:12]
    assert all(len(row["input_ids"]) <= 48 for row in features.rows)
    # A weak wrong span in window 0 loses to a strong right one in the answer's window.
    target = features.rows[labelled[0]]
    outputs = one_hot_outputs(features, {0: (8, 9, 3.0),
                                         labelled[0]: (target["start"], target["end"], 9.0)})
    assert HANDLER.decode(XQUAD, [example], features, outputs) == [answer]


def test_long_question_is_cut_to_max_query_length(tokenizer) -> None:
    question = "Why " + "really " * 40 + "?"
    short = truncate_question(question, tokenizer, 5)
    assert question.startswith(short)
    assert len(tokenizer(short, add_special_tokens=False)["input_ids"]) == 5
    example = qa(long_context(5), "item3", question=question)
    features = HANDLER.featurize(XQUAD, [example], tokenizer, FeatureOptions(40, 8, 5),
                                 training=True)
    assert all(len(row["input_ids"]) <= 40 for row in features.rows)
    with pytest.raises(XstiltsError, match="max_seq_length"):
        HANDLER.featurize(XQUAD, [example], tokenizer, FeatureOptions(12, 8, 8), training=True)


def test_token_span_of_answer_edge_cases() -> None:
    offsets = [None, (0, 3), (3, 7), (7, 8), (8, 10), None]
    assert token_span_of_answer(offsets, 4, 7) == (2, 2)  # inside a token with its space
    assert token_span_of_answer(offsets, 8, 10) == (4, 4)
    assert token_span_of_answer(offsets, 0, 10) == (1, 4)
    assert token_span_of_answer(offsets, 9, 12) == (0, 0)  # runs past the window
    assert token_span_of_answer([None, None], 0, 1) == (0, 0)


def test_best_span_respects_order_and_length() -> None:
    start = np.array([-1, -1, -1, -1, 5.0, -1, -1])
    end = np.array([0, 0, 6.0, 0, 0, 0, 1.0])
    score, s, e = best_span(start, end, [1, 2, 3, 4, 5, 6])
    assert (s, e) == (4, 6) and score == pytest.approx(6.0)  # end before start is ruled out
    long_end = np.zeros(50)
    long_end[45] = 9.0
    _, s, e = best_span(np.eye(1, 50, 1).ravel() * 9, long_end, list(range(1, 50)),
                        max_answer_tokens=30)
    assert e - s < 30
    assert best_span(start, end, []) is None


def test_mlqa_scoring_uses_the_answer_language() -> None:
    example = qa("Er wohnt in der Stadt.", "Stadt", language="de")
    mlqa = HANDLER.score(MLQA, [example], ["der Stadt"], resamples=10, confidence=0.9, seed=0)
    squad = HANDLER.score(XQUAD, [example], ["der Stadt"], resamples=10, confidence=0.9, seed=0)
    assert [s.metric for s in mlqa] == ["f1", "exact_match"]
    assert mlqa[1].value == 1.0  # MLQA drops German articles
    assert squad[1].value == 0.0  # SQuAD rules keep "der"
    assert HANDLER.gold(MLQA, example) == ["Stadt"]


def test_unanswerable_and_unlabeled_questions_are_refused() -> None:
    unanswerable = QAExample("u", "q?", "ctx", (), "en")
    with pytest.raises(XstiltsError, match="unanswerable .* has_unanswerable=True"):
        HANDLER.score(XQUAD, [unanswerable], [""], resamples=10, confidence=0.9, seed=0)
    unlabeled = QAExample("n", "q?", "ctx", None, "en")
    assert HANDLER.gold(XQUAD, unlabeled) is None
    assert not HANDLER.labeled(XQUAD, [unlabeled])


def test_tiny_model_overfits_tydiqa(shared_data: Path, tmp_path: Path) -> None:
    """Wiring proof: a random tiny encoder memorises 16 real TyDiQA questions."""
    task = get_task("tydiqa")
    examples = task.load("train", "en", shared_data)[:16]
    encoder, tokenizer = load_encoder("tiny:random")
    options = TrainingOptions(epochs=15, batch_size=64, learning_rate=1e-2, warmup_ratio=0.0,
                              weight_decay=0.0, max_seq_length=96, doc_stride=32, log_every=1)
    fopts = FeatureOptions(96, 32, 32)
    handler = handler_for(task)
    train = handler.featurize(task, examples, tokenizer, fopts, training=True)
    evaluation = handler.featurize(task, examples, tokenizer, fopts, training=False)
    torch.manual_seed(0)
    model = TaskModel(encoder)
    model.add_head(task.name, handler.build_head(task, model.hidden_size, "mean"))

    def f1() -> float:
        predictions = predict(model, task, handler, examples, evaluation,
                              pad_id=tokenizer.pad_token_id)
        return handler.score(task, examples, predictions, resamples=10, confidence=0.9,
                             seed=0)[0].value

    before = f1()
    log = tmp_path / "log.jsonl"
    result = train_model(model, [TrainingStream(task, handler, train)], options, seed=0,
                         pad_id=tokenizer.pad_token_id, log_path=log)
    after = f1()
    losses = [json.loads(line)["loss"] for line in log.read_text().splitlines()
              if "loss" in line]
    print(f"tydiqa overfit: rows {len(train)}, loss {losses[0]:.2f} -> {result.final_loss:.2f}, "
          f"train F1 {before:.3f} -> {after:.3f}, {result.train_seconds}s")
    assert result.final_loss < losses[0] / 3
    assert before < 0.3 and after > 0.7
