"""Paired comparisons of two configurations on the same examples: delta, interval, p-value.

Why per-example scores: a difference of two accuracies from two seeds says nothing about how
sure we are. The prediction files (``runs/<id>/predictions/<lang>.jsonl``: id, gold, prediction)
let us pair the two configurations example by example, which removes between-example variance.

What is computed (the report states the same):

* Per-example score: correctness (1/0) for accuracy-type metrics (classification, pair
  classification, multiple choice, retrieval with an id as gold); per-question token F1 or exact
  match for extractive QA (the official scores are means of those); for tagging per-sentence
  token accuracy or, for accuracy over all tokens, each sentence's correct tokens weighted by
  n_sentences / n_tokens (their mean is the micro accuracy). A per-example score is only
  *used* when its mean reproduces the stored metric of every run it comes from. Corpus-level
  ratio metrics (entity F1) get per-sentence counts instead, used when the metric of their sums
  reproduces the stored value, with the same interval over recomputed metrics and an
  approximate-randomization test (:mod:`xstilts.report.ratio_metrics`). Other metrics (Pearson
  correlation) get an interval over seeds only (two seeds or more) and no example-level test.
* Interval: a two-level bootstrap over seeds AND examples. Each resample draws seeds with
  replacement (the same seed draw for both configurations when they ran the same seeds, since
  seed s of A and seed s of B share the target data order), then, per language, examples with
  replacement (the same examples for both: paired). The statistic is the macro average over
  languages of mean(A) - mean(B). Percentile interval.
* Test: a paired sign-flip (permutation) test on per-example differences with seeds averaged
  (each configuration's score of an example is its mean over that configuration's seeds),
  pooled over the compared languages and weighted so the statistic is the same macro average
  over languages. A language group is therefore tested on all its examples, not on its 1-3
  language means (a sign-flip over 2 languages could never go below p = 0.5). The p-value is
  exact where the differences allow it, else Monte Carlo with its smallest reachable p stated;
  see :mod:`xstilts.report.sign_flip`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from xstilts.evaluation.qa_metrics import exact_match, token_f1
from xstilts.report.ratio_metrics import (
    RATIO_METRICS,
    TEST_NAME,
    bootstrap_delta,
    corpus_value,
    example_counts,
    randomization_test,
)
from xstilts.report.sign_flip import sign_flip_test

_MAX_CELLS = 2_000_000
_TOLERANCE = 1e-6

# (model, intermediate, task, metric, language, view) -> {seed: {example id: score}}; for a
# ratio metric the score is the example's vector of counts (see ratio_metrics). ``view`` tells
# apart the evaluations of one language within a run (see :func:`prediction_view`).
ExampleScores = dict[tuple[str, str, str, str, str, str],
                     dict[int, dict[str, float | np.ndarray]]]
SIGN_FLIP = "paired sign-flip test"


@dataclass(frozen=True)
class Comparison:
    """mean(A) - mean(B) (fraction, not points) with its interval and test."""

    delta: float
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    n_examples: int
    n_seeds: int
    method: str
    test: str | None = None
    permutations: int | None = None  # Monte-Carlo draws; None for an exact p or no test
    min_p: float | None = None  # smallest p the test could give: 1/(B+1), 0 if exact
    test_name: str | None = None  # SIGN_FLIP or ratio_metrics.TEST_NAME; None for no test


def example_score(gold: Any, prediction: Any, metric: str) -> float | None:
    """Score of one prediction, or None when the metric has no per-example form here."""
    if gold is None:
        return None
    if isinstance(gold, list) and (prediction is None or isinstance(prediction, str)):
        answers = [str(a) for a in gold]
        scorer = exact_match if metric in ("exact_match", "em") else token_f1
        return float(scorer(prediction or "", answers))
    if isinstance(gold, list) and isinstance(prediction, list):
        if not gold or len(gold) != len(prediction):
            return None
        return float(np.mean([g == p for g, p in zip(gold, prediction, strict=True)]))
    if isinstance(gold, float) and not gold.is_integer():
        return None  # regression: correlation metrics do not decompose per example
    return float(gold == prediction)


def _token_weighted(records: list[dict[str, Any]]) -> dict[str, float] | None:
    """Tagging scored over all tokens (micro accuracy) as per-sentence scores: correct tokens
    times n_sentences / n_tokens, whose plain mean is the micro accuracy. The weight is fixed by
    the gold sentences, so the paired difference of two configurations is a sum over sentences
    and the sign-flip test applies unchanged (the bootstrap then resamples that linearised
    statistic)."""
    pairs = [(r.get("gold"), r.get("prediction")) for r in records]
    if not pairs or not all(isinstance(g, list) and isinstance(p, list) and len(g) == len(p)
                            for g, p in pairs):
        return None
    tokens = sum(len(g) for g, _ in pairs)
    if tokens == 0:
        return None
    weight = len(pairs) / tokens
    return {str(r["id"]): weight * sum(a == b for a, b in zip(g, p, strict=True))
            for r, (g, p) in zip(records, pairs, strict=True)}


def _candidates(path: Path, metric: str) -> list[tuple[dict[str, Any], float]]:
    """(per-example scores, the metric they give) that might reproduce ``metric``: counts for
    a ratio metric; else per example, and for tagging also token-weighted (the mean is the
    metric). The first whose metric equals the stored value is used."""
    with path.open(encoding="utf-8") as f:
        records = [json.loads(line) for line in f if line.strip()]
    if metric in RATIO_METRICS:
        counts = example_counts(records, RATIO_METRICS[metric])
        return [] if counts is None else [(counts, corpus_value(counts, RATIO_METRICS[metric]))]
    values = [example_score(r.get("gold"), r.get("prediction"), metric) for r in records]
    out = [{str(r["id"]): float(v) for r, v in zip(records, values, strict=True)}
           ] if records and None not in values else []
    weighted = _token_weighted(records)
    return [(c, float(np.mean(list(c.values())))) for c in out + ([weighted] if weighted else [])]


def prediction_view(split: str) -> str:
    """The evaluation a row's split names beyond the plain one: ``test+align`` → ``align``
    (its predictions are in ``predictions/align/``), ``test`` → ``""`` (``predictions/``)."""
    return split.partition("+")[2]


def load_example_scores(out_dir: Path, rows: Iterable[dict[str, Any]]) -> ExampleScores:
    """Per-example scores of every result row whose metric they reproduce (see module doc)."""
    found: ExampleScores = {}
    for row in rows:
        view = prediction_view(row["split"])
        path = (out_dir / "runs" / row["run_id"] / "predictions" / view
                / f"{row['language']}.jsonl")
        if not path.is_file():
            continue
        scores = next((c for c, value in _candidates(path, row["metric"])
                       if abs(value - row["value"]) <= _TOLERANCE), None)
        if scores is None:
            continue
        key = (row["model"], row["intermediate"], row["target_task"], row["metric"],
               row["language"], view)
        found.setdefault(key, {})[int(row["seed"])] = scores
    return found


def _matrix(by_seed: dict[int, dict[str, Any]], ids: list[str]) -> np.ndarray:
    """Seeds (sorted) × examples (in ``ids`` order), × counts for a ratio metric."""
    return np.array([[by_seed[s][i] for i in ids] for s in sorted(by_seed)], dtype=np.float64)


def _seed_weights(n_seeds: int, draws: int, rng: np.random.Generator) -> np.ndarray:
    """Resampled seed multiplicities as weights (draws × seeds, rows sum to 1)."""
    if n_seeds == 1:
        return np.ones((draws, 1))
    picks = rng.integers(0, n_seeds, size=(draws, n_seeds))
    counts = np.stack([(picks == s).sum(axis=1) for s in range(n_seeds)], axis=1)
    return counts / n_seeds


LanguageDelta = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray],
                        np.ndarray]


def _mean_delta(a: np.ndarray, b: np.ndarray, w_a: np.ndarray, w_b: np.ndarray,
                idx: np.ndarray) -> np.ndarray:
    """Draws of mean(A) − mean(B) of one language: seed-weighted, examples resampled."""
    return np.take_along_axis(w_a @ a - w_b @ b, idx, axis=1).mean(axis=1)


def _bootstrap(pairs: list[tuple[np.ndarray, np.ndarray]], paired_seeds: bool, resamples: int,
               rng: np.random.Generator, language_delta: LanguageDelta = _mean_delta
               ) -> np.ndarray:
    """Two-level (seeds, then examples per language) bootstrap of the macro-average delta;
    ``language_delta`` turns one language's seed weights and example draws into deltas."""
    n_a, n_b = pairs[0][0].shape[0], pairs[0][1].shape[0]
    widest = max(a.shape[1] for a, _ in pairs)
    chunk = max(1, _MAX_CELLS // max(widest, 1))
    out: list[np.ndarray] = []
    for start in range(0, resamples, chunk):
        m = min(chunk, resamples - start)
        w_a = _seed_weights(n_a, m, rng)
        w_b = w_a if paired_seeds else _seed_weights(n_b, m, rng)
        total = np.zeros(m)
        for a, b in pairs:
            idx = rng.integers(0, a.shape[1], size=(m, a.shape[1]))  # the same ids for A and B
            total += language_delta(a, b, w_a, w_b, idx)
        out.append(total / len(pairs))
    return np.concatenate(out)


def _seed_only(a_scores: list[float], b_scores: list[float], confidence: float,
               resamples: int, rng: np.random.Generator) -> Comparison:
    """Interval over seeds alone, for metrics without per-example scores."""
    a, b = np.asarray(a_scores), np.asarray(b_scores)
    delta = float(a.mean() - b.mean())
    if a.size < 2 or b.size < 2:
        return Comparison(delta, None, None, None, 0, min(a.size, b.size), "none (one seed)")
    draws = (rng.choice(a, (resamples, a.size)).mean(1) - rng.choice(b, (resamples, b.size))
             .mean(1))
    alpha = (1 - confidence) / 2
    low, high = np.quantile(draws, [alpha, 1 - alpha])
    return Comparison(delta, float(low), float(high), None, 0, min(a.size, b.size),
                      "bootstrap over seeds only")


def compare(scores: ExampleScores, a: tuple[str, str], b: tuple[str, str], task: str,
            metric: str, languages: list[str], *, seed_values: tuple[list[float], list[float]],
            resamples: int = 1000, permutations: int = 100_000, confidence: float = 0.95,
            seed: int = 0, view: str = "") -> Comparison:
    """Compare configuration ``a`` = (model, intermediate) with ``b`` on ``languages``
    (in the evaluation ``view``, see :func:`prediction_view`).

    ``seed_values`` holds each configuration's per-seed macro average over ``languages``; it is
    the fallback when some language has no usable per-example scores.
    """
    rng = np.random.default_rng(seed)
    pairs: list[tuple[np.ndarray, np.ndarray]] = []
    seeds_a: set[int] = set()
    seeds_b: set[int] = set()
    for lang in languages:
        by_a = scores.get((*a, task, metric, lang, view))
        by_b = scores.get((*b, task, metric, lang, view))
        if not by_a or not by_b:
            return _seed_only(*seed_values, confidence, resamples, rng)
        ids = sorted(set.intersection(*(set(s) for s in [*by_a.values(), *by_b.values()])))
        if not ids:
            return _seed_only(*seed_values, confidence, resamples, rng)
        pairs.append((_matrix(by_a, ids), _matrix(by_b, ids)))
        seeds_a |= set(by_a)
        seeds_b |= set(by_b)
    if not pairs:
        return _seed_only(*seed_values, confidence, resamples, rng)
    ratio = RATIO_METRICS.get(metric)
    paired_seeds = seeds_a == seeds_b
    draws = _bootstrap(pairs, paired_seeds, resamples, rng,
                       _mean_delta if ratio is None else bootstrap_delta(ratio))
    alpha = (1 - confidence) / 2
    low, high = np.quantile(draws, [alpha, 1 - alpha])
    total = sum(x.shape[1] for x, _ in pairs)
    n_seeds = min(len(seeds_a), len(seeds_b))
    if ratio is not None:
        test = randomization_test(pairs, ratio, permutations=permutations, seed=seed)
        delta = float(np.mean([ratio.value(x.sum(axis=1)).mean() - ratio.value(y.sum(axis=1))
                               .mean() for x, y in pairs]))
        return Comparison(delta, float(low), float(high), test.p_value, total, n_seeds,
                          f"{TEST_NAME} (B = {test.permutations}) on {ratio.name} recomputed "
                          f"from summed counts, {len(pairs)} language(s), seeds' counts "
                          "averaged; paired bootstrap over seeds and sentences", "Monte Carlo",
                          test.permutations, test.min_p, TEST_NAME)
    # Seed-averaged per-example differences, scaled so their plain mean is the macro average.
    diffs = np.concatenate([(x.mean(0) - y.mean(0)) * total / (len(pairs) * x.shape[1])
                            for x, y in pairs])
    test = sign_flip_test(diffs, permutations=permutations, seed=seed)
    return Comparison(float(diffs.mean()), float(low), float(high), test.p_value, total,
                      n_seeds,
                      f"{test.name} on per-example differences pooled over {len(pairs)} "
                      "language(s), seeds averaged; bootstrap over seeds and examples",
                      "exact" if test.permutations is None else "Monte Carlo", test.permutations,
                      test.min_p, SIGN_FLIP)
