"""Handlers own scoring: primary metric, official metric and per-example statistics per type.

Every expected value is worked out by hand in the comments; the report and the trainer take
these answers from the handler, never from the order of stored metrics or a file's JSON shape.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import pearsonr, spearmanr

from xstilts.tasks import get_task
from xstilts.tasks.base import Answer, ChoiceExample, Example, QAExample, TaggingExample
from xstilts.tasktypes import encoder_handler_for, handler_for
from xstilts.tasktypes.per_example import (
    ENTITY_F1,
    PEARSON,
    SPAN_F1,
    SPEARMAN,
    ExampleStatistics,
    TaskScoring,
)

PRIMARY = {  # task -> (primary metric, official metric)
    "xnli": ("accuracy", "accuracy"),            # pair classification
    "sst2": ("accuracy", "accuracy"),            # classification
    "xcopa": ("accuracy", "accuracy"),           # multiple choice
    "udpos": ("span_f1", "span_f1"),             # XTREME "f1" on raw UPOS tags = span F1
    "panx": ("entity_f1", "entity_f1"),          # BIO: seqeval's default-mode F1
    "xquad": ("f1", "f1"), "mlqa": ("f1", "f1"), "tydiqa": ("f1", "f1"), "squad2": ("f1", "f1"),
    "stsb": ("spearman", "spearman"),            # regression, whatever task.metric says
}


def _handled(name: str, pair_encoding: str = "cross"):
    task = get_task(name)
    return task, handler_for(task, pair_encoding)


@pytest.mark.parametrize("name", sorted(PRIMARY))
def test_primary_and_official_metric_per_type(name: str) -> None:
    task, handler = _handled(name)
    assert (handler.primary_metric(task), handler.official_metric(task)) == PRIMARY[name]


def test_siamese_and_retrieval_answer_the_same_questions() -> None:
    for name, metric in (("stsb", "spearman"), ("pawsx", "accuracy")):
        task, handler = _handled(name, "siamese")
        assert handler.primary_metric(task) == metric
    for name, metric in (("tatoeba", "accuracy"), ("bucc2018", "f1"), ("lareqa", "map@20")):
        task = get_task(name)
        handler = encoder_handler_for(task)
        assert isinstance(handler, TaskScoring)
        assert handler.primary_metric(task) == handler.official_metric(task) == metric


def test_benchmark_category_per_type() -> None:
    """XTREME-R's categories: multiple choice counts as classification; regression is its own."""
    expected = {"xnli": "classification", "sst2": "classification", "xcopa": "classification",
                "udpos": "structured prediction", "panx": "structured prediction",
                "xquad": "question answering", "stsb": "regression"}
    for name, category in expected.items():
        task, handler = _handled(name)
        assert handler.category(task) == category
    task, handler = _handled("stsb", "siamese")
    assert handler.category(task) == "regression"
    tatoeba = get_task("tatoeba")
    assert encoder_handler_for(tatoeba).category(tatoeba) == "retrieval"


def _first_score(name: str, examples: list, predictions: list) -> str:
    task, handler = _handled(name)
    return handler.score(task, examples, predictions, resamples=5, confidence=0.9,
                         seed=0)[0].metric


def test_the_primary_metric_is_the_first_score_dev_selection_used() -> None:
    """The trainer selected on ``score(...)[0]``; ``primary_metric`` names that same score."""
    pairs = [Example(f"p{i}", ("a", "b"), i % 3, "en") for i in range(3)]
    assert _first_score("xnli", pairs, [0, 1, 1]) == "accuracy"
    choices = [ChoiceExample("c0", "ctx", ("x", "y"), 1, "en")]
    assert _first_score("xcopa", choices, [1]) == "accuracy"
    pos = [TaggingExample("s0", ("a", "b"), (0, 1), "en")]
    assert _first_score("udpos", pos, [list(get_task("udpos").labels[:2])]) == "span_f1"
    ner_labels = get_task("panx").labels
    ner = [TaggingExample("s0", ("a",), (ner_labels.index("O"),), "en")]
    assert _first_score("panx", ner, [["O"]]) == "entity_f1"
    qa = [QAExample("q0", "q?", "the cat", (Answer("cat", 4),), "en")]
    assert _first_score("xquad", qa, ["cat"]) == "f1"
    assert _first_score("squad2", [QAExample("q1", "q?", "x", (), "en")], [""]) == "f1"
    sts = [Example(f"t{i}", ("a", "b"), float(i), "en") for i in range(4)]
    assert _first_score("stsb", sts, [0.0, 1.5, 1.0, 3.0]) == "spearman"


def _records(golds: list, predictions: list) -> list[dict]:
    return [{"id": f"e{i}", "gold": g, "prediction": p}
            for i, (g, p) in enumerate(zip(golds, predictions, strict=True))]


def _stats(name: str, metric: str, records: list[dict], language: str = "en"
           ) -> ExampleStatistics | None:
    task, handler = _handled(name)
    return handler.example_statistics(task, metric, language, records)


def test_accuracy_is_one_zero_per_example() -> None:
    # gold 0 1 2 1, predicted 0 2 2 1: correct 1 0 1 1, accuracy 3/4
    stats = _stats("xnli", "accuracy", _records([0, 1, 2, 1], [0, 2, 2, 1]))
    assert stats is not None and stats.values.tolist() == [1.0, 0.0, 1.0, 1.0]
    assert stats.value == 0.75 and stats.form is None and stats.ids == ("e0", "e1", "e2", "e3")
    assert _stats("xnli", "accuracy", _records([0, None], [0, 1])) is None  # unlabeled
    assert _stats("xnli", "f1", _records([0], [0])) is None  # a metric it never stores
    assert _stats("xcopa", "accuracy", _records([1, 0], [1, 1])).values.tolist() == [1.0, 0.0]


def test_qa_scores_per_question_under_the_tasks_rules() -> None:
    # "the Cat" vs "cat": SQuAD drops the article -> EM 1, F1 1.
    # "New York City" vs "York": shared 1 token, P = 1, R = 1/3 -> F1 = 2(1/3)/(4/3) = 0.5
    records = _records([["the Cat"], ["New York City"]], ["cat", "York"])
    f1 = _stats("xquad", "f1", records)
    assert f1.values.tolist() == pytest.approx([1.0, 0.5]) and f1.value == pytest.approx(0.75)
    assert _stats("xquad", "exact_match", records).values.tolist() == [1.0, 0.0]
    # MLQA German drops "die": "die Stadt" vs "Stadt" is EM 1 there; SQuAD v1.1 rules keep it
    # (EM 0, F1: shared 1, P = 1, R = 1/2 -> 2/3), so the file's language picks the rules.
    german = _records([["die Stadt"]], ["Stadt"])
    assert _stats("mlqa", "exact_match", german, "de").values.tolist() == [1.0]
    assert _stats("xquad", "exact_match", german, "de").values.tolist() == [0.0]
    assert _stats("xquad", "f1", german, "de").values.tolist() == pytest.approx([2 / 3])
    # SQuAD 2.0: "" on an unanswerable question scores 1, on an answerable one 0 -> mean 1/2
    squad2 = _records([[], ["Paris"]], ["", ""])
    assert _stats("squad2", "f1", squad2).values.tolist() == [1.0, 0.0]
    assert _stats("squad2", "has_ans_f1", squad2) is None  # a subset mean: not per example
    assert _stats("xquad", "f1", squad2) is None  # v1.1 rules cannot score a question with no gold


def test_tagging_counts_and_token_weights() -> None:
    # gold DET | NOUN NOUN | VERB (3 spans), predicted DET | NOUN | ADJ | VERB (4): 2 correct
    # -> counts (2, 4, 3), span F1 = 2·2 / (4 + 3) = 4/7
    gold = [["DET", "NOUN", "NOUN", "VERB"], ["PRON"]]
    pred = [["DET", "NOUN", "ADJ", "VERB"], ["PRON"]]
    span = _stats("udpos", "span_f1", _records(gold, pred))
    assert span.form is SPAN_F1 and span.values[0].tolist() == [2, 4, 3]
    # sentence 2: one PRON span, correct -> (1, 1, 1); corpus F1 = 2·3 / (5 + 4) = 2/3
    assert span.value == pytest.approx(2 / 3)
    # token accuracy over all 5 tokens = 4/5; per sentence: correct × 2 sentences / 5 tokens
    tokens = _stats("udpos", "token_accuracy", _records(gold, pred))
    assert tokens.values.tolist() == pytest.approx([3 * 2 / 5, 1 * 2 / 5])
    assert tokens.value == pytest.approx(4 / 5)
    # PAN-X: gold {PER 0-1, LOC 3}, predicted {PER 0-1, ORG 3}: counts (1, 2, 2), F1 1/2
    ner = _stats("panx", "entity_f1", _records([["B-PER", "I-PER", "O", "B-LOC"]],
                                                [["B-PER", "I-PER", "O", "B-ORG"]]))
    assert ner.form is ENTITY_F1 and ner.values.tolist() == [[1, 2, 2]] and ner.value == 0.5
    assert _stats("udpos", "span_f1", _records([None], [["PRON"]])) is None  # unlabeled
    assert _stats("udpos", "token_accuracy", _records([["PRON", "DET"]], [["PRON"]])) is None


def test_correlations_keep_gold_prediction_rows() -> None:
    # gold 1 2 3 4 (ranks 1-4), predicted 1.1 2.9 2.5 2.9 (ranks 1, 3.5, 2, 3.5):
    # Pearson of the ranks: covariance 0.75, variances 1.25 and 1.125 -> 0.6325
    records = _records([1.0, 2.0, 3.0, 4.0], [1.1, 2.9, 2.5, 2.9])
    rho = _stats("stsb", "spearman", records)
    assert rho.form is SPEARMAN and rho.values.tolist() == [[1.0, 1.1], [2.0, 2.9], [3.0, 2.5],
                                                             [4.0, 2.9]]
    assert rho.value == pytest.approx(0.75 / np.sqrt(1.25 * 1.125), abs=1e-12)
    assert rho.value == pytest.approx(spearmanr([1, 2, 3, 4], [1.1, 2.9, 2.5, 2.9]).statistic)
    r = _stats("stsb", "pearson", records)
    assert r.form is PEARSON
    assert r.value == pytest.approx(pearsonr([1, 2, 3, 4], [1.1, 2.9, 2.5, 2.9]).statistic)
    siamese = _handled("stsb", "siamese")
    assert siamese[1].example_statistics(siamese[0], "spearman", "en", records).value == rho.value
    assert _stats("stsb", "spearman", _records([1.0, None], [1.0, 2.0])) is None  # unlabeled
    assert _stats("stsb", "mse", records) is None  # a metric it never stores


def test_unpaired_retrieval_metrics_do_not_decompose() -> None:
    records = _records([1.0, 2.0, 3.0], [1.1, 2.5, 2.9])
    task = get_task("tatoeba")
    retrieval = encoder_handler_for(task)
    stats = retrieval.example_statistics(task, "accuracy", "de", _records([0, 1, 2], [0, 2, 2]))
    assert stats.values.tolist() == [1.0, 0.0, 1.0]
    bucc = get_task("bucc2018")
    assert encoder_handler_for(bucc).example_statistics(bucc, "f1", "de", records) is None


def test_statistics_check_their_shape() -> None:
    with pytest.raises(ValueError, match="one score per example id"):
        ExampleStatistics("accuracy", ("a", "b"), np.array([1.0]))
