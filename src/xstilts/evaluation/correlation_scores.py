"""Spearman and Pearson correlations as :class:`Score` rows, with bootstrap intervals.

A correlation is not a mean of per-example scores, so :func:`bootstrap_interval` does not
apply: here whole (gold, predicted) pairs are resampled with replacement and the correlation
is recomputed on every resample (percentile interval, seeded). Both metrics draw the same
resamples from the same seed, so their intervals are comparable. The point values come from
:mod:`xstilts.evaluation.regression_metrics`, which refuses constant inputs with a clear error.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import stats

from xstilts.errors import UnlabeledSplitError
from xstilts.evaluation.metrics import Score
from xstilts.evaluation.regression_metrics import pearson, spearman

CORRELATIONS = {"spearman": spearman, "pearson": pearson}
# Resamples are processed in blocks so memory stays small for large evaluation sets.
_BLOCK = 256


def _rowwise_pearson(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson's r along the last axis (shapes broadcast); NaN where a row has no variance
    (undefined)."""
    xc = x - x.mean(axis=-1, keepdims=True)
    yc = y - y.mean(axis=-1, keepdims=True)
    denominator = np.sqrt((xc * xc).sum(axis=-1) * (yc * yc).sum(axis=-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (xc * yc).sum(axis=-1) / denominator
    return np.where(denominator > 0, r, np.nan)


def correlation_of_rows(metric: str, gold: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """``metric`` ("spearman" or "pearson") of every row pair along the last axis (shapes
    broadcast, e.g. one gold row against many prediction rows); NaN where a row is constant.

    Spearman is Pearson on average ranks (ties share their mean rank), ranked inside each row,
    which is what :func:`scipy.stats.spearmanr` does for one sample.
    """
    if metric == "spearman":
        return _rowwise_pearson(stats.rankdata(gold, axis=-1), stats.rankdata(predicted, axis=-1))
    if metric == "pearson":
        return _rowwise_pearson(gold, predicted)
    raise ValueError(f"unknown correlation {metric!r}; known: {sorted(CORRELATIONS)}")


def bootstrap_correlations(
    gold: np.ndarray, predicted: np.ndarray, metrics: Sequence[str], *, resamples: int,
    seed: int,
) -> dict[str, np.ndarray]:
    """Each metric on ``resamples`` resamples of the pairs (NaN for degenerate resamples)."""
    rng = np.random.default_rng(seed)
    n = gold.shape[0]
    values: dict[str, list[np.ndarray]] = {m: [] for m in metrics}
    for start in range(0, resamples, _BLOCK):
        idx = rng.integers(0, n, size=(min(_BLOCK, resamples - start), n))
        g, p = gold[idx], predicted[idx]
        for metric in metrics:
            values[metric].append(correlation_of_rows(metric, g, p))
    return {m: np.concatenate(v) for m, v in values.items()}


def score_correlations(
    gold: Sequence[float | None], predicted: Sequence[float], *,
    metrics: Sequence[str] = ("spearman", "pearson"), resamples: int = 1000,
    confidence: float = 0.95, seed: int = 0,
) -> list[Score]:
    """One :class:`Score` per metric (in the order given) with a percentile bootstrap CI.

    Resamples in which one side is constant have no correlation and are left out of the
    interval; if every resample is degenerate the interval collapses onto the point value.
    """
    unknown = [m for m in metrics if m not in CORRELATIONS]
    if unknown:
        raise ValueError(f"unknown correlation(s) {unknown}; known: {sorted(CORRELATIONS)}")
    if any(g is None for g in gold):
        raise UnlabeledSplitError(
            "this split has no gold scores, so correlations cannot be computed; evaluate on a "
            "labeled split instead")
    g = np.asarray(gold, dtype=np.float64)
    p = np.asarray(predicted, dtype=np.float64)
    points = {m: CORRELATIONS[m](g, p) for m in metrics}  # validates shapes and variance
    if resamples == 0:  # the point values alone (dev-set selection), no interval
        return [Score(metric, points[metric], None, None, int(g.size)) for metric in metrics]
    samples = bootstrap_correlations(g, p, metrics, resamples=resamples, seed=seed)
    alpha = (1.0 - confidence) / 2.0
    scores = []
    for metric in metrics:
        finite = samples[metric][np.isfinite(samples[metric])]
        if finite.size:
            low, high = (float(q) for q in np.quantile(finite, [alpha, 1.0 - alpha]))
        else:
            low = high = points[metric]
        scores.append(Score(metric, points[metric], low, high, int(g.size)))
    return scores
