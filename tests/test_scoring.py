"""`xstilts score`: the leaderboard layout of every task family, scored by hand-worked values."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from xstilts.cli import app
from xstilts.errors import XstiltsError
from xstilts.scoring.official import average_precision_at_k
from xstilts.scoring.score import score_submission

runner = CliRunner()


def _put(root: Path, kind: str, task: str, name: str, text: str | object) -> None:
    path = root / kind / task / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text if isinstance(text, str) else json.dumps(text), encoding="utf-8")


def _pair(root: Path, task: str, name: str, prediction: str | object,
          gold: str | object) -> None:
    _put(root, "predictions", task, name, prediction)
    _put(root, "labels", task, name, gold)


def _score(root: Path, tasks: list[str] | None = None) -> dict:
    return score_submission(root / "predictions", root / "labels", tasks).as_json()["tasks"]


def test_classification_accuracy_and_average(tmp_path: Path) -> None:
    # de: 3 of 4 right = 75; fr: 1 of 2 right = 50; average (75 + 50) / 2 = 62.5.
    _pair(tmp_path, "xnli", "test-de.tsv", "entailment\nneutral\nneutral\nneutral\n",
          "entailment\nneutral\ncontradiction\nneutral\n")
    _pair(tmp_path, "xnli", "test-fr.tsv", "neutral\nneutral\n", "neutral\nentailment\n")
    # pawsx: 4 of 5 = 80.
    _pair(tmp_path, "pawsx", "test-de.tsv", "1\n1\n0\n1\n0\n", "1\n0\n0\n1\n0\n")
    # xcopa: labels compared as JSON values, 2 of 3 = 66.67.
    _pair(tmp_path, "xcopa", "test-et.jsonl", '{"label": 0}\n{"label": 0}\n{"label": 1}\n',
          '{"label": 0, "idx": 0}\n{"label": 1}\n{"label": 1}\n')
    tasks = _score(tmp_path)
    assert tasks["xnli"]["languages"] == {"de": {"accuracy": 75.0}, "fr": {"accuracy": 50.0}}
    assert tasks["xnli"]["average"] == {"accuracy": 62.5, "metric": 62.5}
    assert tasks["pawsx"]["languages"]["de"]["accuracy"] == pytest.approx(80.0)
    assert tasks["xcopa"]["languages"]["et"]["accuracy"] == pytest.approx(200 / 3)


def test_udpos_is_seqeval_f1_of_raw_tags_not_token_accuracy(tmp_path: Path) -> None:
    # seqeval splits 'NOUN' into tag 'N' and type 'OUN'; equal types in a row merge.
    # gold s1 DET NOUN NOUN -> ET(0), OUN(1-2); s2 PRON VERB -> RON(0), ERB(1): 4 chunks.
    # pred s1 DET NOUN VERB -> ET(0), OUN(1), ERB(2); s2 as gold: 5 chunks.
    # correct: ET, RON, ERB of s2 = 3. P = 3/5, R = 3/4, F1 = 2PR/(P+R) = 0.9/1.35 = 2/3.
    # (Token accuracy would be 4/5.)
    _pair(tmp_path, "udpos", "test-en.tsv", "DET\nNOUN\nVERB\n\nPRON\nVERB\n",
          "DET\nNOUN\nNOUN\n\nPRON\nVERB\n")
    scores = _score(tmp_path)["udpos"]["languages"]["en"]
    assert scores["precision"] == pytest.approx(60.0)
    assert scores["recall"] == pytest.approx(75.0)
    assert scores["f1"] == pytest.approx(200 / 3)


def test_panx_entity_f1(tmp_path: Path) -> None:
    # gold: PER(0-1), LOC(3) | ORG(1) = 3 entities; pred: PER(0-1) | I-ORG after O starts
    # ORG(1) (seqeval's lenient default mode) = 2 entities, both correct.
    # P = 2/2, R = 2/3, F1 = 2 * (2/3) / (5/3) = 0.8.
    _pair(tmp_path, "panx", "test-de.tsv", "B-PER\nI-PER\nO\nO\n\nO\nI-ORG\n",
          "B-PER\nI-PER\nO\nB-LOC\n\nO\nB-ORG\n")
    scores = _score(tmp_path)["panx"]["languages"]["de"]
    assert scores == pytest.approx({"f1": 80.0, "precision": 100.0, "recall": 200 / 3})


def _squad(questions: dict[str, list[str]]) -> dict:
    qas = [{"id": q, "question": "?", "answers": [{"text": t, "answer_start": 0} for t in a]}
           for q, a in questions.items()]
    return {"version": "1.1", "data": [{"title": "t", "paragraphs": [{"context": "c",
                                                                       "qas": qas}]}]}


def test_qa_exact_match_f1_missing_ids_and_mlqa_rules(tmp_path: Path) -> None:
    gold = _squad({"q1": ["308"], "q2": ["Jared Allen", "Allen"], "q3": ["the Panthers"],
                   "q4": ["136 sacks"]})
    # q1 exact: EM 1, F1 1. q2 "Jared": EM 0; F1 vs "Jared Allen": P 1, R 1/2 -> 2/3.
    # q3 "Panthers!": punctuation and the article go -> EM 1, F1 1. q4 unanswered: 0, 0.
    # EM = 2/4 = 50; F1 = (1 + 2/3 + 1 + 0) / 4 = 2/3; headline (50 + 66.67) / 2 = 58.33.
    _pair(tmp_path, "xquad", "test-en.json",
          {"q1": "308", "q2": "Jared", "q3": "Panthers!", "extra": "x"}, gold)
    # "der Hund" vs "Hund": MLQA's German rules drop "der" (EM 1, F1 1); XQuAD uses SQuAD
    # rules for every language, so there EM 0 and F1 = 2 * 1 * 1/2 / 1.5 = 2/3.
    _pair(tmp_path, "mlqa", "test-de.json", {"m1": "Hund"}, _squad({"m1": ["der Hund"]}))
    _pair(tmp_path, "xquad", "test-de.json", {"m1": "Hund"}, _squad({"m1": ["der Hund"]}))
    result = score_submission(tmp_path / "predictions", tmp_path / "labels")
    en = result.tasks["xquad"]["languages"]["en"]
    assert en == pytest.approx({"exact_match": 50.0, "f1": 200 / 3})
    assert result.tasks["xquad"]["languages"]["de"] == pytest.approx(
        {"exact_match": 0.0, "f1": 200 / 3})
    assert result.tasks["mlqa"]["languages"]["de"] == pytest.approx(
        {"exact_match": 100.0, "f1": 100.0})
    # xquad average: EM (50 + 0) / 2 = 25, F1 2/3 -> 66.67, headline (25 + 66.67) / 2.
    assert result.tasks["xquad"]["average"]["metric"] == pytest.approx((25 + 200 / 3) / 2)
    assert any("1 gold id(s) have no prediction" in n for n in result.notes)
    assert any("1 predicted id(s) are not in the gold" in n for n in result.notes)


def test_tatoeba_accuracy_and_bucc_pair_f1(tmp_path: Path) -> None:
    # tatoeba: 3 of 4 indices right = 75.
    _pair(tmp_path, "tatoeba", "test-de.tsv", "3\n0\n2\n2\n", "3\n0\n1\n2\n")
    # bucc: predicted set {(1,1), (2,9), (3,3)} (the repeat counts once), gold 4 pairs;
    # correct 2: P = 2/3, R = 2/4, F1 = 2 * (1/3) / (7/6) = 4/7.
    _pair(tmp_path, "bucc2018", "test-de.tsv",
          "de-1\ten-1\nde-2\ten-9\nde-3\ten-3\nde-1\ten-1\n",
          "de-1\ten-1\nde-2\ten-2\nde-3\ten-3\nde-4\ten-4\n")
    tasks = _score(tmp_path)
    assert tasks["tatoeba"]["languages"]["de"] == {"accuracy": 75.0}
    assert tasks["bucc2018"]["languages"]["de"] == pytest.approx(
        {"f1": 400 / 7, "precision": 200 / 3, "recall": 50.0})


def test_mewslix_and_lareqa_map_at_20(tmp_path: Path) -> None:
    # mewslix (one gold entity each): q1 gold at rank 2 -> 1/2; q2 rank 1 -> 1; q3 no
    # prediction -> 0; q4 gold at rank 21, outside the top 20 -> 0; q5 a repeated id takes a
    # rank: gold at rank 3 -> 1/3. Mean (1/2 + 1 + 0 + 0 + 1/3) / 5 = (11/6) / 5 = 11/30.
    others = [f"X{i}" for i in range(20)]
    _pair(tmp_path, "mewslix", "test-en.json",
          {"q1": ["X", "Q1"], "q2": ["Q2"], "q4": [*others, "Q4"], "q5": ["X", "X", "Q5"]},
          {"q1": ["Q1"], "q2": ["Q2"], "q3": ["Q3"], "q4": ["Q4"], "q5": ["Q5"]})
    # lareqa: q1 relevant {a, b, c}; ranked a x b a y: hits at 1 (1/1) and 3 (2/3), the
    # repeated a gets nothing; AP = (1 + 2/3) / min(3, 20) = 5/9. q2: d at rank 1 -> 1.
    # mAP = (5/9 + 1) / 2 = 7/9.
    _pair(tmp_path, "lareqa", "test-en.json",
          {"q1": ["a", "x", "b", "a", "y"], "q2": ["d"]}, {"q1": ["a", "b", "c"], "q2": ["d"]})
    tasks = _score(tmp_path)
    assert tasks["mewslix"]["languages"]["en"]["map@20"] == pytest.approx(100 * 11 / 30)
    assert tasks["lareqa"]["languages"]["en"]["map@20"] == pytest.approx(700 / 9)
    assert tasks["lareqa"]["average"]["metric"] == pytest.approx(700 / 9)


def test_ap_at_20_divides_by_the_relevant_count_capped_at_20() -> None:
    # 25 relevant ids, the top 20 all relevant: AP = 20 * 1 / min(25, 20) = 1.
    relevant = {f"r{i}" for i in range(25)}
    assert average_precision_at_k(sorted(relevant), relevant) == pytest.approx(1.0)
    # 2 relevant, only one retrieved at rank 4: AP = (1/4) / 2 = 1/8.
    assert average_precision_at_k(["a", "b", "c", "r1"], {"r1", "r2"}) == pytest.approx(0.125)


def test_cli_json_shape(tmp_path: Path) -> None:
    _pair(tmp_path, "xnli", "test-de.tsv", "neutral\nneutral\n", "neutral\nentailment\n")
    result = runner.invoke(app, ["score", str(tmp_path / "predictions"), "--labels",
                                 str(tmp_path / "labels"), "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload == {"tasks": {"xnli": {"languages": {"de": {"accuracy": 50.0}},
                                          "average": {"accuracy": 50.0, "metric": 50.0}}}}
    # Scoring 1 of XNLI's 15 languages is said, on stderr.
    assert "not comparable" in result.stderr


def test_cli_table(tmp_path: Path) -> None:
    _pair(tmp_path, "xnli", "test-de.tsv", "neutral\nneutral\n", "neutral\nentailment\n")
    result = runner.invoke(app, ["score", str(tmp_path / "predictions"), "--labels",
                                 str(tmp_path / "labels"), "--tasks", "xnli"])
    assert result.exit_code == 0, result.output
    assert "50.00" in result.stdout and "average" in result.stdout


def test_malformed_lines_name_file_and_line(tmp_path: Path) -> None:
    _pair(tmp_path, "xnli", "test-de.tsv", "neutral\n\nneutral\n", "neutral\nneutral\nneutral\n")
    result = runner.invoke(app, ["score", str(tmp_path / "predictions"), "--labels",
                                 str(tmp_path / "labels")])
    assert result.exit_code == 2
    assert f"{tmp_path / 'predictions' / 'xnli' / 'test-de.tsv'}:2: empty line" in result.output

    _pair(tmp_path, "udpos", "test-en.tsv", "DET\nHund\tNOUN\n", "DET\nNOUN\n")
    with pytest.raises(XstiltsError, match=r"udpos/test-en\.tsv:2: expected one tag per line"):
        _score(tmp_path, ["udpos"])
    _pair(tmp_path, "bucc2018", "test-de.tsv", "de-1 en-1\n", "de-1\ten-1\n")
    with pytest.raises(XstiltsError, match=r"bucc2018/test-de\.tsv:1: expected 'source_id"):
        _score(tmp_path, ["bucc2018"])
    _pair(tmp_path, "xquad", "test-en.json", '{\n"q1": "a",\n}\n', _squad({"q1": ["a"]}))
    with pytest.raises(XstiltsError, match=r"xquad/test-en\.json:3: not JSON"):
        _score(tmp_path, ["xquad"])
    _pair(tmp_path, "xcopa", "test-et.jsonl", '{"label": 0}\n{"lab": 1}\n',
          '{"label": 0}\n{"label": 1}\n')
    with pytest.raises(XstiltsError, match=r"xcopa/test-et\.jsonl:2: expected an object"):
        _score(tmp_path, ["xcopa"])


def test_count_mismatch_is_an_error_not_a_truncation(tmp_path: Path) -> None:
    _pair(tmp_path, "pawsx", "test-de.tsv", "1\n0\n", "1\n0\n1\n")
    with pytest.raises(XstiltsError, match=r"pawsx/test-de\.tsv has 2 lines but the gold file "
                                           r".*pawsx/test-de\.tsv has 3"):
        _score(tmp_path)
    # Tagging: the sentence count, then each sentence's tag count (its first line named).
    _pair(tmp_path, "panx", "test-de.tsv", "O\n\nO\nO\n", "O\n\nO\n")
    with pytest.raises(XstiltsError, match=r"panx/test-de\.tsv:3: this sentence has 2 tags"):
        _score(tmp_path, ["panx"])
    _pair(tmp_path, "panx", "test-de.tsv", "O\n", "O\n\nO\n")
    with pytest.raises(XstiltsError, match="has 1 sentences but the gold file"):
        _score(tmp_path, ["panx"])


def test_missing_files_and_unknown_tasks(tmp_path: Path) -> None:
    _put(tmp_path, "labels", "xnli", "test-de.tsv", "neutral\n")
    _put(tmp_path, "predictions", "xnli", "test-fr.tsv", "neutral\n")
    with pytest.raises(XstiltsError, match="predictions for fr but"):
        _score(tmp_path)
    (tmp_path / "predictions" / "xnli" / "test-fr.tsv").unlink()
    with pytest.raises(XstiltsError, match=r"missing prediction file .*test-de\.tsv"):
        _score(tmp_path)
    with pytest.raises(XstiltsError, match="unknown task"):
        _score(tmp_path, ["cldr-continents"])
