"""seqeval span F1 (XTREME's UD-POS "F1"): hand-worked cases and seqeval 1.x as an oracle.

Span notation below: (type, start, end) with offsets into the flattened corpus, where every
sentence is followed by an "O" separator (sentence k starts after k separators). seqeval 1.x
reads a raw tag as chunk tag = first character, type = the rest: NOUN -> N/OUN, VERB -> V/ERB,
X -> X/_ (the separator "O" is O/_ too), SCONJ -> S/CONJ, CCONJ -> C/CONJ.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from xstilts.errors import UnlabeledSplitError
from xstilts.evaluation.tagging_metrics import (
    entity_prf,
    score_span_f1,
    sentence_span_counts,
    seqeval_prf,
    seqeval_spans,
    token_accuracy,
)
from xstilts.tasks import get_task


def test_issue_example_span_f1_zero_token_accuracy_two_thirds() -> None:
    gold, pred = [["NOUN", "NOUN", "VERB"]], [["NOUN", "VERB", "VERB"]]
    # gold spans: NOUN NOUN is ONE span (OUN,0,1), then (ERB,2,2)
    # pred spans: (OUN,0,0), (ERB,1,2): neither boundary matches -> TP 0 -> P = R = F1 = 0
    assert seqeval_spans(gold) == [("OUN", 0, 1), ("ERB", 2, 2)]
    assert seqeval_spans(pred) == [("OUN", 0, 0), ("ERB", 1, 2)]
    assert seqeval_prf(gold, pred) == (0.0, 0.0, 0.0)
    assert token_accuracy(gold, pred) == pytest.approx(2 / 3)  # 2 of 3 tags right


def test_sconj_and_sym_are_single_token_spans() -> None:
    # S... tags are seqeval's "S" (single) chunk tag: a run of them is one span per token,
    # unlike NOUN NOUN (one span)
    assert seqeval_spans([["SCONJ", "SCONJ", "SYM", "SYM"]]) == [
        ("CONJ", 0, 0), ("CONJ", 1, 1), ("YM", 2, 2), ("YM", 3, 3)]
    gold = [["SCONJ", "SCONJ", "NOUN", "NOUN"]]
    pred = [["SCONJ", "SCONJ", "NOUN", "VERB"]]
    # gold: (CONJ,0,0) (CONJ,1,1) (OUN,2,3)            -> 3 spans
    # pred: (CONJ,0,0) (CONJ,1,1) (OUN,2,2) (ERB,3,3)  -> 4 spans; TP = 2 (the two SCONJ)
    # P = 2/4, R = 2/3, F1 = 2 * 1/2 * 2/3 / (1/2 + 2/3) = (2/3) / (7/6) = 4/7
    p, r, f = seqeval_prf(gold, pred)
    assert (p, r, f) == pytest.approx((1 / 2, 2 / 3, 4 / 7), abs=1e-15)
    assert token_accuracy(gold, pred) == pytest.approx(3 / 4)
    # CCONJ and SCONJ share the type CONJ: CCONJ then SCONJ loses the CCONJ span (the S
    # restarts the open CONJ chunk without closing it); the SCONJ closes at the separator
    assert seqeval_spans([["CCONJ", "SCONJ"]]) == [("CONJ", 1, 1)]


def test_x_at_sentence_boundaries() -> None:
    # flattened gold: NOUN X O X VERB O O (positions 0..6). X has type "_" like the "O"
    # separator, so the X at 1 is not closed by the separator and the X at 3 does not start a
    # new span: one span (_,1,3) across the two sentences, closed by VERB
    gold = [["NOUN", "X"], ["X", "VERB"]]
    pred = [["NOUN", "X"], ["NOUN", "VERB"]]
    assert seqeval_spans(gold) == [("OUN", 0, 0), ("_", 1, 3), ("ERB", 4, 4)]
    # pred: the X at 1 is never closed (the separator before NOUN resets prev_tag to O): dropped
    assert seqeval_spans(pred) == [("OUN", 0, 0), ("OUN", 3, 3), ("ERB", 4, 4)]
    # TP = (OUN,0,0) + (ERB,4,4) = 2; P = 2/3, R = 2/3, F1 = 2/3
    assert seqeval_prf(gold, pred) == pytest.approx((2 / 3, 2 / 3, 2 / 3), abs=1e-15)
    # per sentence (a span counts where it starts; sentence 1 starts at offset 3):
    # sentence 0: TP 1 (OUN 0), pred 1 (OUN 0), gold 2 (OUN 0, _ 1)
    # sentence 1: TP 1 (ERB 4), pred 2 (OUN 3, ERB 4), gold 1 (ERB 4)
    assert sentence_span_counts(gold, pred).tolist() == [[1, 1, 2], [1, 2, 1]]
    # an X that ends the corpus is never closed either, and a lone X sentence has no span
    assert seqeval_spans([["NOUN", "X"]]) == [("OUN", 0, 0)]
    assert seqeval_spans([["X"]]) == []
    assert seqeval_prf([["X"]], [["X"]]) == (0.0, 0.0, 0.0)  # no spans: 0 (zero_division)
    # an X opening a later sentence continues the last span that began (here NOUN at 0):
    # NOUN O X VERB -> the NOUN span closes at the separator, the X "span" is (_,0,2)
    assert seqeval_spans([["NOUN"], ["X", "VERB"]]) == [("OUN", 0, 0), ("_", 0, 2),
                                                          ("ERB", 3, 3)]


def test_two_sentence_corpus_by_hand() -> None:
    gold = [["DET", "NOUN", "NOUN", "VERB"], ["PRON", "VERB", "ADP", "DET", "NOUN"]]
    pred = [["DET", "NOUN", "ADJ", "VERB"], ["PRON", "VERB", "ADP", "DET", "PROPN"]]
    # sentence 0 at offsets 0-3, separator 4; sentence 1 at 5-9
    # gold: (ET,0,0) (OUN,1,2) (ERB,3,3) | (RON,5,5) (ERB,6,6) (DP,7,7) (ET,8,8) (OUN,9,9) = 8
    # pred: (ET,0,0) (OUN,1,1) (DJ,2,2) (ERB,3,3) | (RON,5,5) (ERB,6,6) (DP,7,7) (ET,8,8)
    #       (ROPN,9,9) = 9
    # TP: ET, ERB | RON, ERB, DP, ET = 2 + 4 = 6
    # P = 6/9 = 2/3, R = 6/8 = 3/4, F1 = 2 * 2/3 * 3/4 / (2/3 + 3/4) = 1 / (17/12) = 12/17
    assert seqeval_prf(gold, pred) == pytest.approx((2 / 3, 3 / 4, 12 / 17), abs=1e-15)
    assert sentence_span_counts(gold, pred).tolist() == [[2, 4, 3], [4, 5, 5]]
    assert token_accuracy(gold, pred) == pytest.approx(7 / 9)  # 3 of 4 + 4 of 5
    score = score_span_f1(gold, pred, resamples=300, seed=1)
    assert score.metric == "span_f1" and score.n == 2
    assert score.value == pytest.approx(12 / 17, abs=1e-15)
    # resampling 2 sentences, F1 = 2 TP / (pred + gold) of the summed counts:
    # {s0, s0} (p = 1/4) -> 2*4 / (8 + 6) = 4/7; {s1, s1} (1/4) -> 2*8 / (10 + 10) = 4/5;
    # {s0, s1} (1/2) -> 12/17. The 2.5 % and 97.5 % quantiles fall inside the two pure blocks.
    assert score.ci_low == pytest.approx(4 / 7) and score.ci_high == pytest.approx(4 / 5)


def test_bad_input_is_named() -> None:
    with pytest.raises(ValueError, match="sentence 1"):
        seqeval_prf([["NOUN"], ["VERB", "X"]], [["NOUN"], ["VERB"]])
    with pytest.raises(ValueError, match="sentence 0, token 1"):
        seqeval_prf([["NOUN", ""]], [["NOUN", "NOUN"]])
    with pytest.raises(UnlabeledSplitError):
        seqeval_prf([None], [["NOUN"]])  # type: ignore[list-item]


# --- seqeval 1.x as the oracle -------------------------------------------------------------

def _seqeval():
    metrics = pytest.importorskip("seqeval.metrics")
    from importlib.metadata import version

    if int(version("seqeval").split(".")[0]) < 1:
        pytest.skip("the oracle is seqeval >= 1.0 (older releases parse raw tags differently)")
    return metrics


def _oracle(gold: list[list[str]], pred: list[list[str]]) -> tuple[float, float, float]:
    """seqeval's micro P, R, F1 (one call: the same numbers as XTREME's three calls to
    precision_score, recall_score and f1_score with their defaults)."""
    _seqeval()
    from seqeval.metrics.sequence_labeling import precision_recall_fscore_support

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "NOUN seems not to be NE tag", once per tag
        p, r, f, _ = precision_recall_fscore_support(gold, pred, average="micro")
    return float(p), float(r), float(f)


ODD_TAGS = ["O", "B", "I", "E", "S", "B-PER", "I-PER", "E-PER", "S-LOC", "I-LOC", ".", ".X",
            "X", "NOUN", "INTJ", "SCONJ", "CCONJ", "SYM", "B-A-B", "NO-UN", "-", "O-X"]


@pytest.mark.parametrize("seed", range(12))
def test_state_machine_matches_seqeval_on_arbitrary_tags(seed: int) -> None:
    """Every chunk-tag letter seqeval knows (B I E S O .) and types with dashes."""
    _seqeval()
    from seqeval.metrics.sequence_labeling import get_entities

    rng = np.random.default_rng(seed)
    gold = [[ODD_TAGS[i] for i in rng.integers(0, len(ODD_TAGS), size=rng.integers(0, 8))]
            for _ in range(25)]
    pred = [[t if rng.random() < 0.6 else ODD_TAGS[rng.integers(len(ODD_TAGS))] for t in s]
            for s in gold]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert seqeval_spans(gold) == get_entities(gold)
        assert seqeval_spans(pred) == get_entities(pred)
    assert seqeval_prf(gold, pred) == pytest.approx(_oracle(gold, pred), abs=1e-12)


UPOS = get_task("udpos").labels


def _perturb(rng: np.random.Generator, sentences: list[list[str]], rate: float
             ) -> list[list[str]]:
    """Each tag replaced with probability ``rate`` by a random UPOS tag (X, SCONJ, INTJ
    included), the kind of errors a tagger makes at several quality levels."""
    return [[UPOS[rng.integers(len(UPOS))] if rng.random() < rate else t for t in s]
            for s in sentences]


# dev-en has 44 sentence-final X, dev-de 7,047 X tags, dev-ar 2,036, test-vi 970
@pytest.mark.parametrize("split,lang", [("dev", "en"), ("dev", "de"), ("dev", "ar"),
                                        ("dev", "ko"), ("test", "zh"), ("test", "vi")])
def test_matches_seqeval_on_real_udpos_files(split: str, lang: str, shared_data: Path) -> None:
    """The real UD-POS tags (every X, SYM, SCONJ of them), perturbed at two error rates."""
    _seqeval()
    from seqeval.metrics.sequence_labeling import get_entities

    task = get_task("udpos")
    try:
        examples = task.load(split, lang, shared_data)[:800]
    except Exception as err:  # noqa: BLE001 - a missing file is a skip, not a failure
        pytest.skip(f"udpos {split}-{lang} not readable here: {err}")
    gold = [[task.labels[t] for t in ex.tags] for ex in examples if ex.tags is not None]
    assert gold, "labelled sentences expected"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert seqeval_spans(gold) == get_entities(gold)
    rng = np.random.default_rng(len(gold))
    for rate in (0.03, 0.3):
        pred = _perturb(rng, gold, rate)
        ours = seqeval_prf(gold, pred)
        assert ours == pytest.approx(_oracle(gold, pred), abs=1e-12), (rate, ours)
        counts = sentence_span_counts(gold, pred)  # per sentence, summing to seqeval's
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert counts[:, 1].sum() == len(get_entities(pred))
            assert counts[:, 2].sum() == len(get_entities(gold))
    assert seqeval_prf(gold, gold) == pytest.approx((1.0, 1.0, 1.0))


@pytest.mark.parametrize("lang", ["en", "de", "ar", "ja"])
def test_entity_f1_equals_seqeval_prf_on_real_panx(lang: str, shared_data: Path) -> None:
    """On BIO tags the per-sentence entity F1 and the flattened seqeval chunking agree: the
    separator "O" closes every BIO entity, so nothing crosses sentences."""
    task = get_task("panx")
    try:
        examples = task.load("dev", lang, shared_data)[:1000]
    except Exception as err:  # noqa: BLE001
        pytest.skip(f"panx dev-{lang} not readable here: {err}")
    gold = [[task.labels[t] for t in ex.tags] for ex in examples if ex.tags is not None]
    rng = np.random.default_rng(7)
    for rate in (0.05, 0.2):
        pred = [[task.labels[rng.integers(len(task.labels))] if rng.random() < rate else t
                 for t in s] for s in gold]
        assert entity_prf(gold, pred) == pytest.approx(seqeval_prf(gold, pred), abs=1e-12)
        if rate == 0.2:
            assert seqeval_prf(gold, pred) == pytest.approx(_oracle(gold, pred), abs=1e-12)
