"""Graded similarity (STS-B, STS 2017) as a cross-encoder: the pair in one input → one number.

The head regresses the pooled pair vector onto the gold score divided by ``SCORE_SCALE`` (5 for
the 0-5 STS scale), so the MSE stays on the same order as classification losses and the
default learning rates and gradient clipping suit it; its outputs are multiplied back, so
predictions (and prediction files) are on the task's own 0-5 scale. Nothing clamps them:
the correlations that score STS do not care about the range.

Scores are Spearman (the STS headline number, first) and Pearson, each with a bootstrap
interval over resampled pairs (:mod:`xstilts.evaluation.correlation_scores`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn
from transformers import PreTrainedTokenizerBase

from xstilts.evaluation.correlation_scores import score_correlations
from xstilts.evaluation.metrics import Score
from xstilts.models.pooling import encode_pooled
from xstilts.tasks.base import Example, Task, TaskType
from xstilts.tasktypes.base import (
    FeatureOptions,
    Features,
    TaskTypeHandler,
    collate_token_rows,
)
from xstilts.tasktypes.classification import tokenize_texts
from xstilts.tasktypes.per_example import (
    PEARSON,
    SPEARMAN,
    ExampleStatistics,
    correlation_statistics,
)
from xstilts.tasktypes.registry import register_handler

# The top of the STS scale; gold scores are divided by it for the loss.
SCORE_SCALE = 5.0


class RegressionHead(nn.Module):
    """Dropout and a linear layer to one value; MSE against the normalised gold score."""

    def __init__(self, hidden_size: int, pooling: str, scale: float = SCORE_SCALE,
                 dropout: float = 0.1):
        super().__init__()
        self.pooling = pooling
        self.scale = scale
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(hidden_size, 1)

    def forward(self, encoder: nn.Module, batch: dict[str, torch.Tensor]
                ) -> tuple[torch.Tensor | None, torch.Tensor]:
        pooled = encode_pooled(encoder, batch["input_ids"], batch["attention_mask"], self.pooling)
        normalised = self.out(self.dropout(pooled)).squeeze(-1).float()
        loss = None
        if "labels" in batch:
            loss = nn.functional.mse_loss(normalised, batch["labels"] / self.scale)
        return loss, normalised * self.scale


def float_labels(rows: Sequence[dict[str, Any]]) -> torch.Tensor | None:
    """The rows' gold scores as a float tensor, or None if any row is unlabeled."""
    if any(r["label"] is None for r in rows):
        return None
    return torch.tensor([float(r["label"]) for r in rows], dtype=torch.float32)


def gold_score(example: Example) -> float | None:
    return None if example.label is None else float(example.label)


def score_regression(examples: Sequence[Example], predictions: Sequence[Any], *,
                     resamples: int, confidence: float, seed: int) -> list[Score]:
    """Spearman (primary) and Pearson with bootstrap intervals; shared with the siamese type."""
    return score_correlations([gold_score(ex) for ex in examples],
                              [float(p) for p in predictions], metrics=("spearman", "pearson"),
                              resamples=resamples, confidence=confidence, seed=seed)


class RegressionHandler(TaskTypeHandler):
    types = (TaskType.REGRESSION,)
    CACHEABLE_FEATURES = True
    CATEGORY = "regression"

    def primary_metric(self, task: Task) -> str:
        """Spearman, whatever the task's ``metric`` field says: it is what :meth:`score`
        returns first."""
        return "spearman"

    def example_statistics(self, task: Task, metric: str, language: str,
                           records: Sequence[dict[str, Any]]) -> ExampleStatistics | None:
        """(gold, prediction) rows: a correlation is not a mean over pairs, so the report
        resamples and permutes whole pairs and recomputes it (``report.correlation_metrics``)."""
        form = {f.name: f for f in (SPEARMAN, PEARSON)}.get(metric)
        return None if form is None else correlation_statistics(form, records)

    def build_head(self, task: Task, hidden_size: int, pooling: str) -> nn.Module:
        return RegressionHead(hidden_size, pooling)

    def featurize(self, task: Task, examples: Sequence[Example],
                  tokenizer: PreTrainedTokenizerBase, options: FeatureOptions,
                  *, training: bool) -> Features:
        ids = tokenize_texts(examples, tokenizer, options.max_seq_length)
        rows = [{"input_ids": row, "label": gold_score(ex)}
                for row, ex in zip(ids, examples, strict=True)]
        return Features(rows, list(range(len(rows))), [len(r) for r in ids])

    def collate(self, features: Features, indices: Sequence[int],
                pad_id: int) -> dict[str, torch.Tensor]:
        rows, batch = collate_token_rows(features, indices, pad_id)
        labels = float_labels(rows)
        if labels is not None:
            batch["labels"] = labels
        return batch

    def decode(self, task: Task, examples: Sequence[Any], features: Features,
               outputs: list[np.ndarray]) -> list[Any]:
        return [float(o) for o in outputs]

    def gold(self, task: Task, example: Example) -> Any:
        return gold_score(example)

    def score(self, task: Task, examples: Sequence[Example], predictions: Sequence[Any], *,
              resamples: int, confidence: float, seed: int) -> list[Score]:
        return score_regression(examples, predictions, resamples=resamples,
                                confidence=confidence, seed=seed)


HANDLER = register_handler(RegressionHandler())
