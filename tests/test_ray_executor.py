"""The Ray executor on a local Ray instance gives the in-process executor's results."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from tiny_study import tiny_study

from xstilts.report.summary import write_report
from xstilts.studies.executor import run_study
from xstilts.studies.spec import load_study

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'xstilts[ray]')")

STUDY = tiny_study("rayable")


def values(out: Path) -> list[tuple[str, str, str, str, str]]:
    write_report(out, formats=["csv"])
    with (out / "report" / "results.csv").open() as f:
        return sorted((r["run_id"], r["intermediate"], r["language"], r["metric"], r["value"])
                      for r in csv.DictReader(f))


USER_STUDY = """\
name: ray-user-task
encoder: tiny:random
seeds: [0]
task_files: [tasks/senti.yaml]
targets:
  - task: ray-senti
    languages: [en, de]
training: {epochs: 1, batch_size: 8, max_seq_length: 16, max_train_examples: 24,
           max_dev_examples: 8, learning_rate: 0.001}
evaluation: {max_examples: 8, bootstrap_resamples: 20}
"""
USER_TASK = """\
tasks:
  - name: ray-senti
    type: classification
    labels: [negative, positive]
    languages: [en, de]
    format: tsv
    files: {path: "{split}-{language}.tsv"}
    columns: {text_a: text, label: label}
"""


def test_a_user_task_runs_on_ray_workers(tmp_path: Path) -> None:
    """Workers are fresh processes that never read the study: the run carries its user task."""
    from xstilts.studies.ray_executor import run_study_ray

    words = (("bad", "awful", "poor"), ("good", "great", "fine"))
    for split, rows in (("train", 24), ("dev", 8), ("test", 8)):
        for language in ("en", "de"):
            lines = ["text\tlabel"] + [f"{words[i % 2][i % 3]} film {i}\t{i % 2}"
                                       for i in range(rows)]
            (tmp_path / "tasks").mkdir(exist_ok=True)
            (tmp_path / "tasks" / f"{split}-{language}.tsv").write_text("\n".join(lines) + "\n")
    (tmp_path / "tasks" / "senti.yaml").write_text(USER_TASK)
    study = tmp_path / "study.yaml"
    study.write_text(USER_STUDY)
    spec = load_study(study)
    local = run_study(spec, tmp_path / "local", study_path=study, log=lambda _: None)
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
    try:
        distributed = run_study_ray(spec, tmp_path / "ray", study_path=study,
                                    log=lambda _: None)
    finally:
        ray.shutdown()
    assert not distributed.failed, distributed.failed
    # the id the run had before runs carried their user tasks: carrying them changes no id
    assert distributed.done == local.done == ["ec18a628fc6e73c9"]
    assert values(tmp_path / "ray") == values(tmp_path / "local")
