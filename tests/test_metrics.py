"""Accuracy and its bootstrap interval on hand-made cases."""

from __future__ import annotations

import numpy as np
import pytest

from xstilts.errors import UnlabeledSplitError
from xstilts.evaluation.metrics import accuracy, bootstrap_interval, score_accuracy


def test_accuracy_hand_computed() -> None:
    assert accuracy([0, 1, 2, 1], [0, 1, 1, 1]) == 0.75
    with pytest.raises(ValueError):
        accuracy([0, 1], [0])


def test_bootstrap_interval_brackets_the_mean_and_is_seeded() -> None:
    correct = np.array([1.0] * 70 + [0.0] * 30)
    low, high = bootstrap_interval(correct, resamples=2000, seed=3)
    assert low < 0.7 < high
    # Normal approximation: 0.7 ± 1.96 * sqrt(0.21 / 100) = [0.61, 0.79].
    assert low == pytest.approx(0.61, abs=0.03) and high == pytest.approx(0.79, abs=0.03)
    assert (low, high) == bootstrap_interval(correct, resamples=2000, seed=3)


def test_perfect_scores_have_a_degenerate_interval() -> None:
    score = score_accuracy([1, 0, 1], [1, 0, 1])
    assert (score.value, score.ci_low, score.ci_high, score.n) == (1.0, 1.0, 1.0, 3)


def test_unlabeled_gold_is_refused_not_scored_as_zero() -> None:
    with pytest.raises(UnlabeledSplitError, match="no gold labels"):
        score_accuracy([None, None], [0, 1])
