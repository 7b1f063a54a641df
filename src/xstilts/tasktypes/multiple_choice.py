"""Multiple choice (COPA, XCOPA, SocialIQa): score every (context, choice) pair, pick the best.

One feature row per example holds its C tokenised (context, choice) pairs, so the example
stays whole through batching and decoding. The head encodes all pairs of a batch as one
flat batch, maps each pooled pair vector to a single score with a linear layer shared by all
choices, and applies a softmax over the choices of each example (cross-entropy on the index
of the right one), as in the BERT/XLM-R multiple-choice heads used by XTREME-R for XCOPA.

Examples in a batch may have different numbers of choices (e.g. a COPA/SocialIQa mix would
put 2 and 3 in different tasks, but user tasks may vary within one): collate pads the choice
axis and records a ``choice_mask``; padded choices are never encoded and get a logit of
-inf, so they take no probability mass and can never be predicted.
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
from xstilts.tasks.base import ChoiceExample, Task, TaskType
from xstilts.tasktypes.base import FeatureOptions, Features, TaskTypeHandler
from xstilts.tasktypes.per_example import AccuracyScored
from xstilts.tasktypes.registry import register_handler


class MultipleChoiceHead(nn.Module):
    """One score per (context, choice) pair from its pooled vector → (B, C) logits."""

    def __init__(self, hidden_size: int, pooling: str, dropout: float = 0.1):
        super().__init__()
        self.pooling = pooling
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(hidden_size, 1)

    def forward(self, encoder: nn.Module, batch: dict[str, torch.Tensor]
                ) -> tuple[torch.Tensor | None, torch.Tensor]:
        choice_mask = batch["choice_mask"]
        real = choice_mask.reshape(-1)  # only real choices are encoded
        input_ids = batch["input_ids"].flatten(0, 1)[real]
        attention_mask = batch["attention_mask"].flatten(0, 1)[real]
        pooled = encode_pooled(encoder, input_ids, attention_mask, self.pooling)
        scores = self.out(self.dropout(pooled)).squeeze(-1).float()
        logits = torch.full(choice_mask.shape, float("-inf"), device=scores.device)
        logits = logits.masked_scatter(choice_mask, scores)
        loss = None
        if "labels" in batch:
            loss = nn.functional.cross_entropy(logits, batch["labels"])
        return loss, logits


def tokenize_choices(example: ChoiceExample, tokenizer: PreTrainedTokenizerBase,
                     max_length: int) -> list[list[int]]:
    """Token ids of each (context, choice) pair, truncated longest-first, unpadded."""
    encoded = tokenizer([example.context] * len(example.choices), list(example.choices),
                        truncation=True, max_length=max_length, padding=False,
                        return_attention_mask=False, return_token_type_ids=False)
    return [list(ids) for ids in encoded["input_ids"]]


def collate_choices(rows: Sequence[dict[str, Any]], pad_id: int) -> dict[str, torch.Tensor]:
    """Pad rows of choice id lists to (B, C, L) ids and mask, plus a (B, C) choice mask."""
    num_choices = max(len(r["choices"]) for r in rows)
    width = max(len(ids) for r in rows for ids in r["choices"])
    input_ids = torch.full((len(rows), num_choices, width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros_like(input_ids)
    choice_mask = torch.zeros((len(rows), num_choices), dtype=torch.bool)
    for i, row in enumerate(rows):
        for j, ids in enumerate(row["choices"]):
            input_ids[i, j, : len(ids)] = torch.tensor(ids, dtype=torch.long)
            attention_mask[i, j, : len(ids)] = 1
            choice_mask[i, j] = True
    batch = {"input_ids": input_ids, "attention_mask": attention_mask,
             "choice_mask": choice_mask}
    if all(r["label"] is not None for r in rows):
        batch["labels"] = torch.tensor([int(r["label"]) for r in rows], dtype=torch.long)
    return batch


class MultipleChoiceHandler(AccuracyScored, TaskTypeHandler):
    types = (TaskType.MULTIPLE_CHOICE,)
    CACHEABLE_FEATURES = True
    def build_head(self, task: Task, hidden_size: int, pooling: str) -> nn.Module:
        return MultipleChoiceHead(hidden_size, pooling)

    def featurize(self, task: Task, examples: Sequence[ChoiceExample],
                  tokenizer: PreTrainedTokenizerBase, options: FeatureOptions,
                  *, training: bool) -> Features:
        rows = []
        for ex in examples:
            if not ex.choices:
                raise ValueError(f"{task.name}: example {ex.id} has no choices")
            rows.append({"choices": tokenize_choices(ex, tokenizer, options.max_seq_length),
                         "label": ex.label})
        # The longest pair sets a row's padded width, so it is what length grouping should see.
        lengths = [max(len(ids) for ids in r["choices"]) for r in rows]
        return Features(rows, list(range(len(rows))), lengths)

    def collate(self, features: Features, indices: Sequence[int],
                pad_id: int) -> dict[str, torch.Tensor]:
        return collate_choices([features.rows[i] for i in indices], pad_id)

    def decode(self, task: Task, examples: Sequence[Any], features: Features,
               outputs: list[np.ndarray]) -> list[Any]:
        # Padded choices carry -inf, so argmax only ever picks a real choice.
        return [int(np.argmax(o)) for o in outputs]

    def gold(self, task: Task, example: ChoiceExample) -> Any:
        return None if example.label is None else int(example.label)

    def score(self, task: Task, examples: Sequence[ChoiceExample], predictions: Sequence[Any],
              *, resamples: int, confidence: float, seed: int) -> list[Score]:
        return [score_accuracy([self.gold(task, ex) for ex in examples], list(predictions),
                               resamples=resamples, confidence=confidence, seed=seed)]


HANDLER = register_handler(MultipleChoiceHandler())
