"""Frozen weights written once per output folder and hard-linked into every checkpoint.

Why: with ``freeze_embeddings: true`` (the CPU templates, the quickstart) every phase-2
checkpoint of a study holds the same word embeddings: 384 MB of the bundled encoder's 470 MB
(1 GB of xlm-roberta-large's 2.2 GB), written and hashed again for each run. A checkpoint
written here is still an ordinary sharded Hugging Face folder: ``model.safetensors.index.json``,
a shard with the frozen tensors and one with the rest. The frozen shard is a hard link to a
file in the output folder's store (``runs/.shared-weights``), keyed by the tensors' content,
so a study's phase-2 checkpoints share one copy on disk, and a checkpoint never depends on the
store: deleting the store (or copying a run folder elsewhere) leaves every checkpoint whole.
Where the filesystem has no hard links, the shard is copied.

The key is the sha256 of the tensors' names, dtypes, shapes and bytes, so nothing is shared
unless it is byte-identical; the store file's own sha256 is recorded beside it, and a store
file that no longer matches it is written again, never linked.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from transformers import PreTrainedModel
from transformers.utils import SAFE_WEIGHTS_INDEX_NAME, SAFE_WEIGHTS_NAME

from xstilts.integrity import atomic_write_text, file_sha256, link_file

# Frozen tensors smaller than this are written with the others: sharing pays for large ones.
MIN_SHARED_BYTES = 16 << 20
FROZEN_SHARD = "model-00001-of-00002.safetensors"
TRAINED_SHARD = "model-00002-of-00002.safetensors"


def frozen_tensors(encoder: PreTrainedModel) -> dict[str, torch.Tensor]:
    """The encoder's large parameters that training left frozen, by state-dict name."""
    state_names = set(encoder.state_dict())
    frozen = {}
    for name, param in encoder.named_parameters():
        if not param.requires_grad and name in state_names and \
                param.numel() * param.element_size() >= MIN_SHARED_BYTES:
            frozen[name] = param.detach()
    return frozen


def content_key(tensors: dict[str, torch.Tensor]) -> str:
    """sha256 of the tensors' names, dtypes, shapes and bytes (the store's file name)."""
    digest = hashlib.sha256()
    for name in sorted(tensors):
        tensor = tensors[name].cpu().contiguous()
        digest.update(f"{name}\0{tensor.dtype}\0{tuple(tensor.shape)}\0".encode())
        digest.update(memoryview(tensor.reshape(-1).view(torch.uint8).numpy()))
    return digest.hexdigest()


def save_sharing_frozen(encoder: PreTrainedModel, folder: Path, store: Path) -> bool:
    """Write ``encoder``'s weights into ``folder`` with its frozen tensors in a shard shared
    through ``store``. False when it has no large frozen tensor, or when ``save_pretrained``
    renames tensors (the shard's names would not load; its weights file is removed again):
    the caller then saves the usual way, over whatever this left in ``folder``."""
    frozen = frozen_tensors(encoder)
    if not frozen:
        return False
    state = encoder.state_dict()
    trained = {k: v for k, v in state.items() if k not in frozen}
    # a copy: save_pretrained empties the dict it is given
    encoder.save_pretrained(folder, safe_serialization=True, state_dict=dict(trained))
    written = folder / SAFE_WEIGHTS_NAME
    with safe_open(str(written), framework="pt") as handle:
        renamed = set(handle.keys()) != set(trained)
    if renamed:
        written.unlink()
        return False
    os.replace(written, folder / TRAINED_SHARD)
    _place(frozen, store, folder / FROZEN_SHARD)
    weight_map = {**dict.fromkeys(frozen, FROZEN_SHARD), **dict.fromkeys(trained, TRAINED_SHARD)}
    total = sum(t.numel() * t.element_size() for t in state.values())
    (folder / SAFE_WEIGHTS_INDEX_NAME).write_text(json.dumps(
        {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))},
        indent=2) + "\n")
    return True


def _place(frozen: dict[str, torch.Tensor], store: Path, dest: Path) -> None:
    """Link the store's file of ``frozen`` at ``dest``, writing it first where it is missing
    or no longer matches the sha256 recorded when it was written."""
    store.mkdir(parents=True, exist_ok=True)
    key = content_key(frozen)
    shard = store / f"{key}.safetensors"
    record = shard.with_suffix(".json")  # as run_folder.prune_shared_weights finds it
    for _ in range(2):  # a second time only if the file vanished in between (pruned)
        if not _intact(shard, record):
            _write(frozen, shard, record)
        try:
            link_file(shard, dest)
            return
        except OSError as err:
            if err.errno != errno.ENOENT:
                raise
    raise FileNotFoundError(errno.ENOENT, "shared weights removed while linking", str(shard))


def _intact(shard: Path, record: Path) -> bool:
    try:
        expected = json.loads(record.read_text(encoding="utf-8"))
        return shard.stat().st_size == expected["size"] and \
            file_sha256(shard) == expected["sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        return False


def _write(frozen: dict[str, torch.Tensor], shard: Path, record: Path) -> None:
    tmp = shard.with_name(f".{shard.name}.tmp-{os.getpid()}")
    try:
        save_file({k: v.cpu().contiguous() for k, v in frozen.items()}, str(tmp),
                  metadata={"format": "pt"})
        os.replace(tmp, shard)
    finally:
        tmp.unlink(missing_ok=True)
    atomic_write_text(record, json.dumps({"size": shard.stat().st_size,
                                          "sha256": file_sha256(shard)}))

