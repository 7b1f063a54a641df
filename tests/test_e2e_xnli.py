"""End to end on real XNLI files with the bundled encoder: train on English, test de/zh/sw."""

from __future__ import annotations

import csv
from pathlib import Path

from typer.testing import CliRunner

from xstilts.cli import app

STUDY = """
# A tiny XNLI study: a few hundred English dev pairs stand in for MNLI training.
name: xnli-tiny
encoder: bundled:multilingual-e5-small
seeds: [0]
intermediate: [none]
targets:
  - task: xnli
    languages: [en, de, zh, sw]
    train_split: dev
    dev_split: dev
    eval_split: test
training: {epochs: 1, batch_size: 16, max_seq_length: 64, max_train_examples: 192,
           max_dev_examples: 32, learning_rate: 0.0001, freeze_embeddings: true}
evaluation: {max_examples: 48, bootstrap_resamples: 200}
"""


def test_xnli_study_from_the_command_line(shared_data: Path, tmp_path: Path) -> None:
    study = tmp_path / "xnli.yaml"
    study.write_text(STUDY, encoding="utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app, ["run", str(study), "--data-dir", str(shared_data), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "summary.md" in result.output
    with (out / "report" / "results.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert sorted(r["language"] for r in rows) == ["de", "en", "sw", "zh"]
    for row in rows:
        assert row["target_task"] == "xnli" and row["metric"] == "accuracy"
        assert row["n"] == "48" and 0.0 <= float(row["value"]) <= 1.0
    summary = (out / "report" / "summary.md").read_text()
    assert "xnli" in summary and "Swahili" in summary
