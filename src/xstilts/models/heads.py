"""Task heads on a shared encoder, and the model that routes a batch to its task's head.

A :class:`TaskModel` holds one encoder and a ``ModuleDict`` of heads keyed by task name, so
single-task and multi-task training use the same code; phase 3 and retrieval receive only
``model.encoder``.
"""

from __future__ import annotations

import torch
from torch import nn

POOLING_CHOICES = ("mean", "cls")


def pool(hidden: torch.Tensor, attention_mask: torch.Tensor, pooling: str) -> torch.Tensor:
    """Sentence vector from token states: mean over non-padding tokens, or the first token.

    Mean pooling is the default because the bundled encoder (multilingual-e5) was trained
    with it; XLM-R style classifiers use the first (``<s>``/``[CLS]``) token.
    """
    if pooling == "cls":
        return hidden[:, 0]
    if pooling == "mean":
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
    raise ValueError(f"pooling must be one of {POOLING_CHOICES}, got {pooling!r}")


class ClassificationHead(nn.Module):
    """Dropout and a linear layer over the pooled sentence (or pair) vector."""

    def __init__(self, hidden_size: int, num_labels: int, dropout: float = 0.1):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(hidden_size, num_labels)

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        return self.out(self.dropout(pooled))


class TaskModel(nn.Module):
    """An encoder plus one head per task; ``forward`` returns (loss or None, logits)."""

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

    def add_classification_head(self, task_name: str, num_labels: int) -> None:
        self.heads[task_name] = ClassificationHead(self.hidden_size, num_labels)

    def forward(
        self,
        task_name: str,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        labels: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor | None, torch.Tensor]:
        outputs = self.encoder(
            input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
        )
        pooled = pool(outputs.last_hidden_state, attention_mask, self.pooling)
        logits = self.heads[task_name](pooled)
        loss = None
        if labels is not None:
            loss = nn.functional.cross_entropy(logits.float(), labels)
        return loss, logits
