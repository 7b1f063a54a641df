"""A whole study on a tiny random encoder: three phases, report, reuse, failure isolation."""

from __future__ import annotations

import csv
import time
from pathlib import Path

import pytest

from xstilts.errors import DataFormatError
from xstilts.report.summary import write_report
from xstilts.studies.executor import run_study
from xstilts.studies.spec import load_study
from xstilts.tasks import Task, TaskType, get_task, register_task

STUDY = """
name: tiny
encoder: tiny:random
seeds: [0]
intermediate: [none, {task: cldr-units, training: {max_train_examples: 48}}]
targets:
  - task: cldr-continents
    languages: [en, de, fr]
training: {epochs: 1, batch_size: 16, max_seq_length: 24, max_train_examples: 64,
           max_dev_examples: 16, learning_rate: 0.001}
evaluation: {max_examples: 20, bootstrap_resamples: 50}
"""


@pytest.fixture(scope="module")
def finished_study(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, float]:
    root = tmp_path_factory.mktemp("study")
    path = root / "study.yaml"
    path.write_text(STUDY, encoding="utf-8")
    out = root / "out"
    start = time.perf_counter()
    outcome = run_study(load_study(path), out, study_path=path, log=lambda _: None)
    elapsed = time.perf_counter() - start
    assert not outcome.failed and not outcome.skipped
    assert len(outcome.done) == 3
    return path, out, elapsed


def test_study_writes_checkpoints_predictions_and_report(
    finished_study: tuple[Path, Path, float],
) -> None:
    _, out, _ = finished_study
    runs = sorted((out / "runs").iterdir())
    encoders = [r / "encoder" for r in runs if (r / "encoder").is_dir()]
    assert len(encoders) == 1 and (encoders[0] / "model.safetensors").is_file()
    predictions = list((out / "runs").glob("*/predictions/de.jsonl"))
    assert len(predictions) == 2
    assert len(predictions[0].read_text().splitlines()) == 20

    report_dir = write_report(out)
    with (report_dir / "results.csv").open() as f:
        rows = list(csv.DictReader(f))
    for column in ("run_id", "model", "intermediate", "target_task", "language", "metric",
                   "value", "seed"):
        assert column in rows[0]
    assert len(rows) == 2 * 3  # 2 intermediate configurations × 3 languages × 1 metric
    assert {r["intermediate"] for r in rows} == {"none", "cldr-units"}
    assert {r["model"] for r in rows} == {"tiny:random"}
    for r in rows:
        assert 0.0 <= float(r["ci_low"]) <= float(r["value"]) <= float(r["ci_high"]) <= 1.0
    summary = (report_dir / "summary.md").read_text()
    assert "cldr-continents" in summary and "Delta vs baseline" in summary
    assert "German" in summary or "(de," in summary


def test_rerun_trains_nothing(finished_study: tuple[Path, Path, float]) -> None:
    path, out, first = finished_study
    start = time.perf_counter()
    outcome = run_study(load_study(path), out, study_path=path, log=lambda _: None)
    assert outcome.done == [] and len(outcome.reused) == 3
    assert time.perf_counter() - start < first / 3


def test_an_edited_study_reports_only_its_current_runs(
        finished_study: tuple[Path, Path, float], tmp_path: Path) -> None:
    """Changing a study's settings re-runs what changed; the report of the study shows the
    new runs only (not an average with the replaced ones), and reverting the edit reuses the
    old runs, which stayed in the output folder."""
    import shutil

    from xstilts.studies.store import ResultStore

    path, finished, _ = finished_study
    out = tmp_path / "out"
    shutil.copytree(finished, out)
    edited = tmp_path / "study.yaml"
    edited.write_text(STUDY.replace("max_train_examples: 48", "max_train_examples: 32"),
                      encoding="utf-8")
    outcome = run_study(load_study(edited), out, study_path=edited, log=lambda _: None)
    assert len(outcome.done) == 2 and len(outcome.reused) == 1  # the baseline is unchanged
    store = ResultStore(out)
    members = {r["id"] for r in store.runs("tiny")}
    store.close()
    assert members == {r.id for r in outcome.plan.runs}
    write_report(out, "tiny", formats=["csv"])
    with (out / "report" / "results.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert {r["run_id"] for r in rows} == {r.id for r in outcome.plan.target_runs}
    assert len(rows) == 2 * 3  # two configurations × three languages, one row each
    again = run_study(load_study(path), out, study_path=path, log=lambda _: None)
    assert again.done == [] and len(again.reused) == 3


def _broken_reader(split: str, language: str, data_dir: Path | None, *,
                   skip_bad_rows: bool = False) -> list:
    raise DataFormatError("broken.tsv", 7, "deliberately broken for the test")


def test_failed_run_keeps_its_log_and_does_not_block_others(tmp_path: Path) -> None:
    try:
        get_task("test-broken")
    except Exception:
        register_task(Task(name="test-broken", type=TaskType.CLASSIFICATION, languages=("en",),
                           reader=_broken_reader, labels=("a", "b"), needs_data_dir=False))
    path = tmp_path / "study.yaml"
    path.write_text(STUDY.replace("cldr-units", "test-broken"), encoding="utf-8")
    outcome = run_study(load_study(path), tmp_path / "out", study_path=path, log=lambda _: None)
    assert len(outcome.failed) == 1 and len(outcome.skipped) == 1 and len(outcome.done) == 1
    failed_id = next(iter(outcome.failed))
    log = tmp_path / "out" / "runs" / f"{failed_id}.failed" / "error.txt"
    assert "deliberately broken" in log.read_text()
    assert "broken.tsv:7" in outcome.failed[failed_id]
