"""Batched inference without gradients, in length-sorted batches, then per-example decoding.

Why it is fast: length-sorted batches padded to their own longest row (XNLI pairs average 40
tokens where a loop padding to 128 runs 3x as many), ``inference_mode``, bf16 autocast only
where the caller resolved it to be native, and no host-device sync per batch.

Here, with the task types, because it drives a handler (collate, decode).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from xstilts.data.batching import length_sorted_batches
from xstilts.models.attention_kernels import attention_kernels
from xstilts.models.heads import TaskModel
from xstilts.tasks.base import Task
from xstilts.tasktypes.base import Features, TaskTypeHandler

# Outputs wait on the device and reach the host together: a ``.cpu()`` per batch makes the host
# wait for the device every batch, so a GPU idles while the next batch is collated. The limit
# bounds the device memory they hold (classification logits never reach it; on a CPU the
# copies are free either way).
_PENDING_LIMIT_BYTES = 64 * 2**20


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
    pending: list[tuple[list[int], torch.Tensor]] = []
    pending_bytes = 0
    with (torch.autocast(device_type=device_type, dtype=torch.bfloat16, enabled=autocast_bf16),
          attention_kernels(device_type)):
        for batch_idx in length_sorted_batches(features.lengths, batch_size):
            batch = handler.collate(features, batch_idx, pad_id)
            batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()
                     if k != "labels"}
            _, out = model(task_name, batch)
            pending.append((batch_idx, out.float()))
            pending_bytes += out.numel() * 4
            if pending_bytes >= _PENDING_LIMIT_BYTES:
                _to_host(pending, outputs)
                pending_bytes = 0
    _to_host(pending, outputs)
    model.train(was_training)
    return outputs  # type: ignore[return-value]


def _to_host(pending: list[tuple[list[int], torch.Tensor]],
             outputs: list[np.ndarray | None]) -> None:
    """Copy the waiting batches' outputs to their rows' places, then forget them."""
    for batch_idx, out in pending:
        out_np = out.cpu().numpy()
        for j, i in enumerate(batch_idx):
            outputs[i] = out_np[j]
    pending.clear()


def predict(model: TaskModel, task: Task, handler: TaskTypeHandler, examples: Sequence[Any],
            features: Features, *, pad_id: int, batch_size: int = 64,
            device: torch.device | str | None = None, autocast_bf16: bool = False) -> list[Any]:
    """Per-example predictions of ``task`` (decoded by its handler)."""
    outputs = row_outputs(model, task.name, handler, features, pad_id=pad_id,
                          batch_size=batch_size, device=device, autocast_bf16=autocast_bf16)
    return handler.decode(task, examples, features, outputs)
