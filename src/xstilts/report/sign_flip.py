"""Paired sign-flip test on per-example differences: exact wherever the data allow.

Why not a fixed number of random sign patterns: a Monte-Carlo p-value never goes below
1/(B+1), and Holm multiplies the smallest p of a family by the family's size. With B = 1000 and
96 language-group comparisons, a 30-point drop on 1000 examples came out at p_adj = 0.096
although its exact p is below 1e-20.

The statistic is T = Σ d_i over the (weighted) per-example differences; under the null each
sign is flipped independently with probability ½. The examples sharing one value |d| = v
contribute v·(2·Binomial(c, ½) − c) together, and accuracy-type scores take few distinct |d|
(one per language and fraction of seeds), so the null distribution is a sum of few binomials:

* exact: when the distinct |d| are integer multiples of one step (equal weights, seed
  fractions, or a few languages of different sizes), convolve those binomials on that lattice;
  p is then the exact two-sided fraction of all 2^n sign patterns;
* Monte Carlo otherwise: ``permutations`` draws (fewer where one test would exceed its compute
  budget: the record says how many), p = (1 + hits) / (1 + B), so the smallest reachable p is
  1/(B+1) and is reported with it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from scipy.stats import binom

MAX_CELLS = 4_000_000  # support of the exact null distribution (~32 MB)
_WORK = 1_000_000_000  # multiply-adds of the exact convolutions (~0.4 s)
_TINY = 1e-150
_MAX_DENOMINATOR = 1000
_GROUPED_BUDGET = 20_000_000  # binomial draws per Monte-Carlo test (~2 s)
_DIRECT_BUDGET = 100_000_000  # random signs per Monte-Carlo test (~2 s)
_CHUNK = 4_000_000


@dataclass(frozen=True)
class SignFlip:
    """Two-sided p of mean(d) = 0; ``permutations`` is None when p is exact."""

    p_value: float
    permutations: int | None

    @property
    def min_p(self) -> float:
        """The smallest p this test could report (0 for the exact test)."""
        return 0.0 if self.permutations is None else 1 / (self.permutations + 1)

    @property
    def name(self) -> str:
        if self.permutations is None:
            return "exact sign-flip test (all 2^n sign patterns)"
        return f"Monte-Carlo sign-flip test (B = {self.permutations}, min p = {self.min_p:.1g})"


def _lattice(values: np.ndarray) -> tuple[np.ndarray, float] | None:
    """Integer multiples ``ints`` of one step ``q`` (values = ints · q), when there is one.

    Equal weights give ratios like 1 : 2 : 3 (seed fractions); two languages of 480 and 500
    examples give 25 : 24. Ratios that need denominators beyond ``_MAX_DENOMINATOR`` count as
    having no lattice (the exact distribution would be too wide anyway).
    """
    ratios = values / values[0]
    fractions = [Fraction(float(r)).limit_denominator(_MAX_DENOMINATOR) for r in ratios]
    if any(abs(float(f) - r) > 1e-9 * r for f, r in zip(fractions, ratios, strict=True)):
        return None
    step = math.lcm(*(f.denominator for f in fractions))
    return np.array([f.numerator * step // f.denominator for f in fractions]), values[0] / step


def _flush(pmf: np.ndarray) -> float:
    """Zero probabilities below 1e-150 in place and return their sum: products of smaller ones
    turn subnormal, which makes the convolution ~100 times slower."""
    small = pmf < _TINY
    dropped = float(pmf[small].sum())
    pmf[small] = 0.0
    return dropped


def _exact(values: np.ndarray, counts: np.ndarray, observed: float) -> float | None:
    """P(|T| >= |observed|) over all 2^n sign patterns, or None when too costly.

    On the lattice T = q · Σ_k u_k (2 X_k − c_k), X_k ~ Binomial(c_k, ½); the distribution of
    the sum is the convolution of the components' (each placed at stride 2 u_k). The mass of
    the flushed tiny probabilities is added to p, so p stays an upper bound and never 0.
    """
    lattice = _lattice(values)
    if lattice is None:
        return None
    ints, step = lattice
    widths = 2 * ints * counts + 1
    order = np.argsort(widths)
    if widths.sum() > MAX_CELLS or np.cumsum(widths[order])[:-1] @ widths[order][1:] > _WORK:
        return None
    pmf, dropped = np.ones(1), 0.0
    for u, c in zip(ints[order], counts[order], strict=True):
        kernel = np.zeros(2 * u * c + 1)
        weights = binom.pmf(np.arange(c + 1), c, 0.5)
        dropped += _flush(weights)
        kernel[:: 2 * u] = weights
        pmf = np.convolve(pmf, kernel)
        dropped += _flush(pmf)
    half = pmf.size // 2  # index of T = 0
    threshold = round(abs(observed) / step)
    if threshold == 0:
        return 1.0
    tail = float(pmf[: half - threshold + 1].sum() + pmf[half + threshold:].sum())
    return min(1.0, tail + dropped)


def _monte_carlo(d: np.ndarray, values: np.ndarray, counts: np.ndarray, extreme: float,
                 permutations: int, rng: np.random.Generator) -> tuple[int, int]:
    """(hits, draws): binomials per distinct |d| when few, else one random sign per example."""
    grouped = 4 * values.size <= d.size
    width = values.size if grouped else d.size
    draws = max(1, min(permutations, (_GROUPED_BUDGET if grouped else _DIRECT_BUDGET) // width))
    offset = float(values @ counts)
    hits = 0
    for start in range(0, draws, max(1, _CHUNK // width)):
        m = min(max(1, _CHUNK // width), draws - start)
        if grouped:
            t = 2 * rng.binomial(counts, 0.5, size=(m, values.size)) @ values - offset
        else:
            t = (rng.integers(0, 2, size=(m, d.size), dtype=np.int8) * 2 - 1) @ d
        hits += int((np.abs(t) >= extreme).sum())
    return hits, draws


def sign_flip_test(differences: np.ndarray, *, permutations: int = 100_000,
                   seed: int = 0) -> SignFlip:
    """Two-sided paired sign-flip test of mean(differences) = 0 (see the module doc)."""
    if permutations < 1:
        raise ValueError("permutations must be at least 1")
    d = np.asarray(differences, dtype=np.float64)
    d = d[d != 0]  # a zero difference is the same under either sign
    if d.size == 0:
        return SignFlip(1.0, None)
    values, counts = np.unique(np.abs(d), return_counts=True)
    observed = float(d.sum())
    exact = _exact(values, counts, observed)
    if exact is not None:
        return SignFlip(exact, None)
    # Sums of the same numbers in another order differ in the last bits: without slack the
    # observed statistic could fail to count as "at least as extreme" as itself.
    extreme = abs(observed) - 1e-9 * max(1.0, abs(observed))
    hits, draws = _monte_carlo(d, values, counts, extreme, permutations,
                               np.random.default_rng(seed))
    return SignFlip((1 + hits) / (1 + draws), draws)
