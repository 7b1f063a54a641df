"""Checksum manifests hash a file once per process while it is unchanged (a phase-2 encoder
written, then verified before a target run loads it), and still catch every later change."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from xstilts import integrity
from xstilts.integrity import CorruptFileError, verify_manifest, write_manifest


@pytest.fixture
def hashes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the files actually read and hashed, in order (a fresh per-process memo)."""
    monkeypatch.setattr(integrity, "_hashed", {})
    real, read = integrity.sha256_file, []

    def counting(path: Path, chunk: int = 1 << 20) -> str:
        read.append(path.name)
        return real(path, chunk)

    monkeypatch.setattr(integrity, "sha256_file", counting)
    return read


def written(folder: Path) -> Path:
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(os.urandom(4096))
    (folder / "config.json").write_text('{"hidden_size": 8}')
    write_manifest(folder)
    return folder


def test_a_folder_verified_after_it_was_written_and_moved_is_not_hashed_again(
        tmp_path: Path, hashes: list[str]) -> None:
    tmp = written(tmp_path / ".encoder.tmp")
    assert sorted(hashes) == ["config.json", "model.safetensors"]
    final = tmp_path / "encoder"
    os.replace(tmp, final)  # as checkpoints are published
    verify_manifest(final)
    verify_manifest(final)
    assert len(hashes) == 2


@pytest.mark.parametrize("change", ["bit flipped in place", "replaced by another file"])
def test_a_file_changed_after_it_was_hashed_is_hashed_again_and_refused(
        tmp_path: Path, hashes: list[str], change: str) -> None:
    folder = written(tmp_path / "encoder")
    verify_manifest(folder)
    weights = folder / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-40] ^= 0x04  # the same size: only the hash can tell
    # Later than one clock tick after the hash: kernels before Linux 6.13 stamp change times
    # with a coarse clock (a few ms), and a change inside that tick is the memo's known limit.
    time.sleep(0.02)
    if change == "bit flipped in place":
        with weights.open("r+b") as f:
            f.write(bytes(data))
    else:
        other = folder / "other"
        other.write_bytes(bytes(data))
        os.replace(other, weights)
    with pytest.raises(CorruptFileError, match="model.safetensors: sha256 differs"):
        verify_manifest(folder)
    assert hashes.count("model.safetensors") == 2
