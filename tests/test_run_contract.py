"""The typed run contract keeps every run id and every stored settings dict of older versions,
and an output folder written before it is reused run for run.

Fixtures, both recorded with the code at commit 85f5a49 (before the contract), never edited:

* ``fixtures/legacy_run_settings_85f5a49.json``: three studies (a tiny one; one that sets
  nearly every option that enters an id (mlm, mixes with and without sampling, bookkeeping
  and later training fields, skip_bad_rows, the generalized matrix, alignment, a few-shot
  dev language, retrieval targets); one with explicit retrieval protocols on XLM-R), and for
  each planned run its id, the settings it stored and the exact dict its id hashed.
* ``fixtures/legacy_output_85f5a49/``: the output folder of ``tests/tiny_study.py``'s study
  (``study.yaml``: none and cldr-units → cldr-continents, 3 runs) as that code wrote it, less
  the phase-2 encoder (48 MB; reusing a finished run never reads it).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from xstilts.data.feature_options import FeatureOptions
from xstilts.evaluation.settings import EvaluationOptions
from xstilts.studies.executor import run_study
from xstilts.studies.planner import IntermediateRun, TargetRun, plan_study
from xstilts.studies.spec import load_study
from xstilts.studies.store import ResultStore
from xstilts.tasktypes.zero_shot import EvaluationSettings
from xstilts.training.options import TrainingOptions
from xstilts.training.run_folder import RunFolder, runs_dir

FIXTURES = Path(__file__).parent / "fixtures"
LEGACY = json.loads((FIXTURES / "legacy_run_settings_85f5a49.json").read_text())
LEGACY_OUTPUT = FIXTURES / "legacy_output_85f5a49"


def _plan(tmp_path: Path, name: str):
    path = tmp_path / f"{name}.yaml"
    path.write_text(LEGACY[name]["study"], encoding="utf-8")
    return plan_study(load_study(path))


@pytest.mark.parametrize("name", sorted(LEGACY))
def test_identity_is_the_dict_the_ids_hashed_before(tmp_path: Path, name: str) -> None:
    plan, recorded = _plan(tmp_path, name), LEGACY[name]["runs"]
    assert [r.id for r in plan.runs] == [r["id"] for r in recorded]
    for run, old in zip(plan.runs, recorded, strict=True):
        assert run.run.identity() == old["identity"], run.id
        assert run.settings == old["settings"], run.id  # run.json / store keep their keys


def test_the_legacy_studies_cover_the_optional_rules(tmp_path: Path) -> None:
    """The recorded studies exercise each rule of the contract both ways (else the test above
    would pass on a contract that ignored one): counted from the study files by hand."""
    runs = _plan(tmp_path, "options").runs
    inter = [r.run for r in runs if isinstance(r.run, IntermediateRun)]
    # 2 encoders × 2 seeds × 3 intermediate configurations (mlm task, sampled mix, plain mix)
    assert len(inter) == 12
    assert sorted({json.dumps(r.settings()["mix"], sort_keys=True) for r in inter}) == [
        "null", '{"sampler": "temperature", "size_cap": 100, "temperature": 3.0}', "{}"]
    assert sum("mlm" in r.settings() for r in inter) == 4  # one config × 2 encoders × 2 seeds
    targets = {r.run.task: r.run for r in runs if isinstance(r.run, TargetRun)}
    xnli, tatoeba, bucc = targets["xnli"], targets["tatoeba"], targets["bucc2018"]
    assert set(xnli.identity()["settings"]["evaluation"]) >= {"generalized", "align"}
    assert "align" in tatoeba.identity()["settings"]["evaluation"]  # fitted on Tatoeba pairs
    assert not {"generalized", "align"} & set(bucc.identity()["settings"]["evaluation"])
    assert xnli.settings()["data"] == {"skip_bad_rows": True} and "data" not in bucc.settings()
    # Bookkeeping: stored as given (7 steps, log every 3), hashed at the defaults (None, 10).
    hashed = xnli.identity()["settings"]["training"]
    assert xnli.settings()["training"]["checkpoint_every_steps"] == 7
    assert (hashed["checkpoint_every_steps"], hashed["log_every"]) == (None, 10)


def test_a_legacy_output_folder_is_reused_run_for_run(tmp_path: Path) -> None:
    out = tmp_path / "out"
    shutil.copytree(LEGACY_OUTPUT, out)
    # The three finished runs of the folder, by their folder names.
    folders = sorted(p.name for p in runs_dir(out).iterdir())
    assert folders == ["50580a688aa272b7", "899aa764a2bcb92a", "e128a83014cd4e27"]
    before = ResultStore(out)
    metrics_before = before.metrics()
    before.close()
    lines: list[str] = []
    outcome = run_study(load_study(out / "study.yaml"), out, log=lines.append)
    assert sorted(outcome.reused) == folders
    assert outcome.done == [] and outcome.failed == {} and outcome.skipped == {}
    assert all("reused" in line for line in lines)
    store = ResultStore(out)
    assert store.metrics() == metrics_before  # nothing rewritten
    store.close()
    # Only the three folders: nothing was trained next to them.
    assert sorted(p.name for p in runs_dir(out).iterdir()) == folders


def test_a_legacy_folder_without_its_done_mark_is_adopted(tmp_path: Path) -> None:
    """A finished folder whose store row was lost is recorded from its old run.json."""
    out = tmp_path / "out"
    shutil.copytree(LEGACY_OUTPUT, out)
    (out / "xstilts.sqlite").unlink()
    outcome = run_study(load_study(out / "study.yaml"), out, log=lambda _: None)
    assert len(outcome.reused) == 3 and outcome.done == []
    store = ResultStore(out)
    rows = store.metrics(["899aa764a2bcb92a"])
    store.close()
    # run.json of the baseline target: 2 languages (en, de); its metrics as stored there.
    recorded = json.loads(RunFolder.of(out, "899aa764a2bcb92a").record.read_text())["metrics"]
    assert {(r["language"], r["metric"]) for r in rows} == {
        (m["language"], m["metric"]) for m in recorded}
    assert {r["language"] for r in rows} == {"en", "de"}


def test_run_folder_layout(tmp_path: Path) -> None:
    folder = RunFolder.of(tmp_path, "abc123")
    assert folder.path == tmp_path / "runs" / "abc123"
    assert folder.work().path == tmp_path / "runs" / ".work-abc123"
    assert folder.failed().path == tmp_path / "runs" / "abc123.failed"
    assert folder.work().run_id == folder.failed().run_id == "abc123"
    assert folder.work().failed().path == folder.failed().path
    assert folder.record == tmp_path / "runs" / "abc123" / "run.json"
    assert folder.encoder == tmp_path / "runs" / "abc123" / "encoder"
    assert folder.model == tmp_path / "runs" / "abc123" / "model"
    assert folder.predictions() == tmp_path / "runs" / "abc123" / "predictions"
    assert folder.predictions("align") == tmp_path / "runs" / "abc123" / "predictions" / "align"
    assert not folder.is_complete()
    legacy = RunFolder.of(LEGACY_OUTPUT, "899aa764a2bcb92a")
    assert legacy.is_complete() and (legacy.predictions() / "de.jsonl").is_file()


def test_max_seq_length_is_defined_once_and_reaches_the_features(tmp_path: Path) -> None:
    # One default (128), read by both option types.
    assert FeatureOptions().max_seq_length == TrainingOptions().max_seq_length == 128
    assert TrainingOptions().feature_options() == FeatureOptions()
    # tiny.yaml sets max_seq_length: 24 under training: every run's features get 24.
    for run in _plan(tmp_path, "tiny").runs:
        assert run.run.training.feature_options() == FeatureOptions(24, 128, 64)


def test_evaluation_defaults_are_the_study_options(tmp_path: Path) -> None:
    loops = EvaluationSettings(FeatureOptions())
    # The README's defaults: batch 64, 1000 bootstrap resamples, 95 % intervals, no cap.
    assert (loops.batch_size, loops.bootstrap_resamples, loops.confidence,
            loops.max_examples) == (64, 1000, 0.95, None)
    options = EvaluationOptions(batch_size=8, max_examples=5, bootstrap_resamples=20)
    built = EvaluationSettings.from_options(options, FeatureOptions(32), seed=3)
    assert (built.batch_size, built.max_examples, built.bootstrap_resamples, built.confidence,
            built.seed, built.feature_options.max_seq_length) == (8, 5, 20, 0.95, 3, 32)
