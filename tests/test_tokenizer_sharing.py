"""Tokenizers loaded from local folders are shared per content within a process
(models/encoders._shared_tokenizer): identical copies load once, a changed one afresh."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from xstilts.models import encoders, load_encoder


def _saved_copy(tokenizer, folder: Path) -> Path:
    tokenizer.save_pretrained(folder)
    return folder


def test_identical_folders_share_one_tokenizer_and_a_changed_one_loads_afresh(
        tmp_path: Path) -> None:
    _, tokenizer = load_encoder("tiny:random")
    first = _saved_copy(tokenizer, tmp_path / "a")
    second = _saved_copy(tokenizer, tmp_path / "b")
    shared = encoders._shared_tokenizer(first)
    assert encoders._shared_tokenizer(second) is shared
    assert shared("Hallo Welt")["input_ids"] == tokenizer("Hallo Welt")["input_ids"]

    config = second / "tokenizer_config.json"
    settings = json.loads(config.read_text())
    settings["model_max_length"] = 77
    config.write_text(json.dumps(settings))
    changed = encoders._shared_tokenizer(second)
    assert changed is not shared
    assert changed.model_max_length == 77 and shared.model_max_length != 77


TEXTS = ["Hallo Welt, wie geht's?", "東京は日本の首都です。", "Habari ya asubuhi"]


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Folders the shared-tokenizer cache parsed, in order (a fresh cache per test)."""
    monkeypatch.setattr(encoders, "_tokenizers", {})
    monkeypatch.setattr(encoders, "_sources", {})
    real, seen = encoders.AutoTokenizer.from_pretrained, []

    def counting(source, *args, **kwargs):
        seen.append(Path(source).name)
        return real(source, *args, **kwargs)

    monkeypatch.setattr(encoders.AutoTokenizer, "from_pretrained", counting)
    return seen


def test_a_checkpoint_carries_the_files_its_tokenizer_was_parsed_from(
        tmp_path: Path, parses: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    source = _saved_copy(load_encoder("tiny:random")[1], tmp_path / "source")
    parses.clear()  # building the tiny encoder parsed the bundled folder's files
    tokenizer = encoders._shared_tokenizer(source)
    vocab_file = tokenizer.vocab_files_names["vocab_file"]  # a slow tokenizer's model file
    (source / vocab_file).write_bytes(b"a sentencepiece model")
    checkpoint = tmp_path / "checkpoint"
    checkpoint.mkdir()
    encoders.save_tokenizer(tokenizer, checkpoint)
    assert (checkpoint / vocab_file).read_bytes() == b"a sentencepiece model"
    for name in encoders.TOKENIZER_FILES:
        if (source / name).is_file():
            assert (checkpoint / name).read_bytes() == (source / name).read_bytes(), name
    assert encoders._shared_tokenizer(checkpoint) is tokenizer
    assert parses == ["source"]  # not parsed again in this process

    monkeypatch.setattr(encoders, "_tokenizers", {})  # another process: parses the copy
    fresh = encoders._shared_tokenizer(checkpoint)
    assert fresh is not tokenizer and parses == ["source", "checkpoint"]
    assert fresh(TEXTS)["input_ids"] == tokenizer(TEXTS)["input_ids"]
    assert fresh.special_tokens_map == tokenizer.special_tokens_map
    assert fresh.model_max_length == tokenizer.model_max_length


def test_a_tokenizer_whose_source_folder_changed_is_written_by_save_pretrained(
        tmp_path: Path, parses: list[str]) -> None:
    source = _saved_copy(load_encoder("tiny:random")[1], tmp_path / "source")
    tokenizer = encoders._shared_tokenizer(source)
    config = source / "tokenizer_config.json"
    config.write_text(json.dumps({**json.loads(config.read_text()), "model_max_length": 77}))
    checkpoint = tmp_path / "checkpoint"
    checkpoint.mkdir()
    encoders.save_tokenizer(tokenizer, checkpoint)
    assert (checkpoint / "tokenizer_config.json").read_bytes() != config.read_bytes()
    saved = encoders._shared_tokenizer(checkpoint)
    assert saved.model_max_length == tokenizer.model_max_length != 77
    assert saved(TEXTS)["input_ids"] == tokenizer(TEXTS)["input_ids"]


def test_a_tokenizer_not_parsed_from_a_folder_is_written_by_save_pretrained(
        tmp_path: Path, parses: list[str]) -> None:
    _, tokenizer = load_encoder("tiny:random")  # built in code, not through the cache
    encoders.save_tokenizer(tokenizer, tmp_path)
    assert (tmp_path / "tokenizer.json").is_file()
    assert encoders._shared_tokenizer(tmp_path)(TEXTS)["input_ids"] == \
        tokenizer(TEXTS)["input_ids"]
