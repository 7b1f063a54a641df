"""Tokenizers loaded from local folders are shared per content within a process
(models/encoders._shared_tokenizer): identical copies load once, a changed one afresh."""

from __future__ import annotations

import json
from pathlib import Path

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
