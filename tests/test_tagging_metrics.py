"""Token accuracy and entity F1, by hand and against seqeval's default mode."""

from __future__ import annotations

import numpy as np
import pytest

from xstilts.errors import UnlabeledSplitError
from xstilts.evaluation.tagging_metrics import (
    entity_prf,
    extract_entities,
    score_entity_f1,
    score_token_accuracy,
    token_accuracy,
)


def test_token_accuracy_hand_computed() -> None:
    gold = [["NOUN", "VERB", "DET"], ["PRON", "VERB"]]
    pred = [["NOUN", "NOUN", "DET"], ["PRON", "VERB"]]
    # corpus-level: 4 of 5 tokens right = 0.8 (not the mean of sentence scores 2/3 and 1)
    assert token_accuracy(gold, pred) == pytest.approx(0.8)
    score = score_token_accuracy(gold, pred, resamples=200)
    assert score.value == pytest.approx(0.8) and score.n == 5
    assert score.ci_low <= 0.8 <= score.ci_high
    with pytest.raises(ValueError, match="sentence 1"):
        token_accuracy(gold, [["NOUN", "NOUN", "DET"], ["PRON"]])
    with pytest.raises(UnlabeledSplitError):
        token_accuracy([None], [["NOUN"]])


def test_entity_extraction_lenient_i_starts() -> None:
    assert extract_entities(["B-PER", "I-PER", "O", "B-LOC"]) == [("PER", 0, 1), ("LOC", 3, 3)]
    # I- at sentence start, after O, and after another type each open a new entity
    assert extract_entities(["I-PER", "I-PER", "O", "I-LOC", "I-ORG"]) == [
        ("PER", 0, 1), ("LOC", 3, 3), ("ORG", 4, 4)]
    # B- always starts a new entity, even of the same type
    assert extract_entities(["B-PER", "B-PER", "I-PER"]) == [("PER", 0, 0), ("PER", 1, 2)]
    with pytest.raises(ValueError, match="not BIO"):
        extract_entities(["E-PER"])


def test_entity_prf_hand_computed() -> None:
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O"]]
    pred = [["B-PER", "I-PER", "O", "B-ORG"], ["B-ORG", "I-ORG"]]
    # gold: PER(0,1) LOC(3,3) | ORG(0,0)      -> 3
    # pred: PER(0,1) ORG(3,3) | ORG(0,1)      -> 3, only PER(0,1) correct
    # P = 1/3, R = 1/3, F1 = 1/3
    p, r, f = entity_prf(gold, pred)
    assert (p, r, f) == pytest.approx((1 / 3, 1 / 3, 1 / 3))
    # no predicted entities: P = R = F1 = 0 (seqeval's zero_division result)
    assert entity_prf([["B-PER"]], [["O"]]) == (0.0, 0.0, 0.0)
    score = score_entity_f1(gold, pred, resamples=200)
    assert score.value == pytest.approx(1 / 3) and score.n == 2
    assert 0.0 <= score.ci_low <= 1 / 3 <= score.ci_high <= 1.0


def _random_bio(rng: np.random.Generator, n_sent: int) -> list[list[str]]:
    tags = ["O", "O", "O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B", "I"]
    return [[tags[i] for i in rng.integers(0, len(tags), size=rng.integers(1, 12))]
            for _ in range(n_sent)]


def _perturb(rng: np.random.Generator, sents: list[list[str]]) -> list[list[str]]:
    tags = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "I-ORG"]
    return [[t if rng.random() < 0.7 else tags[rng.integers(0, len(tags))] for t in s]
            for s in sents]


@pytest.mark.parametrize("seed", range(20))
def test_agrees_with_seqeval_default_mode(seed: int) -> None:
    seqeval_metrics = pytest.importorskip("seqeval.metrics")
    from seqeval.metrics.sequence_labeling import get_entities

    rng = np.random.default_rng(seed)
    gold = _random_bio(rng, 30)  # random tags: many malformed I- starts and type switches
    pred = _perturb(rng, gold)
    for sent in gold + pred:
        ours = extract_entities(sent)
        theirs = [(t, s, e) for t, s, e in get_entities(sent)]
        assert sorted(ours) == sorted(theirs), sent
    p, r, f = entity_prf(gold, pred)
    assert p == pytest.approx(seqeval_metrics.precision_score(gold, pred))
    assert r == pytest.approx(seqeval_metrics.recall_score(gold, pred))
    assert f == pytest.approx(seqeval_metrics.f1_score(gold, pred))
