"""Paired bootstrap test and multiple-comparison corrections (the sign-flip test the report uses
is tested in test_report_sign_flip.py)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from xstilts.evaluation.significance import (
    benjamini_hochberg,
    holm,
    paired_bootstrap_test,
    reject,
)


def test_identical_systems() -> None:
    rng = np.random.default_rng(0)
    a = (rng.random(300) < 0.7).astype(float)
    r = paired_bootstrap_test(a, a.copy(), resamples=2000)
    assert r.delta == 0.0 and r.p_value == pytest.approx(1.0)
    assert r.ci_low <= 0.0 <= r.ci_high


def test_clearly_different_systems_and_seeding() -> None:
    rng = np.random.default_rng(1)
    a = (rng.random(500) < 0.80).astype(float)
    b = np.where(rng.random(500) < 0.25, 0.0, a)  # b loses ~20% of a's correct answers
    r = paired_bootstrap_test(a, b, resamples=2000, seed=5)
    assert r.delta == pytest.approx(a.mean() - b.mean())
    assert r.p_value < 0.01 and 0.0 < r.ci_low < r.delta < r.ci_high
    assert r == paired_bootstrap_test(a, b, resamples=2000, seed=5)  # seeded
    # swapping the systems flips the sign and keeps p
    s = paired_bootstrap_test(b, a, resamples=2000, seed=5)
    assert s.delta == pytest.approx(-r.delta) and s.p_value == pytest.approx(r.p_value)


def test_bootstrap_ci_matches_normal_theory() -> None:
    rng = np.random.default_rng(3)
    d = rng.normal(loc=0.1, scale=1.0, size=400)
    r = paired_bootstrap_test(d, np.zeros_like(d), resamples=4000)
    se = d.std(ddof=1) / np.sqrt(d.size)
    assert r.ci_low == pytest.approx(d.mean() - 1.96 * se, abs=0.3 * se)
    assert r.ci_high == pytest.approx(d.mean() + 1.96 * se, abs=0.3 * se)


def test_input_checks() -> None:
    with pytest.raises(ValueError):
        paired_bootstrap_test([1, 2], [1])
    with pytest.raises(ValueError):
        paired_bootstrap_test([], [])
    with pytest.raises(ValueError):
        paired_bootstrap_test([1.0], [0.0], confidence=1.5)


def test_holm_hand_computed() -> None:
    p = [0.01, 0.04, 0.03, 0.005]
    # sorted 0.005, 0.01, 0.03, 0.04 times (4, 3, 2, 1) = 0.02, 0.03, 0.06, 0.04
    # running max -> 0.02, 0.03, 0.06, 0.06; back in input order:
    assert holm(p) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, 0.6]) == pytest.approx([1.0, 1.0])  # capped at 1
    assert reject(holm(p), 0.05).tolist() == [True, False, False, True]


def test_benjamini_hochberg_hand_computed_and_vs_scipy() -> None:
    p = [0.01, 0.04, 0.03, 0.005]
    # sorted times m/i: 0.005*4, 0.01*2, 0.03*4/3, 0.04*1 = 0.02, 0.02, 0.04, 0.04
    # running min from the top leaves them; input order:
    assert benjamini_hochberg(p) == pytest.approx([0.02, 0.04, 0.04, 0.02])
    rng = np.random.default_rng(4)
    for _ in range(20):
        q = rng.random(int(rng.integers(1, 40))) ** 2
        assert benjamini_hochberg(q) == pytest.approx(stats.false_discovery_control(q))
    with pytest.raises(ValueError):
        holm([1.2])


def test_corrections_are_monotone_and_conservative() -> None:
    rng = np.random.default_rng(5)
    p = rng.random(25)
    h, bh = holm(p), benjamini_hochberg(p)
    assert (h >= p).all() and (bh >= p).all() and (h >= bh - 1e-12).all()
    order = np.argsort(p)
    assert (np.diff(h[order]) >= 0).all() and (np.diff(bh[order]) >= -1e-15).all()
