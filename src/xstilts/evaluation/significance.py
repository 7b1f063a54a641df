"""Is system A better than system B on the same examples? A paired bootstrap, and corrections.

The test works on per-example scores of two systems on the *same* examples (e.g. 0/1
correctness, per-question F1), which is why the metrics modules expose per-example arrays.
Pairing removes the between-example variance that an unpaired comparison would carry.

- Paired bootstrap (Koehn 2004; Berg-Kirkpatrick et al. 2012): resample examples with
  replacement, recompute the mean difference. The percentile interval of those differences
  is the CI. The two-sided p-value centres the bootstrap distribution on the null (shift by
  the observed delta) and counts how often ``|delta* - delta| >= |delta|``; it uses
  (1 + hits) / (1 + resamples) so it is never 0 (a p of 0 from a finite sample would
  overstate certainty). Everything is seeded.

The paired sign-flip (permutation) test lives in one place, :mod:`xstilts.report.sign_flip`
(exact where the differences allow it), the one the report uses.

Comparing many systems or languages inflates false positives; ``holm`` (family-wise error)
and ``benjamini_hochberg`` (false discovery rate) adjust a list of p-values.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

_MAX_CELLS = 4_000_000  # resamples x examples per chunk, bounds memory at ~32 MB


@dataclass(frozen=True)
class PairedTestResult:
    """Observed difference mean(A) - mean(B), its percentile CI and a two-sided p-value."""

    method: str
    delta: float
    ci_low: float
    ci_high: float
    p_value: float
    n: int
    resamples: int


def _differences(scores_a: Sequence[float], scores_b: Sequence[float]) -> np.ndarray:
    a = np.asarray(scores_a, dtype=np.float64)
    b = np.asarray(scores_b, dtype=np.float64)
    if a.ndim != 1 or a.shape != b.shape or a.size == 0:
        raise ValueError("need two non-empty 1-D score sequences on the same examples")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("scores contain NaN or infinite values")
    return a - b


def _chunks(resamples: int, n: int) -> Iterator[int]:
    size = max(1, _MAX_CELLS // max(n, 1))
    for start in range(0, resamples, size):
        yield min(size, resamples - start)


def _bootstrap_means(d: np.ndarray, resamples: int, rng: np.random.Generator) -> np.ndarray:
    n = d.size
    return np.concatenate([d[rng.integers(0, n, size=(m, n))].mean(axis=1)
                           for m in _chunks(resamples, n)])


def _percentile_ci(values: np.ndarray, confidence: float) -> tuple[float, float]:
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(values, [alpha, 1.0 - alpha])
    return float(low), float(high)


def _check(resamples: int, confidence: float) -> None:
    if resamples < 1:
        raise ValueError("resamples must be at least 1")
    if not 0.0 < confidence < 1.0:
        raise ValueError("confidence must lie strictly between 0 and 1")


def _tolerance(delta: float) -> float:
    # Means of the same numbers summed in another order differ in the last bits; without
    # slack the observed statistic could fail to count as "at least as extreme" as itself.
    return 1e-12 * max(1.0, abs(delta))


def paired_bootstrap_test(
    scores_a: Sequence[float], scores_b: Sequence[float], *, resamples: int = 10_000,
    confidence: float = 0.95, seed: int = 0,
) -> PairedTestResult:
    """Paired bootstrap of mean(A) - mean(B): percentile CI and null-centred two-sided p."""
    _check(resamples, confidence)
    d = _differences(scores_a, scores_b)
    delta = float(d.mean())
    means = _bootstrap_means(d, resamples, np.random.default_rng(seed))
    low, high = _percentile_ci(means, confidence)
    hits = int((np.abs(means - delta) >= abs(delta) - _tolerance(delta)).sum())
    p = (1 + hits) / (1 + resamples)
    return PairedTestResult("paired_bootstrap", delta, low, high, min(1.0, p), d.size, resamples)


def _p_array(p_values: Sequence[float]) -> np.ndarray:
    p = np.asarray(p_values, dtype=np.float64)
    if p.ndim != 1 or p.size == 0:
        raise ValueError("need a non-empty 1-D list of p-values")
    if not ((p >= 0) & (p <= 1)).all():
        raise ValueError("p-values must lie in [0, 1]")
    return p


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm step-down adjusted p-values (controls the family-wise error rate).

    Sorted ascending, the i-th (1-based) gets ``(m - i + 1) * p_(i)``, made monotone
    non-decreasing by a running maximum and capped at 1; returned in input order.
    """
    p = _p_array(p_values)
    m = p.size
    order = np.argsort(p, kind="stable")
    adjusted = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out = np.empty(m)
    out[order] = np.minimum(adjusted, 1.0)
    return out


def benjamini_hochberg(p_values: Sequence[float]) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values; control the false discovery rate).

    Sorted ascending, the i-th gets ``m / i * p_(i)``, made monotone by a running minimum
    from the largest down and capped at 1; returned in input order.
    """
    p = _p_array(p_values)
    m = p.size
    order = np.argsort(p, kind="stable")
    scaled = p[order] * m / np.arange(1, m + 1)
    adjusted = np.minimum.accumulate(scaled[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(adjusted, 1.0)
    return out


def reject(adjusted_p_values: Sequence[float] | np.ndarray, alpha: float = 0.05) -> np.ndarray:
    """Which hypotheses are rejected at level ``alpha`` given adjusted p-values."""
    return np.asarray(adjusted_p_values) <= alpha


def two_seed_caveat(confidence: float = 0.95) -> str:
    """Why two seeds are too few for the report's seed-level t-test: said where a study is
    planned (``studies.advice``) and in the report's methods, so one sentence, kept here."""
    from scipy.stats import t as student_t

    two, three = (student_t.ppf(0.5 + confidence / 2, df) for df in (1, 2))
    return (f"with two seeds the paired t-test over seeds has one degree of freedom: its "
            f"{100 * confidence:g} % interval spans ±{two:.2f} standard errors (±{three:.2f} "
            "with three seeds), so deltas are rarely significant whatever the examples say; "
            "three or more seeds make the seed-level test informative")
