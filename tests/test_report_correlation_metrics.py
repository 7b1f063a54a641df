"""STS correlations (Spearman, Pearson) in the report: (gold, prediction) pairs, paired
bootstrap over examples and approximate randomization."""

from __future__ import annotations

from pathlib import Path

# The run fields ResultStore.register reads, without planning a study.
import numpy as np
import pytest
from report_fixtures import one_seed_study
from scipy.stats import pearsonr, spearmanr
from scipy.stats import t as student_t

from xstilts.report.analysis import analyse
from xstilts.report.comparisons import compare
from xstilts.report.correlation_metrics import (
    TEST_NAME,
    _permuted_difference,
    _rank_difference,
    randomization_test,
)
from xstilts.report.methods import family_lines, general_lines
from xstilts.tasks import get_task
from xstilts.tasktypes import handler_for
from xstilts.tasktypes.per_example import PEARSON, SPEARMAN, ExampleStatistics
from xstilts.tasktypes.regression import score_regression


def _gold(rng: np.random.Generator, n: int) -> np.ndarray:
    """STS-like gold scores: 0-5 in steps of 0.2 (ties, as in the real files)."""
    return np.round(rng.uniform(0, 5, n) * 5) / 5


def _predict(rng: np.random.Generator, gold: np.ndarray, noise: float) -> np.ndarray:
    return gold + rng.normal(0, noise, gold.size)


def _records(gold: np.ndarray, pred: np.ndarray, lang: str = "es-es") -> list[dict]:
    return [{"id": f"{lang}-{i}", "gold": float(g), "prediction": float(p)}
            for i, (g, p) in enumerate(zip(gold, pred, strict=True))]


def _statistics(gold: np.ndarray, pred: np.ndarray, metric: str = "spearman",
                lang: str = "es-es") -> ExampleStatistics:
    """What the report pairs: the STS handler's (gold, prediction) rows of one file."""
    task = get_task("sts17")
    stats = handler_for(task).example_statistics(task, metric, lang, _records(gold, pred, lang))
    assert stats is not None
    return stats


def _compare(gold: np.ndarray, a: np.ndarray, b: np.ndarray, metric: str = "spearman",
             **options):
    scores = {("m", c, "t", metric, "es-es", ""): {0: _statistics(gold, p, metric)}
              for c, p in (("a", a), ("none", b))}
    return compare(scores, ("m", "a"), ("m", "none"), "t", metric, ["es-es"],
                   seed_values=([], []), **options)


def _rows(gold: np.ndarray, *preds: np.ndarray) -> np.ndarray:
    """Seeds × examples × (gold, prediction), the layout of the comparisons."""
    return np.stack([np.stack([gold, p], axis=1) for p in preds])


def test_pairs_reproduce_the_scored_correlations() -> None:
    rng = np.random.default_rng(0)
    gold = _gold(rng, 200)
    pred = _predict(rng, gold, 1.5)
    scored = {s.metric: s.value for s in score_regression(
        [type("E", (), {"label": g})() for g in gold], pred, resamples=0, confidence=0.95,
        seed=0)}
    assert _statistics(gold, pred).value == pytest.approx(spearmanr(gold, pred).statistic,
                                                         abs=1e-12)
    assert _statistics(gold, pred).value == pytest.approx(scored["spearman"], abs=1e-12)
    assert _statistics(gold, pred, "pearson").value == pytest.approx(
        pearsonr(gold, pred).statistic, abs=1e-12)
    assert _statistics(gold, pred, "pearson").form is PEARSON


@pytest.mark.parametrize("metric", ["spearman", "pearson"])
def test_delta_interval_and_p_for_a_real_gain(metric: str) -> None:
    correlation = spearmanr if metric == "spearman" else pearsonr
    widths = []
    for n in (100, 1600):
        rng = np.random.default_rng(n)
        gold = _gold(rng, n)
        a, b = _predict(rng, gold, 1.0), _predict(rng, gold, 1.6)
        result = _compare(gold, a, b, metric, resamples=1000, permutations=2000)
        observed = correlation(gold, a).statistic - correlation(gold, b).statistic
        assert result.delta == pytest.approx(observed, abs=1e-12)
        assert result.ci_low < observed < result.ci_high
        assert result.n_examples == n and result.test_name == TEST_NAME
        assert result.count_statistics == ("gold score", "predicted score")
        widths.append(result.ci_high - result.ci_low)
    assert widths[1] < widths[0] / 2.5  # ~1/sqrt(16) of the width
    assert result.p_value < 0.001 and result.ci_low > 0  # 1,600 pairs: a clear gain


def test_no_difference_and_identical_predictions() -> None:
    rng = np.random.default_rng(5)
    gold = _gold(rng, 300)
    same = randomization_test([(_rows(gold, _predict(rng, gold, 1.2)),
                                _rows(gold, _predict(rng, gold, 1.2)))], SPEARMAN,
                              permutations=3000)
    assert same.p_value > 0.05 and same.permutations == 3000
    pred = _predict(rng, gold, 1.2)
    identical = randomization_test([(_rows(gold, pred), _rows(gold, pred))], SPEARMAN)
    assert identical.p_value == 1.0 and identical.observed == 0.0


def _naive_randomization(pairs: list[tuple[np.ndarray, np.ndarray]], draws: int) -> float:
    """Swap each example's (seed-averaged) predictions with probability ½, one permutation at a
    time, scipy's Spearman recomputed."""
    rng = np.random.default_rng(99)

    def stat(swaps: list[np.ndarray]) -> float:
        out = []
        for (a, b), swap in zip(pairs, swaps, strict=True):
            gold, pa, pb = a[0, :, 0], a[:, :, 1].mean(0), b[:, :, 1].mean(0)
            out.append(spearmanr(gold, np.where(swap, pb, pa)).statistic
                       - spearmanr(gold, np.where(swap, pa, pb)).statistic)
        return float(np.mean(out))

    observed = stat([np.zeros(a.shape[1], bool) for a, _ in pairs])
    hits = sum(abs(stat([rng.random(a.shape[1]) < 0.5 for a, _ in pairs]))
               >= abs(observed) - 1e-12 for _ in range(draws))
    return (1 + hits) / (1 + draws)


def test_randomization_matches_swapping_examples_one_by_one() -> None:
    """The vectorised test against the definition: one language with continuous predictions
    (ranks from one sort), one whose predictions tie (re-ranked), two seeds on one side
    (seed-averaged), and one language where the systems agree."""
    rng = np.random.default_rng(11)
    gold = _gold(rng, 80)
    pairs = [(_rows(gold, _predict(rng, gold, 1.0), _predict(rng, gold, 1.0)),
              _rows(gold, _predict(rng, gold, 0.72)))]
    gold = _gold(rng, 50)
    pairs.append((_rows(gold, np.round(_predict(rng, gold, 1.0) * 2) / 2),
                  _rows(gold, np.round(_predict(rng, gold, 1.0) * 2) / 2)))
    gold = _gold(rng, 40)
    agreed = _rows(gold, _predict(rng, gold, 1.0))
    pairs.append((agreed, agreed))
    fast = randomization_test(pairs, SPEARMAN, permutations=40_000, seed=3)
    slow = _naive_randomization(pairs, 2000)
    assert 0.1 < slow < 0.9  # a p in the middle, where a wrong statistic would show
    assert fast.p_value == pytest.approx(slow, abs=0.035)


@pytest.mark.parametrize("tie", [False, True])
def test_ranks_from_one_sort_are_scipys_spearman(tie: bool) -> None:
    """Each draw's ρ(A) − ρ(B) from the sorted candidates equals scipy's on the swapped
    predictions, also where an example's two predictions are equal (a side holds one); with a
    tie between examples the rows are re-ranked (and Pearson recomputed) instead."""
    rng = np.random.default_rng(8)
    gold = _gold(rng, 60)
    pred_a, pred_b = _predict(rng, gold, 1.0), _predict(rng, gold, 1.0)
    if tie:
        pred_b[[3, 17]] = pred_a[[3, 17]]
    difference = _rank_difference(gold, pred_a, pred_b)
    assert difference is not None
    swaps = rng.random((300, 60)) < 0.5
    expected = [spearmanr(gold, np.where(s, pred_b, pred_a)).statistic
                - spearmanr(gold, np.where(s, pred_a, pred_b)).statistic for s in swaps]
    assert difference(swaps) == pytest.approx(expected, abs=1e-12)
    pred_b[5] = pred_a[6]  # a tie between two examples: average ranks needed, no shortcut
    assert _rank_difference(gold, pred_a, pred_b) is None
    for form, correlation in ((SPEARMAN, spearmanr), (PEARSON, pearsonr)):
        expected = [correlation(gold, np.where(s, pred_b, pred_a)).statistic
                    - correlation(gold, np.where(s, pred_a, pred_b)).statistic for s in swaps]
        assert _permuted_difference(form, gold, pred_a, pred_b)(swaps) == pytest.approx(
            expected, abs=1e-12)


def test_several_seeds_average_each_seeds_correlation() -> None:
    """Two seeds: the delta is the mean over seeds of each seed's Spearman, the interval also
    resamples seeds, and the seed-level t-test on each seed's own ρ gives the other p."""
    rng = np.random.default_rng(4)
    gold = _gold(rng, 400)
    preds = {(c, s): _predict(rng, gold, noise) for c, noise in (("a", 0.9), ("none", 1.4))
             for s in (0, 1)}
    scores = {("m", c, "t", "spearman", "es-es", ""): {
        s: _statistics(gold, preds[(c, s)]) for s in (0, 1)} for c in ("a", "none")}
    result = compare(scores, ("m", "a"), ("m", "none"), "t", "spearman", ["es-es"],
                     seed_values=([], []), resamples=500, permutations=2000)
    per_seed = [spearmanr(gold, preds[("a", s)]).statistic
                - spearmanr(gold, preds[("none", s)]).statistic for s in (0, 1)]
    expected = np.mean(per_seed)
    assert result.delta == pytest.approx(expected, abs=1e-12)
    assert result.ci_low < expected < result.ci_high and result.n_seeds == 2
    assert result.p_examples < 0.01
    t = expected / (abs(per_seed[0] - per_seed[1]) / 2)  # two paired deltas: one dof
    assert result.p_seeds == pytest.approx(2 * student_t.sf(abs(t), df=1), rel=1e-9)
    assert result.p_value == max(result.p_examples, result.p_seeds)


def test_pairs_with_different_gold_are_not_paired() -> None:
    """The same ids with other gold scores are other examples: no example-level test."""
    rng = np.random.default_rng(7)
    gold = _gold(rng, 100)
    a, b = _predict(rng, gold, 1.0), _predict(rng, gold, 1.5)
    other = gold.copy()
    other[3] += 0.2
    scores = {("m", "a", "t", "spearman", "es-es", ""): {0: _statistics(gold, a)},
              ("m", "none", "t", "spearman", "es-es", ""): {0: _statistics(other, b)}}
    result = compare(scores, ("m", "a"), ("m", "none"), "t", "spearman", ["es-es"],
                     seed_values=([0.8], [0.7]))
    assert result.test_name is None and result.p_value is None


def _build_out(out: Path) -> Path:
    """One-seed STS 2017 study on en-en, es-es, ar-ar, tr-en: 'better' predicts es-es and
    ar-ar much better."""
    noise = {"none": 1.6, "better": 0.8}
    rng = np.random.default_rng(2)
    gold = {lang: _gold(rng, 250) for lang in ("en-en", "es-es", "ar-ar", "tr-en")}

    def files(config: str, lang: str) -> tuple[list[dict], list]:
        pred = _predict(rng, gold[lang], noise[config] if lang in ("es-es", "ar-ar") else 1.2)
        examples = [type("E", (), {"label": g})() for g in gold[lang]]
        scores = score_regression(examples, pred, resamples=10, confidence=0.95, seed=0)
        return _records(gold[lang], pred, lang), [s.at("sts17", lang, "test") for s in scores]

    return one_seed_study(out, "sts", "sts17", list(noise), list(gold), files)


def test_report_gives_sts_deltas_intervals_and_p_values(tmp_path: Path) -> None:
    analysis = analyse(_build_out(tmp_path / "out"), "sts", resamples=300, permutations=2000)
    deltas = analysis["deltas"]
    assert {d["family"] for d in deltas} >= {"vs baseline: zero-shot avg",
                                             "vs baseline: per language"}
    for d in deltas:
        assert d["metric"] == "spearman" and d["test_name"] == TEST_NAME
        assert d["ci_low"] <= d["delta"] <= d["ci_high"] and d["p_adj"] is not None
        assert d["permutations"] == 2000 and d["n_seeds"] == 1
    per_language = {d["scope"]: d for d in deltas if d["family"] == "vs baseline: per language"}
    assert per_language["es-es"]["delta"] > 5 and per_language["es-es"]["p"] < 0.01
    assert per_language["tr-en"]["p"] > 0.01  # the same noise on both sides
    assert any(TEST_NAME in line and "(gold, prediction) pairs" in line
               for line in family_lines(analysis))
    lines = general_lines(analysis)
    assert any("Noreen" in line for line in lines)
    assert not any(line.startswith("p-values: paired sign-flip") for line in lines)
