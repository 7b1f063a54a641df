"""Report analysis: numbers recomputed here from the prediction files of a synthetic OUT folder."""

from __future__ import annotations

import hashlib
import json
import statistics
from pathlib import Path

import numpy as np
import pytest

from xstilts.evaluation.significance import benjamini_hochberg, holm
from xstilts.report.analysis import analyse, analyse_rows, group_averages, n_intermediate_tasks
from xstilts.report.comparisons import load_example_scores
from xstilts.report.headline import headline_text
from xstilts.report.results import collect_results
from xstilts.studies.planner import PlannedRun
from xstilts.studies.store import MetricRow, ResultStore

TASK = "cldr-continents"
LANGUAGES = ("en", "de", "fr", "zh", "sw")
CONFIGS = {"none": 0.55, "cldr-units": 0.62, "mix(cldr-units+cldr-names+humaneval-match)": 0.5}
SEEDS = (0, 1)
N = 30


def build_out(out: Path) -> Path:
    """A finished study 'synth' with 3 configurations × 2 seeds × 5 languages × 30 examples."""
    store = ResultStore(out)
    rng = np.random.default_rng(7)
    runs = []
    for config in CONFIGS:
        for seed in SEEDS:
            run_id = hashlib.sha1(f"{config}/{seed}".encode()).hexdigest()[:16]
            runs.append(PlannedRun(id=run_id,
                                   kind="target", encoder="tiny:random", intermediate=config,
                                   task=TASK, seed=seed, parent=None, settings={"seed": seed}))
    store.register("synth", runs)
    for run in runs:
        pred_dir = out / "runs" / run.id / "predictions"
        pred_dir.mkdir(parents=True)
        metrics = []
        for lang in LANGUAGES:
            rate = CONFIGS[run.intermediate] + (0.2 if lang == "en" else 0.0)
            correct = rng.random(N) < rate
            with (pred_dir / f"{lang}.jsonl").open("w") as f:
                for i, ok in enumerate(correct):
                    gold = i % 5
                    f.write(json.dumps({"id": f"{lang}-{i}", "gold": gold,
                                        "prediction": gold if ok else (gold + 1) % 5}) + "\n")
            metrics.append(MetricRow(TASK, lang, "test", "accuracy", float(correct.mean()),
                                     0.0, 1.0, N))
        store.mark_running(run.id)
        store.mark_done(run.id, metrics, {"wall_seconds": 1.5})
    store.close()
    (out / "studies").mkdir()
    (out / "studies" / "synth.json").write_text(json.dumps({"name": "synth", "seeds": [0, 1]}))
    return out


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_out(tmp_path_factory.mktemp("report") / "out")


def _accuracies(out: Path) -> dict[tuple[str, int, str], list[int]]:
    """(config, seed, language) -> per-example correctness, read straight from the files."""
    store = ResultStore(out)
    runs = store.runs("synth")
    store.close()
    found = {}
    for run in runs:
        for lang in LANGUAGES:
            path = out / "runs" / run["id"] / "predictions" / f"{lang}.jsonl"
            lines = [json.loads(x) for x in path.read_text().splitlines()]
            found[(run["intermediate"], run["seed"], lang)] = [
                int(x["gold"] == x["prediction"]) for x in lines]
    return found


def _zero_shot(acc: dict, config: str) -> float:
    langs = [g for g in LANGUAGES if g != "en"]
    return statistics.fmean(100 * statistics.fmean(
        statistics.fmean(acc[(config, s, g)]) for s in SEEDS) for g in langs)


def test_deltas_and_averages_match_the_prediction_files(out: Path) -> None:
    analysis = analyse(out, "synth", resamples=400)
    acc = _accuracies(out)
    zs = {d["config"]: d for d in analysis["deltas"]
          if d["scope"] == "zero-shot avg" and d["versus"] == "none"}
    for config in ("cldr-units", "mix(cldr-units+cldr-names+humaneval-match)"):
        expected = _zero_shot(acc, config) - _zero_shot(acc, "none")
        assert zs[config]["delta"] == pytest.approx(expected, abs=1e-9)
        assert zs[config]["ci_low"] <= expected <= zs[config]["ci_high"]
        assert zs[config]["n_examples"] == N * 4 and zs[config]["n_seeds"] == 2
    for avg in analysis["averages"]:
        assert avg["zero_shot_avg"] == pytest.approx(_zero_shot(acc, avg["config"]))
        english = statistics.fmean(100 * statistics.fmean(acc[(avg["config"], s, "en")])
                                   for s in SEEDS)
        assert avg["transfer_gap"] == pytest.approx(english - avg["zero_shot_avg"])
    per_lang = {(d["config"], d["scope"]): d for d in analysis["deltas"]
                if d["family"] == "vs baseline: per language"}
    de = per_lang[("cldr-units", "de")]
    mean = [statistics.fmean(acc[("cldr-units", s, "de")]) - statistics.fmean(
        acc[("none", s, "de")]) for s in SEEDS]
    assert de["delta"] == pytest.approx(100 * statistics.fmean(mean))


def test_permutation_p_value_matches_an_independent_sign_flip(out: Path) -> None:
    analysis = analyse(out, "synth", resamples=4000)
    acc = _accuracies(out)
    d = next(d for d in analysis["deltas"] if d["scope"] == "de" and d["config"] == "cldr-units")
    diffs = np.array([statistics.fmean(acc[("cldr-units", s, "de")][i] for s in SEEDS)
                      - statistics.fmean(acc[("none", s, "de")][i] for s in SEEDS)
                      for i in range(N)])
    signs = np.random.default_rng(123).choice([-1.0, 1.0], size=(20000, N))
    p = float((np.abs(signs @ diffs / N) >= abs(diffs.mean()) - 1e-12).mean())
    assert d["p"] == pytest.approx(p, abs=0.03)


@pytest.mark.parametrize("method,adjust", [("holm", holm), ("bh", benjamini_hochberg)])
def test_corrections_are_applied_within_each_family(out: Path, method: str, adjust) -> None:
    rows = collect_results(out, "synth")
    analysis = analyse_rows(rows, load_example_scores(out, rows), correction=method,
                            resamples=200)
    family = [d for d in analysis["deltas"] if d["family"] == "vs baseline: per language"]
    assert len(family) == 2 * 4
    expected = adjust([d["p"] for d in family])
    assert [d["p_adj"] for d in family] == pytest.approx(list(expected))
    assert all(d["significant"] == (d["p_adj"] <= 0.05) for d in family)


def _row(lang: str, config: str, value: float, seed: int = 0) -> dict:
    return {"study": "s", "run_id": f"{config}{seed}", "model": "m", "intermediate": config,
            "target_task": "t", "language": lang, "split": "test", "metric": "accuracy",
            "value": value, "ci_low": None, "ci_high": None, "n": 10, "seed": seed}


def test_family_aggregation_is_a_macro_average_without_english() -> None:
    values = {"en": 0.9, "de": 0.6, "fr": 0.8, "zh": 0.5, "sw": 0.3, "ar-en": 0.4}
    rows = [_row(g, "none", v) for g, v in values.items()]
    rows += [_row(g, "none", v + 0.1, seed=1) for g, v in values.items()]
    groups = {g["group"]: g for g in group_averages(rows, "family")}
    assert groups["Indo-European"]["languages"] == ["de", "fr"]
    assert groups["Indo-European"]["mean"] == pytest.approx(100 * (0.65 + 0.85) / 2)
    assert groups["Sino-Tibetan"]["mean"] == pytest.approx(55.0)
    assert groups["language pair"]["languages"] == ["ar-en"]  # not "Arabic"
    scripts = {g["group"]: g["languages"] for g in group_averages(rows, "script")}
    assert scripts["Latn"] == ["de", "fr", "sw"]
    analysis = analyse_rows(rows)  # no predictions: no tests, still no crash
    assert analysis["headlines"][0]["config"] is None


def test_intermediate_task_counts() -> None:
    assert n_intermediate_tasks("none") == 0
    assert n_intermediate_tasks("cldr-units") == 1
    assert n_intermediate_tasks("mix(a+b+c)") == 3


def test_headline_sentence() -> None:
    d = {"task": "xnli", "config": "mix(a+b)", "delta": 1.2, "ci_low": -0.5, "ci_high": 2.94,
         "p_adj": 0.2104, "significant": False}
    assert headline_text(d, "holm", 0.95) == (
        "Best intermediate for xnli: mix(a+b), +1.2 points zero-shot avg "
        "[95 % CI −0.5, +2.9], p = 0.21 (Holm) — not significant")
    worse = {**d, "delta": -0.3, "p_adj": 0.004, "significant": True}
    assert headline_text(worse, "bh", 0.95).startswith(
        "No intermediate beats the baseline for xnli; best is mix(a+b), −0.3 points")
    assert "p = 0.004 (Benjamini-Hochberg) — significant" in headline_text(worse, "bh", 0.95)


def test_scaling_and_overall(out: Path) -> None:
    analysis = analyse(out, "synth", resamples=100)
    points = {p["n_tasks"]: p for p in analysis["scaling"] if p["family"] == "all languages"}
    assert set(points) == {1, 3}
    assert points[3]["configs"] == ["mix(cldr-units+cldr-names+humaneval-match)"]
    overall = {o["config"]: o["score"] for o in analysis["overall"]}
    acc = _accuracies(out)
    assert overall["none"] == pytest.approx(_zero_shot(acc, "none"))
    predictors = {c["predictor"] for c in analysis["correlations"]}
    assert {"resource_level", "typological_distance"} <= predictors
