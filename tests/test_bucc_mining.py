"""BUCC mining as XTREME mines (k-NN both ways, ratio margin, one-to-one merge) and the
split-half threshold protocol, on hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from xstilts.evaluation.bucc import (
    mine_from_similarity,
    mine_from_vectors,
    nearest_neighbours,
    score_halves,
    split_half,
    split_sources,
    top_k_rows,
)
from xstilts.evaluation.retrieval_metrics import best_threshold, ratio_margin

# Sources s0..s2 (rows) x targets t0..t2 (columns), cosines; k = 2 below.
SIM = np.array([[0.90, 0.60, 0.10],
                [0.80, 0.65, 0.20],
                [0.10, 0.30, 0.70]])
# k-NN means (k = 2):
#   forward (rows):     s0 {t0 .9, t1 .6} .75;  s1 {t0 .8, t1 .65} .725;  s2 {t2 .7, t1 .3} .5
#   backward (columns): t0 {s0 .9, s1 .8} .85;  t1 {s1 .65, s0 .6} .625;  t2 {s2 .7, s1 .2} .45
# Ratio margins cos / ((fwd_mean + bwd_mean) / 2) of the k-NN pairs:
#   s0-t0 .9 / .8 = 1.125            s0-t1 .6 / .6875 = 0.872727
#   s1-t0 .8 / .7875 = 1.015873      s1-t1 .65 / .675 = 0.962963
#   s2-t2 .7 / .475 = 1.473684       s2-t1 .3 / .5625 = 0.533333      s1-t2 .2 / .5875
# Forward (best of each source's 2-NN): s0->t0 1.125, s1->t0 1.015873, s2->t2 1.473684.
# Backward (best of each target's 2-NN): t0->s0 1.125, t1->s1 0.962963, t2->s2 1.473684.
S0T0, S1T0, S1T1, S2T2 = 0.9 / 0.8, 0.8 / 0.7875, 0.65 / 0.675, 0.7 / 0.475
GOLD = {(0, 0), (1, 1), (2, 2)}


def _pairs(candidates):
    return {(i, j) for i, j, _ in candidates}


def test_xtreme_max_merge_differs_from_forward_only_by_hand() -> None:
    # max: all six candidates by margin: s2-t2 (fwd, bwd) 1.4737, s0-t0 (fwd, bwd) 1.125,
    # s1-t0 1.0159, s1-t1 .9630. Greedy one-to-one: s2-t2 kept, its duplicate skipped; s0-t0
    # kept; s1-t0 skipped (t0 taken); s1-t1 kept (s1 and t1 free).
    mined = mine_from_similarity(SIM, k=2)
    assert [(i, j) for i, j, _ in mined] == [(2, 2), (0, 0), (1, 1)]
    np.testing.assert_allclose([s for *_, s in mined], [S2T2, S0T0, S1T1])
    # The old rule, each source's best target over all targets by margin, maps s1 to t0
    # (1.0159 > .9630 > s1-t2), a second pair on t0, and never proposes s1-t1.
    old = ratio_margin(SIM, k=2).argmax(axis=1)
    assert old.tolist() == [0, 0, 2]
    # intersect: s0-t0 (t0's backward is s0) and s2-t2; s1-t0 fails (t0's backward is s0).
    assert _pairs(mine_from_similarity(SIM, k=2, mode="intersect")) == {(0, 0), (2, 2)}
    assert _pairs(mine_from_similarity(SIM, k=2, mode="fwd")) == {(0, 0), (1, 0), (2, 2)}
    assert _pairs(mine_from_similarity(SIM, k=2, mode="bwd")) == {(0, 0), (1, 1), (2, 2)}
    # F1 at the best threshold: max finds all 3 gold pairs -> 2*3/(3+3) = 1 (cut after the
    # last candidate, threshold = the lowest margin). Forward-only: s2-t2 right, s0-t0
    # right, s1-t0 wrong -> best cut after 2: 2*2/(2+3) = .8, threshold (1.125+1.0159)/2.
    best = best_threshold(mined, GOLD)
    assert best.f1 == 1.0 and best.threshold == pytest.approx(S1T1)
    forward = best_threshold(mine_from_similarity(SIM, k=2, mode="fwd"), GOLD)
    assert forward.f1 == pytest.approx(0.8)
    assert forward.threshold == pytest.approx((S0T0 + S1T0) / 2)
    with pytest.raises(ValueError, match="mode"):
        mine_from_similarity(SIM, k=2, mode="union")


def test_knn_restricts_the_candidates() -> None:
    # k = 1: forward means are the row maxima .9, .8, .7; backward the column maxima .9,
    # .65, .7. s1's only neighbour is t0: margin .8 / ((.8 + .9)/2) = .941176; t1's only
    # neighbour is s1: .65 / ((.8 + .65)/2) = .896552. Max: s2-t2 .7/.7 = 1 (fwd and bwd),
    # s0-t0 .9/.9 = 1 (fwd and bwd), s1-t0 .941 (t0 taken), s1-t1 .897 (kept).
    mined = mine_from_similarity(SIM, k=1)
    # Equal margins (s0-t0 and s2-t2 are both 1.0) keep list order: forward by source.
    assert [(i, j) for i, j, _ in mined] == [(0, 0), (2, 2), (1, 1)]
    assert mined[2][2] == pytest.approx(0.65 / 0.725)


def test_margins_at_or_below_zero_are_dropped_in_max_mode() -> None:
    # k = 1. Forward: s0 -> t0 (.5, mean .5), s1 -> t0 (.4, mean .4). Backward: t0 -> s0
    # (.5, mean .5), t1 -> s1 (-.1, mean -.1). Margins: s0-t0 .5 / .5 = 1 (fwd and bwd);
    # s1-t0 .4 / ((.4 + .5)/2) = .889, skipped as t0 is taken; s1-t1 -.1 / ((-.1 + .4)/2)
    # = -.667: both ends are free, but XTREME keeps margins > 0 only, so it is dropped.
    sim = np.array([[0.5, -0.2], [0.4, -0.1]])
    assert [(i, j) for i, j, _ in mine_from_similarity(sim, k=1)] == [(0, 0)]
    # bwd mode has no such filter (XTREME applies threshold 0 in max mode only)
    bwd = mine_from_similarity(sim, k=1, mode="bwd")
    assert bwd[1][:2] == (1, 1) and bwd[1][2] == pytest.approx(-0.1 / 0.15)
    # all cosines negative: the k-NN mean of s0 is -.2 and of t1 -.2, so no ratio margin
    with pytest.raises(ValueError, match="neighbourhood"):
        mine_from_similarity(np.array([[-0.5, -0.2]]), k=1)


def test_top_k_rows_ties_go_to_the_lowest_column() -> None:
    sim = np.array([[0.2, 0.5, 0.5, 0.5, 0.1],
                    [0.9, 0.1, 0.9, 0.3, 0.9]])
    values, index = top_k_rows(sim, 2)
    assert index.tolist() == [[1, 2], [0, 2]]
    np.testing.assert_allclose(values, [[0.5, 0.5], [0.9, 0.9]])
    values, index = top_k_rows(sim, 9)  # capped at the row length, best first
    assert index.tolist() == [[1, 2, 3, 0, 4], [0, 2, 4, 3, 1]]
    with pytest.raises(ValueError):
        top_k_rows(sim, 0)


def test_blocked_vectors_match_the_full_matrix() -> None:
    rng = np.random.default_rng(0)
    src = rng.normal(size=(37, 16))
    tgt = np.vstack([src[:25] + 0.4 * rng.normal(size=(25, 16)), rng.normal(size=(20, 16))])
    tgt[40] = tgt[3]  # an exact duplicate: ties inside the k-NN lists
    unit = lambda v: v / np.linalg.norm(v, axis=1, keepdims=True)  # noqa: E731
    sim = unit(src) @ unit(tgt).T
    values, index = nearest_neighbours(src, tgt, 4, block=5)
    reference = np.argsort(-sim, axis=1, kind="stable")[:, :4]
    np.testing.assert_array_equal(index, reference)
    np.testing.assert_allclose(values, np.take_along_axis(sim, reference, axis=1))
    blocked, full = mine_from_vectors(src, tgt, k=4, block=7), mine_from_similarity(sim, k=4)
    assert [c[:2] for c in blocked] == [c[:2] for c in full]
    np.testing.assert_allclose([c[2] for c in blocked], [c[2] for c in full])
    mined = mine_from_vectors(src, tgt)
    assert len(_pairs(mined)) == len(mined)
    assert len({i for i, _, _ in mined}) == len({j for _, j, _ in mined}) == len(mined)


# Split-half: halves A = {s0, s1, s2}, B = {s3, s4, s5}; one candidate per source.
HALF_CANDS = [("s0", "t0", 0.9), ("s1", "t9", 0.8), ("s2", "t2", 0.4),
              ("s3", "t3", 0.85), ("s4", "t4", 0.6), ("s5", "t8", 0.3)]
HALF_GOLD = {("s0", "t0"), ("s2", "t2"), ("s3", "t3"), ("s4", "t4"), ("s5", "t5")}


def test_split_half_by_hand() -> None:
    result = score_halves(HALF_CANDS, HALF_GOLD, {"s0", "s1", "s2"}, {"s3", "s4", "s5"})
    a_to_b, b_to_a = result.halves
    # Tune on A (gold s0-t0, s2-t2): cuts .9 -> 2/3, .8 -> 2/4, .4 -> 4/5: best after the last
    # candidate, threshold .4. Score B at .4: s3 (right) and s4 (right) kept, s5 (.3) not;
    # B has 3 gold -> P 1, R 2/3, F1 2*2/(2+3) = .8.
    assert (a_to_b.tuned_on, a_to_b.scored_on, a_to_b.threshold) == ("A", "B", 0.4)
    assert (a_to_b.f1, a_to_b.precision, a_to_b.recall) == pytest.approx((0.8, 1.0, 2 / 3))
    assert (a_to_b.n_gold, a_to_b.n_extracted, a_to_b.n_correct, a_to_b.n_source) == (3, 2, 2,
                                                                                    3)
    # Tune on B (3 gold): .85 -> 2/4, .6 -> 4/5, .3 -> 4/6: threshold (.6 + .3)/2 = .45.
    # Score A at .45: s0 (right), s1 (wrong) kept, s2 (.4) not; A has 2 gold -> F1 2/(2+2).
    assert b_to_a.threshold == pytest.approx(0.45)
    assert (b_to_a.f1, b_to_a.precision, b_to_a.recall) == pytest.approx((0.5, 0.5, 0.5))
    assert result.f1 == pytest.approx((0.8 + 0.5) / 2)
    # Dev-on-dev on all six is optimistic: .9 r, .85 r, .8 w, .6 r, .4 r, .3 w with 5 gold;
    # best after .4: 2*4/(5+5) = .8 > .65.
    assert best_threshold(HALF_CANDS, HALF_GOLD).f1 == pytest.approx(0.8)
    with pytest.raises(ValueError, match="share"):
        score_halves(HALF_CANDS, HALF_GOLD, {"s0", "s3"}, {"s3", "s4"})
    with pytest.raises(ValueError, match="both halves"):
        score_halves(HALF_CANDS, {("s0", "t0")}, {"s0", "s1", "s2"}, {"s3", "s4", "s5"})


def test_split_sources_is_seeded_stratified_and_disjoint() -> None:
    sources = [f"s{i}" for i in range(21)]
    gold_sources = {f"s{i}" for i in range(0, 21, 3)}  # 7 with gold, 14 without
    a, b = split_sources(sources, gold_sources, seed=0)
    assert a | b == set(sources) and not a & b
    # floor halves of each stratum: 7 gold -> 3 in A, 4 in B; 14 others -> 7 and 7
    assert (len(a & gold_sources), len(b & gold_sources)) == (3, 4)
    assert (len(a - gold_sources), len(b - gold_sources)) == (7, 7)
    assert split_sources(sources, gold_sources, seed=0) == (a, b)
    assert split_sources(sources, gold_sources, seed=1) != (a, b)
    with pytest.raises(ValueError, match="unique"):
        split_sources(["s0", "s0"], set())
    result = split_half(HALF_CANDS, HALF_GOLD, [c[0] for c in HALF_CANDS], seed=3)
    assert result.seed == 3 and {h.scored_on for h in result.halves} == {"A", "B"}
    assert sum(h.n_gold for h in result.halves) == len(HALF_GOLD)
    assert result.to_dict()["halves"][0]["tuned_on"] == "A"


# --- evaluate_bucc wiring (tiny random encoder; the numbers above are the hand-checked part) --

TEXTS = ["Hallo Welt.", "Ein etwas längerer Satz mit mehr Wörtern darin.", "Kurz.",
         "Noch ein ganz anderer Satz über Katzen und Hunde im Garten."]


@pytest.fixture(scope="module")
def tiny():
    from xstilts.models import load_encoder

    return load_encoder("tiny:random")


def _write_split(root, split: str, gold: bool) -> None:
    folder = root / "bucc2018"
    folder.mkdir(parents=True, exist_ok=True)
    zh = [f"zh-{i}\t{t}" for i, t in enumerate(TEXTS)] + ["zh-9\tEin Satz ohne Übersetzung."]
    en = [f"en-{i}\t{t}" for i, t in enumerate(TEXTS)] + ["en-9\tAn unrelated sentence."]
    (folder / f"zh-en.{split}.zh").write_text("\n".join(zh) + "\n", "utf-8")
    (folder / f"zh-en.{split}.en").write_text("\n".join(en) + "\n", "utf-8")
    if gold:
        lines = [f"zh-{i}\ten-{i}" for i in range(len(TEXTS))]
        (folder / f"zh-en.{split}.gold").write_text("\n".join(lines) + "\n", "utf-8")


def test_evaluate_bucc_dev_reports_dev_on_dev_and_split_half(tiny, tmp_path) -> None:
    from xstilts.evaluation.retrieval import evaluate_bucc

    _write_split(tmp_path, "dev", gold=True)
    (r,) = evaluate_bucc(tiny, ["zh"], tmp_path)
    # identical texts on both sides: every gold pair has cosine 1 and is mined
    assert r["value"] == 1.0 and r["n"] == len(TEXTS) and r["mining"] == "max" and r["k"] == 4
    assert r["tuned_on"] == r["scored_on"] == "dev" and "optimistic" in r["note"]
    halves = r["split_half"]["halves"]
    assert [(h["tuned_on"], h["scored_on"]) for h in halves] == [("A", "B"), ("B", "A")]
    # 4 gold sources split 2/2, the 1 other source goes to B (floor to A)
    assert [h["n_gold"] for h in halves] == [2, 2] and [h["n_source"] for h in halves] == [3, 2]
    assert r["split_half_f1"] == pytest.approx((halves[0]["f1"] + halves[1]["f1"]) / 2)
    assert 0.0 <= r["split_half_f1"] <= 1.0 and r["split_half"]["seed"] == 0


def test_evaluate_bucc_test_uses_the_dev_threshold(tiny, tmp_path) -> None:
    from xstilts.evaluation.retrieval import evaluate_bucc

    _write_split(tmp_path, "dev", gold=True)
    _write_split(tmp_path, "test", gold=False)
    with pytest.raises(ValueError, match="withheld"):
        evaluate_bucc(tiny, ["zh"], tmp_path, split="test")
    _write_split(tmp_path, "test", gold=True)
    (r,) = evaluate_bucc(tiny, ["zh"], tmp_path, split="test")
    assert (r["tuned_on"], r["scored_on"]) == ("dev", "test") and "split_half" not in r
    # test = dev here, so the dev threshold scores test exactly as it scored dev
    assert r["value"] == r["dev_f1"] == 1.0 and "XTREME" in r["note"]
