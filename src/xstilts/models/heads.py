"""The model that routes a batch to its task's head on a shared encoder.

A :class:`TaskModel` holds one encoder and a ``ModuleDict`` of heads keyed by task name, so
single-task and multi-task training use the same code; phase 3 and retrieval receive only
``model.encoder``. Heads come from the task-type handlers (:mod:`xstilts.tasktypes`).
"""

from __future__ import annotations

import torch
from torch import nn

from xstilts.models.pooling import POOLING_CHOICES


class TaskModel(nn.Module):
    """An encoder plus one head per task; ``forward`` returns (loss or None, outputs)."""

    def __init__(self, encoder: nn.Module, pooling: str = "mean"):
        super().__init__()
        if pooling not in POOLING_CHOICES:
            raise ValueError(f"pooling must be one of {POOLING_CHOICES}, got {pooling!r}")
        self.encoder = encoder
        self.pooling = pooling
        self.heads = nn.ModuleDict()

    @property
    def hidden_size(self) -> int:
        return int(self.encoder.config.hidden_size)

    def add_head(self, task_name: str, head: nn.Module) -> None:
        self.heads[task_name] = head

    def forward(self, task_name: str,
                batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor | None, torch.Tensor]:
        return self.heads[task_name](self.encoder, batch)
