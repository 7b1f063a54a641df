"""Report analysis: numbers recomputed here from the prediction files of a synthetic OUT folder."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import statistics
from pathlib import Path

# The run fields ResultStore.register reads, without planning a study.
from types import SimpleNamespace as StoredRun

import numpy as np
import pytest
from scipy.stats import t as student_t

from xstilts.errors import XstiltsError
from xstilts.evaluation.significance import benjamini_hochberg, holm
from xstilts.integrity import write_manifest
from xstilts.report.analysis import analyse, analyse_rows, group_averages, n_intermediate_tasks
from xstilts.report.comparisons import load_example_scores
from xstilts.report.headline import headline_text
from xstilts.report.results import collect_results
from xstilts.results import Score
from xstilts.studies.store import ResultStore
from xstilts.tasktypes.per_example import ExampleStatistics

TASK = "cldr-continents"
LANGUAGES = ("en", "de", "fr", "zh", "sw")
CONFIGS = {"none": 0.55, "cldr-units": 0.62, "mix(cldr-units+cldr-names+humaneval-match)": 0.5}
SEEDS = (0, 1)
N = 30


def build_out(out: Path, finish_reversed: bool = False) -> Path:
    """A finished study 'synth' with 3 configurations × 2 seeds × 5 languages × 30 examples
    (the runs finishing in planned order, or the reverse)."""
    store = ResultStore(out)
    rng = np.random.default_rng(7)
    runs = []
    for config in CONFIGS:
        for seed in SEEDS:
            run_id = hashlib.sha1(f"{config}/{seed}".encode()).hexdigest()[:16]
            runs.append(StoredRun(id=run_id,
                                   kind="target", encoder="tiny:random", intermediate=config,
                                   task=TASK, seed=seed, parent=None, settings={"seed": seed}))
    store.register("synth", runs)
    finished = {}
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
            metrics.append(Score("accuracy", float(correct.mean()), 0.0, 1.0, N, task=TASK,
                                 language=lang, split="test"))
        finished[run.id] = metrics
    for run in reversed(runs) if finish_reversed else runs:
        store.mark_running(run.id)
        store.mark_done(run.id, finished[run.id], {"wall_seconds": 1.5})
    store.close()
    (out / "studies").mkdir()
    (out / "studies" / "synth.json").write_text(json.dumps(
        {"name": "synth", "seeds": [0, 1], "description": "Synthetic study: 30 examples <n>."}))
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


def test_a_damaged_prediction_file_stops_the_report(tmp_path: Path) -> None:
    """Same size, one digit changed: only the checksum written with the run can tell, and the
    report refuses rather than test on it (or silently drop it when its metric mismatches)."""
    out = build_out(tmp_path / "out")
    folders = sorted(p for p in (out / "runs").iterdir())
    for folder in folders:
        write_manifest(folder)
    assert analyse(out, "synth", resamples=20)["deltas"]  # intact: reported
    victim = folders[3] / "predictions" / "de.jsonl"
    text = victim.read_text()
    at = text.index('"prediction": ') + len('"prediction": ')
    victim.write_text(text[:at] + str((int(text[at]) + 1) % 5) + text[at + 1:])
    with pytest.raises(XstiltsError, match=r"de\.jsonl: sha256 differs.*xstilts run"):
        analyse(out, "synth", resamples=20)


def test_permutation_p_value_matches_an_independent_sign_flip(out: Path) -> None:
    analysis = analyse(out, "synth", resamples=4000)
    acc = _accuracies(out)
    d = next(d for d in analysis["deltas"] if d["scope"] == "de" and d["config"] == "cldr-units")
    diffs = np.array([statistics.fmean(acc[("cldr-units", s, "de")][i] for s in SEEDS)
                      - statistics.fmean(acc[("none", s, "de")][i] for s in SEEDS)
                      for i in range(N)])
    signs = np.random.default_rng(123).choice([-1.0, 1.0], size=(20000, N))
    p = float((np.abs(signs @ diffs / N) >= abs(diffs.mean()) - 1e-12).mean())
    assert d["p_examples"] == pytest.approx(p, abs=0.03)


def test_the_p_value_also_tests_the_seeds(out: Path) -> None:
    """Two seeds a side: p is the larger of the sign-flip's and the paired t-test's over the
    per-seed deltas, here recomputed from the prediction files with the t formula itself."""
    analysis = analyse(out, "synth", resamples=200)
    acc = _accuracies(out)
    langs = [g for g in LANGUAGES if g != "en"]
    for d in analysis["deltas"]:
        if d["versus"] != "none" or d["scope"] not in ("zero-shot avg", "de"):
            continue
        scope = langs if d["scope"] == "zero-shot avg" else ["de"]
        deltas = [statistics.fmean(statistics.fmean(acc[(d["config"], s, g)])
                                   - statistics.fmean(acc[("none", s, g)]) for g in scope)
                  for s in SEEDS]
        t = statistics.fmean(deltas) / (statistics.stdev(deltas) / len(deltas) ** 0.5)
        p = 2 * student_t.sf(abs(t), df=len(deltas) - 1)
        assert d["seed_test"] == "paired t-test over seeds"
        assert d["p_seeds"] == pytest.approx(p, rel=1e-9)
        assert d["p"] == max(d["p_examples"], d["p_seeds"])
        assert "paired t-test over seeds (2 seeds)" in d["method"]


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
    borderline = {**d, "p_adj": 0.0462, "significant": True}
    assert "p = 0.046 (Holm) — significant" in headline_text(borderline, "holm", 0.95)


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


TATOEBA = ("de", "fr", "es", "it", "ru", "hi", "zh", "ja", "ar", "he", "fi", "hu")


def _one_seed_study(changes: dict[str, dict[str, tuple[int, int]]], sizes: dict[str, int],
                    ) -> tuple[list[dict], dict]:
    """Rows and per-example scores of a one-seed study: ``changes[config][lang] = (lost, won)``
    turns ``lost`` examples the baseline got right wrong and ``won`` wrong ones right."""
    rng = np.random.default_rng(3)
    rows, scores = [], {}
    base = {g: (rng.random(n) < 0.8).astype(float) for g, n in sizes.items()}
    for config, by_lang in {"none": {}, **changes}.items():
        for g, n in sizes.items():
            ok = base[g].copy()
            lost, won = by_lang.get(g, (0, 0))
            ok[np.flatnonzero(ok == 1)[:lost]] = 0
            ok[np.flatnonzero(base[g] == 0)[:won]] = 1
            rows.append({**_row(g, config, float(ok.mean())), "n": n, "target_task": "tatoeba"})
            scores[("m", config, "tatoeba", "accuracy", g, "")] = {
                0: ExampleStatistics("accuracy", tuple(f"{g}-{i}" for i in range(n)), ok)}
    return rows, scores


def test_a_consistent_drop_in_a_two_language_family_is_significant() -> None:
    """A family of 2 languages, each 25-30 points worse on 500 examples: its p must be tiny
    even after Holm over every family of a 12-language study. (Before: a Monte-Carlo p floor of
    1/1001 times 96 comparisons in one Holm family gave p_adj = 0.096.)"""
    drop = {"fi": (150, 0), "hu": (125, 0)}
    changes = {"drop-a": drop, "drop-b": drop, "noise": {"fi": (12, 10), "hu": (10, 11)},
               "same": {}}
    rows, scores = _one_seed_study(changes, dict.fromkeys(TATOEBA, 500))
    analysis = analyse_rows(rows, scores, resamples=200)
    uralic = {d["config"]: d for d in analysis["deltas"] if d["scope"] == "family=Uralic"}
    assert uralic["drop-a"]["languages"] == ["fi", "hu"]
    assert uralic["drop-a"]["delta"] == pytest.approx(-100 * (150 + 125) / 1000)
    assert uralic["drop-a"]["test"] == "exact" and uralic["drop-a"]["p_adj"] < 1e-20
    assert uralic["drop-a"]["significant"]
    assert uralic["noise"]["p"] > 0.5 and not uralic["noise"]["significant"]
    assert uralic["same"]["p"] == 1.0
    # the exact p of the pooled test is the two-sided sign test over the 275 changed examples
    assert uralic["drop-a"]["p"] == pytest.approx(2 * 0.5 ** 275, rel=1e-6)


def test_each_grouping_is_its_own_correction_family() -> None:
    rows, scores = _one_seed_study({"drop": {"fi": (150, 0), "hu": (125, 0)}},
                                   dict.fromkeys(TATOEBA, 500))
    analysis = analyse_rows(rows, scores, resamples=100)
    families = {d["family"] for d in analysis["deltas"]}
    assert {"vs baseline: per family", "vs baseline: per genus", "vs baseline: per script",
            "vs baseline: per resource level"} <= families
    genus = [d for d in analysis["deltas"] if d["family"] == "vs baseline: per genus"]
    assert {d["attribute"] for d in genus} == {"genus"}
    assert [d["p_adj"] for d in genus] == pytest.approx(list(holm([d["p"] for d in genus])))


def test_a_monte_carlo_p_states_its_floor() -> None:
    """Twelve languages of different sizes: no common lattice, so the zero-shot test draws
    sign patterns; its p cannot go below 1/(B+1), and the record says so."""
    sizes = {g: 480 + 7 * i for i, g in enumerate(TATOEBA)}
    rows, scores = _one_seed_study({"drop": {g: (100, 0) for g in TATOEBA}}, sizes)
    analysis = analyse_rows(rows, scores, resamples=100, permutations=999)
    zs = next(d for d in analysis["deltas"] if d["scope"] == "zero-shot avg")
    assert zs["test"] == "Monte Carlo" and zs["permutations"] == 999
    assert zs["min_p"] == pytest.approx(1e-3) and zs["p"] == pytest.approx(1e-3)
    per_language = [d for d in analysis["deltas"] if d["family"] == "vs baseline: per language"]
    assert all(d["test"] == "exact" and d["p"] < 1e-20 for d in per_language)


def test_generalized_rows_are_a_matrix_not_languages() -> None:
    rows = [_row(g, c, v) for g, c, v in (("de", "none", 0.6), ("fr", "none", 0.7),
                                          ("de", "x", 0.65), ("fr", "x", 0.72))]
    for config, shift in (("none", 0.0), ("x", 0.05)):
        for a in ("en", "de"):
            for b in ("en", "de"):
                value = (0.8 if a == b else 0.6) + shift
                rows += [{**_row(f"{a}-{b}", config, value + 0.02 * s, seed=s),
                          "split": "test+generalized"} for s in (0, 1)]
    analysis = analyse_rows(rows)
    assert {b["split"] for b in analysis["blocks"]} == {"test"}
    assert {d["scope"] for d in analysis["deltas"]
            if d["family"] == "vs baseline: per language"} == {"de", "fr"}
    matrices = {m["config"]: m for m in analysis["generalized"]}
    assert list(matrices) == ["none", "x"]
    m = matrices["x"]
    assert m["first"] == ["en", "de"] and m["second"] == ["en", "de"] and m["seeds"] == 2
    assert m["values"] == [[pytest.approx(86.0), pytest.approx(66.0)],
                           [pytest.approx(66.0), pytest.approx(86.0)]]
    assert m["diagonal"] - m["off_diagonal"] == pytest.approx(20.0)


def test_tagging_micro_accuracy_gets_token_weighted_sentence_scores(tmp_path: Path) -> None:
    """Token accuracy over all tokens is not the mean of per-sentence accuracies; sentences
    weighted by n_sentences / n_tokens reproduce it, so POS tagging gets an example-level test."""
    sentences = [(["A", "B", "C", "D"], ["A", "B", "X", "X"]), (["A"], ["A"]),
                 (["A", "B", "C"], ["A", "B", "C"])]
    path = tmp_path / "runs" / "r" / "predictions" / "de.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text("".join(json.dumps({"id": f"s{i}", "gold": g, "prediction": p}) + "\n"
                            for i, (g, p) in enumerate(sentences)))
    micro = 6 / 8
    row = {**_row("de", "none", micro), "run_id": "r", "metric": "token_accuracy",
           "target_task": "udpos"}
    key = ("m", "none", "udpos", "token_accuracy", "de", "")
    scores = load_example_scores(tmp_path, [row])[key][0].by_id()
    # 3 sentences / 8 tokens = weight 3/8; correct tokens 2, 1, 3
    assert scores == pytest.approx({"s0": 2 * 3 / 8, "s1": 3 / 8, "s2": 3 * 3 / 8})
    # A stored value the handler's statistics do not reproduce (here the mean of per-sentence
    # accuracies, (0.5 + 1 + 1) / 3, which no xstilts version stored) gets none, rather than
    # a second decomposition guessed from the file's shape.
    per_sentence = {**row, "value": (0.5 + 1 + 1) / 3}
    assert key not in load_example_scores(tmp_path, [per_sentence])
    # A task this process does not know gets none either: only a handler knows its metric.
    assert load_example_scores(tmp_path, [{**row, "target_task": "t"}]) == {}


def test_a_second_evaluation_of_a_language_is_compared_on_its_own_predictions(
        tmp_path: Path) -> None:
    """Rows of split ``test+align`` pair the examples of predictions/align/, not those of the
    plain evaluation of the same language (which would give the wrong interval and p)."""
    plain = {"none": [1] * 30 + [0] * 30, "x": [1] * 30 + [0] * 30}   # no difference
    aligned = {"none": [1] * 30 + [0] * 30, "x": [1] * 60}            # +30 examples for x
    rows = []
    for config in ("none", "x"):
        for view, correct in (("", plain[config]), ("align", aligned[config])):
            folder = tmp_path / "runs" / f"{config}0" / "predictions" / view
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "de.jsonl").write_text("".join(
                json.dumps({"id": f"q{i}", "gold": 1, "prediction": ok})
                + "\n" for i, ok in enumerate(correct)))
            split = "test+align" if view else "test"
            for lang in ("en", "de"):
                row = {**_row(lang, config, statistics.fmean(correct)), "split": split,
                       "n": len(correct), "target_task": "xnli"}
                rows.append(row)
    scores = load_example_scores(tmp_path, rows)
    assert set(scores[("m", "x", "xnli", "accuracy", "de", "align")][0].values.tolist()) == {1.0}
    analysis = analyse_rows(rows, scores, resamples=300)
    deltas = {d["task"]: d for d in analysis["deltas"] if d["scope"] == "zero-shot avg"
              and d["config"] == "x"}
    assert deltas["xnli [align]"]["delta"] == pytest.approx(50.0)
    assert deltas["xnli [align]"]["n_examples"] == 60 and deltas["xnli [align]"]["p"] < 1e-6
    assert deltas["xnli"]["delta"] == 0 and deltas["xnli"]["p"] == 1.0
    assert [h["task"] for h in analysis["headlines"]] == ["xnli", "xnli [align]"]


def test_results_table_does_not_depend_on_the_order_runs_finished(tmp_path: Path) -> None:
    """The same results, finished in the planned order and in the reverse one (as a resumed
    or Ray study may), give the same results.csv: baseline first, then seeds and languages."""
    from xstilts.report.summary import write_report

    tables = [(write_report(build_out(tmp_path / name, finish_reversed=rev), "synth",
                            formats=["csv"]) / "results.csv").read_text()
              for name, rev in (("planned", False), ("reversed", True))]
    assert tables[0] == tables[1]
    rows = list(csv.DictReader(io.StringIO(tables[0])))
    assert [(r["intermediate"], r["seed"]) for r in rows[:len(LANGUAGES) + 1]] == \
        [("none", "0")] * len(LANGUAGES) + [("none", "1")]
    assert [r["language"] for r in rows[:len(LANGUAGES)]] == sorted(LANGUAGES)
