"""BUCC runs keep their mined pairs, and the leaderboard export re-scores them exactly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from xstilts.cli import app
from xstilts.evaluation.retrieval_metrics import best_threshold, bucc_f1, extracted_pairs
from xstilts.report.results import collect_results
from xstilts.studies.executor import run_study
from xstilts.studies.spec import load_study

# Identical texts on both sides for the first four pairs (cosine 1, always mined first); one
# more gold pair whose sides differ, and one unpaired sentence per side.
TEXTS = ["Hallo Welt.", "Ein etwas längerer Satz mit mehr Wörtern darin.", "Kurz.",
         "Noch ein ganz anderer Satz über Katzen und Hunde im Garten."]
STUDY = """
name: bucc-tiny
encoder: tiny:random
seeds: [0]
intermediate: [none]
targets:
  - {task: bucc2018, languages: [zh], eval_split: dev}
"""


def _write_dev(root: Path, extra_gold: bool) -> Path:
    folder = root / "bucc2018"
    folder.mkdir(parents=True, exist_ok=True)
    zh = [f"zh-{i}\t{t}" for i, t in enumerate(TEXTS)] + [
        "zh-8\tVöllig anderer Inhalt, nichts gleicht hier.", "zh-9\tEin Satz ohne Übersetzung."]
    en = [f"en-{i}\t{t}" for i, t in enumerate(TEXTS)] + [
        "en-8\tSomething else entirely, for the record.", "en-9\tAn unrelated sentence."]
    gold = [f"zh-{i}\ten-{i}" for i in range(len(TEXTS))] + (["zh-8\ten-8"] if extra_gold
                                                             else [])
    for suffix, lines in (("zh", zh), ("en", en), ("gold", gold)):
        (folder / f"zh-en.dev.{suffix}").write_text("\n".join(lines) + "\n", "utf-8")
    return root


def test_extracted_pairs_are_the_pairs_bucc_f1_scores_by_hand() -> None:
    candidates = [("a", "x", 0.9), ("c", "z", 0.7), ("b", "y", 0.5)]
    gold = {("a", "x"), ("c", "y")}
    # keep 0.9 only: P 1/1, R 1/2 -> F1 2/3; keep 0.9+0.7: P 1/2, R 1/2 -> 1/2;
    # keep all: P 1/3, R 1/2 -> 0.4. Best keeps ("a", "x"); threshold (0.9 + 0.7) / 2 = 0.8.
    tuned = best_threshold(candidates, gold)
    assert tuned.threshold == pytest.approx(0.8) and tuned.f1 == pytest.approx(2 / 3)
    assert extracted_pairs(candidates, tuned.threshold) == {("a", "x")}
    assert extracted_pairs(candidates, 0.5) == {("a", "x"), ("c", "z"), ("b", "y")}
    assert bucc_f1(candidates, gold, 0.8).n_extracted == 1


@pytest.fixture(scope="module")
def tiny():
    from xstilts.models import load_encoder

    return load_encoder("tiny:random")


def test_evaluate_bucc_writes_the_pairs_behind_its_value(tiny, tmp_path: Path) -> None:
    from xstilts.evaluation.retrieval import evaluate_bucc

    data = _write_dev(tmp_path / "data", extra_gold=False)
    (row,) = evaluate_bucc(tiny, ["zh"], data, predictions_dir=tmp_path / "pred")
    # F1 1.0 on 4 gold pairs means exactly the 4 identical-text pairs were extracted.
    assert row["value"] == 1.0 and row["n_extracted"] == 4
    expected = "zh-0\ten-0\nzh-1\ten-1\nzh-2\ten-2\nzh-3\ten-3\n"
    assert (tmp_path / "pred" / "zh.pairs.tsv").read_text("utf-8") == expected
    assert (tmp_path / "pred" / "zh.gold.tsv").read_text("utf-8") == expected
    (again,) = evaluate_bucc(tiny, ["zh"], data)  # no folder: nothing written, same score
    assert again["value"] == 1.0 and sorted(p.name for p in (tmp_path / "pred").iterdir()) == [
        "zh.gold.tsv", "zh.pairs.tsv"]


def test_export_of_a_bucc_run_rescores_to_the_study_f1(tmp_path: Path) -> None:
    data = _write_dev(tmp_path / "data", extra_gold=True)
    (tmp_path / "study.yaml").write_text(STUDY, encoding="utf-8")
    out = tmp_path / "out"
    outcome = run_study(load_study(tmp_path / "study.yaml"), out, data_dir=data,
                        study_path=tmp_path / "study.yaml", log=lambda _: None)
    assert not outcome.failed and len(outcome.done) == 1
    runner = CliRunner()
    dest = tmp_path / "export"
    result = runner.invoke(app, ["export-predictions", str(out), str(dest),
                                 "--study", "bucc-tiny"])
    assert result.exit_code == 0, result.output
    labels = (dest / "labels" / "bucc2018" / "test-zh.tsv").read_text("utf-8")
    assert labels == "zh-0\ten-0\nzh-1\ten-1\nzh-2\ten-2\nzh-3\ten-3\nzh-8\ten-8\n"
    scored = runner.invoke(app, ["score", str(dest / "predictions"), "--labels",
                                 str(dest / "labels"), "--json"])
    assert scored.exit_code == 0, scored.output
    got = json.loads(scored.stdout)["tasks"]["bucc2018"]["languages"]["zh"]["f1"]
    (row,) = [r for r in collect_results(out, "bucc-tiny") if r["metric"] == "f1"]
    # zh-8/en-8 differ in text, so the tuned cut cannot be perfect: a non-trivial F1
    assert row["split"] == "dev" and 0.0 < row["value"] < 1.0
    assert got == pytest.approx(100 * row["value"], rel=1e-12, abs=1e-9)
    manifest = json.loads((dest / "export.json").read_text())
    assert manifest["study_scores"]["bucc2018"]["zh"]["f1"] == pytest.approx(got)
