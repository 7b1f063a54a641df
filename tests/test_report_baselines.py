"""Report reference points: one zero-shot definition everywhere; majority class, chance,
macro-F1 and the below-majority flag of classification-type results. Expected values are
worked out by hand in the comments."""

from __future__ import annotations

import json
import re
from pathlib import Path

# The run fields ResultStore.register reads, without planning a study.
from types import SimpleNamespace as StoredRun

import numpy as np
import pytest

from xstilts.report.analysis import analyse_rows
from xstilts.report.baselines import (
    BELOW_MAJORITY,
    gold_rates,
    load_references,
    macro_f1,
)
from xstilts.report.html import render_html
from xstilts.report.language_info import is_zero_shot, zero_shot_languages
from xstilts.report.plots import all_plots
from xstilts.report.summary import render_summary, write_report
from xstilts.report.summary_md import analysis_markdown
from xstilts.results import Score
from xstilts.studies.store import ResultStore


def _row(lang: str, value: float, config: str = "none", seed: int = 0, task: str = "t") -> dict:
    return {"study": "s", "run_id": f"{config}{seed}", "model": "m", "intermediate": config,
            "target_task": task, "language": lang, "split": "test", "metric": "accuracy",
            "value": value, "ci_low": None, "ci_high": None, "n": 10, "seed": seed}


def _md_row(md: str, first_cell: str) -> list[str]:
    line = next(x for x in md.splitlines() if x.startswith(f"| {first_cell} |"))
    return [c.strip() for c in line.strip("|").split("|")]


# --- 12: one definition of a zero-shot language ------------------------------------------------

def test_zero_shot_rule() -> None:
    assert not is_zero_shot("en") and not is_zero_shot("en-en") and not is_zero_shot("eng")
    assert not is_zero_shot("en-US")
    assert is_zero_shot("ar-en") and is_zero_shot("en-ar") and is_zero_shot("de")
    assert is_zero_shot("xx")  # unknown code: not English, so zero-shot
    assert zero_shot_languages(["en", "en-en", "de", "ar-en"]) == ["de", "ar-en"]


def test_every_table_has_the_same_zero_shot_average() -> None:
    """STS17-like codes. The old summary.md took ``lang != "en"`` as zero-shot, so en-en
    counted: (80 + 60 + 40) / 3 = 60.0, while the analysis (summary.json, HTML) left it out:
    (60 + 40) / 2 = 50.0. Now every table says 50.0."""
    values = {"en": 0.9, "en-en": 0.8, "de": 0.6, "ar-en": 0.4}
    rows = [_row(g, v) for g, v in values.items()]
    rows += [_row(g, v + 0.1, config="x") for g, v in values.items()]
    md = render_summary(rows, [])
    header = _md_row(md, "intermediate")
    none = dict(zip(header, _md_row(md, "`none`"), strict=True))
    assert none["zero-shot avg"] == "50.0"        # (60 + 40) / 2
    assert none["avg"] == "67.5"                  # (90 + 80 + 60 + 40) / 4
    deltas = [x for x in md.splitlines() if x.startswith("| `x` |")][-1]  # the delta table
    assert deltas.endswith("| +10.0 | +10.0 |")  # avg and zero-shot avg, both 10 points
    analysis = analyse_rows(rows)
    averages = {a["config"]: a for a in analysis["averages"]}
    assert averages["none"]["zero_shot_avg"] == pytest.approx(50.0)
    assert averages["x"]["zero_shot_avg"] == pytest.approx(60.0)   # (70 + 50) / 2
    assert averages["none"]["english"] == pytest.approx(85.0)      # (90 + 80) / 2
    assert analysis["blocks"][0]["zero_shot"] == ["ar-en", "de"]
    page = render_html(analysis, {}, None, {}, [], "t")
    table = re.search(r'<table id="averages-table".*?</table>', page, re.S).group(0)
    assert '<td data-v="50">50.0</td>' in table
    assert "STS17 en-en) is English" in page and "STS17 en-en) is English" in md


def test_english_only_results_have_no_zero_shot_average() -> None:
    rows = [_row(g, v, config=c) for c, v in (("none", 0.5), ("x", 0.6)) for g in ("en", "en-en")]
    analysis = analyse_rows(rows)
    assert {a["zero_shot_avg"] for a in analysis["averages"]} == {None}
    assert analysis["deltas"] == []
    assert "evaluated on English only" in analysis["headlines"][0]["text"]
    assert _md_row(render_summary(rows, []), "`none`")[-1] == "–"
    page = render_html(analysis, all_plots(analysis), None, {}, [], "t")  # draws, no crash
    assert "evaluated on English only" in page and "evaluated on English only" in (
        analysis_markdown(analysis))


# --- 13: majority class, chance, macro-F1 -------------------------------------------------------

def test_macro_f1_by_hand_and_against_scikit_learn() -> None:
    # gold 0 0 1, predicted 1 0 0. Label 0: TP 1, FP 1, FN 1 -> 2/(2+1+1) = 0.5;
    # label 1: TP 0 -> 0. Macro = 0.25.
    assert macro_f1([0, 0, 1], [1, 0, 0]) == pytest.approx(0.25)
    sklearn = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    for k in (2, 3, 5):
        gold, pred = rng.integers(0, k, 200).tolist(), rng.integers(0, k - 1, 200).tolist()
        assert macro_f1(gold, pred) == pytest.approx(
            sklearn.f1_score(gold, pred, average="macro"))


def test_rates_of_a_test_set() -> None:
    rates = gold_rates([0, 0, 1], labels=None, seen=2)
    assert rates.majority == pytest.approx(2 / 3) and rates.chance == 0.5
    assert rates.majority_label == 0 and rates.labels_source == "seen" and rates.imbalanced
    # the task's label count wins over the labels seen: XNLI-like, 3 labels, 2 in the file
    assert gold_rates([1, 2], labels=3, seen=2).chance == pytest.approx(1 / 3)
    assert not gold_rates([0, 1, 0, 1], labels=2, seen=2).imbalanced  # 50 = chance
    with pytest.raises(ValueError, match="no majority class"):
        gold_rates([], labels=2, seen=0)


TASK = "tweets-sentiment"  # a user task: not registered in the report's process


def _write_out(out: Path, sets: dict[str, list[int]],
               predictions: dict[tuple[str, int], dict[str, list[int]]]) -> Path:
    """A finished study 'u': ``predictions[(config, seed)][lang]`` against gold ``sets[lang]``."""
    store = ResultStore(out)
    runs = [StoredRun(id=f"{config}-{seed}".ljust(16, "0"), kind="target", encoder="enc",
                       intermediate=config, task=TASK, seed=seed, parent=None, settings={})
            for config, seed in predictions]
    store.register("u", runs)
    for run, by_lang in zip(runs, predictions.values(), strict=True):
        folder = out / "runs" / run.id / "predictions"
        folder.mkdir(parents=True)
        metrics = []
        for lang, pred in by_lang.items():
            gold = sets[lang]
            (folder / f"{lang}.jsonl").write_text("".join(
                json.dumps({"id": f"{lang}{i}", "gold": g, "prediction": p}) + "\n"
                for i, (g, p) in enumerate(zip(gold, pred, strict=True))))
            accuracy = float(np.mean(np.array(gold) == np.array(pred)))
            metrics.append(Score("accuracy", accuracy, None, None, len(gold), task=TASK,
                                 language=lang, split="test"))
        store.mark_running(run.id)
        store.mark_done(run.id, metrics, {"wall_seconds": 1.0})
    store.close()
    return out


def test_three_spanish_tweets_below_the_majority_class(tmp_path: Path) -> None:
    """Spanish gold: 2 of 3 negative (0). Majority 2/3 = 66.7 %, chance 1/2 = 50 %.

    ``none`` seed 0 predicts 1 0 0: accuracy 1/3, macro-F1 0.25 (see the test above);
    seed 1 predicts 0 0 0: accuracy 2/3 — exactly the majority, not below it — macro-F1:
    label 0 TP 2, FP 1, FN 0 -> 4/5 = 0.8; label 1 TP 0 -> 0; macro 0.4.
    Mean over seeds: accuracy (1/3 + 2/3)/2 = 50.0 < 66.7 -> flagged; macro-F1
    (0.25 + 0.4)/2 = 32.5. ``x`` predicts 0 0 1: 100 %, not flagged.
    English gold 0 1 0 1: majority 50 % = chance, balanced, so no macro-F1 shown."""
    sets = {"en": [0, 1, 0, 1], "es": [0, 0, 1]}
    english = [0, 1, 0, 1]
    out = _write_out(tmp_path / "out", sets, {
        ("none", 0): {"en": english, "es": [1, 0, 0]},
        ("none", 1): {"en": english, "es": [0, 0, 0]},
        ("x", 0): {"en": english, "es": [0, 0, 1]}})
    report = write_report(out, "u", formats=["md", "json", "html"], resamples=50)

    summary = json.loads((report / "summary.json").read_text())
    scores = {(s["config"], s["language"]): s for s in summary["scores"]}
    es = scores[("none", "es")]
    assert es["mean"] == pytest.approx(50.0)
    assert es["majority"] == pytest.approx(200 / 3) and es["chance"] == pytest.approx(50.0)
    assert es["macro_f1"] == pytest.approx(32.5) and es["imbalanced"]
    assert es["below_majority"] is True
    assert scores[("x", "es")]["below_majority"] is False
    assert scores[("none", "en")]["below_majority"] is False
    assert not scores[("none", "en")]["imbalanced"]
    averages = {a["config"]: a for a in summary["averages"]}
    # zero-shot avg = Spanish alone: 50.0 < its majority 66.7; x: 100.0 is not
    assert averages["none"]["zero_shot_majority"] == pytest.approx(200 / 3)
    assert averages["none"]["zero_shot_below_majority"] is True
    assert averages["x"]["zero_shot_below_majority"] is False
    rates = {r["language"]: r for r in summary["reference_rates"]}
    assert rates["es"]["n"] == 3 and rates["es"]["labels"] == 2
    assert rates["es"]["labels_source"] == "seen" and rates["es"]["majority_label"] == 0

    md = (report / "summary.md").read_text()
    header = _md_row(md, "intermediate")
    spanish = next(h for h in header if "(es, n=3)" in h)
    cells = {name: dict(zip(header, _md_row(md, name), strict=True))
             for name in ("`none`", "`x`", "`none` macro-F1", "majority class",
                          "chance (1/k)")}
    assert cells["`none`"][spanish] == f"50.0 {BELOW_MAJORITY}"
    assert cells["`x`"][spanish] == "100.0"
    # seeds' zero-shot avgs 33.3 and 66.7: mean 50.0, sd 23.6; below 66.7
    assert cells["`none`"]["zero-shot avg"] == f"50.0 ± 23.6 {BELOW_MAJORITY}"
    # avg over en and es: (100 + 50) / 2 = 75.0 vs majority (50 + 66.7) / 2 = 58.3: no flag
    assert cells["`none`"]["avg"] == "75.0 ± 11.8"   # seeds: 66.7, 83.3
    assert cells["`none` macro-F1"][spanish] == "32.5"
    assert cells["majority class"][spanish] == "66.7"
    assert cells["chance (1/k)"][spanish] == "50.0"
    assert cells["`none` macro-F1"][next(h for h in header if "(en," in h)] == "·"
    assert cells["majority class"]["zero-shot avg"] == "66.7"
    assert "## Scores below the majority class" in md
    assert ("- tweets-sentiment, Spanish (es), `none`: accuracy 50.0 is below the "
            "majority-class rate 66.7 of that test set (chance 50.0, macro-F1 32.5)") in md

    page = (report / "index.html").read_text()
    table = re.search(r'<table id="language-table".*?</table>', page, re.S).group(0)
    assert re.search(r"Spanish \(es\)</td><td class=\"l\">none</td><td[^>]*>50\.0 ± 23\.6 "
                     rf"{BELOW_MAJORITY}</td><td[^>]*>66\.7 / 50\.0</td><td[^>]*>32\.5</td>",
                     table)  # sd of (33.3, 66.7) = 23.6
    assert "Scores below the majority class of their test set" in page
    assert "tweets-sentiment, zero-shot avg, none: 50.0 is below the average majority" in page
    averages_table = re.search(r'<table id="averages-table".*?</table>', page, re.S).group(0)
    assert f">50.0 {BELOW_MAJORITY}</td><td data-v=\"66.6667\">66.7</td>" in averages_table


def test_issue_case_797_spanish_tweets(tmp_path: Path) -> None:
    """The issue's case: 797 Spanish tweets, 529 negative: majority 529/797 = 66.37 % -> 66.4.
    The model gets 330 of the 529 negatives and 147 of the 268 positives right: accuracy
    477/797 = 59.85 % -> 59.8, below the majority class.
    Macro-F1: negative TP 330, FN 199, FP 268 - 147 = 121 -> 660/980 = 0.67347;
    positive TP 147, FN 121, FP 199 -> 294/614 = 0.47883; mean 0.57615 -> 57.6."""
    gold = [0] * 529 + [1] * 268
    pred = [0] * 330 + [1] * 199 + [1] * 147 + [0] * 121
    english = [0, 1] * 10
    out = _write_out(tmp_path / "out", {"en": english, "es": gold},
                     {("none", 0): {"en": english, "es": pred}})
    rows = [{"study": "u", "run_id": "none-0".ljust(16, "0"), "model": "enc",
             "intermediate": "none", "target_task": TASK, "language": lang, "split": "test",
             "metric": "accuracy", "value": value, "ci_low": None, "ci_high": None,
             "n": n, "seed": 0} for lang, value, n in (("en", 1.0, 20), ("es", 477 / 797, 797))]
    refs = load_references(out, rows)
    analysis = analyse_rows(rows, references=refs)
    es = next(s for s in analysis["scores"] if s["language"] == "es")
    assert round(es["mean"], 1) == 59.8 and round(es["majority"], 1) == 66.4
    assert es["macro_f1"] == pytest.approx(100 * (660 / 980 + 294 / 614) / 2)
    assert es["below_majority"] and es["chance"] == 50.0
    assert "accuracy 59.8 is below the majority-class rate 66.4" in analysis_markdown(analysis)
    md = render_summary(rows, [], references=refs)
    assert f"| 100.0 | 59.8 {BELOW_MAJORITY} |" in md and "| 57.6 |" in md


def test_registered_tasks_decide_by_type(tmp_path: Path) -> None:
    """Retrieval also writes integer gold (an index): no majority class for it. A registered
    classification task takes its chance from its label list (XNLI: 3 labels -> 33.3 %), even
    when the file shows only two."""
    for task, lang in (("tatoeba", "de"), ("xnli", "de")):
        folder = tmp_path / "runs" / task / "predictions"
        folder.mkdir(parents=True)
        (folder / f"{lang}.jsonl").write_text("".join(
            json.dumps({"id": str(i), "gold": g, "prediction": g}) + "\n"
            for i, g in enumerate([0, 1, 1])))
    rows = [{**_row("de", 1.0, task=task), "run_id": task} for task in ("tatoeba", "xnli")]
    refs = load_references(tmp_path, rows)
    assert refs.rates_for("tatoeba", "test", "de") is None
    xnli = refs.rates_for("xnli", "test", "de")
    assert xnli.labels == 3 and xnli.labels_source == "task"
    assert xnli.chance == pytest.approx(1 / 3) and xnli.majority == pytest.approx(2 / 3)


def test_a_broken_prediction_file_is_named(tmp_path: Path) -> None:
    folder = tmp_path / "runs" / "r" / "predictions"
    folder.mkdir(parents=True)
    (folder / "de.jsonl").write_text('{"id": "a", "gold": 0, "prediction": 0}\n{oops\n')
    with pytest.raises(Exception, match=r"de\.jsonl:2: not a JSON object"):
        load_references(tmp_path, [{**_row("de", 1.0), "run_id": "r"}])
