"""Sentence vectors from token states."""

from __future__ import annotations

import torch

POOLING_CHOICES = ("mean", "cls")


def pool(hidden: torch.Tensor, attention_mask: torch.Tensor, pooling: str) -> torch.Tensor:
    """Mean over non-padding tokens, or the first token.

    Mean pooling is the default because the bundled encoder (multilingual-e5) was trained
    with it; XLM-R style classifiers use the first (``<s>``/``[CLS]``) token.
    """
    if pooling == "cls":
        return hidden[:, 0]
    if pooling == "mean":
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
    raise ValueError(f"pooling must be one of {POOLING_CHOICES}, got {pooling!r}")


def encode_pooled(encoder: torch.nn.Module, input_ids: torch.Tensor,
                  attention_mask: torch.Tensor, pooling: str) -> torch.Tensor:
    """Run the encoder and pool its last layer."""
    hidden = encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
    return pool(hidden, attention_mask, pooling)
