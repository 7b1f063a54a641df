"""Retrieval targets in a study: no phase 3, the (intermediate-trained) encoder is pooled."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from xstilts.report.summary import write_report
from xstilts.studies.executor import run_study
from xstilts.studies.spec import load_study

STUDY = """
name: retrieval
encoder: tiny:random
intermediate: [none, {task: cldr-units, training: {max_train_examples: 32}}]
targets:
  - task: tatoeba
    languages: [de, sw]
training: {epochs: 1, batch_size: 8, max_seq_length: 24, max_dev_examples: 8}
evaluation: {max_examples: 40, bootstrap_resamples: 50}
"""


def test_tatoeba_target_with_and_without_intermediate_training(shared_data: Path,
                                                               tmp_path: Path) -> None:
    study = tmp_path / "study.yaml"
    study.write_text(STUDY, encoding="utf-8")
    outcome = run_study(load_study(study), tmp_path / "out", data_dir=shared_data,
                        study_path=study, log=lambda _: None)
    assert not outcome.failed and len(outcome.done) == 3
    write_report(tmp_path / "out", formats=["csv", "md"])
    # The report says which protocol the runs used: auto = mteb for a non-XLM-R encoder.
    summary = (tmp_path / "out" / "report" / "summary.md").read_text()
    assert ("Retrieval protocol, tatoeba with tiny:random (2 runs): preset mteb: non-English "
            "sentences query the English side (xx→en); last layer (MTEB: the model's own "
            "output); mean pooling") in summary
    with (tmp_path / "out" / "report" / "results.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert {(r["intermediate"], r["language"]) for r in rows} == {
        ("none", "de"), ("none", "sw"), ("cldr-units", "de"), ("cldr-units", "sw")}
    for r in rows:
        assert r["metric"] == "accuracy" and r["n"] == "40"
        assert 0.0 <= float(r["value"]) <= 1.0
    by_config = {(r["intermediate"], r["language"]): float(r["value"]) for r in rows}
    # The cldr-units row was scored on the phase-2 encoder, not on the pretrained one.
    inter = next(r for r in outcome.plan.runs if r.kind == "intermediate")
    targets = [r for r in outcome.plan.target_runs if r.parent == inter.id]
    assert [r.intermediate for r in targets] == ["cldr-units"]
    # Per-query predictions are written, and re-scoring them gives the reported accuracy.
    for run in outcome.plan.target_runs:
        file = tmp_path / "out" / "runs" / run.id / "predictions" / "sw.jsonl"
        lines = [json.loads(line) for line in file.read_text().splitlines()]
        rescored = sum(row["gold"] == row["prediction"] for row in lines) / len(lines)
        assert rescored == by_config[(run.intermediate, "sw")]
        record = json.loads((tmp_path / "out" / "runs" / run.id / "run.json").read_text())
        assert record["info"]["retrieval_protocol"]["preset"] == "mteb"
        assert record["info"]["retrieval_protocol"]["layer"] == -1


ALIGNED_STUDY = """
name: retrieval-aligned
encoder: bundled:multilingual-e5-small
intermediate: [none]
targets:
  - task: tatoeba
    languages: [sw, eu]
evaluation: {max_examples: 400, bootstrap_resamples: 200, align: {method: lstsq}}
"""


def test_tatoeba_target_with_alignment_scores_held_out_queries_before_and_after(
        shared_data: Path, tmp_path: Path) -> None:
    study = tmp_path / "study.yaml"
    study.write_text(ALIGNED_STUDY, encoding="utf-8")
    outcome = run_study(load_study(study), tmp_path / "out", data_dir=shared_data,
                        study_path=study, log=lambda _: None)
    assert not outcome.failed
    (run,) = outcome.plan.target_runs
    run_dir = tmp_path / "out" / "runs" / run.id
    write_report(tmp_path / "out", formats=["csv", "md"])
    with (tmp_path / "out" / "report" / "results.csv").open() as f:
        rows = {(r["split"], r["language"]): r for r in csv.DictReader(f)}
    assert set(rows) == {(s, g) for s in ("test", "test+heldout", "test+align")
                         for g in ("sw", "eu")}
    # sw has 390 pairs, eu is capped at 400: 40 % of each is held out
    assert [rows[("test+align", g)]["n"] for g in ("sw", "eu")] == ["156", "160"]
    info = json.loads((run_dir / "run.json").read_text())["info"]["alignment"]
    for lang in ("sw", "eu"):
        for view, split, key in (("heldout", "test+heldout", "before"),
                                 ("align", "test+align", "after")):
            lines = [json.loads(x) for x in
                     (run_dir / "predictions" / view / f"{lang}.jsonl").read_text().splitlines()]
            rescored = sum(x["gold"] == x["prediction"] for x in lines) / len(lines)
            assert rescored == float(rows[(split, lang)]["value"]) == info[lang][key]
        assert info[lang]["n_train"] + info[lang]["n_test"] == (390 if lang == "sw" else 400)
    # A projection fitted on ~240 pairs of a weakly aligned language helps on held-out queries.
    gains = [info[g]["after"] - info[g]["before"] for g in ("sw", "eu")]
    assert sum(gains) > 0, gains
    summary = (tmp_path / "out" / "report" / "summary.md").read_text()
    assert "tatoeba [align]" in summary and "tatoeba [heldout]" in summary


def test_alignment_option_reaches_tatoeba_targets_only(tmp_path: Path) -> None:
    """evaluation.align changes what a Tatoeba run computes (so its id); BUCC ignores it and
    keeps the id it has without the option."""
    from xstilts.studies.planner import plan_study

    def target_settings(evaluation: str) -> dict[str, dict]:
        study = tmp_path / "s.yaml"
        study.write_text(f"""
name: s
encoder: tiny:random
intermediate: [none]
targets: [{{task: tatoeba, languages: [de]}}, {{task: bucc2018, languages: [de]}}]
evaluation: {evaluation}
""", encoding="utf-8")
        return {r.task: (r.id, r.settings["evaluation"])
                for r in plan_study(load_study(study)).target_runs}

    plain = target_settings("{max_examples: 10}")
    aligned = target_settings("{max_examples: 10, align: {method: lstsq}}")
    assert aligned["tatoeba"][1]["align"]["method"] == "lstsq"
    assert aligned["tatoeba"][0] != plain["tatoeba"][0]
    assert "align" not in aligned["bucc2018"][1] and aligned["bucc2018"][0] == plain["bucc2018"][0]
