"""Study files: valid ones plan as expected; invalid ones fail before training, with lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from xstilts.errors import StudyConfigError
from xstilts.studies.planner import check_study, plan_study
from xstilts.studies.spec import load_study

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "study.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_quickstart_is_valid_and_plans_shared_runs() -> None:
    spec = load_study(EXAMPLES / "quickstart.yaml")
    check_study(spec, EXAMPLES / "quickstart.yaml", None)
    plan = plan_study(spec)
    n_inter = sum(1 for i in spec.intermediate if i != "none")
    assert len(plan.intermediate_runs) == n_inter * len(spec.seeds)
    assert len(plan.target_runs) == len(spec.intermediate) * len(spec.targets) * len(spec.seeds)
    assert [r.parent for r in plan.target_runs].count(None) == len(spec.seeds)


def test_intermediate_checkpoint_is_shared_by_targets_and_ids_are_stable(tmp_path: Path) -> None:
    text = """
name: s
encoder: tiny:random
intermediate: [none, cldr-units]
targets: [cldr-continents, {task: cldr-continents, languages: [en, de]}]
seeds: [1, 2]
"""
    plan = plan_study(load_study(write(tmp_path, text)))
    assert len(plan.intermediate_runs) == 2  # one per seed, shared by both targets
    assert len(plan.target_runs) == 2 * 2 * 2
    for inter in plan.intermediate_runs:
        children = [r for r in plan.target_runs if r.parent == inter.id]
        assert len(children) == 2
    again = plan_study(load_study(write(tmp_path, text)))
    assert [r.id for r in again.runs] == [r.id for r in plan.runs]
    changed = plan_study(load_study(write(tmp_path, text + "training: {learning_rate: 0.001}\n")))
    assert not {r.id for r in changed.runs} & {r.id for r in plan.runs}
    # Changing only phase-3 options keeps the intermediate checkpoints.
    phase3 = plan_study(load_study(write(tmp_path, text + "target_training: {epochs: 9}\n")))
    assert {r.id for r in phase3.intermediate_runs} == {r.id for r in plan.intermediate_runs}
    assert not {r.id for r in phase3.target_runs} & {r.id for r in plan.target_runs}
    # Logging and checkpoint frequency do not change results, so they keep every id.
    bookkeeping = plan_study(load_study(write(
        tmp_path, text + "training: {log_every: 1, checkpoint_every_steps: 5}\n")))
    assert [r.id for r in bookkeeping.runs] == [r.id for r in plan.runs]
    assert bookkeeping.runs[0].settings["training"]["checkpoint_every_steps"] == 5


def test_training_fields_added_later_are_hashed_only_when_set(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from xstilts.training import options, runs

    monkeypatch.setattr(runs, "FIELDS_ADDED_LATER", {"pooling": "mean"})
    default = options.TrainingOptions().model_dump()
    assert "pooling" not in runs.training_identity(default)
    assert runs.training_identity({**default, "pooling": "cls"})["pooling"] == "cls"


def test_schema_errors_are_all_reported_with_lines(tmp_path: Path) -> None:
    path = write(tmp_path, """name: bad
encoder: tiny:random
intermediate: [none, {task: cldr-units, langauge: de}]
targets:
  - task: cldr-continents
    training: {learning_rat: 3}
seeds: [1, x]
training:
  epochs: two
""")
    with pytest.raises(StudyConfigError) as info:
        load_study(path)
    message = str(info.value)
    assert str(path) in message
    assert "line 3, intermediate.1.langauge: unknown key" in message
    assert "line 6, targets.0.training.learning_rat: unknown key" in message
    assert "line 7, seeds.1:" in message and "integer" in message
    assert "line 9, training.epochs:" in message
    assert "should be 'none'" not in message


def test_missing_targets_is_reported(tmp_path: Path) -> None:
    with pytest.raises(StudyConfigError, match="targets: required key is missing"):
        load_study(write(tmp_path, "name: x\n"))


def test_semantic_errors_name_key_and_expectation(tmp_path: Path) -> None:
    path = write(tmp_path, """name: bad
intermediate: [none, cldr-unit]
targets:
  - task: cldr-continents
    languages: [en, xx]
  - task: xnli
""")
    spec = load_study(path)
    with pytest.raises(StudyConfigError) as info:
        check_study(spec, path, None)
    message = str(info.value)
    assert "line 2, intermediate.1.task: unknown task 'cldr-unit'. Did you mean 'cldr-units'" \
        in message
    assert "line 5, targets.0.languages: task 'cldr-continents' has no language(s) xx" in message
    assert "targets.1: task 'xnli' reads data files; pass --data-dir" in message


def test_missing_data_file_is_named_before_training(tmp_path: Path) -> None:
    path = write(tmp_path, "name: x\ntargets: [{task: xnli, languages: [en, de]}]\n")
    with pytest.raises(StudyConfigError) as info:
        check_study(load_study(path), path, tmp_path)
    assert str(tmp_path / "xnli" / "train-en.tsv") in str(info.value)
    assert "download" in str(info.value)


def test_target_languages_in_any_spelling_are_the_tasks_codes(tmp_path: Path,
                                                              shared_data: Path) -> None:
    """ISO 639-3 codes, BCP-47 tags and names of a task's languages are that task's codes: the
    same runs (ids) as the codes the task writes; a language the task lacks is still refused."""
    def study(languages: str, dev: str = "en") -> Path:
        return write(tmp_path, f"""\
name: spellings
encoder: tiny:random
seeds: [0]
targets:
  - task: xnli
    languages: {languages}
    train_split: dev
    dev_language: {dev}
""")

    path = study("[deu, fra, zh-Hans, Swahili]", dev="eng")
    spec = load_study(path)
    check_study(spec, path, shared_data)
    [run] = plan_study(spec).runs
    assert run.run.languages == ("de", "fr", "zh", "sw") and run.run.dev_language == "en"
    canonical = study("[de, fr, zh, sw]")
    assert plan_study(load_study(canonical)).runs[0].id == run.id

    lacking = study("[deu, aym]")
    with pytest.raises(StudyConfigError, match=r"has no language\(s\) aym"):
        check_study(load_study(lacking), lacking, shared_data)
