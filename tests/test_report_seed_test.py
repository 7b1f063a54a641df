"""The seed-level half of a comparison's test: a delta that seeds do not reproduce is not
significant however many examples agree (xstilts.report.seed_test via compare)."""

from __future__ import annotations

import statistics

import numpy as np
import pytest
from scipy.stats import t as student_t

from xstilts.report.comparisons import SIGN_FLIP, compare
from xstilts.report.methods import general_lines
from xstilts.report.seed_test import PAIRED, WELCH
from xstilts.tasktypes.per_example import ExampleStatistics

N = 2000
IDS = tuple(f"de-{i}" for i in range(N))


def _scores(correct: dict[str, dict[int, int]]) -> dict:
    """config -> {seed: k}: the first k of the N examples are correct, the rest wrong."""
    return {("m", config, "t", "accuracy", "de", ""): {
        seed: ExampleStatistics("accuracy", IDS, (np.arange(N) < k).astype(float))
        for seed, k in by_seed.items()} for config, by_seed in correct.items()}


def _compare(correct: dict[str, dict[int, int]]):
    return compare(_scores(correct), ("m", "a"), ("m", "none"), "t", "accuracy", ["de"],
                   seed_values=([], []), resamples=200, permutations=1000)


def _paired_t_p(deltas: list[float]) -> float:
    t = statistics.fmean(deltas) / (statistics.stdev(deltas) / len(deltas) ** 0.5)
    return float(2 * student_t.sf(abs(t), df=len(deltas) - 1))


def _paired_t_interval(deltas: list[float]) -> tuple[float, float]:
    half = (student_t.ppf(0.975, df=len(deltas) - 1) * statistics.stdev(deltas)
            / len(deltas) ** 0.5)
    return statistics.fmean(deltas) - half, statistics.fmean(deltas) + half


def test_a_gain_one_seed_in_three_hardly_shows_is_not_significant() -> None:
    """Seed deltas +5, +0.5, +6 points: every changed example moves the same way, so the
    example-level sign-flip p is astronomically small, but over seeds t(2) ≈ 2.3, p ≈ 0.15."""
    result = _compare({"a": {0: 1100, 1: 1010, 2: 1120}, "none": dict.fromkeys((0, 1, 2), 1000)})
    assert result.delta == pytest.approx((100 + 10 + 120) / 3 / N)
    assert result.p_examples < 1e-30
    assert result.seed_test == "paired t-test over seeds"
    assert result.p_seeds == pytest.approx(_paired_t_p([0.05, 0.005, 0.06]), rel=1e-9)
    assert 0.1 < result.p_value == result.p_seeds
    assert "paired t-test over seeds (3 seeds)" in result.method
    # the interval agrees: the bootstrap's alone clears zero, the t-interval over seeds does
    # not, and the reported one is their hull
    assert result.bootstrap_ci[0] > 0
    assert result.seed_ci == pytest.approx(_paired_t_interval([0.05, 0.005, 0.06]), rel=1e-9)
    assert result.ci_low == result.seed_ci[0] < 0 < result.ci_high
    assert result.ci_high == max(result.bootstrap_ci[1], result.seed_ci[1])


def test_a_gain_every_seed_reproduces_stays_significant() -> None:
    result = _compare({"a": {0: 1100, 1: 1105, 2: 1095}, "none": dict.fromkeys((0, 1, 2), 1000)})
    assert result.p_seeds == pytest.approx(_paired_t_p([0.05, 0.0525, 0.0475]), rel=1e-9)
    assert result.p_value == max(result.p_examples, result.p_seeds) < 0.01
    assert 0 < result.ci_low <= result.bootstrap_ci[0] and result.ci_low <= result.seed_ci[0]


def test_different_seeds_get_welchs_test() -> None:
    """Seeds 0-2 against seeds 3-4: nothing pairs them, so Welch's unequal-variance t-test."""
    a, b = [0.55, 0.5525, 0.5475], [0.50, 0.51]
    result = _compare({"a": {s: round(N * v) for s, v in zip((0, 1, 2), a, strict=True)},
                       "none": {s: round(N * v) for s, v in zip((3, 4), b, strict=True)}})
    va, vb = statistics.variance(a) / 3, statistics.variance(b) / 2
    t = (statistics.fmean(a) - statistics.fmean(b)) / (va + vb) ** 0.5
    df = (va + vb) ** 2 / (va ** 2 / 2 + vb ** 2 / 1)
    assert result.seed_test == "Welch's t-test over seeds"
    assert result.p_seeds == pytest.approx(2 * student_t.sf(abs(t), df=df), rel=1e-9)
    assert "Welch's t-test over seeds (3 vs 2 seeds)" in result.method


def test_without_seed_variation_or_with_one_seed_the_example_test_decides() -> None:
    same = _compare({"a": dict.fromkeys((0, 1, 2), 1100), "none": dict.fromkeys((0, 1, 2), 1000)})
    assert same.p_seeds is None and same.p_value == same.p_examples
    assert same.p_examples == pytest.approx(2 * 0.5 ** 100, rel=1e-9)  # 100 changed, all +
    assert "every seed gives the same delta" in same.method
    one = _compare({"a": {0: 1100}, "none": {0: 1000}})
    assert one.p_seeds is None and one.seed_test is None and one.p_value == one.p_examples
    assert "fewer than two seeds on a side" in one.method
    assert one.seed_ci is None and one.bootstrap_ci is None and one.ci_low > 0


def _methods(n_seeds: int, seed_test: str) -> str:
    """The report's methods text for one comparison whose seed-level test had ``n_seeds``."""
    delta = {"p": 0.5, "test_name": SIGN_FLIP, "seed_test": seed_test, "n_seeds": n_seeds,
             "metric": "accuracy"}
    analysis = {"correction": "holm", "permutations": 1000, "alpha": 0.05, "confidence": 0.95,
                "deltas": [delta]}
    return " ".join(general_lines(analysis))


def test_two_seeds_are_flagged_in_the_methods() -> None:
    """Two paired seeds: one degree of freedom, t quantile 12.71 (scipy: 12.706), said in the
    methods; three seeds or Welch's test (other degrees of freedom) get no such sentence."""
    text = _methods(2, PAIRED)
    assert "one degree of freedom" in text and "±12.71 standard errors" in text
    assert "±4.30 with three seeds" in text
    assert "one degree of freedom" not in _methods(3, PAIRED)
    assert "one degree of freedom" not in _methods(2, WELCH)
