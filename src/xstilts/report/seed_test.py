"""Seed-level test of a paired comparison: is the delta larger than seed-to-seed variation?

Why a second test: the example-level tests (:mod:`xstilts.report.sign_flip`,
:mod:`xstilts.report.ratio_metrics`) flip or swap examples of each configuration's
seed-averaged scores, so their null holds the trained models fixed. Fine-tuning seeds move
scores by points (Dodge et al. 2020), and on thousands of examples a difference between two
particular sets of models is "significant" long before it is one between two training
recipes: the quickstart reported p = 0.009 for a delta whose interval over seeds and examples
was [−3.4, +1.0].

What is computed: each seed's macro average over the compared languages (a ratio metric
recomputed from that seed's summed counts), then Student's paired t-test over the per-seed
deltas when both configurations ran the same seeds (seed s of each shares the target data
order), else Welch's t-test over the two sets of per-seed averages — the tests Reimers &
Gurevych (2018) recommend for score distributions over seeds, from scipy. A comparison's
p-value is the larger of this test's and the example-level test's (an intersection-union test,
Berger 1982): significant then means the delta stands out against both the sampling of
examples and the choice of seeds, and it is still a valid level-α test.

The interval follows: the two-level bootstrap's (seeds, then examples) is widened to the hull
of itself and this test's t-interval. With few seeds the bootstrap understates their
variation (resampling n seeds sees (n−1)/n of it, and percentiles are not t quantiles: with 3
seeds the critical value is 4.30, not 1.96), so alone it could exclude zero where the seed
test does not reject; the hull covers at least as often as either interval.

No seed-level test with fewer than two seeds on a side (nothing to estimate the variation
from: the report says the test is conditional on the trained model), nor when every seed gives
the same delta (no seed-to-seed variation: the example-level test alone is then the right one).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import ttest_ind, ttest_rel

PAIRED = "paired t-test over seeds"
WELCH = "Welch's t-test over seeds"


@dataclass(frozen=True)
class SeedTest:
    """Two-sided p of equal mean over seeds, the t-interval of the delta, the test's name and
    seed counts."""

    p_value: float
    ci_low: float
    ci_high: float
    name: str  # PAIRED or WELCH
    n_a: int
    n_b: int

    def describe(self) -> str:
        seeds = (f"{self.n_a} seeds" if self.name == PAIRED
                 else f"{self.n_a} vs {self.n_b} seeds")
        return f"{self.name} ({seeds}) p = {self.p_value:.2g}"


def _constant(values: np.ndarray) -> bool:
    return bool(np.ptp(values) <= 1e-12 * max(1.0, float(np.abs(values).max())))


def seed_level_test(per_seed_a: dict[int, float], per_seed_b: dict[int, float],
                    confidence: float = 0.95) -> SeedTest | None:
    """Paired t-test over the per-seed deltas when both sides have the same seeds (two or
    more), Welch's t-test otherwise, with the t-interval at ``confidence``; None below two
    seeds on a side or without any seed-to-seed variation (see module doc)."""
    if len(per_seed_a) < 2 or len(per_seed_b) < 2:
        return None
    if set(per_seed_a) == set(per_seed_b):
        seeds = sorted(per_seed_a)
        a = np.array([per_seed_a[s] for s in seeds])
        b = np.array([per_seed_b[s] for s in seeds])
        if _constant(a - b):
            return None
        return _result(ttest_rel(a, b), confidence, PAIRED, len(seeds), len(seeds))
    a, b = np.array(list(per_seed_a.values())), np.array(list(per_seed_b.values()))
    if _constant(a) and _constant(b):
        return None
    return _result(ttest_ind(a, b, equal_var=False), confidence, WELCH, a.size, b.size)


def _result(test: Any, confidence: float, name: str, n_a: int, n_b: int) -> SeedTest:
    """From scipy's ``TtestResult`` (its class is private: hence ``Any``)."""
    interval = test.confidence_interval(confidence)
    return SeedTest(float(test.pvalue), float(interval.low), float(interval.high), name, n_a,
                    n_b)
