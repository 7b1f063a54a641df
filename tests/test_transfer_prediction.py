"""`xstilts predict` / `recommend` (issue #16 part 3): ranking metrics against hand-worked
values, the two baselines on a hand-built table, the gain model on an unseen language, and
the commands' JSON contracts on a real tiny study output, and their "too few runs" answer."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from xstilts.cli import TOO_FEW_EXIT, app
from xstilts.language_distances import distances
from xstilts.studies.executor import run_study
from xstilts.studies.spec import load_study
from xstilts.transfer_prediction import commands
from xstilts.transfer_prediction.baselines import BestOnAverage, NearestLanguage
from xstilts.transfer_prediction.evaluation import held_out, rank_quality
from xstilts.transfer_prediction.model import GainModel
from xstilts.transfer_prediction.table import GainRow, GainTable, Intermediate

runner = CliRunner()
LOG3 = math.log2(3)  # the NDCG discount of rank 2


def inter(label: str, language: str = "en", kind: str = "pair_classification",
          size: int | None = 500) -> Intermediate:
    return Intermediate("m", label, (kind,), (language,), size)


A, B = inter("xnli"), inter("siqa", kind="multiple_choice", size=250)


def row(config: Intermediate, language: str, gain: float, target: str = "udpos",
        baseline: float | None = 50.0) -> GainRow:
    return GainRow(config, target, "tagging", language, baseline, gain)


# --- metrics ------------------------------------------------------------------------------


def test_rank_quality_of_one_query_by_hand() -> None:
    # True gains 3, 1, -1, 0; predicted 0.5, 1.0, -2.0, 0.2.
    # Ranks: true 4 3 1 2, predicted 3 4 1 2: sum d^2 = 2, rho = 1 - 6*2/(4*15) = 0.8.
    # Predicted best is the 2nd configuration (true 1): Regret@1 = 3 - 1 = 2.
    # Relevance after the shift (min -1): 4 2 0 1; top 3 by prediction: 2nd, 1st, 4th:
    # DCG = 2/1 + 4/log2(3) + 1/2; ideal = 4/1 + 2/log2(3) + 1/2.
    got = rank_quality([3.0, 1.0, -1.0, 0.0], [0.5, 1.0, -2.0, 0.2])
    assert got["spearman"] == pytest.approx(0.8)
    assert got["regret@1"] == pytest.approx(2.0)
    assert got["ndcg@3"] == pytest.approx((2 + 4 / LOG3 + 0.5) / (4 + 2 / LOG3 + 0.5))


def test_rank_quality_perfect_constant_and_tied_queries() -> None:
    perfect = rank_quality([2.0, -1.0, 0.5], [9.0, 1.0, 3.0])
    assert perfect == {"spearman": pytest.approx(1.0), "ndcg@3": pytest.approx(1.0),
                       "regret@1": 0.0}
    # A ranker with no order: rho 0; its "best" is the first configuration (true 1 of 4).
    flat = rank_quality([1.0, 4.0, 2.0], [0.0, 0.0, 0.0])
    assert flat["spearman"] == 0.0 and flat["regret@1"] == pytest.approx(3.0)
    # Equal true gains: nothing to order, nothing lost.
    tied = rank_quality([1.5, 1.5], [0.0, 1.0])
    assert tied == {"spearman": None, "ndcg@3": None, "regret@1": 0.0}
    with pytest.raises(ValueError, match="2 or more configurations"):
        rank_quality([1.0], [1.0])


# --- baselines ----------------------------------------------------------------------------

# A helps de and es, B helps ja: the average misleads on every held-out language.
HAND = [row(A, "de", 2.0), row(A, "es", 1.0), row(A, "ja", -1.0),
        row(B, "de", 0.0), row(B, "es", 0.0), row(B, "ja", 3.0)]


def test_best_on_average_ranks_by_mean_training_gain() -> None:
    ranker = BestOnAverage().fit(HAND)
    assert ranker.predict([row(A, "fr", 0.0), row(B, "fr", 0.0)]) == pytest.approx(
        [2 / 3, 1.0])
    # A target task not in training: the mean over all rows of the configuration.
    assert ranker.predict([row(A, "fr", 0.0, target="panx")]) == pytest.approx([2 / 3])


def test_best_on_average_held_out_by_hand() -> None:
    # Holding out de: training means A 0, B 1.5 -> B first, true de A 2, B 0: regret 2.
    # es: A 0.5, B 1.5 -> B, true A 1, B 0: regret 1. ja: A 1.5, B 0 -> A, true A -1, B 3:
    # regret 4. Every query is ranked backwards: rho -1, NDCG@3 = (0 + g/log2 3) / g.
    got = held_out(HAND, BestOnAverage, "leave_one_language_out")
    assert got == {"spearman": pytest.approx(-1.0), "ndcg@3": pytest.approx(1 / LOG3),
                   "regret@1": pytest.approx(7 / 3), "queries": 3}
    assert held_out(HAND, BestOnAverage, "leave_one_target_task_out") is None  # one target


def test_nearest_language_uses_the_typologically_closest_seen_language() -> None:
    ranker = NearestLanguage().fit(HAND)
    # URIEL syntax: Korean is nearer to Japanese (0.19) than to German (0.33) or Spanish
    # (0.47), French to Spanish (0.17) than to German (0.22).
    assert ranker.nearest("ko", "udpos") == "ja"
    assert ranker.nearest("fr", "udpos") == "es"
    assert ranker.predict([row(A, "ko", 0.0), row(B, "ko", 0.0)]) == pytest.approx([-1, 3])
    assert ranker.predict([row(A, "fr", 0.0), row(B, "fr", 0.0)]) == pytest.approx([1, 0])
    # A configuration never run on the nearest language falls back to its average.
    other = inter("pawsx@ja", language="ja")
    ranker = NearestLanguage().fit([*HAND, row(other, "de", 4.0)])
    assert ranker.predict([row(other, "ko", 0.0)]) == pytest.approx([4.0])


# --- the model on an unseen language -------------------------------------------------------

LANGUAGES = ["de", "nl", "sv", "fr", "es", "it", "pt", "ru", "pl", "el", "hi", "fa", "tr",
             "fi", "hu", "ar", "he", "zh", "ko", "vi", "th", "id", "sw", "ta"]


def _far(code: str) -> float:
    return distances(code, "en")["syntactic"]


def test_model_recommends_by_typology_for_an_unseen_language() -> None:
    # The English-language configuration helps languages syntactically close to English, the
    # Japanese one those far from it; the model must rank them the right way round for
    # languages it never saw (ja, far; da, close).
    english, japanese = inter("xnli"), inter("pawsx@ja", language="ja")
    threshold = float(np.median([_far(g) for g in LANGUAGES]))
    rows = []
    for g in LANGUAGES:
        far = _far(g) > threshold
        rows += [row(english, g, -1.0 if far else 2.0), row(japanese, g, 2.0 if far else -1.0)]
    assert _far("ja") > threshold > _far("da")
    model = GainModel(with_baseline=False).fit(rows)
    for language, best in (("ja", japanese), ("da", english)):
        queries = [row(english, language, math.nan, baseline=None),
                   row(japanese, language, math.nan, baseline=None)]
        gains = model.predict(queries)
        low, high = model.predict_interval(queries)
        assert [english, japanese][int(np.argmax(gains))] == best, language
        assert np.all(low <= gains) and np.all(gains <= high)


# --- the commands on real study outputs ----------------------------------------------------

STUDY = """
name: {name}
encoder: tiny:random
seeds: [0]
intermediate: {intermediate}
targets:
  - task: cldr-continents
    languages: {languages}
training: {{epochs: 1, batch_size: 8, max_seq_length: 24, max_train_examples: 48,
           max_dev_examples: 16, learning_rate: 0.001}}
evaluation: {{max_examples: 24, bootstrap_resamples: 50}}
"""


def _run(folder: Path, name: str, intermediate: str, languages: str) -> Path:
    study = folder / f"{name}.yaml"
    study.write_text(STUDY.format(name=name, intermediate=intermediate, languages=languages),
                     encoding="utf-8")
    out = folder / "out"
    assert not run_study(load_study(study), out).failed
    return out


@pytest.fixture(scope="module")
def enough(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two intermediate configurations (cldr-units in en and in de) and 4 zero-shot
    languages: the smallest output a predictor may learn from."""
    return _run(tmp_path_factory.mktemp("enough"), "enough",
                "[none, cldr-units, {task: cldr-units, language: de}]", "[en, de, fr, es, ru]")


def _json(args: list[str], code: int = 0) -> dict:
    result = runner.invoke(app, args)
    assert result.exit_code == code, result.output
    return json.loads(result.stdout)


def test_predict_json_contract(enough: Path) -> None:
    got = _json(["predict", str(enough), "--json"])
    # 3 target runs (none, cldr-units, cldr-units@de) × 4 zero-shot languages (en excluded).
    assert got["n_runs"] == 3 and got["n_gains"] == 8 and got["too_few_runs"] is None
    assert got["configurations"] == ["cldr-units", "cldr-units@de"]
    assert got["languages"] == ["de", "es", "fr", "ru"]
    evaluation = got["evaluation"]
    lolo = evaluation["leave_one_language_out"]
    assert set(lolo) >= {"spearman", "ndcg@3", "regret@1", "queries"} and lolo["queries"] == 4
    assert lolo["regret@1"] >= 0 and 0 <= lolo["interval_coverage"] <= 1
    assert evaluation["leave_one_target_task_out"] is None  # one target task
    for name in ("best_on_average", "nearest_language"):
        assert evaluation["baselines"][name]["leave_one_language_out"]["queries"] == 4
    text = runner.invoke(app, ["predict", str(enough)])
    assert text.exit_code == 0 and "nearest language" in text.stdout, text.stdout


def test_recommend_json_contract_for_an_unseen_language(enough: Path) -> None:
    got = _json(["recommend", str(enough), "--target", "cldr-continents", "--language", "ja",
                 "--top", "5", "--json"])
    recs = got["recommendations"]
    assert [set(r) >= {"intermediate", "predicted_gain", "low", "high"} for r in recs] == \
        [True, True]  # --top 5 of 2 configurations
    assert sorted(r["intermediate"] for r in recs) == ["cldr-units", "cldr-units@de"]
    assert recs[0]["predicted_gain"] >= recs[1]["predicted_gain"]
    assert all(r["low"] <= r["predicted_gain"] <= r["high"] for r in recs)
    assert got["seen_language"] is False and got["uses_baseline_score"] is False
    seen = _json(["recommend", str(enough), "--target", "cldr-continents", "--language", "de",
                  "--top", "1", "--json"])
    assert len(seen["recommendations"]) == 1 and seen["uses_baseline_score"] is True


def test_recommend_refuses_an_unknown_target_or_language(enough: Path) -> None:
    bad = runner.invoke(app, ["recommend", str(enough), "--target", "udpos", "--language", "ja"])
    assert bad.exit_code == 2 and "cldr-continents" in bad.output
    bad = runner.invoke(app, ["recommend", str(enough), "--target", "cldr-continents",
                              "--language", "qqq-not-a-language"])
    assert bad.exit_code == 2 and "qqq-not-a-language" in bad.output


def test_too_few_runs_is_an_answer_not_a_crash(monkeypatch: pytest.MonkeyPatch,
                                              tmp_path: Path) -> None:
    # One configuration in two languages: nothing to rank, too little to hold out.
    few = GainTable([row(A, "de", 1.0), row(A, "ja", -1.0)], n_runs=3,
                    baselines={("m", "udpos", "de"): 50.0}, targets={"udpos": "tagging"},
                    notes=[])
    monkeypatch.setattr(commands, "build_table", lambda out_dirs: few)
    got = _json(["predict", str(tmp_path), "--json"], code=TOO_FEW_EXIT)
    assert got["evaluation"] is None and got["n_runs"] == 3 and got["n_gains"] == 2
    assert "1 intermediate configuration(s) in 2 zero-shot language(s)" in got["too_few_runs"]
    text = runner.invoke(app, ["recommend", str(tmp_path), "--target", "udpos",
                               "--language", "ko"])
    assert text.exit_code == TOO_FEW_EXIT and "too few runs" in text.output
    assert isinstance(text.exception, SystemExit)  # a clean exit, no traceback
