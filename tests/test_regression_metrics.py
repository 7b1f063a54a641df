"""Pearson and Spearman: hand-computed values, scipy agreement and refusals."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from xstilts.evaluation.regression_metrics import pearson, spearman


def test_hand_computed() -> None:
    # x = 1,2,3; y = 1,3,2. Centred: x (-1,0,1), y (-1,1,0).
    # r = (1 + 0 + 0) / sqrt(2 * 2) = 0.5; ranks equal the values, so rho = 0.5 too
    assert pearson([1, 2, 3], [1, 3, 2]) == pytest.approx(0.5)
    assert spearman([1, 2, 3], [1, 3, 2]) == pytest.approx(0.5)
    # a monotone but non-linear map: rho = 1, r < 1
    x = [1.0, 2.0, 3.0, 4.0]
    y = [1.0, 8.0, 27.0, 64.0]
    assert spearman(x, y) == pytest.approx(1.0) and pearson(x, y) < 1.0
    # ties share their mean rank: y ranks (1.5, 1.5, 3); x ranks (1, 2, 3)
    # centred: x (-1, 0, 1), y (-0.5, -0.5, 1): cov 1.5, var 2 and 1.5 -> 1.5 / sqrt(3)
    assert spearman([1, 2, 3], [5, 5, 9]) == pytest.approx(1.5 / np.sqrt(3.0))


def test_agrees_with_scipy_and_is_symmetric() -> None:
    rng = np.random.default_rng(0)
    g = rng.normal(size=200)
    p = g + rng.normal(size=200)
    assert pearson(g, p) == pytest.approx(stats.pearsonr(g, p)[0])
    assert spearman(g, p) == pytest.approx(stats.spearmanr(g, p)[0])
    assert pearson(g, p) == pytest.approx(pearson(p, g))
    assert spearman(g, p) == pytest.approx(spearman(p, g))
    assert -1.0 <= pearson(g, -p) <= 0.0


def test_refuses_constant_and_malformed_input() -> None:
    with pytest.raises(ValueError, match="predicted scores are constant"):
        pearson([1, 2, 3], [0.5, 0.5, 0.5])
    with pytest.raises(ValueError, match="gold scores are constant"):
        spearman([2, 2, 2], [1, 2, 3])
    with pytest.raises(ValueError, match="equal length"):
        pearson([1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match="at least two"):
        spearman([1], [1])
    with pytest.raises(ValueError, match="NaN"):
        pearson([1, 2, float("nan")], [1, 2, 3])
