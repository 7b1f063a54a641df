"""Siamese (bi-encoder) pair tasks: Sentence-BERT (Reimers & Gurevych 2019), as used for
cross-lingual STS in arXiv 2101.10649.

Each text of a pair is encoded alone by the one shared encoder and pooled (mean pooling, the
SBERT default, unless the study sets ``pooling: cls``), giving u and v. Unlike a
cross-encoder, the texts never attend to each other, so the encoder learns sentence vectors
that can be compared by cosine: the point of training STS this way before zero-shot
cross-lingual evaluation.

* Pair classification (PAWS-X, XNLI): softmax classifier over (u, v, |u - v|), SBERT's best
  classification objective.
* Regression (STS): cosine(u, v) regressed onto score / 5 with MSE; the prediction is
  5 · cosine, on the 0-5 scale of the gold scores.

A row holds the two id lists; collate pads each side on its own, so a short text is not
padded to its partner's length. Decoding and scoring are those of the cross-encoder types
(:mod:`~xstilts.tasktypes.classification`, :mod:`~xstilts.tasktypes.regression`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn
from transformers import PreTrainedTokenizerBase

from xstilts.errors import XstiltsError
from xstilts.evaluation.metrics import Score
from xstilts.models.pooling import encode_pooled
from xstilts.tasks.base import Example, Task, TaskType
from xstilts.tasktypes import classification, regression
from xstilts.tasktypes.base import (
    FeatureOptions,
    Features,
    TaskTypeHandler,
    attention_from,
    pad_sequences,
)
from xstilts.tasktypes.per_example import ExampleStatistics
from xstilts.tasktypes.registry import register_handler
from xstilts.tasktypes.regression import SCORE_SCALE, float_labels

# Features.meta key that tells collate whether labels are class indices or scores
# (collate does not see the task).
LABEL_KIND = "label_kind"


def encode_sides(encoder: nn.Module, batch: dict[str, torch.Tensor],
                 pooling: str) -> tuple[torch.Tensor, torch.Tensor]:
    """u and v: each side of the pairs encoded on its own by the same encoder."""
    u = encode_pooled(encoder, batch["input_ids_a"], batch["attention_mask_a"], pooling)
    v = encode_pooled(encoder, batch["input_ids_b"], batch["attention_mask_b"], pooling)
    return u.float(), v.float()


class SiameseClassificationHead(nn.Module):
    """Softmax classifier over the concatenation (u, v, |u - v|)."""

    def __init__(self, hidden_size: int, num_labels: int, pooling: str):
        super().__init__()
        self.pooling = pooling
        self.out = nn.Linear(3 * hidden_size, num_labels)

    def forward(self, encoder: nn.Module, batch: dict[str, torch.Tensor]
                ) -> tuple[torch.Tensor | None, torch.Tensor]:
        u, v = encode_sides(encoder, batch, self.pooling)
        logits = self.out(torch.cat([u, v, (u - v).abs()], dim=-1))
        loss = None
        if "labels" in batch:
            loss = nn.functional.cross_entropy(logits, batch["labels"])
        return loss, logits


class SiameseCosineHead(nn.Module):
    """Cosine similarity of u and v, trained by MSE against score / scale.

    It has no parameters of its own: everything is learned by the encoder, which is what makes
    the vectors comparable across languages afterwards.
    """

    def __init__(self, pooling: str, scale: float = SCORE_SCALE):
        super().__init__()
        self.pooling = pooling
        self.scale = scale

    def forward(self, encoder: nn.Module, batch: dict[str, torch.Tensor]
                ) -> tuple[torch.Tensor | None, torch.Tensor]:
        u, v = encode_sides(encoder, batch, self.pooling)
        cosine = nn.functional.cosine_similarity(u, v, dim=-1)
        loss = None
        if "labels" in batch:
            loss = nn.functional.mse_loss(cosine, batch["labels"] / self.scale)
        return loss, cosine * self.scale


def tokenize_sides(examples: Sequence[Example], tokenizer: PreTrainedTokenizerBase,
                   max_length: int) -> tuple[list[list[int]], list[list[int]]]:
    """Token ids of the first and of the second texts, each truncated on its own."""
    if not examples:
        return [], []

    def ids(texts: list[str]) -> list[list[int]]:
        encoded = tokenizer(texts, truncation=True, max_length=max_length, padding=False,
                            return_attention_mask=False, return_token_type_ids=False)
        return [list(row) for row in encoded["input_ids"]]

    return ids([ex.texts[0] for ex in examples]), ids([ex.texts[1] for ex in examples])


def _padded_side(rows: Sequence[dict[str, Any]], key: str,
                 pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    input_ids = pad_sequences([r[key] for r in rows], pad_id)
    return input_ids, attention_from(input_ids, [len(r[key]) for r in rows])


class SiameseHandler(TaskTypeHandler):
    """Bi-encoder featurisation and heads; decoding and scoring delegate by task type."""

    types = (TaskType.PAIR_CLASSIFICATION, TaskType.REGRESSION)
    CACHEABLE_FEATURES = True

    @staticmethod
    def _scorer(task: Task) -> TaskTypeHandler:
        """The cross-encoder handler whose decode/gold/score this task type shares."""
        if task.type == TaskType.REGRESSION:
            return regression.HANDLER
        return classification.HANDLER

    def primary_metric(self, task: Task) -> str:
        return self._scorer(task).primary_metric(task)

    def official_metric(self, task: Task) -> str:
        return self._scorer(task).official_metric(task)

    def category(self, task: Task) -> str:
        return self._scorer(task).category(task)

    def example_statistics(self, task: Task, metric: str, language: str,
                           records: Sequence[dict[str, Any]]) -> ExampleStatistics | None:
        return self._scorer(task).example_statistics(task, metric, language, records)

    def build_head(self, task: Task, hidden_size: int, pooling: str) -> nn.Module:
        if task.type == TaskType.REGRESSION:
            return SiameseCosineHead(pooling)
        return SiameseClassificationHead(hidden_size, task.num_labels, pooling)

    def featurize(self, task: Task, examples: Sequence[Example],
                  tokenizer: PreTrainedTokenizerBase, options: FeatureOptions,
                  *, training: bool) -> Features:
        if any(len(ex.texts) != 2 for ex in examples):
            raise XstiltsError(f"task {task.name!r}: the siamese encoding needs two texts per "
                               "example")
        first, second = tokenize_sides(examples, tokenizer, options.max_seq_length)
        rows = [{"input_ids_a": a, "input_ids_b": b, "label": self.gold(task, ex)}
                for a, b, ex in zip(first, second, examples, strict=True)]
        kind = "score" if task.type == TaskType.REGRESSION else "class"
        return Features(rows, list(range(len(rows))),
                        [max(len(a), len(b)) for a, b in zip(first, second, strict=True)],
                        meta={LABEL_KIND: kind})

    def collate(self, features: Features, indices: Sequence[int],
                pad_id: int) -> dict[str, torch.Tensor]:
        rows = [features.rows[i] for i in indices]
        ids_a, mask_a = _padded_side(rows, "input_ids_a", pad_id)
        ids_b, mask_b = _padded_side(rows, "input_ids_b", pad_id)
        batch = {"input_ids_a": ids_a, "attention_mask_a": mask_a,
                 "input_ids_b": ids_b, "attention_mask_b": mask_b}
        if features.meta.get(LABEL_KIND) == "score":
            labels = float_labels(rows)
            if labels is not None:
                batch["labels"] = labels
        elif all(r["label"] is not None for r in rows):
            batch["labels"] = torch.tensor([int(r["label"]) for r in rows], dtype=torch.long)
        return batch

    def decode(self, task: Task, examples: Sequence[Any], features: Features,
               outputs: list[np.ndarray]) -> list[Any]:
        return self._scorer(task).decode(task, examples, features, outputs)

    def gold(self, task: Task, example: Example) -> Any:
        return self._scorer(task).gold(task, example)

    def score(self, task: Task, examples: Sequence[Example], predictions: Sequence[Any], *,
              resamples: int, confidence: float, seed: int) -> list[Score]:
        return self._scorer(task).score(task, examples, predictions, resamples=resamples,
                                        confidence=confidence, seed=seed)


HANDLER = register_handler(SiameseHandler(), pair_encoding="siamese")
