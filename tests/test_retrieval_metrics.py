"""Tatoeba accuracy, ratio margin, BUCC F1 / threshold and mAP@20 on hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from xstilts.evaluation.retrieval_metrics import (
    average_precision_at_k,
    best_threshold,
    bucc_f1,
    cosine_similarity,
    map_at_k,
    nearest_neighbor_correct,
    ratio_margin,
    tatoeba_accuracy,
)


def test_tatoeba_accuracy_and_ties() -> None:
    sim = np.array([[0.9, 0.1, 0.0],
                    [0.8, 0.5, 0.1],   # nearest is 0, gold 1 -> wrong
                    [0.3, 0.3, 0.3]])  # three-way tie -> index 0 -> wrong (gold 2)
    assert nearest_neighbor_correct(sim).tolist() == [1.0, 0.0, 0.0]
    assert tatoeba_accuracy(sim) == pytest.approx(1 / 3)
    tie = np.array([[0.5, 0.5]])
    assert tatoeba_accuracy(tie, gold=[0]) == 1.0 and tatoeba_accuracy(tie, gold=[1]) == 0.0
    # direction matters: xx->en uses the matrix, en->xx its transpose
    # rows of sim.T: [.9 .8 .3] -> 0, [.1 .5 .3] -> 1, [0 .1 .3] -> 2: all right -> 1.0
    assert tatoeba_accuracy(sim.T) == 1.0
    with pytest.raises(ValueError):
        tatoeba_accuracy(np.zeros((0, 3)))


def test_cosine_similarity() -> None:
    x = np.array([[3.0, 4.0]])
    y = np.array([[4.0, 3.0], [0.0, -2.0]])
    # (3*4 + 4*3) / (5*5) = 24/25; (-8) / (5*2) = -0.8
    assert cosine_similarity(x, y) == pytest.approx(np.array([[0.96, -0.8]]))


def test_ratio_margin_hand_computed_k2() -> None:
    sim = np.array([[0.9, 0.5, 0.1],
                    [0.6, 0.8, 0.2]])
    # k = 2. forward (rows, top-2 mean): r0 (0.9+0.5)/2 = 0.7, r1 (0.8+0.6)/2 = 0.7
    # backward (cols, top-2 mean; only 2 rows): c0 0.75, c1 0.65, c2 0.15
    # margin(0,0) = 0.9 / ((0.7+0.75)/2) = 0.9/0.725; margin(1,2) = 0.2/((0.7+0.15)/2)
    m = ratio_margin(sim, k=2)
    assert m[0, 0] == pytest.approx(0.9 / 0.725)
    assert m[1, 2] == pytest.approx(0.2 / 0.425)
    # equals the Artetxe-Schwenk form sum/2k + sum/2k
    assert m[1, 1] == pytest.approx(0.8 / ((0.8 + 0.6) / 4 + (0.8 + 0.5) / 4))
    # k larger than the candidate count is capped, not an error
    assert ratio_margin(sim, k=10)[0, 0] == pytest.approx(0.9 / ((1.5 / 3 + 1.5 / 2) / 2))


def test_ratio_margin_demotes_a_hub() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 16))
    y = x + 0.3 * rng.normal(size=x.shape)
    hub = x.mean(axis=0, keepdims=True) * 6 + 0.01  # close to every source
    y_all = np.vstack([y, hub])
    sim = cosine_similarity(x, y_all)
    margin = ratio_margin(sim, k=4)
    # margin never picks the hub more often than raw cosine does
    assert (margin.argmax(1) == 30).sum() <= (sim.argmax(1) == 30).sum()
    assert tatoeba_accuracy(margin[:, :30]) == 1.0


def test_bucc_f1_and_best_threshold() -> None:
    cands = [("s1", "t1", 0.9), ("s2", "t9", 0.8), ("s3", "t3", 0.7), ("s4", "t4", 0.4),
             ("s5", "t8", 0.2)]
    gold = {("s1", "t1"), ("s3", "t3"), ("s4", "t4"), ("s6", "t6")}
    # threshold 0.75 keeps {s1t1, s2t9}: correct 1; P = 1/2, R = 1/4, F1 = 2*1/(2+4) = 1/3
    s = bucc_f1(cands, gold, 0.75)
    assert (s.precision, s.recall, s.f1) == pytest.approx((0.5, 0.25, 1 / 3))
    # cuts: top1 F1=2*1/(1+4)=0.4, top2 1/3, top3 2*2/(3+4)=4/7, top4 2*3/(4+4)=0.75,
    # top5 2*3/(5+4)=2/3 -> best is top4, threshold midway between 0.4 and 0.2 = 0.3
    best = best_threshold(cands, gold)
    assert best.threshold == pytest.approx(0.3) and best.f1 == pytest.approx(0.75)
    assert (best.n_extracted, best.n_correct, best.n_gold) == (4, 3, 4)
    # ties are kept or dropped together: two pairs at 0.5, one right one wrong
    tied = [("a", "a", 0.5), ("b", "x", 0.5)]
    t = best_threshold(tied, {("a", "a")})
    assert t.n_extracted == 2 and t.f1 == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="twice"):
        bucc_f1([("a", "b", 1.0), ("a", "b", 0.5)], {("a", "b")}, 0.0)


def test_best_threshold_never_cuts_inside_a_tie_run() -> None:
    # Sorted: a .9 (right), then a run at .5 listing the right pair c before the wrong b,
    # then d .2 (wrong); 3 gold pairs (e-e is never mined).
    cands = [("a", "a", 0.9), ("c", "c", 0.5), ("b", "x", 0.5), ("d", "y", 0.2)]
    gold = {("a", "a"), ("c", "c"), ("e", "e")}
    # Possible cuts: after .9: 2*1/(1+3) = 1/2; after the .5 run: 2*2/(3+3) = 2/3;
    # after .2: 2*2/(4+3) = 4/7. Cutting between c and b would "score" 2*2/(2+3) = 4/5, but
    # >= keeps both .5 pairs, so that F1 is not reachable. Best: 2/3 at (.5 + .2)/2 = .35.
    best = best_threshold(cands, gold)
    assert best.f1 == pytest.approx(2 / 3) and best.threshold == pytest.approx(0.35)
    assert (best.n_extracted, best.n_correct) == (3, 2)


def test_best_threshold_after_the_last_candidate_keeps_all() -> None:
    # Every candidate is right: F1 after 1, 2, 3 kept = 2/(1+4), 4/(2+4), 6/(3+4) = 6/7 at
    # the end. Nothing lies below, so the threshold is the lowest kept score, .3.
    cands = [("a", "a", 0.9), ("b", "b", 0.6), ("c", "c", 0.3)]
    best = best_threshold(cands, {("a", "a"), ("b", "b"), ("c", "c"), ("d", "d")})
    assert best.threshold == 0.3 and best.n_extracted == 3
    assert best.f1 == pytest.approx(6 / 7)


def test_best_threshold_midpoint_that_rounds_onto_the_lower_score() -> None:
    # 1 + 2**-52 and 1.0 are adjacent doubles: their sum 2 + 2**-52 rounds (to even) to 2.0,
    # so the midpoint is 1.0 and ">= 1.0" would keep the wrong pair too (F1 2/3, not 1).
    # The kept score itself is the threshold then: only the right pair, F1 2*1/(1+1) = 1.
    high = 1.0 + 2.0**-52
    best = best_threshold([("a", "a", high), ("b", "x", 1.0)], {("a", "a")})
    assert best.threshold == high and best.n_extracted == 1 and best.f1 == 1.0


def test_map_at_20_hand_computed() -> None:
    # one query, relevant {1, 3}; ranking by score: 1, 0, 3, 2
    scores = np.array([0.2, 0.9, 0.1, 0.15])
    # hits at ranks 1 and 3: (1/1 + 2/3) / min(2, 20) = 5/6
    assert average_precision_at_k(scores, {1, 3}) == pytest.approx(5 / 6)
    # k = 2 cuts the rank-3 hit: (1/1) / min(2, 2) = 1/2
    assert average_precision_at_k(scores, {1, 3}, k=2) == pytest.approx(0.5)
    # k = 1 with 2 relevant: denominator min(2, 1) = 1 -> 1.0
    assert average_precision_at_k(scores, {1, 3}, k=1) == pytest.approx(1.0)
    # ties: the higher index ranks first (XTREME-R's argsort()[::-1]): [0.5, 0.5] with
    # relevant {1} ranks it first -> 1/1; relevant {0} ranks second -> 1/2
    assert average_precision_at_k([0.5, 0.5], {1}) == pytest.approx(1.0)
    assert average_precision_at_k([0.5, 0.5], {0}) == pytest.approx(0.5)
    two = np.array([[0.2, 0.9, 0.1, 0.15], [0.9, 0.1, 0.2, 0.3]])
    # second query relevant {0}: rank 1 -> AP 1; mean (5/6 + 1) / 2
    assert map_at_k(two, [{1, 3}, {0}]) == pytest.approx((5 / 6 + 1) / 2)
    with pytest.raises(ValueError, match="no relevant"):
        map_at_k(two, [{1}, set()])


def test_map_matches_sklearn_when_k_covers_everything() -> None:
    # sklearn's AP = sum over relevant ranks of precision / #relevant, i.e. AP@k for k >= n
    sk_metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(1)
    for _ in range(20):
        n = int(rng.integers(5, 20))
        scores = rng.random(n)  # continuous -> no ties, where sklearn and AP@k agree
        labels = rng.random(n) < 0.3
        labels[rng.integers(0, n)] = True
        ours = average_precision_at_k(scores, set(np.flatnonzero(labels).tolist()), k=20)
        assert ours == pytest.approx(sk_metrics.average_precision_score(labels, scores))


def test_map_bounds() -> None:
    rng = np.random.default_rng(2)
    scores = rng.random((50, 40))
    rel = [set(rng.choice(40, size=int(rng.integers(1, 25)), replace=False).tolist())
           for _ in range(50)]
    value = map_at_k(scores, rel)
    assert 0.0 <= value <= 1.0
    perfect = np.zeros((50, 40))
    for q, r in enumerate(rel):
        perfect[q, list(r)] = 1.0
    assert map_at_k(perfect, rel) == pytest.approx(1.0)  # incl. queries with > 20 relevant


def test_map_ties_rank_the_higher_index_first() -> None:
    scores = np.array([0.9, 0.5, 0.5, 0.5, 0.1])
    # XTREME-R: np.argsort ascending (stable) = 4, 1, 2, 3, 0; reversed = 0, 3, 2, 1, 4.
    # Relevant {1, 2}: hits at ranks 3 (index 2) and 4 (index 1): (1/3 + 2/4) / 2 = 5/12
    # (a lowest-index-first rule would give ranks 2 and 3: (1/2 + 2/3) / 2 = 7/12).
    assert average_precision_at_k(scores, {1, 2}) == pytest.approx(5 / 12)
    # Relevant {3}: rank 2 -> 1/2 (lowest-index-first: rank 4 -> 1/4).
    assert average_precision_at_k(scores, {3}) == pytest.approx(0.5)
    # k = 2 keeps indices 0 and 3 only: relevant {1, 2} -> 0 hits -> 0.
    assert average_precision_at_k(scores, {1, 2}, k=2) == 0.0
    # The same rule on every row of a matrix.
    two = np.array([[0.5, 0.5, 0.5], [0.2, 0.7, 0.7]])
    # row 0 ranks 2, 1, 0: relevant {0} at rank 3 -> 1/3; row 1 ranks 2, 1, 0: {1} at rank 2
    assert map_at_k(two, [{0}, {1}]) == pytest.approx((1 / 3 + 1 / 2) / 2)
