"""`data: {skip_bad_rows: true}` in a study: malformed rows are dropped (and counted in run.json)
instead of failing the run, and studies that leave it off keep their run ids."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_user_tasks import _task_yaml, _write, _xnli_rows

from xstilts.errors import StudyConfigError
from xstilts.studies.executor import run_study
from xstilts.studies.planner import plan_study
from xstilts.studies.spec import StudySpec, load_study

TEST_ROWS = 12
BAD_LINE = 5  # the header is line 1
STUDY = """\
name: {name}
encoder: tiny:random
{task_files}targets:
  - task: {task}
    languages: [de]
training: {{epochs: 1, batch_size: 16, max_seq_length: 32, max_train_examples: 32,
           max_dev_examples: 8, learning_rate: 0.001}}
evaluation: {{bootstrap_resamples: 20}}
{data}"""
SKIP = "data: {skip_bad_rows: true}\n"


def _study(folder: Path, name: str, task: str, *, data: str = "", task_files: str = "") -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(STUDY.format(name=name, task=task, data=data, task_files=task_files))
    return path


def _run(study: Path, out: Path, data_dir: Path | None = None):
    return run_study(load_study(study), out, data_dir=data_dir, study_path=study,
                     log=lambda _: None)


@pytest.fixture(scope="module")
def user_task(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Path:
    """A user task whose German test file has one row with a missing field; one folder per
    module, as a user task is registered once per process."""
    folder = tmp_path_factory.mktemp("user-task")
    _write(folder / "data" / "train-en.tsv", _xnli_rows(shared_data, "en", 0, 32))
    _write(folder / "data" / "dev-en.tsv", _xnli_rows(shared_data, "en", 40, 8))
    rows = _xnli_rows(shared_data, "de", 60, TEST_ROWS)
    rows[BAD_LINE - 2] = "broken\tde\tonly a premise"
    _write(folder / "data" / "test-de.tsv", rows)
    (folder / "task.yaml").write_text(_task_yaml("user-xnli-bad-row",
                                                 "data/{split}-{language}.tsv"))
    return folder


def test_a_bad_row_fails_the_run_naming_file_and_line(user_task: Path, tmp_path: Path) -> None:
    study = _study(user_task, "strict", "user-xnli-bad-row",
                   task_files="task_files: [task.yaml]\n")
    outcome = _run(study, tmp_path / "out")
    assert not outcome.done and len(outcome.failed) == 1
    [(run_id, message)] = outcome.failed.items()
    where = f"{user_task / 'data' / 'test-de.tsv'}:{BAD_LINE}: expected 5 tab-separated fields"
    assert message.startswith(f"DataFormatError: {where}")
    error = (tmp_path / "out" / "runs" / f"{run_id}.failed" / "error.txt").read_text()
    assert where in error


def test_skip_bad_rows_reaches_a_user_task(user_task: Path, tmp_path: Path) -> None:
    study = _study(user_task, "skipping", "user-xnli-bad-row", data=SKIP,
                   task_files="task_files: [task.yaml]\n")
    outcome = _run(study, tmp_path / "out")
    assert not outcome.failed and len(outcome.done) == 1


def test_skipped_rows_are_dropped_and_recorded(tmp_path: Path, shared_data: Path) -> None:
    """The same through a built-in file-based task (XNLI's layout under --data-dir)."""
    def tsv(language: str, start: int, count: int) -> list[str]:
        lines = (shared_data / "xnli" / f"dev-{language}.tsv").read_text().splitlines()
        return lines[start:start + count]

    data = tmp_path / "data" / "xnli"
    data.mkdir(parents=True)
    (data / "train-en.tsv").write_text("\n".join(tsv("en", 0, 32)) + "\n")
    (data / "dev-en.tsv").write_text("\n".join(tsv("en", 40, 8)) + "\n")
    rows = tsv("de", 60, TEST_ROWS)
    rows[BAD_LINE - 1] = "a row without its hypothesis"
    (data / "test-de.tsv").write_text("\n".join(rows) + "\n")

    outcome = _run(_study(tmp_path, "xnli-skipping", "xnli", data=SKIP), tmp_path / "out",
                   tmp_path / "data")
    assert not outcome.failed and len(outcome.done) == 1
    record = json.loads((tmp_path / "out" / "runs" / outcome.done[0] / "run.json").read_text())
    assert {m["n"] for m in record["metrics"]} == {TEST_ROWS - 1}
    assert record["settings"]["data"] == {"skip_bad_rows": True}
    assert record["info"]["skipped_rows"] == {str(data / "test-de.tsv"): 1}


def _plan(data: dict | None) -> dict[tuple[str, str, str], object]:
    study = {"name": "ids", "encoder": "tiny:random", "intermediate": ["none", "cldr-units"],
             "targets": ["cldr-continents", "tatoeba"]}
    if data is not None:
        study["data"] = data
    plan = plan_study(StudySpec.model_validate(study))
    return {(r.kind, r.intermediate, r.task): r for r in plan.runs}


def test_run_ids_change_only_when_skipping_is_on(tmp_path: Path) -> None:
    before = _plan(None)
    off = _plan({"skip_bad_rows": False})
    assert {k: r.id for k, r in off.items()} == {k: r.id for k, r in before.items()}
    assert not any("data" in r.settings for r in off.values())

    on = _plan({"skip_bad_rows": True})
    # Retrieval targets read their files strictly: only a changed parent changes their ids.
    unchanged = ("target", "none", "tatoeba")
    assert on[unchanged].id == before[unchanged].id
    for key, run in on.items():
        assert run.id != before[key].id or key == unchanged, key
        retrieval = key[2] == "tatoeba"
        assert run.settings.get("data") == (None if retrieval else {"skip_bad_rows": True})

    study = tmp_path / "typo.yaml"
    study.write_text("name: typo\ntargets: [cldr-continents]\ndata: {skip_bad_row: true}\n")
    with pytest.raises(StudyConfigError, match="line 3, data.skip_bad_row: unknown key"):
        load_study(study)
