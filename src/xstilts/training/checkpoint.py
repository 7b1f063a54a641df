"""Checkpoints as Hugging Face folders in safetensors, written atomically.

A checkpoint is first written to a hidden temporary folder beside its target and renamed into
place only when complete, so a crash never leaves a half-written model that later loads. A
checksum manifest (:mod:`xstilts.integrity`) is written before the completion marker, and
loading verifies it, so a checkpoint damaged later is refused with its path.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from safetensors.torch import load_file, save_file
from transformers import PreTrainedTokenizerBase

from xstilts import faults
from xstilts.integrity import link_file, verify_manifest, write_manifest
from xstilts.models.encoders import save_tokenizer
from xstilts.models.heads import TaskModel
from xstilts.tasks.base import Task
from xstilts.training.run_folder import COMPLETE_MARKER, TARGET_MODEL_DIR  # noqa: F401
from xstilts.training.shared_weights import save_sharing_frozen


@contextmanager
def _atomic_folder(target: Path) -> Iterator[Path]:
    """A hidden temporary folder beside ``target``, renamed to ``target`` (replacing it) when
    the block completes, removed when it raises."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.tmp-{uuid.uuid4().hex[:8]}"
    try:
        tmp.mkdir()
        yield tmp
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def save_encoder(model: TaskModel, tokenizer: PreTrainedTokenizerBase, target: Path,
                 with_heads: bool = False, head_info: dict | None = None,
                 shared_weights: Path | None = None) -> Path:
    """Write encoder (+ tokenizer, + heads if asked) to ``target`` atomically.

    ``head_info`` goes into heads.json beside the head weights: what it takes to rebuild the
    heads without the study (see :func:`load_task_model`). ``shared_weights``: a store through
    which the frozen weights (frozen word embeddings) are shared with the study's other
    checkpoints (:mod:`xstilts.training.shared_weights`).
    """
    with _atomic_folder(target) as tmp:
        if shared_weights is None or not save_sharing_frozen(model.encoder, tmp, shared_weights):
            model.encoder.save_pretrained(tmp, safe_serialization=True)
        save_tokenizer(tokenizer, tmp)
        if with_heads and len(model.heads):
            state = model.heads.state_dict()
            tensors = {k: v.detach().contiguous().cpu() for k, v in state.items()}
            save_file(tensors, str(tmp / "heads.safetensors"))
            (tmp / "heads.json").write_text(json.dumps({
                "pooling": model.pooling,
                "heads": {name: type(head).__name__ for name, head in model.heads.items()},
                **(head_info or {}),
            }, indent=2))
        faults.point("checkpoint.encoder", tmp)
        write_manifest(tmp)
        (tmp / COMPLETE_MARKER).write_text("ok\n")
    return target


def link_checkpoint(source: Path, target: Path) -> Path:
    """``target`` as a checkpoint of the same files as the complete checkpoint ``source``:
    hard links (copies where the filesystem has none), written atomically. For a run that
    keeps the very model another run kept (:mod:`xstilts.training.model_reuse`): no second
    copy on disk. A file damaged later damages both; each checkpoint's manifest catches it."""
    with _atomic_folder(target) as tmp:
        for file in sorted(f for f in source.rglob("*") if f.is_file()):
            dest = tmp / file.relative_to(source)
            dest.parent.mkdir(parents=True, exist_ok=True)
            link_file(file, dest)
    return target


def is_complete(folder: Path) -> bool:
    return (folder / COMPLETE_MARKER).is_file()


def save_task_model(model: TaskModel, tokenizer: PreTrainedTokenizerBase, target: Path, *,
                    task: Task, pair_encoding: str, shared_weights: Path | None = None) -> Path:
    """A fine-tuned target model, self-contained: the task's labels are stored with it (some
    come from the data folder, e.g. CCG's tag inventory), so it reloads without the study."""
    info = {"task": task.name, "type": task.type, "labels": list(task.labels),
            "pair_encoding": pair_encoding}
    return save_encoder(model, tokenizer, target, with_heads=True, head_info=info,
                        shared_weights=shared_weights)


def load_task_model(folder: str | Path) -> tuple[TaskModel, PreTrainedTokenizerBase, Task]:
    """Reload a model written by :func:`save_task_model` (weights via safetensors only)."""
    from xstilts.errors import ModelLoadError
    from xstilts.models.encoders import load_encoder
    from xstilts.tasks import get_task
    from xstilts.tasktypes import handler_for

    folder = Path(folder)
    meta_path = folder / "heads.json"
    if not is_complete(folder) or not meta_path.is_file():
        raise ModelLoadError(f"{folder} is not a complete xstilts task model (expected "
                             f"{COMPLETE_MARKER} and heads.json, written with "
                             "retention.keep_target_checkpoints)")
    verify_manifest(folder)  # every file hashed: it is about to be loaded
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    if "task" not in meta:
        raise ModelLoadError(f"{meta_path}: no 'task' entry; only target models written by "
                             "save_task_model can be reloaded with their head")
    task = replace(get_task(meta["task"]), labels=tuple(meta["labels"]))
    encoder, tokenizer = load_encoder(str(folder))
    model = TaskModel(encoder, pooling=meta["pooling"])
    handler = handler_for(task, meta["pair_encoding"])
    model.add_head(task.name, handler.build_head(task, model.hidden_size, meta["pooling"]))
    model.heads.load_state_dict(load_file(str(folder / "heads.safetensors")))
    model.eval()
    return model, tokenizer, task
