"""Batched inference without gradients, in length-sorted batches, then per-example decoding.

Here, with the task types, because it drives a handler (collate, decode).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from xstilts.data.batching import length_sorted_batches
from xstilts.models.heads import TaskModel
from xstilts.tasks.base import Task
from xstilts.tasktypes.base import Features, TaskTypeHandler


@torch.inference_mode()
def row_outputs(model: TaskModel, task_name: str, handler: TaskTypeHandler, features: Features,
                *, pad_id: int, batch_size: int = 64,
                device: torch.device | str | None = None,
                autocast_bf16: bool = False) -> list[np.ndarray]:
    """The head's raw output for every feature row, in the features' order.

    ``device`` defaults to where the model is (a GPU after GPU training).
    """
    was_training = model.training
    model.eval()
    outputs: list[np.ndarray | None] = [None] * len(features)
    if device is None:
        device = next(model.parameters()).device
    device_type = torch.device(device).type
    for batch_idx in length_sorted_batches(features.lengths, batch_size):
        batch = handler.collate(features, batch_idx, pad_id)
        batch = {k: v.to(device) for k, v in batch.items() if k != "labels"}
        with torch.autocast(device_type=device_type, dtype=torch.bfloat16,
                            enabled=autocast_bf16):
            _, out = model(task_name, batch)
        out_np = out.float().cpu().numpy()
        for j, i in enumerate(batch_idx):
            outputs[i] = out_np[j]
    model.train(was_training)
    return outputs  # type: ignore[return-value]


def predict(model: TaskModel, task: Task, handler: TaskTypeHandler, examples: Sequence[Any],
            features: Features, *, pad_id: int, batch_size: int = 64,
            device: torch.device | str | None = None, autocast_bf16: bool = False) -> list[Any]:
    """Per-example predictions of ``task`` (decoded by its handler)."""
    outputs = row_outputs(model, task.name, handler, features, pad_id=pad_id,
                          batch_size=batch_size, device=device, autocast_bf16=autocast_bf16)
    return handler.decode(task, examples, features, outputs)
