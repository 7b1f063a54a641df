"""The ``ccg`` task reads its supertag inventory from ``<data_dir>/ccg/tags.txt``: resolving
the task fills its labels, a missing inventory is a clear error, and a study with ccg as its
intermediate task trains (the head is sized from the resolved labels)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from xstilts.cli import app
from xstilts.errors import MissingDataError, StudyConfigError, XstiltsError
from xstilts.studies.executor import run_dir_of, run_study
from xstilts.studies.planner import check_study
from xstilts.studies.spec import load_study
from xstilts.tasks import get_task, list_tasks, resolve_task

TAGS = ("NP", "N/N", "(S\\NP)/NP", "S\\NP", ".")
SENTENCES = [
    [("Dogs", "NP"), ("chase", "(S\\NP)/NP"), ("cats", "NP"), (".", ".")],
    [("Old", "N/N"), ("men", "NP"), ("sleep", "S\\NP"), (".", ".")],
    [("Birds", "NP"), ("sing", "S\\NP"), (".", ".")],
]


def _write_ccg(root: Path, *, tags: bool = True) -> Path:
    folder = root / "ccg"
    folder.mkdir(parents=True, exist_ok=True)
    text = "".join("".join(f"{tok}\t{tag}\n" for tok, tag in s) + "\n" for s in SENTENCES)
    for split in ("train", "dev", "test"):
        (folder / f"{split}.tsv").write_text(text, encoding="utf-8")
    if tags:
        (folder / "tags.txt").write_text("\n".join(TAGS) + "\n", encoding="utf-8")
    return root


def test_resolve_task_reads_the_inventory(tmp_path: Path) -> None:
    _write_ccg(tmp_path)
    assert get_task("ccg").labels == ()
    task = resolve_task("ccg", tmp_path)
    assert task.labels == TAGS and task.num_labels == 5
    examples = task.load("train", "en", tmp_path)
    assert [task.labels[t] for t in examples[0].tags] == ["NP", "(S\\NP)/NP", "NP", "."]
    # Tasks with fixed labels come back unchanged, with or without a data folder.
    assert resolve_task("mnli", None) is get_task("mnli")
    assert resolve_task("mnli", tmp_path) is get_task("mnli")


def test_missing_inventory_names_the_file(tmp_path: Path) -> None:
    _write_ccg(tmp_path, tags=False)
    with pytest.raises(MissingDataError) as err:
        resolve_task("ccg", tmp_path)
    assert err.value.path == str(tmp_path / "ccg" / "tags.txt")
    assert "tags.txt" in str(err.value)
    with pytest.raises(XstiltsError, match="--data-dir"):
        resolve_task("ccg", None)


def test_duplicate_tag_is_refused(tmp_path: Path) -> None:
    _write_ccg(tmp_path)
    (tmp_path / "ccg" / "tags.txt").write_text("NP\nN/N\nNP\n", encoding="utf-8")
    with pytest.raises(XstiltsError, match="duplicate tag 'NP'"):
        resolve_task("ccg", tmp_path)


def test_listing_shows_labels_when_found(tmp_path: Path) -> None:
    _write_ccg(tmp_path)
    by_name = {t.name: t for t in list_tasks(tmp_path)}
    assert by_name["ccg"].labels == TAGS
    assert {t.name: t for t in list_tasks(tmp_path / "elsewhere")}["ccg"].labels == ()
    result = CliRunner().invoke(app, ["tasks", "--json", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    ccg = next(item for item in json.loads(result.output) if item["name"] == "ccg")
    assert ccg["labels"] == list(TAGS) and ccg["data_found"]


STUDY = """
name: ccg-stilts
encoder: tiny:random
intermediate:
  - {task: ccg}
targets:
  - task: cldr-continents
    languages: [en]
training: {epochs: 1, batch_size: 4, max_seq_length: 16, max_train_examples: 3,
           max_dev_examples: 3, learning_rate: 0.001, log_every: 1, num_layers: 1}
evaluation: {max_examples: 8, bootstrap_resamples: 10}
"""


def test_check_study_reports_a_missing_inventory(tmp_path: Path) -> None:
    _write_ccg(tmp_path, tags=False)
    study = tmp_path / "s.yaml"
    study.write_text(STUDY, encoding="utf-8")
    with pytest.raises(StudyConfigError, match="tags.txt"):
        check_study(load_study(study), study, tmp_path)


def test_ccg_intermediate_run_trains(tmp_path: Path) -> None:
    data = _write_ccg(tmp_path / "data")
    study = tmp_path / "s.yaml"
    study.write_text(STUDY, encoding="utf-8")
    spec = load_study(study)
    check_study(spec, study, data)
    outcome = run_study(spec, tmp_path / "out", data_dir=data, study_path=study,
                        log=lambda _: None)
    assert not outcome.failed, outcome.failed
    inter = outcome.plan.intermediate_runs[0]
    assert inter.id in outcome.done
    folder = run_dir_of(tmp_path / "out", inter.id)
    log = [json.loads(line) for line in (folder / "log.jsonl").read_text().splitlines()]
    assert {row["task"] for row in log if "task" in row} == {"ccg"}
    assert (folder / "encoder").is_dir()
