"""Frozen weights are written once per output folder and hard-linked into each checkpoint:
each checkpoint still loads on its own to exactly the weights it was saved with, a damaged
store file is never linked, and a study's results do not depend on the sharing."""

from __future__ import annotations

import errno
import json
import os
import shutil
import time
from pathlib import Path

import pytest
import torch
from tiny_study import predictions, records, tiny_study

from xstilts.export import export_model
from xstilts.integrity import CorruptFileError, verify_manifest
from xstilts.models.encoders import load_encoder
from xstilts.models.heads import TaskModel
from xstilts.models.tiny import build_tiny_encoder
from xstilts.studies.executor import run_study
from xstilts.studies.spec import load_study
from xstilts.training import shared_weights
from xstilts.training.checkpoint import save_encoder
from xstilts.training.run_folder import SHARED_WEIGHTS_DIR, prune_shared_weights
from xstilts.training.shared_weights import FROZEN_SHARD, TRAINED_SHARD


def frozen_model() -> TaskModel:
    encoder, _ = build_tiny_encoder()
    encoder.get_input_embeddings().weight.requires_grad_(False)  # 32 MB: shared
    return TaskModel(encoder, pooling="mean")


def train_a_little(model: TaskModel) -> None:
    with torch.no_grad():
        model.encoder.encoder.layer[0].output.dense.weight.add_(0.5)


def assert_loads_as(folder: Path, expected: dict[str, torch.Tensor]) -> None:
    verify_manifest(folder)
    loaded, _ = load_encoder(str(folder))
    state = loaded.state_dict()
    assert set(state) == set(expected)
    for name, tensor in expected.items():
        assert torch.equal(state[name], tensor), name


@pytest.fixture
def tokenizer():
    return build_tiny_encoder()[1]


def test_frozen_embeddings_are_stored_once_and_each_checkpoint_loads_its_own_weights(
        tmp_path: Path, tokenizer) -> None:
    model, store = frozen_model(), tmp_path / "runs" / SHARED_WEIGHTS_DIR
    first = save_encoder(model, tokenizer, tmp_path / "runs" / "a" / "encoder",
                         shared_weights=store)
    first_state = {k: v.clone() for k, v in model.encoder.state_dict().items()}
    train_a_little(model)
    second = save_encoder(model, tokenizer, tmp_path / "runs" / "b" / "encoder",
                          shared_weights=store)

    assert not (first / "model.safetensors").exists()
    index = json.loads((first / "model.safetensors.index.json").read_text())
    assert index["weight_map"]["embeddings.word_embeddings.weight"] == FROZEN_SHARD
    assert set(index["weight_map"].values()) == {FROZEN_SHARD, TRAINED_SHARD}
    shard_a, shard_b = os.stat(first / FROZEN_SHARD), os.stat(second / FROZEN_SHARD)
    assert shard_a.st_ino == shard_b.st_ino and shard_a.st_nlink == 3  # store + 2 links
    assert len(list(store.glob("*.safetensors"))) == 1
    # The trained shard holds the rest: 32 MB of the tiny encoder's 34 MB are shared.
    assert os.path.getsize(first / TRAINED_SHARD) < shard_a.st_size / 10

    assert_loads_as(first, first_state)
    assert_loads_as(second, model.encoder.state_dict())
    assert not torch.equal(first_state["encoder.layer.0.output.dense.weight"],
                           model.encoder.state_dict()["encoder.layer.0.output.dense.weight"])

    shutil.rmtree(store)  # the store is a cache: the checkpoints do not need it
    assert_loads_as(first, first_state)


def test_trained_embeddings_are_saved_in_one_file_as_before(tmp_path: Path, tokenizer) -> None:
    model = frozen_model()
    model.encoder.get_input_embeddings().weight.requires_grad_(True)
    store = tmp_path / SHARED_WEIGHTS_DIR
    folder = save_encoder(model, tokenizer, tmp_path / "encoder", shared_weights=store)
    assert (folder / "model.safetensors").is_file() and not store.exists()
    assert_loads_as(folder, model.encoder.state_dict())


def test_a_damaged_store_file_is_written_again_not_linked(tmp_path: Path, tokenizer) -> None:
    model, store = frozen_model(), tmp_path / SHARED_WEIGHTS_DIR
    first = save_encoder(model, tokenizer, tmp_path / "a", shared_weights=store)
    (stored,) = store.glob("*.safetensors")
    time.sleep(0.02)  # past the clock tick of the hash (kernels before 6.13 stamp coarsely)
    with stored.open("r+b") as f:  # a flipped bit in the last tensor bytes: same size
        f.seek(-3, os.SEEK_END)
        byte = f.read(1)
        f.seek(-3, os.SEEK_END)
        f.write(bytes([byte[0] ^ 0x10]))

    second = save_encoder(model, tokenizer, tmp_path / "b", shared_weights=store)
    assert os.stat(second / FROZEN_SHARD).st_ino != os.stat(first / FROZEN_SHARD).st_ino
    assert_loads_as(second, model.encoder.state_dict())
    with pytest.raises(CorruptFileError, match=FROZEN_SHARD):  # the damage is not hidden
        verify_manifest(first)


def test_without_hard_links_the_shard_is_copied(tmp_path: Path, tokenizer,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    def no_links(source, dest):
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(os, "link", no_links)
    model, store = frozen_model(), tmp_path / SHARED_WEIGHTS_DIR
    folder = save_encoder(model, tokenizer, tmp_path / "a", shared_weights=store)
    assert os.stat(folder / FROZEN_SHARD).st_nlink == 1
    assert_loads_as(folder, model.encoder.state_dict())


def test_prune_removes_only_what_no_checkpoint_links(tmp_path: Path, tokenizer) -> None:
    runs, model = tmp_path / "runs", frozen_model()
    store = runs / SHARED_WEIGHTS_DIR
    kept = save_encoder(model, tokenizer, runs / "a" / "encoder", shared_weights=store)
    other = frozen_model()
    with torch.no_grad():
        other.encoder.get_input_embeddings().weight.mul_(2.0)  # other frozen content
    gone = save_encoder(other, tokenizer, runs / "b" / "encoder", shared_weights=store)
    (store / ".x.safetensors.tmp-1").write_bytes(b"half")  # an interrupted write
    assert len(list(store.glob("*.safetensors"))) == 2
    shutil.rmtree(gone.parent)

    prune_shared_weights(runs)
    assert sorted(p.name for p in store.iterdir()) == sorted(
        [f"{shared_weights.content_key(shared_weights.frozen_tensors(model.encoder))}{ext}"
         for ext in (".json", ".safetensors")])
    assert_loads_as(kept, model.encoder.state_dict())


def test_a_study_gives_the_same_results_with_and_without_sharing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two phase-2 runs (2 seeds) with frozen embeddings share one stored copy; their target
    runs score exactly as when every checkpoint writes its own."""
    text = tiny_study("shared", training="epochs: 1, batch_size: 8, max_seq_length: 24, "
                      "max_train_examples: 48, max_dev_examples: 16, learning_rate: 0.001, "
                      "freeze_embeddings: true").replace("seeds: [0]", "seeds: [0, 1]")
    path = tmp_path / "study.yaml"
    path.write_text(text, encoding="utf-8")
    shared_out, own_out = tmp_path / "shared", tmp_path / "own"
    assert not run_study(load_study(path), shared_out, study_path=path, log=lambda _: None).failed
    encoders = sorted((shared_out / "runs").glob("*/encoder"))
    assert len(encoders) == 2
    assert len({os.stat(e / FROZEN_SHARD).st_ino for e in encoders}) == 1
    exported = export_model(shared_out, encoders[0].parent.name, tmp_path / "exported").dest
    assert_loads_as(encoders[0], load_encoder(str(exported))[0].state_dict())

    monkeypatch.setattr("xstilts.training.checkpoint.save_sharing_frozen",
                        lambda *args: False)
    assert not run_study(load_study(path), own_out, study_path=path, log=lambda _: None).failed
    assert all((e / "model.safetensors").is_file()
               for e in (own_out / "runs").glob("*/encoder"))
    own_predictions = predictions(own_out)
    assert len(records(own_out)) == 6 and len(own_predictions) == 8  # 4 target runs x en, de
    assert predictions(shared_out) == own_predictions
    assert ({run: record["metrics"] for run, record in records(shared_out).items()}
            == {run: record["metrics"] for run, record in records(own_out).items()})
