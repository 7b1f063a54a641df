"""User tasks from YAML: schema errors with lines, row errors with file:line, and a study run."""

from __future__ import annotations

import csv
import dataclasses
import json
import pickle
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from xstilts.errors import DataFormatError, MissingDataError, StudyConfigError, XstiltsError
from xstilts.report.summary import write_report
from xstilts.studies.executor import run_study
from xstilts.studies.planner import PlannedRun, plan_study
from xstilts.studies.spec import load_study
from xstilts.tasks import TaskType, get_task
from xstilts.tasks.user import TaskFileError, load_task_file, register_definitions

LABELS = "[entailment, neutral, contradiction]"
HEADER = "id\tlanguage\tpremise\thypothesis\tlabel"


def _xnli_rows(shared: Path, language: str, start: int, count: int) -> list[str]:
    lines = (shared / "xnli" / f"dev-{language}.tsv").read_text(encoding="utf-8").splitlines()
    return [f"xnli-{i}\t{language}\t{line}" for i, line in enumerate(lines) if line.strip()
            ][start:start + count]


def _task_yaml(name: str, path: str, language_column: str | None = None,
               extra: str = "") -> str:
    files = f"{{path: '{path}'" + (f", language_column: {language_column}}}"
                                   if language_column else "}")
    return textwrap.dedent(f"""\
        tasks:
          - name: {name}
            type: pair_classification
            labels: {LABELS}
            languages: [en, de]
            train_language: en
            format: tsv
            files: {files}
            columns: {{id: id, text_a: premise, text_b: hypothesis, label: label}}
            splits: [train, dev, test]
        """) + extra


def _write(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")


@pytest.fixture
def one_file_per_language(tmp_path: Path, shared_data: Path) -> Path:
    for language in ("en", "de"):
        for split, start in (("train", 0), ("dev", 40), ("test", 60)):
            _write(tmp_path / "data" / f"{split}-{language}.tsv",
                   _xnli_rows(shared_data, language, start, 20))
    path = tmp_path / "tasks.yaml"
    path.write_text(_task_yaml("user-xnli-per-language", "data/{split}-{language}.tsv"))
    return path


def test_one_file_per_language(one_file_per_language: Path, shared_data: Path) -> None:
    (task,) = load_task_file(one_file_per_language)
    assert task is get_task("user-xnli-per-language")
    assert task.type is TaskType.PAIR_CLASSIFICATION and not task.needs_data_dir
    de = task.load("test", "de", None)
    assert len(de) == 20 and {ex.language for ex in de} == {"de"}
    assert de[0].id == "xnli-60" and de[0].label in (0, 1, 2) and len(de[0].texts) == 2
    en = task.load("test", "en", None)
    assert [ex.label for ex in en] == [ex.label for ex in de]  # XNLI dev is parallel
    # loading the same file again is a no-op, not a duplicate-name error
    assert load_task_file(one_file_per_language) == [task]


def test_language_column_and_language_names(tmp_path: Path, shared_data: Path) -> None:
    rows = _xnli_rows(shared_data, "en", 0, 5) + _xnli_rows(shared_data, "de", 0, 7)
    rows = [r.replace("\tde\t", "\tGerman\t") for r in rows]  # names map to codes too
    _write(tmp_path / "all" / "test.tsv", rows)
    path = tmp_path / "t.yaml"
    path.write_text(_task_yaml("user-xnli-column", "all/{split}.tsv", "language"))
    (task,) = load_task_file(path)
    assert len(task.load("test", "en", None)) == 5
    assert len(task.load("test", "de", None)) == 7


def test_data_dir_paths_make_a_file_based_task(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(_task_yaml("user-xnli-data-dir", "{data_dir}/xnli/dev-{language}.tsv"))
    (task,) = load_task_file(path)
    assert task.needs_data_dir
    assert task.data_path("test", "de", Path("/d")) == Path("/d/xnli/dev-de.tsv")


def test_unknown_key_is_reported_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(_task_yaml("user-bad-key", "x.tsv").replace("    splits:", "    splitz:"))
    with pytest.raises(TaskFileError) as err:
        load_task_file(path)
    assert "line 10, tasks.0.splitz: unknown key" in str(err.value)
    assert str(path) in str(err.value)


def test_semantic_problems_are_reported(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    text = _task_yaml("user-bad", "x/{lang}.tsv").replace("train_language: en",
                                                         "train_language: fr")
    path.write_text(text.replace("type: pair_classification", "type: tagging"))
    with pytest.raises(TaskFileError, match="cannot be read from a task file yet"):
        load_task_file(path)
    path.write_text(text)
    with pytest.raises(TaskFileError, match=r"unknown placeholder\(s\) lang"):
        load_task_file(path)
    path.write_text(text.replace("{lang}", "{language}"))
    with pytest.raises(TaskFileError, match="line 2, tasks.0: train_language 'fr' is not in"):
        load_task_file(path)


def test_unknown_label_names_file_line_and_allowed_labels(tmp_path: Path) -> None:
    _write(tmp_path / "test-en.tsv", ["a\ten\tp\th\tentailment", "b\ten\tp\th\tmaybe"])
    path = tmp_path / "t.yaml"
    path.write_text(_task_yaml("user-bad-label", "{split}-{language}.tsv"))
    (task,) = load_task_file(path)
    with pytest.raises(DataFormatError) as err:
        task.load("test", "en", None)
    assert f"{tmp_path / 'test-en.tsv'}:3: unknown label 'maybe'" in str(err.value)
    assert "entailment, neutral, contradiction" in str(err.value)


def test_bad_rows_raise_or_are_skipped_and_counted(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    good = [f"r{i}\ten\tp{i}\th{i}\tneutral" for i in range(4)]
    rows = good[:2] + ["r-short\ten\tonly a premise\tneutral", "r-bad\ten\tp\th\tmaybe"]
    _write(tmp_path / "test-en.tsv", rows + good[2:])  # the bad rows are lines 4 and 5
    path = tmp_path / "t.yaml"
    path.write_text(_task_yaml("user-bad-rows", "{split}-{language}.tsv"))
    (task,) = load_task_file(path)
    with pytest.raises(DataFormatError, match=r"test-en\.tsv:4: expected 5 tab-separated fields"):
        task.load("test", "en", None)

    with caplog.at_level("WARNING", logger="xstilts.tasks"):
        examples = task.load("test", "en", None, skip_bad_rows=True)
    assert [ex.id for ex in examples] == ["r0", "r1", "r2", "r3"]
    [warning] = [r.getMessage() for r in caplog.records if "bad row" in r.getMessage()]
    assert f"{tmp_path / 'test-en.tsv'}: skipped 2 bad row(s)" in warning
    assert "line 4: expected 5 tab-separated fields" in warning
    assert "line 5: unknown label 'maybe'" in warning


DOCS = Path(__file__).resolve().parents[1] / "docs" / "user-tasks.md"


def _docs_block(pattern: str) -> str:
    found = re.search(pattern, DOCS.read_text(encoding="utf-8"), flags=re.DOTALL)
    assert found, f"docs/user-tasks.md lost the block {pattern!r}"
    return found.group(1)


def test_the_documented_tsv_with_integer_labels_loads(tmp_path: Path) -> None:
    """The task file and TSV of docs/user-tasks.md, through the real loader."""
    (tmp_path / "tasks" / "senti").mkdir(parents=True)
    task_file = tmp_path / "tasks" / "mini-senti.yaml"
    task_file.write_text(_docs_block(r"```yaml\n(# tasks/mini-senti\.yaml\n.*?)```"))
    tsv = _docs_block(r"```tsv\n(.*?)```")
    assert "\t" in tsv  # the example keeps its tabs
    data = tmp_path / "tasks" / "senti" / "test-en.tsv"
    data.write_text(tsv, encoding="utf-8")
    (task,) = load_task_file(task_file)
    assert task.labels == ("negative", "positive")
    # "1" -> class index 1, "0" -> class index 0, "positive" -> its position in labels, 1
    assert [ex.label for ex in task.load("test", "en", None)] == [1, 0, 1]
    data.write_text(tsv + "Too loud.\t2\n", encoding="utf-8")  # line 5; two labels: 0-1
    with pytest.raises(DataFormatError) as err:
        task.load("test", "en", None)
    message = f"{data}:5: label '2' is neither a label name nor a class index 0-1"
    assert str(err.value) == message
    assert message.replace(str(tmp_path / "tasks") + "/", "") in DOCS.read_text()


def test_integer_label_names_are_never_class_indices(tmp_path: Path) -> None:
    rows = ["id\ttext\tlabel", "a\tx\t1", "b\tx\t 0 ", "c\tx\t1"]
    (tmp_path / "test-en.tsv").write_text("\n".join(rows) + "\n")
    path = tmp_path / "t.yaml"
    path.write_text(textwrap.dedent("""\
        tasks:
          - name: user-integer-names
            type: classification
            labels: ['1', '0']
            languages: [en]
            format: tsv
            files: {path: "{split}-{language}.tsv"}
            columns: {id: id, text_a: text, label: label}
        """))
    (task,) = load_task_file(path)
    # names first: '1' is at position 0 of labels, '0' at position 1
    assert [ex.label for ex in task.load("test", "en", None)] == [0, 1, 0]
    (tmp_path / "test-en.tsv").write_text("\n".join([*rows, "d\tx\t2"]) + "\n")
    with pytest.raises(DataFormatError, match=r"test-en\.tsv:5: unknown label '2'; expected one "
                       r"of 1, 0 \(the label names are integers"):
        task.load("test", "en", None)


def test_json_integers_are_class_indices_but_not_booleans_or_floats(tmp_path: Path) -> None:
    lines = ['{"text": "x", "label": 1}', '{"text": "x", "label": "negative"}',
             '{"text": "x", "label": true}', '{"text": "x", "label": 1.0}']
    (tmp_path / "test-en.jsonl").write_text("\n".join(lines) + "\n")
    path = tmp_path / "t.yaml"
    path.write_text(textwrap.dedent("""\
        tasks:
          - name: user-json-indices
            type: classification
            labels: [negative, positive]
            languages: [en]
            format: jsonl
            files: {path: "{split}-{language}.jsonl"}
            columns: {text_a: text, label: label}
        """))
    (task,) = load_task_file(path)
    with pytest.raises(DataFormatError, match=r"jsonl:3: unknown label 'True'"):
        task.load("test", "en", None)
    # lines 3 (true) and 4 (1.0) are bad rows; 1 -> class 1, "negative" -> class 0
    assert [ex.label for ex in task.load("test", "en", None, skip_bad_rows=True)] == [1, 0]


def test_missing_column_names_the_header(tmp_path: Path) -> None:
    (tmp_path / "test-en.tsv").write_text("id\tpremise\tlabel\na\tp\tneutral\n")
    path = tmp_path / "t.yaml"
    path.write_text(_task_yaml("user-missing-column", "{split}-{language}.tsv"))
    (task,) = load_task_file(path)
    # a column missing from the header is a file-level problem: skipping rows cannot help
    for skip in (False, True):
        with pytest.raises(DataFormatError, match=r"test-en\.tsv:1: missing column "
                           "'hypothesis'; the header has id, premise, label"):
            task.load("test", "en", None, skip_bad_rows=skip)
    with pytest.raises(MissingDataError):
        task.load("dev", "en", None)


def test_a_different_task_under_a_taken_name_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(_task_yaml("xnli", "x-{language}.tsv"))
    with pytest.raises(XstiltsError, match="clashes with a task already registered"):
        load_task_file(path)


STUDY = """\
name: user-task-study
encoder: tiny:random
seeds: [0]
task_files: [tasks/my-xnli.yaml]
targets:
  - task: user-xnli-e2e
    languages: [en, de]
training: {epochs: 1, batch_size: 16, max_seq_length: 32, max_train_examples: 48,
           max_dev_examples: 16, learning_rate: 0.001}
evaluation: {max_examples: 20, bootstrap_resamples: 50}
"""


def test_user_task_runs_in_a_study(tmp_path: Path, shared_data: Path) -> None:
    """One file per split with a language column, declared next to the study, run end to end."""
    data = tmp_path / "tasks" / "data"
    _write(data / "train.tsv", _xnli_rows(shared_data, "en", 0, 48))
    _write(data / "dev.tsv", _xnli_rows(shared_data, "en", 48, 16))
    _write(data / "test.tsv", _xnli_rows(shared_data, "en", 100, 20)
           + _xnli_rows(shared_data, "de", 100, 20))
    (tmp_path / "tasks" / "my-xnli.yaml").write_text(
        _task_yaml("user-xnli-e2e", "data/{split}.tsv", "language"))
    study = tmp_path / "study.yaml"
    study.write_text(STUDY)

    spec = load_study(study)
    assert load_study(study) == spec  # registering the same task file twice is fine
    outcome = run_study(spec, tmp_path / "out", study_path=study, log=lambda _: None)
    assert not outcome.failed and not outcome.skipped and len(outcome.done) == 1

    with (write_report(tmp_path / "out") / "results.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert {(r["target_task"], r["language"]) for r in rows} == {
        ("user-xnli-e2e", "en"), ("user-xnli-e2e", "de")}
    assert all(0.0 <= float(r["value"]) <= 1.0 and r["intermediate"] == "none" for r in rows)

    # `xstilts report` is a new process that never read the study: the run saved the task in
    # OUT/tasks/, so the report still sees a pair classification task ("classification")
    assert (tmp_path / "out" / "tasks" / "user-xnli-e2e.json").is_file()
    subprocess.run([sys.executable, "-m", "xstilts.cli", "report", str(tmp_path / "out"),
                    "--format", "json"], check=True, capture_output=True, timeout=600)
    summary = json.loads((tmp_path / "out" / "report" / "summary.json").read_text())
    assert {(b["task"], b["category"]) for b in summary["blocks"]} == {
        ("user-xnli-e2e", "classification")}


def test_a_broken_task_file_fails_the_study_with_its_line(tmp_path: Path) -> None:
    (tmp_path / "tasks").mkdir()
    (tmp_path / "tasks" / "my-xnli.yaml").write_text("tasks: [{name: x}]\n")
    study = tmp_path / "study.yaml"
    study.write_text(STUDY)
    expected = r"line 4, task_files\.0 \(tasks/my-xnli\.yaml\): line 1, tasks\.0\.type: required"
    with pytest.raises(StudyConfigError, match=expected):
        load_study(study)


def test_runs_carry_the_user_tasks_they_name(tmp_path: Path) -> None:
    """What a Ray worker registers: the planned runs hold the user task definitions, which
    survive pickling (test_ray_executor pins that the run id stays the same)."""
    (tmp_path / "tasks").mkdir()
    (tmp_path / "tasks" / "my-xnli.yaml").write_text(
        _task_yaml("user-xnli-carried", "data/{split}-{language}.tsv"))
    study = tmp_path / "study.yaml"
    study.write_text(STUDY.replace("user-xnli-e2e", "cldr-continents").replace(
        "targets:", "intermediate: [user-xnli-carried]\ntargets:"))
    plan = plan_study(load_study(study))
    inter, target = plan.runs
    assert inter.kind == "intermediate" and target.kind == "target"
    [definition] = inter.user_tasks
    assert definition.name == "user-xnli-carried"
    assert definition.base == str((tmp_path / "tasks").resolve())
    assert target.user_tasks == ()  # cldr-continents is built in; the parent is a checkpoint
    assert pickle.loads(pickle.dumps(inter)).user_tasks == (definition,)
    assert register_definitions([definition]) == [get_task("user-xnli-carried")]  # no clash
    bare = PlannedRun(dataclasses.replace(inter.run, tasks=()), inter.intermediate)
    assert bare.user_tasks == ()


def test_missing_files_next_to_the_task_file_stop_the_study_before_training(
        tmp_path: Path, shared_data: Path) -> None:
    """Files relative to the task file need no --data-dir, and are checked up front like the
    XTREME tasks' files: the dev file is missing, so the study fails naming it, before any run
    trains on the (present) training file."""
    data = tmp_path / "tasks" / "data"
    _write(data / "train.tsv", _xnli_rows(shared_data, "en", 0, 48))
    _write(data / "test.tsv", _xnli_rows(shared_data, "en", 100, 20)
           + _xnli_rows(shared_data, "de", 100, 20))
    (tmp_path / "tasks" / "my-xnli.yaml").write_text(
        _task_yaml("user-xnli-no-dev", "data/{split}.tsv", "language"))
    study = tmp_path / "study.yaml"
    study.write_text(STUDY.replace("user-xnli-e2e", "user-xnli-no-dev"))
    spec = load_study(study)
    missing = re.escape(str((data / "dev.tsv").resolve()))
    with pytest.raises(StudyConfigError, match=rf"dev data not found: {missing}"):
        run_study(spec, tmp_path / "out", study_path=study, log=lambda _: None)
    assert not (tmp_path / "out" / "runs").exists() or not any(
        (tmp_path / "out" / "runs").iterdir())


def test_files_are_found_under_the_language_codes_the_task_file_writes(tmp_path: Path) -> None:
    """xstilts codes Aymara ``ay`` and English ``en``, but a task file that writes ``aym`` and
    ``eng`` names its files so: ``{language}`` in the path is the spelling of the task file."""
    rows = {"eng": ["e1\teng\tThe cat sleeps.\tA cat is asleep.\tentailment"],
            "aym": ["a1\taym\tPisi ikiski.\tPisi ikiski.\tentailment",
                    "a2\taym\tPisi ikiski.\tAnu jalaski.\tcontradiction"]}
    for code, lines in rows.items():
        _write(tmp_path / f"test-{code}.tsv", lines)
    path = tmp_path / "aymara.yaml"
    path.write_text(_task_yaml("user-aymara-spelling", "{split}-{language}.tsv")
                    .replace("languages: [en, de]", "languages: [eng, aym]")
                    .replace("train_language: en", "train_language: eng"))
    [task] = load_task_file(path)
    assert task.languages == ("en", "ay") and task.train_language == "en"
    aymara = task.load("test", "ay")
    assert [(ex.id, ex.label) for ex in aymara] == [("a1", 0), ("a2", 2)]
    assert task.data_path("test", "ay", tmp_path) == tmp_path / "test-aym.tsv"
