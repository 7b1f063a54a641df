"""Batched inference without gradients, in length-sorted batches, returning original order."""

from __future__ import annotations

import numpy as np
import torch

from xstilts.data.features import Features, collate, length_sorted_batches
from xstilts.models.heads import TaskModel


@torch.inference_mode()
def predict_logits(
    model: TaskModel, task_name: str, features: Features, *, pad_id: int, batch_size: int = 64,
    device: torch.device | str = "cpu", autocast_bf16: bool = False,
) -> np.ndarray:
    """Logits for every feature row, shape (n, num_labels), in the features' order."""
    model.eval()
    out: np.ndarray | None = None
    for batch_idx in length_sorted_batches(features.lengths, batch_size):
        batch = collate(features, batch_idx, pad_id, with_labels=False)
        batch = {k: v.to(device) for k, v in batch.items()}
        with torch.autocast(
            device_type=torch.device(device).type, dtype=torch.bfloat16, enabled=autocast_bf16
        ):
            _, logits = model(task_name, **batch)
        logits_np = logits.float().cpu().numpy()
        if out is None:
            out = np.zeros((len(features), logits_np.shape[1]), dtype=np.float32)
        out[batch_idx] = logits_np
    if out is None:
        return np.zeros((0, 0), dtype=np.float32)
    return out
