"""Correlation metrics (STS Spearman and Pearson) in paired comparisons: bootstrap and test.

Why a module of its own: a correlation is a function of all (gold, prediction) pairs at once
(Spearman ranks them globally), neither a mean of per-example scores (sign-flip test) nor a
function of summed counts (:mod:`xstilts.report.ratio_metrics`). So, with the same resampling
units as the other metrics:

* interval: a paired bootstrap over examples (the same resampled example ids for both
  configurations, within each language: gold and both sides' predictions move together), the
  correlation recomputed on every resample for every seed (Spearman re-ranked inside each
  resample, ties sharing their mean rank); the seed resampling of
  :mod:`~xstilts.report.comparisons` wraps it;
* test: paired approximate randomization over examples (Noreen 1989; the test used for
  differences of metric correlations, e.g. Deutsch et al. 2021): under the null the two systems'
  predictions of an example are exchangeable, so each example's predictions are swapped
  between the configurations with probability ½ and the difference of the correlations
  (macro-averaged over the languages) recomputed; p = (1 + hits) / (1 + B). With several seeds
  each configuration's prediction of an example is its mean over that configuration's seeds
  (one ensemble score per example, so configurations with different seed counts can swap).

Ranking is the cost. Where no two predictions tie (model outputs rarely do), a permutation's
ranks need no sort: each side holds one of the two predictions of every example, so with the 2n
candidates sorted once, a side's ranks are a running count of the candidates it holds, and
the difference of the two sides' Spearman is linear in the swap mask (:func:`_rank_difference`).
With ties the rows are re-ranked (average ranks). B is capped by a budget of example swaps;
the smallest reachable p, 1/(B + 1), is stated per comparison.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.stats import rankdata

from xstilts.evaluation.correlation_scores import correlation_of_rows
from xstilts.report.ratio_metrics import Randomization
from xstilts.tasktypes.per_example import CorrelationForm

TEST_NAME = "paired approximate randomization over examples"
BUDGET = 20_000_000  # example swaps per test (~0.1-0.5 s, ~4 s with ties); fewer draws beyond
_CELLS = 2_000_000  # cells per chunk of permutations


def shared_gold(pairs: list[tuple[np.ndarray, np.ndarray]]) -> bool:
    """Whether, in every language, every seed of both configurations has the same gold score
    for each example: what pairing by example id assumes (seeds × examples × (gold, pred))."""
    return all(np.array_equal(x[..., 0], np.broadcast_to(a[0, :, 0], x.shape[:2]))
               for a, b in pairs for x in (a, b))


def bootstrap_delta(form: CorrelationForm) -> Callable[..., np.ndarray]:
    """Per-language draws of mean-over-seeds corr(A) − corr(B) for the seed-and-example
    bootstrap of :mod:`xstilts.report.comparisons`: ``a``/``b`` are seeds × examples × 2,
    ``w_a``/``w_b`` draws × seeds weights, ``idx`` draws × examples (the same for A and B).
    A resample whose gold or predictions are constant has no correlation (NaN)."""

    def delta(a: np.ndarray, b: np.ndarray, w_a: np.ndarray, w_b: np.ndarray,
              idx: np.ndarray) -> np.ndarray:
        gold = a[0, :, 0][idx]  # draws × examples
        side_a = correlation_of_rows(form.name, gold, a[:, :, 1][:, idx])  # seeds × draws
        side_b = correlation_of_rows(form.name, gold, b[:, :, 1][:, idx])
        return (w_a * side_a.T).sum(axis=1) - (w_b * side_b.T).sum(axis=1)

    return delta


def _rank_difference(gold: np.ndarray, pred_a: np.ndarray, pred_b: np.ndarray
                     ) -> Callable[[np.ndarray], np.ndarray] | None:
    """Spearman(gold, A's predictions) - Spearman(gold, B's) for swap masks (draws × n, True:
    example i's predictions change sides), from one sort of the 2n candidate predictions;
    None when two of them tie (other than an example's own two, of which a side holds one).

    In sorted order, candidate k's rank on the side that holds it is the count of candidates
    up to k that side holds: c_k = Σ_{j≤k} h_j for A (h: A holds it), (k + 1) - c_k for B.
    Each side's ranks are a permutation of 1..n (fixed spread), so with g_k the centred gold
    rank of candidate k's example, ρ_A - ρ_B = Σ_k g_k (h_k c_k - (1 - h_k)(k + 1 - c_k)) / s
    = Σ_k g_k (c_k + h_k (k + 1) - (k + 1)) / s: the h_k c_k terms cancel, and Σ_k g_k c_k =
    Σ_j h_j Σ_{k≥j} g_k, so the difference is linear in the mask: one product per draw."""
    n = gold.size
    candidates = np.concatenate([pred_a, pred_b])
    if np.unique(candidates).size != 2 * n - int((pred_a == pred_b).sum()):
        return None
    order = np.argsort(candidates, kind="stable")
    centred = rankdata(gold) - (n + 1) / 2
    scale = np.sqrt((centred @ centred) * n * (n * n - 1) / 12)
    g = centred[order % n]
    position = np.arange(1, 2 * n + 1, dtype=np.float64)
    weight = np.empty(2 * n)
    weight[order] = g * position + np.cumsum(g[::-1])[::-1]  # back to candidate order
    # A holds candidate i (not swapped) or n + i (swapped): h @ weight = Σ weight[:n] + swap @ Δ
    intercept = (weight[:n].sum() - position @ g) / scale
    slope = (weight[n:] - weight[:n]) / scale

    def difference(swap: np.ndarray) -> np.ndarray:
        return intercept + swap @ slope

    return difference


def _permuted_difference(form: CorrelationForm, gold: np.ndarray, pred_a: np.ndarray,
                         pred_b: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """swap masks (draws × n) -> corr(gold, A's predictions) - corr(gold, B's) per draw."""
    fast = _rank_difference(gold, pred_a, pred_b) if form.name == "spearman" else None
    if fast is not None:
        return fast

    def recomputed(swap: np.ndarray) -> np.ndarray:
        return (correlation_of_rows(form.name, gold, np.where(swap, pred_b, pred_a))
                - correlation_of_rows(form.name, gold, np.where(swap, pred_a, pred_b)))

    return recomputed


def randomization_test(pairs: list[tuple[np.ndarray, np.ndarray]], form: CorrelationForm, *,
                       permutations: int = 100_000, seed: int = 0) -> Randomization:
    """Paired approximate randomization of the macro-average difference of correlations
    (see module doc). ``pairs``: per language, (A, B) as seeds × examples × (gold, pred),
    examples aligned and the gold shared (:func:`shared_gold`)."""
    if permutations < 1:
        raise ValueError("permutations must be at least 1")
    gold = [a[0, :, 0] for a, _ in pairs]
    pred_a = [a[:, :, 1].mean(axis=0) for a, _ in pairs]
    pred_b = [b[:, :, 1].mean(axis=0) for _, b in pairs]
    base = np.array([correlation_of_rows(form.name, g, pa) - correlation_of_rows(form.name, g, pb)
                     for g, pa, pb in zip(gold, pred_a, pred_b, strict=True)])
    observed = float(base.mean())
    varied = [i for i in range(len(pairs)) if not np.array_equal(pred_a[i], pred_b[i])]
    width = sum(gold[i].size for i in varied)
    draws = max(1, min(permutations, BUDGET // max(width, 1)))
    if not varied:  # the systems agree on every example: every permutation is the observed
        return Randomization(1.0, draws, observed)
    fixed = float(np.delete(base, varied).sum())
    differences = [_permuted_difference(form, gold[i], pred_a[i], pred_b[i]) for i in varied]
    # Correlations in another order differ in the last bits: the observed must count as extreme.
    extreme = abs(observed) - 1e-9 * max(1.0, abs(observed))
    rng = np.random.default_rng(seed)
    rows = max(1, _CELLS // max(gold[i].size for i in varied))
    hits = 0
    for start in range(0, draws, rows):
        m = min(rows, draws - start)
        stat = np.full(m, fixed)
        for i, difference in zip(varied, differences, strict=True):
            stat += difference(rng.random((m, gold[i].size)) < 0.5)
        hits += int((np.abs(stat / len(pairs)) >= extreme).sum())
    return Randomization((1 + hits) / (1 + draws), draws, observed)
