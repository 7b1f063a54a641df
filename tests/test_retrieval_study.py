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
    write_report(tmp_path / "out", formats=["csv"])
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
