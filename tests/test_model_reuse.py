"""Translate-test takes its zero-shot twin's trained model instead of training it again
(xstilts.training.model_reuse), with the results it would have trained to.

Real files: XCOPA's English training set and its Google-MT English test sets
(``xcopa/data-gmt``) in ../shared/data; the tiny random encoder.
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from xstilts.studies.dryrun import describe_plan
from xstilts.studies.executor import run_study
from xstilts.studies.planner import plan_study
from xstilts.studies.spec import load_study
from xstilts.tasks.translations import TRANSLATE_TEST, ZERO_SHOT
from xstilts.training import model_reuse
from xstilts.training.checkpoint import load_task_model

STUDY = """name: {name}
encoder: tiny:random
seeds: [3]
targets:
  - {{task: xcopa, languages: {languages}, setting: {settings}}}
training: {{epochs: 2, batch_size: 4, max_seq_length: 32, max_train_examples: 24,
           max_dev_examples: 8, learning_rate: 0.001}}
evaluation: {{max_examples: 20, bootstrap_resamples: {resamples}}}
retention: {{keep_target_checkpoints: {keep}}}
"""


def _study(name: str, settings: str = "[zero-shot]", languages: str = "[ht, sw]",
           resamples: int = 50, keep: bool = False) -> str:
    return STUDY.format(name=name, settings=settings, languages=languages,
                        resamples=resamples, keep=str(keep).lower())


def _run(tmp_path: Path, folder: str, settings: str, data: Path,
         log: list[str] | None = None, **study: Any):
    path = tmp_path / f"{folder}-{len(list(tmp_path.glob('*.yaml')))}.yaml"
    path.write_text(_study(folder, settings, **study), encoding="utf-8")
    out = tmp_path / folder
    lines = log if log is not None else []
    outcome = run_study(load_study(path), out, data_dir=data, study_path=path,
                        log=lines.append)
    assert not outcome.failed
    runs = {r.run.setting: r for r in outcome.plan.runs}
    return out, runs, outcome


def _record(out: Path, run_id: str) -> dict:
    return json.loads((out / "runs" / run_id / "run.json").read_text())


def _results(out: Path, run_id: str) -> dict[str, bytes]:
    folder = out / "runs" / run_id
    files = [folder / "metrics.json", *sorted((folder / "predictions").glob("*.jsonl"))]
    return {f.name: f.read_bytes() for f in files}


def test_translate_test_reuses_the_zero_shot_model_with_the_results_of_its_own_training(
        shared_data: Path, tmp_path: Path) -> None:
    log: list[str] = []
    both, runs, outcome = _run(tmp_path, "both", "[zero-shot, translate-test]", shared_data,
                               log)
    zero_shot, translated = runs[ZERO_SHOT], runs[TRANSLATE_TEST]
    assert (zero_shot.model_twin, translated.model_twin) == (translated.id, zero_shot.id)
    assert outcome.done == [zero_shot.id, translated.id]
    [done] = [line for line in log if translated.id in line and ": done in" in line]
    assert done.endswith(f" s (trained nothing: the model of run {zero_shot.id})")
    record = _record(both, translated.id)
    assert record["info"]["model_from"] == zero_shot.id
    assert "model_from" not in _record(both, zero_shot.id)["info"]
    assert record["info"]["training"] == _record(both, zero_shot.id)["info"]["training"]
    log = (both / "runs" / translated.id / "log.jsonl").read_bytes()
    assert log and log == (both / "runs" / zero_shot.id / "log.jsonl").read_bytes()
    assert not model_reuse.is_held(model_reuse.run_training_key(zero_shot.run))

    # The same translate-test run alone trains its own model: same id, same bytes.
    alone, alone_runs, _ = _run(tmp_path, "alone", "[translate-test]", shared_data)
    assert alone_runs[TRANSLATE_TEST].id == translated.id
    assert "model_from" not in _record(alone, translated.id)["info"]
    reused, trained = _results(both, translated.id), _results(alone, translated.id)
    assert set(reused) == {"metrics.json", "ht.jsonl", "sw.jsonl"}
    assert reused == trained
    # ... and they are translate-test's own results, not zero-shot's.
    assert reused["ht.jsonl"] != _results(both, zero_shot.id)["ht.jsonl"]


def test_either_order_shares_and_a_finished_twin_means_training(
        shared_data: Path, tmp_path: Path) -> None:
    out, runs, outcome = _run(tmp_path, "order", "[translate-test, zero-shot]", shared_data)
    zero_shot, translated = runs[ZERO_SHOT], runs[TRANSLATE_TEST]
    assert outcome.done == [translated.id, zero_shot.id]
    assert _record(out, zero_shot.id)["info"]["model_from"] == translated.id

    # Zero-shot finished first in another study: the translate-test run trains itself.
    first, _, _ = _run(tmp_path, "later", "[zero-shot]", shared_data)
    _, runs, outcome = _run(tmp_path, "later", "[zero-shot, translate-test]", shared_data)
    assert outcome.reused == [runs[ZERO_SHOT].id] and outcome.done == [runs[TRANSLATE_TEST].id]
    assert "model_from" not in _record(first, runs[TRANSLATE_TEST].id)["info"]
    # Zero-shot on translate-test's model gave what zero-shot trained alone gives.
    assert "model_from" not in _record(first, zero_shot.id)["info"]
    assert _results(out, zero_shot.id) == _results(first, zero_shot.id)


def test_the_dry_run_counts_one_training_for_the_pair(shared_data: Path,
                                                      tmp_path: Path) -> None:
    path = tmp_path / "dry.yaml"
    path.write_text(_study("dry", "[zero-shot, translate-test]"))
    plan = plan_study(load_study(path))
    lines = describe_plan(plan, tmp_path / "out", shared_data)
    zero_shot, translated = plan.runs
    [line] = [x for x in lines if x.strip().startswith(translated.id)]
    assert line.endswith(f"trains nothing: reuses the model of {zero_shot.id}")
    passes = int(lines[-1].split(" training example passes")[0].split()[-1].replace(",", ""))
    assert passes == 24 * 2  # one run's 24 examples x 2 epochs, not two runs'


def test_only_zero_shot_and_translate_test_with_untranslated_training_share(
        tmp_path: Path) -> None:
    path = tmp_path / "unit.yaml"
    path.write_text(_study("unit", "[translate-test, translate-train]"))
    runs = [r.run for r in plan_study(load_study(path)).runs]
    assert {r.setting for r in runs} == {TRANSLATE_TEST, "translate-train"}
    [run] = [r for r in runs if r.setting == TRANSLATE_TEST]
    assert model_reuse.shares_training(run, "en")
    assert model_reuse.shares_training(replace(run, setting=ZERO_SHOT), "en")
    assert not any(model_reuse.shares_training(r, "en") for r in runs if r is not run)
    # Model selection on the evaluated split in another language would read a translation.
    assert not model_reuse.shares_training(replace(run, dev_split="test", dev_language="ht"),
                                           "en")
    assert model_reuse.shares_training(replace(run, dev_split="test"), "en")
    key = model_reuse.run_training_key
    assert key(run) == key(replace(run, setting=ZERO_SHOT))
    # Evaluation-only settings leave the key; a training option or the seed does not.
    same = [replace(run, languages=("sw",)),
            replace(run, evaluation=run.evaluation.model_copy(update={"max_examples": 5}))]
    assert {key(r) for r in same} == {key(run)}
    other = [replace(run, seed=4),
             replace(run, training=run.training.model_copy(update={"learning_rate": 0.01}))]
    assert key(run) not in {key(r) for r in other}
    train_all = [r for r in runs if r is not run][0]
    assert key(train_all) != key(replace(train_all, languages=("sw",)))


def test_a_kept_model_is_evaluated_when_a_study_changes_only_what_it_evaluates(
        shared_data: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    out, first, _ = _run(tmp_path, "kept", "[zero-shot]", shared_data, languages="[ht]",
                         keep=True)
    trained = first[ZERO_SHOT].id
    path = tmp_path / "more.yaml"
    path.write_text(_study("kept", languages="[ht, sw]", resamples=60, keep=True))
    plan = plan_study(load_study(path))
    [line] = [x for x in describe_plan(plan, out, shared_data) if plan.runs[0].id in x]
    assert line.endswith(f"trains nothing: evaluates the kept model of {trained}")

    log: list[str] = []
    _, more, outcome = _run(tmp_path, "kept", "[zero-shot]", shared_data, log,
                            resamples=60, keep=True)
    run = more[ZERO_SHOT].id
    assert run != trained and outcome.done == [run]
    assert _record(out, run)["info"]["model_from"] == trained
    assert (out / "runs" / run / "log.jsonl").read_bytes() == \
        (out / "runs" / trained / "log.jsonl").read_bytes()
    # Kept in turn: the same files, linked, not a second copy.
    kept, source = out / "runs" / run / "model", out / "runs" / trained / "model"
    assert sorted(p.name for p in kept.iterdir()) == sorted(p.name for p in source.iterdir())
    assert all(f.samefile(source / f.name) for f in kept.iterdir())
    assert load_task_model(kept)[2].name == "xcopa"
    assert any(line.endswith(f"(trained nothing: the model of run {trained})") for line in log)
    # Byte for byte what the new run gives when it trains, in a fresh folder.
    fresh, _, _ = _run(tmp_path, "fresh", "[zero-shot]", shared_data, resamples=60, keep=True)
    assert "model_from" not in _record(fresh, run)["info"]
    assert _results(out, run) == _results(fresh, run)

    # A kept model that fails its checksums is passed over: the run trains.
    damaged, first, _ = _run(tmp_path, "damaged", "[zero-shot]", shared_data,
                             languages="[ht]", keep=True)
    [weights, *_] = sorted((damaged / "runs" / first[ZERO_SHOT].id / "model").glob(
        "*.safetensors"))
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING, logger="xstilts.training"):
        _run(tmp_path, "damaged", "[zero-shot]", shared_data, resamples=60, keep=True)
    assert f"the kept model of run {first[ZERO_SHOT].id} trained the same way cannot be " \
        "used" in caplog.text
    assert "model_from" not in _record(damaged, run)["info"]
    assert _results(damaged, run) == _results(fresh, run)
