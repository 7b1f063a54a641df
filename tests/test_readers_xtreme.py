"""XNLI / PAWS-X readers on the real files and on malformed ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from xstilts.errors import DataFormatError, MissingDataError, XstiltsError
from xstilts.tasks import get_task


def test_xnli_counts_and_labels_match_the_manifest(shared_data: Path) -> None:
    xnli = get_task("xnli")
    dev_en = xnli.load("dev", "en", shared_data)
    test_sw = xnli.load("test", "sw", shared_data)
    assert len(dev_en) == 2490
    assert len(test_sw) == 5010
    # First German dev row of the file: '... Er rief seine Mutter an ...' is neutral.
    dev_de = xnli.load("dev", "de", shared_data)
    assert dev_de[0].texts[1].startswith("Er rief seine Mutter an")
    assert xnli.labels[dev_de[0].label] == "neutral"
    # Dev labels are identical across languages (MANIFEST).
    assert [e.label for e in dev_de] == [e.label for e in dev_en]
    assert {e.label for e in dev_en} == {0, 1, 2}


def test_pawsx_dev_counts(shared_data: Path) -> None:
    pawsx = get_task("pawsx")
    for lang in ("de", "en", "ja"):
        examples = pawsx.load("dev", lang, shared_data)
        assert len(examples) == 2000
        assert {e.label for e in examples} == {0, 1}


def test_data_found_reflects_the_folder(shared_data: Path, tmp_path: Path) -> None:
    assert get_task("xnli").data_found(shared_data)
    assert not get_task("xnli").data_found(tmp_path)


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"a\tb\tneutral\nc\td\n", "mixes labeled"),
        (b"a\tb\tneutral\nc\td\te\tf\n", "expected 2 or 3"),
        (b"a\tb\tmaybe\n", "unknown label 'maybe'"),
        (b"", "file is empty"),
        (b"a\tb\tneutral\n\xff\xfe\tx\tneutral\n", "not valid UTF-8"),
    ],
)
def test_malformed_files_name_file_line_and_problem(
    tmp_path: Path, content: bytes, needle: str
) -> None:
    (tmp_path / "xnli").mkdir()
    path = tmp_path / "xnli" / "dev-de.tsv"
    path.write_bytes(content)
    with pytest.raises(DataFormatError) as info:
        get_task("xnli").load("dev", "de", tmp_path)
    message = str(info.value)
    assert str(path) in message and needle in message
    if needle in ("mixes labeled", "expected 2 or 3", "not valid UTF-8"):
        assert f"{path}:2" in message


def test_unlabeled_rows_get_none_labels(tmp_path: Path) -> None:
    (tmp_path / "xnli").mkdir()
    (tmp_path / "xnli" / "test-de.tsv").write_text("a\tb\nc\td\n", encoding="utf-8")
    examples = get_task("xnli").load("test", "de", tmp_path)
    assert [e.label for e in examples] == [None, None]


def test_missing_file_names_path_and_how_to_get_it(tmp_path: Path) -> None:
    with pytest.raises(MissingDataError) as info:
        get_task("xnli").load("dev", "de", tmp_path)
    assert str(tmp_path / "xnli" / "dev-de.tsv") in str(info.value)
    assert "download" in str(info.value)


def test_unknown_language_and_task() -> None:
    with pytest.raises(XstiltsError, match="no language 'xx'"):
        get_task("xnli").load("dev", "xx", Path("."))
    with pytest.raises(XstiltsError, match="Did you mean 'xnli'"):
        get_task("xnlii")


def test_tydiqa_finds_xtremes_older_file_names(tmp_path: Path) -> None:
    # Older copies of XTREME's utils_preprocess.py write tydiqa.L.{train,dev}.json.
    tydiqa = get_task("tydiqa")
    train = tmp_path / "tydiqa/tydiqa-goldp-v1.1-train"
    dev = tmp_path / "tydiqa/tydiqa-goldp-v1.1-dev"
    for folder, name in ((train, "tydiqa.sw.train.json"), (dev, "tydiqa.sw.dev.json")):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text("{}")
    assert tydiqa.data_path("train", "sw", tmp_path) == train / "tydiqa.sw.train.json"
    assert tydiqa.data_path("dev", "sw", tmp_path) == dev / "tydiqa.sw.dev.json"
    assert tydiqa.has_data("dev", "sw", tmp_path) and not tydiqa.has_data("dev", "ko", tmp_path)
    # The current names win where both exist; with neither, errors name the current one.
    (train / "tydiqa.goldp.sw.train.json").write_text("{}")
    assert tydiqa.data_path("train", "sw", tmp_path) == train / "tydiqa.goldp.sw.train.json"
    assert tydiqa.data_path("train", "ko", tmp_path) == train / "tydiqa.goldp.ko.train.json"
