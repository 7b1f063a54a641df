"""File tasks as data (xstilts.tasks.files): layouts, the one builder's errors, ids and
skip_bad_rows."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pytest

from xstilts.errors import DataDirRequiredError, DataFormatError, MissingDataError, XstiltsError
from xstilts.tasks import TaskType, list_tasks
from xstilts.tasks.file_formats import pair_tsv
from xstilts.tasks.files import FileLayout, FileReader, FileRequest, file_task
from xstilts.tasks.readers import recording_skipped_rows
from xstilts.tasks.user import definition_of


def _touch(path: Path, text: str = "x\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_layout_fills_placeholders_and_prefers_the_first_existing_file(tmp_path: Path) -> None:
    layout = FileLayout(("a/{split_file}-{language_file}.txt", "b/{split}.{language}.txt"),
                        split_files={"dev": "val"}, language_files={"zh": "cmn"})
    # Neither alternative exists: the first one is named (the one errors should point at).
    assert layout("dev", "zh", tmp_path) == tmp_path / "a/val-cmn.txt"
    # Only the second exists: it is read. Unmapped names stand for themselves.
    second = _touch(tmp_path / "b/train.de.txt")
    assert layout("train", "de", tmp_path) == second
    first = _touch(tmp_path / "a/train-de.txt")
    assert layout("train", "de", tmp_path) == first


def test_layout_per_split_patterns(tmp_path: Path) -> None:
    layout = FileLayout("dev/{language}.json", per_split={"train": "train/{language}.json"})
    assert layout("train", "sw", tmp_path) == tmp_path / "train/sw.json"
    assert layout("dev", "sw", tmp_path) == tmp_path / "dev/sw.json"


def _recording_task(seen: list[FileRequest], **fields: object):
    def read(request: FileRequest) -> list:
        seen.append(request)
        return ["example"]

    return file_task("rec", TaskType.CLASSIFICATION, ("de", "en"),
                     layout=FileLayout("rec/{split}-{language}.tsv"), read=read,
                     data_hint="Get rec from example.org.", labels=("a", "b"), **fields)


def test_no_data_dir_is_a_typed_error_naming_the_file_and_hint() -> None:
    task = _recording_task([])
    for call in (lambda: task.load("dev", "de", None), lambda: task.reader("dev", "de", None)):
        with pytest.raises(DataDirRequiredError) as err:
            call()
        assert err.value.path == "rec/dev-de.tsv"  # relative to the missing data folder
        assert "pass --data-dir" in str(err.value) and "example.org" in str(err.value)


def test_missing_file_names_path_split_and_hint(tmp_path: Path) -> None:
    seen: list[FileRequest] = []
    task = _recording_task(seen)
    with pytest.raises(MissingDataError) as err:
        task.load("test", "en", tmp_path)
    assert err.value.path == str(tmp_path / "rec/test-en.tsv")
    assert "rec: test/en reads" in str(err.value) and "example.org" in str(err.value)
    assert seen == []  # the format function is never called without its file


def test_every_request_carries_skip_bad_rows_ids_and_labels(tmp_path: Path) -> None:
    seen: list[FileRequest] = []
    task = _recording_task(seen)
    _touch(tmp_path / "rec/dev-de.tsv")
    for skip in (False, True):
        assert task.load("dev", "de", tmp_path, skip_bad_rows=skip) == ["example"]
    assert [r.skip_bad_rows for r in seen] == [False, True]
    assert seen[0].id_prefix == "rec-dev-de-"  # the default template {task}-{split}-{language}-
    assert seen[0].labels == ("a", "b") and seen[0].path == tmp_path / "rec/dev-de.tsv"
    with pytest.raises(XstiltsError, match="no split 'train2'"):
        task.reader("train2", "de", tmp_path)  # the reader checks on its own, too


def test_label_inventory_is_read_from_the_data_folder(tmp_path: Path) -> None:
    seen: list[FileRequest] = []
    task = _recording_task(seen, label_inventory=lambda folder: ("x", "y", "z"))
    _touch(tmp_path / "rec/dev-en.tsv")
    task.load("dev", "en", tmp_path)
    assert seen[0].labels == ("x", "y", "z")


def test_pair_tsv_skips_bad_rows_only_when_asked(tmp_path: Path) -> None:
    task = file_task("pairs", TaskType.PAIR_CLASSIFICATION, ("de",),
                     layout=FileLayout("p/{split}-{language}.tsv"),
                     read=partial(pair_tsv, aliases={"yes": "1"}), data_hint="",
                     labels=("0", "1"))
    path = _touch(tmp_path / "p/dev-de.tsv", "a\tb\t1\nbroken line\nc\td\tyes\n")
    with pytest.raises(DataFormatError, match=r"dev-de\.tsv:2: expected 2 or 3"):
        task.load("dev", "de", tmp_path)
    with recording_skipped_rows() as skipped:
        examples = task.load("dev", "de", tmp_path, skip_bad_rows=True)
    # 3 lines, line 2 dropped: two examples, ids numbered over the kept rows, alias 'yes' = 1.
    assert [(e.id, e.label) for e in examples] == [("pairs-dev-de-0", 1), ("pairs-dev-de-1", 1)]
    assert skipped["skipped_rows"] == {str(path): 1}


def test_builtin_file_tasks_all_use_the_one_builder() -> None:
    """Every built-in task that reads files is built by file_task, so every one of them honours
    skip_bad_rows and reports a missing folder or file the same way."""
    # Tasks that other tests register from task files (user tasks) have their own reader.
    file_tasks = [t for t in list_tasks() if t.needs_data_dir and definition_of(t.name) is None]
    assert len(file_tasks) >= 30
    assert all(isinstance(t.reader, FileReader) for t in file_tasks), [
        t.name for t in file_tasks if not isinstance(t.reader, FileReader)]
    assert len({hash(t) for t in file_tasks}) == len(file_tasks)  # tasks stay hashable
