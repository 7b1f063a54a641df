"""The report's sign-flip test: exact p over all sign patterns where possible, else stated B."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.stats import binomtest, norm

from xstilts.report.sign_flip import sign_flip_test


def _enumerated(d: np.ndarray) -> float:
    patterns = np.array(list(itertools.product([-1.0, 1.0], repeat=d.size)))
    return float((np.abs(patterns @ d) >= abs(d.sum()) - 1e-9).mean())


@pytest.mark.parametrize("trial", range(40))
def test_exact_p_equals_enumerating_every_sign_pattern(trial: int) -> None:
    rng = np.random.default_rng(trial)
    # seed fractions, language weights 1000/480 vs 1000/500, zeros, an irrational scale
    pool = np.array([-1, -0.5, 0, 0.5, 1, 1 / 3, -2 / 3, 1000 / 480, -1000 / 500])
    d = rng.choice(pool, size=int(rng.integers(1, 14))) * rng.choice([1.0, np.pi])
    result = sign_flip_test(d)
    assert result.permutations is None and result.min_p == 0.0
    assert result.p_value == pytest.approx(_enumerated(d), abs=1e-12)


def test_exact_p_hand_computed() -> None:
    # d = (1, 1, 1): of the 2^3 sign patterns only +++ and --- reach |sum| >= 3 -> p = 2/8
    assert sign_flip_test(np.array([1.0, 1.0, 1.0])).p_value == pytest.approx(0.25)
    # d = (1, 0, 0, 1): zeros do not move; the two ones agree in sign in 2 of 4 -> p = 0.5
    assert sign_flip_test(np.array([1.0, 0.0, 0.0, 1.0])).p_value == pytest.approx(0.5)


def test_null_p_values_are_roughly_uniform() -> None:
    # two noisy systems with the same expected score (distinct differences: Monte Carlo):
    # p < 0.05 in about 5 % of trials, mean p about 0.5
    rng = np.random.default_rng(2)
    ps = [sign_flip_test(rng.normal(size=60) - rng.normal(size=60), permutations=500,
                         seed=seed).p_value for seed in range(60)]
    assert 0.2 < float(np.mean(ps)) < 0.8
    assert np.mean(np.array(ps) < 0.05) < 0.2


def test_invalid_permutations() -> None:
    with pytest.raises(ValueError):
        sign_flip_test(np.ones(3), permutations=0)


def test_one_value_is_the_two_sided_sign_test() -> None:
    d = np.array([1.0] * 70 + [-1.0] * 40 + [0.0] * 390)
    assert sign_flip_test(d).p_value == pytest.approx(binomtest(70, 110).pvalue, rel=1e-9)
    assert sign_flip_test(np.zeros(5)).p_value == 1.0


def test_many_distinct_differences_fall_back_to_monte_carlo_with_its_floor() -> None:
    d = np.random.default_rng(0).normal(0.1, 1.0, size=400)
    result = sign_flip_test(d, permutations=5000)
    assert result.permutations == 5000 and result.min_p == pytest.approx(1 / 5001)
    normal = 2 * norm.sf(abs(d.sum()) / np.sqrt((d**2).sum()))
    assert result.p_value == pytest.approx(normal, abs=0.01)
    assert "B = 5000" in result.name
    strong = sign_flip_test(d + 3, permutations=5000)
    assert strong.p_value == pytest.approx(1 / 5001)  # never 0: the floor is the honest bound
