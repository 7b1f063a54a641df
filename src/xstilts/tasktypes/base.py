"""What differs between task types, behind one interface.

A :class:`TaskTypeHandler` owns everything type-specific: how examples become model inputs
(featurise, collate), the head that sits on the shared encoder, how raw outputs become
per-example predictions (decode), and how predictions are scored: which metric is primary,
which one the official XTREME scorer names, and how a stored metric decomposes over examples
for the report's paired comparisons. The trainer, the evaluator, the study engine and the
report only talk to this interface, so a new task type is one new module.

A head is an ``nn.Module`` called as ``head(encoder, batch) -> (loss or None, outputs)``: it
runs the encoder itself, because some types encode several inputs per example (multiple
choice, siamese pairs).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn
from transformers import PreTrainedTokenizerBase

from xstilts.data.feature_options import FeatureOptions
from xstilts.evaluation.metrics import Score
from xstilts.tasks.base import Task
from xstilts.tasktypes.per_example import ExampleStatistics


@dataclass
class Features:
    """Model-ready rows of one task/language/split.

    One example may give several rows (QA windows over a long context), so every row records
    the index of its example; ``lengths`` drive length-grouped batching.
    """

    rows: list[dict[str, Any]]
    example_index: list[int]
    lengths: list[int]
    meta: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.rows)


class TaskTypeHandler(ABC):
    """The plug-in point for one family of task types."""

    # The task type names this handler serves (built-ins: :class:`xstilts.tasks.TaskType`
    # members; a new type just names itself here, and its tasks use that name as ``type``).
    types: tuple[str, ...] = ()
    # The XTREME-R benchmark category of its tasks (see :meth:`category`).
    CATEGORY: str = "other"
    # Whether :meth:`featurize` is a pure function of (examples, tokenizer, options, training)
    # and its rows JSON data, so :mod:`xstilts.tasktypes.feature_cache` may keep them on disk.
    CACHEABLE_FEATURES: bool = False

    @abstractmethod
    def primary_metric(self, task: Task) -> str:
        """The metric used for dev-set model selection and the report's headline numbers:
        the name of the first :class:`Score` that :meth:`score` returns for ``task``."""

    def category(self, task: Task) -> str:
        """The XTREME-R benchmark category ``task`` counts towards in the report's overall
        score (classification incl. multiple choice, structured prediction, question
        answering, retrieval; regression is its own)."""
        return self.CATEGORY

    def official_metric(self, task: Task) -> str:
        """The stored metric whose value (× 100) is the number XTREME / XTREME-R's official
        ``evaluate.py`` names for this task type (e.g. UD-POS "f1" is ``span_f1``)."""
        return self.primary_metric(task)

    def example_statistics(self, task: Task, metric: str, language: str,
                           records: Sequence[dict[str, Any]]) -> ExampleStatistics | None:
        """Per-example scores, counts or (gold, prediction) rows of ``metric`` from one
        prediction file's rows (``id``, ``gold``, ``prediction``; evaluation ``language``), for
        paired comparisons (:mod:`xstilts.tasktypes.per_example`); None when the handler has
        no such form for the metric or the rows cannot be scored (unlabeled)."""
        return None

    @abstractmethod
    def build_head(self, task: Task, hidden_size: int, pooling: str) -> nn.Module:
        """A freshly initialised head for ``task``."""

    @abstractmethod
    def featurize(self, task: Task, examples: Sequence[Any],
                  tokenizer: PreTrainedTokenizerBase, options: FeatureOptions,
                  *, training: bool) -> Features:
        """Tokenise examples into rows (labels included where the examples have them)."""

    @abstractmethod
    def collate(self, features: Features, indices: Sequence[int],
                pad_id: int) -> dict[str, torch.Tensor]:
        """Pad a batch of rows into tensors (dynamic padding)."""

    @abstractmethod
    def decode(self, task: Task, examples: Sequence[Any], features: Features,
               outputs: list[np.ndarray]) -> list[Any]:
        """Per-example predictions (JSON-serialisable) from per-row outputs."""

    @abstractmethod
    def gold(self, task: Task, example: Any) -> Any:
        """The example's gold label in the same form as a prediction, or None if unlabeled."""

    @abstractmethod
    def score(self, task: Task, examples: Sequence[Any], predictions: Sequence[Any], *,
              resamples: int, confidence: float, seed: int) -> list[Score]:
        """Metrics (primary first) with bootstrap intervals; refuses unlabeled examples."""

    def labeled(self, task: Task, examples: Sequence[Any]) -> bool:
        return bool(examples) and all(self.gold(task, ex) is not None for ex in examples)


def pad_sequences(rows: Sequence[Sequence[int]], pad_value: int,
                  width: int | None = None) -> torch.Tensor:
    """Right-pad integer sequences into a (len(rows), width) long tensor."""
    width = width if width is not None else max(len(r) for r in rows)
    out = torch.full((len(rows), width), pad_value, dtype=torch.long)
    for i, row in enumerate(rows):
        out[i, : len(row)] = torch.tensor(list(row), dtype=torch.long)
    return out


def attention_from(input_ids: torch.Tensor, lengths: Sequence[int]) -> torch.Tensor:
    mask = torch.zeros_like(input_ids)
    for i, n in enumerate(lengths):
        mask[i, :n] = 1
    return mask


def collate_token_rows(features: Features, indices: Sequence[int],
                       pad_id: int) -> tuple[list[dict[str, Any]], dict[str, torch.Tensor]]:
    """The rows of a batch and their padded ``input_ids`` / ``attention_mask`` (the part of
    collation every single-input task type shares); callers add their own label tensors."""
    rows = [features.rows[i] for i in indices]
    input_ids = pad_sequences([r["input_ids"] for r in rows], pad_id)
    mask = attention_from(input_ids, [len(r["input_ids"]) for r in rows])
    return rows, {"input_ids": input_ids, "attention_mask": mask}
