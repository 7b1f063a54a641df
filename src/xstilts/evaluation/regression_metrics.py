"""Correlation metrics for graded-similarity tasks (STS-style, e.g. cross-lingual STS 2017).

Pearson measures linear agreement of raw scores; Spearman (the usual STS headline number)
measures agreement of rankings, so it does not care about the scale of a cosine. Both are
delegated to ``scipy.stats``. A constant input has no variance and hence no correlation:
scipy then warns and returns NaN, which would quietly poison an average, so it is refused
here with an error that says which side is constant.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import stats


def _pair(gold: Sequence[float], predicted: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    g = np.asarray(gold, dtype=np.float64)
    p = np.asarray(predicted, dtype=np.float64)
    if g.ndim != 1 or g.shape != p.shape:
        raise ValueError("need two 1-D sequences of equal length")
    if g.size < 2:
        raise ValueError("a correlation needs at least two examples")
    if not (np.isfinite(g).all() and np.isfinite(p).all()):
        raise ValueError("inputs contain NaN or infinite values")
    for name, values in (("gold", g), ("predicted", p)):
        if np.all(values == values[0]):
            raise ValueError(
                f"the {name} scores are constant, so the correlation is undefined "
                "(no variance); check that the model's outputs are not collapsed"
            )
    return g, p


def pearson(gold: Sequence[float], predicted: Sequence[float]) -> float:
    """Pearson's r between gold and predicted scores."""
    g, p = _pair(gold, predicted)
    return float(stats.pearsonr(g, p).statistic)


def spearman(gold: Sequence[float], predicted: Sequence[float]) -> float:
    """Spearman's rho (Pearson on average ranks, ties share their mean rank)."""
    g, p = _pair(gold, predicted)
    return float(stats.spearmanr(g, p).statistic)
