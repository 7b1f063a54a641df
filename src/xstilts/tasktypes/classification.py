"""Sentence and sentence-pair classification (SST-2, XNLI, PAWS-X, the code matching tasks).

The pair is encoded as one input (cross-encoder); the head reads the pooled vector.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn
from transformers import PreTrainedTokenizerBase

from xstilts.evaluation.metrics import Score, score_accuracy
from xstilts.models.pooling import encode_pooled
from xstilts.tasks.base import Example, Task, TaskType
from xstilts.tasktypes.base import (
    FeatureOptions,
    Features,
    TaskTypeHandler,
    collate_token_rows,
)
from xstilts.tasktypes.per_example import AccuracyScored
from xstilts.tasktypes.registry import register_handler


class ClassificationHead(nn.Module):
    """Dropout and a linear layer over the pooled sentence (or pair) vector."""

    def __init__(self, hidden_size: int, num_labels: int, pooling: str, dropout: float = 0.1):
        super().__init__()
        self.pooling = pooling
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(hidden_size, num_labels)

    def forward(self, encoder: nn.Module, batch: dict[str, torch.Tensor]
                ) -> tuple[torch.Tensor | None, torch.Tensor]:
        pooled = encode_pooled(encoder, batch["input_ids"], batch["attention_mask"], self.pooling)
        logits = self.out(self.dropout(pooled))
        loss = None
        if "labels" in batch:
            loss = nn.functional.cross_entropy(logits.float(), batch["labels"])
        return loss, logits


def tokenize_texts(examples: Sequence[Example], tokenizer: PreTrainedTokenizerBase,
                   max_length: int) -> list[list[int]]:
    """Token ids of single texts or pairs (pairs truncated longest-first), unpadded."""
    if not examples:
        return []
    firsts = [ex.texts[0] for ex in examples]
    seconds = [ex.texts[1] for ex in examples] if len(examples[0].texts) == 2 else None
    encoded = tokenizer(firsts, seconds, truncation=True, max_length=max_length,
                        padding=False, return_attention_mask=False,
                        return_token_type_ids=False)
    return [list(ids) for ids in encoded["input_ids"]]


class ClassificationHandler(AccuracyScored, TaskTypeHandler):
    types = (TaskType.CLASSIFICATION, TaskType.PAIR_CLASSIFICATION)
    CACHEABLE_FEATURES = True
    def build_head(self, task: Task, hidden_size: int, pooling: str) -> nn.Module:
        return ClassificationHead(hidden_size, task.num_labels, pooling)

    def featurize(self, task: Task, examples: Sequence[Example],
                  tokenizer: PreTrainedTokenizerBase, options: FeatureOptions,
                  *, training: bool) -> Features:
        ids = tokenize_texts(examples, tokenizer, options.max_seq_length)
        rows = [{"input_ids": row, "label": ex.label} for row, ex in zip(ids, examples,
                                                                         strict=True)]
        return Features(rows, list(range(len(rows))), [len(r) for r in ids])

    def collate(self, features: Features, indices: Sequence[int],
                pad_id: int) -> dict[str, torch.Tensor]:
        rows, batch = collate_token_rows(features, indices, pad_id)
        if all(r["label"] is not None for r in rows):
            batch["labels"] = torch.tensor([int(r["label"]) for r in rows], dtype=torch.long)
        return batch

    def decode(self, task: Task, examples: Sequence[Any], features: Features,
               outputs: list[np.ndarray]) -> list[Any]:
        return [int(np.argmax(o)) for o in outputs]

    def gold(self, task: Task, example: Example) -> Any:
        return None if example.label is None else int(example.label)

    def score(self, task: Task, examples: Sequence[Example], predictions: Sequence[Any], *,
              resamples: int, confidence: float, seed: int) -> list[Score]:
        return [score_accuracy([self.gold(task, ex) for ex in examples], list(predictions),
                               resamples=resamples, confidence=confidence, seed=seed)]


HANDLER = register_handler(ClassificationHandler())
