"""Paired comparisons of two configurations on the same examples: delta, interval, p-value.

Why per-example scores: a difference of two accuracies from two seeds says nothing about how
sure we are. The prediction files (``runs/<id>/predictions/<lang>.jsonl``: id, gold, prediction)
let us pair the two configurations example by example, which removes between-example variance.

What is computed (the report states the same):

* Per-example score: what the task type's handler says the stored metric decomposes into
  (:meth:`~xstilts.tasktypes.base.TaskTypeHandler.example_statistics`): correctness (1/0) for
  accuracy; per-question token F1 or exact match for extractive QA under the task's own rules
  (MLQA's per-language normalisation, SQuAD v2.0 for unanswerable questions); for tagging token
  accuracy (over all tokens) each sentence's correct tokens weighted by n_sentences / n_tokens
  (their mean is the micro accuracy). A per-example score is only *used* when its mean
  reproduces the stored metric of every run it comes from. Corpus-level ratio metrics (entity F1,
  span F1) get per-sentence counts instead, used when the metric of their sums reproduces the
  stored value, with the same interval over recomputed metrics and an approximate-randomization
  test (:mod:`xstilts.report.ratio_metrics`). Correlations (STS Spearman, Pearson) get each
  example's (gold, prediction) pair, used when the correlation of the pairs reproduces the
  stored value: the same interval with the correlation recomputed per resample, and an
  approximate-randomization test over examples (:mod:`xstilts.report.correlation_metrics`).
  Tasks whose type this process does not know get an interval over seeds only (two seeds or
  more) and no example-level test.
* Interval: a two-level bootstrap over seeds AND examples (with two or more seeds a side,
  widened to its hull with the seed-level t-interval: see below). Each resample draws seeds with
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
  see :mod:`xstilts.report.sign_flip`. That test holds the trained models fixed, so with two
  or more seeds on each side a seed-level t-test over the per-seed macro averages (paired when
  both ran the same seeds) is run too and the comparison's p is the larger of the two
  (:mod:`xstilts.report.seed_test`): a delta is significant only if it stands out against both
  the examples and the seeds. Both p-values are kept (``p_examples``, ``p_seeds``), and the
  interval is the hull of the bootstrap's and that t-interval (``bootstrap_ci``, ``seed_ci``):
  with few seeds the bootstrap alone understates seed variation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from xstilts.errors import XstiltsError
from xstilts.prediction_files import RecordCache
from xstilts.report import correlation_metrics, ratio_metrics
from xstilts.report.handlers import scorer
from xstilts.report.seed_test import seed_level_test
from xstilts.report.sign_flip import sign_flip_test
from xstilts.tasktypes.per_example import CorpusForm, CorrelationForm, ExampleStatistics
from xstilts.training.run_folder import RunFolder, split_view

_MAX_CELLS = 2_000_000
_TOLERANCE = 1e-6

# (model, intermediate, task, metric, language, view) -> {seed: the handler's per-example
# statistics of that run's prediction file}: scores, or count vectors for a ratio metric.
# ``view`` tells apart the evaluations of one language within a run (see
# :func:`prediction_view`).
ExampleScores = dict[tuple[str, str, str, str, str, str], dict[int, ExampleStatistics]]
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
    test_name: str | None = None  # SIGN_FLIP or a corpus form's TEST_NAME; None for no test
    count_statistics: tuple[str, ...] | None = None  # what a corpus metric's rows hold
    p_examples: float | None = None  # the example-level test's p (models held fixed)
    p_seeds: float | None = None  # the seed-level test's p (None: no such test, see method)
    seed_test: str | None = None  # seed_test.PAIRED or WELCH; None without a seed-level test
    seed_ci: tuple[float, float] | None = None  # the seed-level t-interval
    bootstrap_ci: tuple[float, float] | None = None  # the bootstrap's, before the hull


def prediction_view(split: str) -> str:
    """The evaluation a row's split names beyond the plain one: ``test+align`` → ``align``
    (its predictions are in ``predictions/align/``), ``test`` → ``""`` (``predictions/``)."""
    return split_view(split)


def _refuse_damaged(folder: RunFolder) -> None:
    """A report on files that are no longer the ones written would compute its statistics
    from damaged predictions (or quietly drop them when their metric no longer matches):
    refuse, naming the file, and say how to redo the run."""
    problem = folder.damage()
    if problem is not None:
        raise XstiltsError(f"{problem}. The report reads only run folders that match the "
                           f"checksums written with them: run `xstilts run` on the study again, "
                           f"which sets {folder.path.name} aside and redoes the run")


def load_example_scores(out_dir: Path, rows: Iterable[dict[str, Any]],
                        read: RecordCache | None = None) -> ExampleScores:
    """Per-example statistics of every result row whose metric they reproduce, from the
    row's task-type handler (see module doc); rows of a task without one get none. A run
    folder that no longer matches its checksum manifest stops the report (XstiltsError).
    Prediction files through ``read`` (one read per file, many metrics)."""
    read = read or RecordCache()
    found: ExampleScores = {}
    checked: set[str] = set()
    for row in rows:
        view = prediction_view(row["split"])
        folder = RunFolder.of(out_dir, row["run_id"])
        if row["run_id"] not in checked:
            _refuse_damaged(folder)
            checked.add(row["run_id"])
        path = folder.prediction_file(row["language"], row["split"])
        handled = scorer(row["target_task"])
        if handled is None or not path.is_file():
            continue
        task, handler = handled
        stats = handler.example_statistics(task, row["metric"], row["language"], read(path))
        if stats is None or abs(stats.value - row["value"]) > _TOLERANCE:
            continue
        key = (row["model"], row["intermediate"], row["target_task"], row["metric"],
               row["language"], view)
        found.setdefault(key, {})[int(row["seed"])] = stats
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


def _per_seed(matrices: list[tuple[list[int], np.ndarray]], form: CorpusForm | None
              ) -> dict[int, float]:
    """Each seed's macro average over languages (``matrices``: one (seeds, matrix) per
    language), for the seeds every language has: a mean of scores, or a corpus metric of that
    seed's rows."""
    by_language = []
    for seeds, x in matrices:
        values = x.mean(axis=1) if form is None else form.of_rows(x)
        by_language.append(dict(zip(seeds, values.tolist(), strict=True)))
    common = set.intersection(*(set(v) for v in by_language))
    return {s: float(np.mean([v[s] for v in by_language])) for s in sorted(common)}


def _with_seed_test(result: Comparison, per_seed: tuple[dict[int, float], dict[int, float]],
                    confidence: float) -> Comparison:
    """``result`` (an example-level test) with the seed-level test on ``per_seed`` added: p the
    larger of the two (intersection-union test), the interval the hull of the bootstrap's and
    the t-interval over seeds (see :mod:`xstilts.report.seed_test`), the method saying so."""
    seed_test = seed_level_test(*per_seed, confidence)
    if seed_test is None:
        why = ("fewer than two seeds on a side" if min(map(len, per_seed)) < 2
               else "every seed gives the same delta")
        return replace(result, p_examples=result.p_value,
                       method=f"{result.method}; no seed-level test ({why}): the p-value holds "
                              "the trained models fixed")
    low, high = result.ci_low, result.ci_high
    return replace(result, p_value=max(result.p_value or 0.0, seed_test.p_value),
                   ci_low=min(low, seed_test.ci_low) if low is not None else None,
                   ci_high=max(high, seed_test.ci_high) if high is not None else None,
                   p_examples=result.p_value, p_seeds=seed_test.p_value,
                   seed_test=seed_test.name, seed_ci=(seed_test.ci_low, seed_test.ci_high),
                   bootstrap_ci=(low, high),
                   method=f"{result.method}; p is the larger of the example-level test's "
                          f"(p = {result.p_value:.2g}) and the {seed_test.describe()}; "
                          "interval: the hull of the bootstrap's and the t-interval's over "
                          "seeds")


def _seed_only(a_scores: list[float], b_scores: list[float], confidence: float,
               resamples: int, rng: np.random.Generator) -> Comparison:
    """Interval over seeds alone, for metrics without per-example scores."""
    a, b = np.asarray(a_scores), np.asarray(b_scores)
    # no seed with every language (a language missing): no delta, and no empty-mean warning
    delta = float(a.mean() - b.mean()) if a.size and b.size else float("nan")
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
    # per language, (its seeds, the matrix whose rows they are) of A and of B: the seed test's
    seeded_a: list[tuple[list[int], np.ndarray]] = []
    seeded_b: list[tuple[list[int], np.ndarray]] = []
    seeds_a: set[int] = set()
    seeds_b: set[int] = set()
    forms = set()
    for lang in languages:
        stats_a = scores.get((*a, task, metric, lang, view))
        stats_b = scores.get((*b, task, metric, lang, view))
        if not stats_a or not stats_b:
            return _seed_only(*seed_values, confidence, resamples, rng)
        forms |= {s.form for s in [*stats_a.values(), *stats_b.values()]}
        by_a = {seed: s.by_id() for seed, s in stats_a.items()}
        by_b = {seed: s.by_id() for seed, s in stats_b.items()}
        ids = sorted(set.intersection(*(set(s) for s in [*by_a.values(), *by_b.values()])))
        if not ids:
            return _seed_only(*seed_values, confidence, resamples, rng)
        x, y = _matrix(by_a, ids), _matrix(by_b, ids)
        pairs.append((x, y))
        seeded_a.append((sorted(by_a), x))
        seeded_b.append((sorted(by_b), y))
        seeds_a |= set(by_a)
        seeds_b |= set(by_b)
    if not pairs or len(forms) != 1:  # no language, or scores and counts mixed
        return _seed_only(*seed_values, confidence, resamples, rng)
    form = forms.pop()
    correlation = isinstance(form, CorrelationForm)
    if correlation and not correlation_metrics.shared_gold(pairs):  # not the same examples
        return _seed_only(*seed_values, confidence, resamples, rng)
    corpus = None if form is None else correlation_metrics if correlation else ratio_metrics
    paired_seeds = seeds_a == seeds_b
    draws = _bootstrap(pairs, paired_seeds, resamples, rng,
                       _mean_delta if corpus is None else corpus.bootstrap_delta(form))
    alpha = (1 - confidence) / 2
    low, high = np.nanquantile(draws, [alpha, 1 - alpha])  # NaN: a constant resample
    total = sum(x.shape[1] for x, _ in pairs)
    n_seeds = min(len(seeds_a), len(seeds_b))
    per_seed = (_per_seed(seeded_a, form), _per_seed(seeded_b, form))
    if corpus is not None:
        test = corpus.randomization_test(pairs, form, permutations=permutations, seed=seed)
        delta = float(np.mean([form.of_rows(x).mean() - form.of_rows(y).mean()
                               for x, y in pairs]))
        recomputed = ("from each example's (gold, prediction) pair, seeds' predictions "
                      "averaged" if correlation else "from summed counts, seeds' counts averaged")
        units = "examples" if correlation else "sentences"
        return _with_seed_test(Comparison(
            delta, float(low), float(high), test.p_value, total, n_seeds,
            f"{corpus.TEST_NAME} (B = {test.permutations}) on {form.name} recomputed "
            f"{recomputed}, {len(pairs)} language(s); paired bootstrap over seeds and {units}",
            "Monte Carlo", test.permutations, test.min_p, corpus.TEST_NAME, form.statistics),
            per_seed, confidence)
    # Seed-averaged per-example differences, scaled so their plain mean is the macro average.
    diffs = np.concatenate([(x.mean(0) - y.mean(0)) * total / (len(pairs) * x.shape[1])
                            for x, y in pairs])
    test = sign_flip_test(diffs, permutations=permutations, seed=seed)
    return _with_seed_test(Comparison(
        float(diffs.mean()), float(low), float(high), test.p_value, total, n_seeds,
        f"{test.name} on per-example differences pooled over {len(pairs)} language(s), seeds "
        "averaged; bootstrap over seeds and examples",
        "exact" if test.permutations is None else "Monte Carlo", test.permutations, test.min_p,
        SIGN_FLIP), per_seed, confidence)
