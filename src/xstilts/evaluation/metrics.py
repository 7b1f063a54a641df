"""Metrics and their uncertainty.

Scores are computed from per-example predictions so any number can be re-scored later; the
bootstrap resamples examples (percentile interval, seeded) to say how sure a score is.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from xstilts.errors import UnlabeledSplitError
from xstilts.results import Score

__all__ = ["Score", "accuracy", "bootstrap_interval", "score_accuracy"]


def accuracy(gold: Sequence[int], predicted: Sequence[int]) -> float:
    gold_arr, pred_arr = np.asarray(gold), np.asarray(predicted)
    if gold_arr.shape != pred_arr.shape or gold_arr.size == 0:
        raise ValueError("accuracy needs two non-empty sequences of equal length")
    return float((gold_arr == pred_arr).mean())


def bootstrap_interval(
    correct: np.ndarray, *, resamples: int = 1000, confidence: float = 0.95, seed: int = 0
) -> tuple[float | None, float | None]:
    """Percentile bootstrap interval of the mean of per-example scores; ``resamples=0``: no
    interval (None, None), for callers that need only the point value (dev-set selection)."""
    if resamples == 0:
        return None, None
    rng = np.random.default_rng(seed)
    n = correct.shape[0]
    idx = rng.integers(0, n, size=(resamples, n))
    means = correct[idx].mean(axis=1)
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(means, [alpha, 1.0 - alpha])
    return float(low), float(high)


def score_accuracy(
    gold: Sequence[int | None], predicted: Sequence[int], *, resamples: int = 1000,
    confidence: float = 0.95, seed: int = 0,
) -> Score:
    """Accuracy with a bootstrap CI; refuses unlabeled gold rather than scoring zeros."""
    if any(g is None for g in gold):
        raise UnlabeledSplitError(
            "this split has no gold labels (XTREME strips test labels), so it cannot be "
            "scored; evaluate on a labeled split (e.g. dev) instead"
        )
    correct = (np.asarray(gold) == np.asarray(predicted)).astype(np.float64)
    low, high = bootstrap_interval(correct, resamples=resamples, confidence=confidence, seed=seed)
    return Score("accuracy", float(correct.mean()), low, high, int(correct.size))


def prf_from_counts(tp: np.ndarray, n_pred: np.ndarray,
                    n_gold: np.ndarray) -> tuple[np.ndarray, ...]:
    """Precision, recall and F1 from (possibly vectors of) counts; 0 where undefined. One
    definition for every counted metric: tagging spans, BUCC pairs, per-sentence bootstraps."""
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(n_pred > 0, tp / n_pred, 0.0)
        recall = np.where(n_gold > 0, tp / n_gold, 0.0)
        f1 = np.where(n_pred + n_gold > 0, 2 * tp / (n_pred + n_gold), 0.0)
    return precision, recall, f1
