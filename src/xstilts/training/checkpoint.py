"""Checkpoints as Hugging Face folders in safetensors, written atomically.

A checkpoint is first written to a hidden temporary folder beside its target and renamed into
place only when complete, so a crash never leaves a half-written model that later loads.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path

from safetensors.torch import save_file
from transformers import PreTrainedTokenizerBase

from xstilts.models.heads import TaskModel

COMPLETE_MARKER = "XSTILTS_COMPLETE"


def save_encoder(model: TaskModel, tokenizer: PreTrainedTokenizerBase, target: Path,
                 with_heads: bool = False) -> Path:
    """Write encoder (+ tokenizer, + heads if asked) to ``target`` atomically."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.tmp-{uuid.uuid4().hex[:8]}"
    try:
        model.encoder.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        if with_heads and len(model.heads):
            state = model.heads.state_dict()
            tensors = {k: v.detach().contiguous().cpu() for k, v in state.items()}
            save_file(tensors, str(tmp / "heads.safetensors"))
            (tmp / "heads.json").write_text(json.dumps({
                "pooling": model.pooling,
                "heads": {name: type(head).__name__ for name, head in model.heads.items()},
            }, indent=2))
        (tmp / COMPLETE_MARKER).write_text("ok\n")
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def is_complete(folder: Path) -> bool:
    return (folder / COMPLETE_MARKER).is_file()
