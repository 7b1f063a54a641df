"""Continued masked-language modelling (MLM) on an intermediate task's texts.

X-STILTs compares intermediate-task training with plain MLM on the same data. Here MLM is a
second training stream of the multi-task loop: its rows are the task's training texts, its
head is the encoder's own pretrained masked-LM head, its loss the cross-entropy on masked
tokens. The handler is built directly by phase 2 (it serves no task type), and it has no dev
scoring: the trainer skips streams without dev data, so model selection stays on the task.

Masks are drawn in ``collate`` from a generator seeded by the run seed and the batch's row
indices, so a batch is masked the same way whenever it is drawn again (a resumed run is
exact) and differently under another seed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn
from transformers import PreTrainedTokenizerBase

from xstilts.errors import XstiltsError
from xstilts.evaluation.metrics import Score
from xstilts.tasks.base import ChoiceExample, Example, QAExample, TaggingExample, Task
from xstilts.tasktypes.base import FeatureOptions, Features, TaskTypeHandler, pad_sequences

IGNORE_INDEX = -100  # label of positions that are not predicted (torch's cross-entropy default)


def example_segments(example: Any) -> tuple[str, ...]:
    """The one or two text segments of an example, as the task's own inputs would pair them."""
    if isinstance(example, Example):
        return tuple(example.texts[:2])
    if isinstance(example, ChoiceExample):
        return (example.context, " ".join(example.choices))
    if isinstance(example, QAExample):
        return (example.question, example.context)
    if isinstance(example, TaggingExample):
        return (" ".join(example.tokens),)
    raise XstiltsError(f"MLM: examples of type {type(example).__name__} have no texts to mask")


def mask_tokens(input_ids: torch.Tensor, maskable: torch.Tensor, *, mask_id: int,
                vocab_size: int, probability: float,
                generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT's 80/10/10 masking: returns (corrupted inputs, labels with IGNORE_INDEX elsewhere).

    At least one maskable token per batch is chosen, so the loss is always defined.
    """
    chosen = (torch.rand(input_ids.shape, generator=generator) < probability) & maskable
    if not chosen.any() and maskable.any():
        chosen.view(-1)[int(maskable.view(-1).nonzero()[0])] = True
    labels = torch.where(chosen, input_ids, torch.full_like(input_ids, IGNORE_INDEX))
    draw = torch.rand(input_ids.shape, generator=generator)
    random_ids = torch.randint(vocab_size, input_ids.shape, generator=generator)
    corrupted = torch.where(chosen & (draw < 0.8), torch.full_like(input_ids, mask_id), input_ids)
    corrupted = torch.where(chosen & (draw >= 0.8) & (draw < 0.9), random_ids, corrupted)
    return corrupted, labels


class MlmHead(nn.Module):
    """Runs the encoder and the pretrained masked-LM head on the masked positions only.

    Predicting only masked positions keeps the (rows × length × vocabulary) logits of large
    vocabularies such as XLM-R's 250k out of memory.
    """

    def __init__(self, predictor: nn.Module):
        super().__init__()
        self.predictor = predictor

    def forward(self, encoder: nn.Module, batch: dict[str, torch.Tensor]
                ) -> tuple[torch.Tensor | None, torch.Tensor]:
        hidden = encoder(input_ids=batch["input_ids"],
                         attention_mask=batch["attention_mask"]).last_hidden_state
        labels = batch.get("labels")
        if labels is None:
            return None, self.predictor(hidden)
        picked = labels != IGNORE_INDEX
        logits = self.predictor(hidden[picked])
        return nn.functional.cross_entropy(logits.float(), labels[picked]), logits


class MlmHandler(TaskTypeHandler):
    """Featurise texts, mask them deterministically, and train the encoder's MLM head."""

    def __init__(self, predictor: nn.Module, tokenizer: PreTrainedTokenizerBase, *, seed: int,
                 probability: float = 0.15):
        if tokenizer.mask_token_id is None:
            raise XstiltsError("MLM needs a tokenizer with a mask token")
        self.predictor = predictor
        self.mask_id = int(tokenizer.mask_token_id)
        self.vocab_size = len(tokenizer)
        self.seed = seed
        self.probability = probability

    def build_head(self, task: Task, hidden_size: int, pooling: str) -> nn.Module:
        return MlmHead(self.predictor)

    def featurize(self, task: Task, examples: Sequence[Any],
                  tokenizer: PreTrainedTokenizerBase, options: FeatureOptions,
                  *, training: bool) -> Features:
        rows = []
        for example in examples:
            encoded = tokenizer(*example_segments(example), truncation=True,
                                max_length=options.max_seq_length,
                                return_special_tokens_mask=True)
            rows.append({"input_ids": encoded["input_ids"],
                         "special": encoded["special_tokens_mask"]})
        return Features(rows=rows, example_index=list(range(len(rows))),
                        lengths=[len(r["input_ids"]) for r in rows])

    def batch_generator(self, indices: Sequence[int]) -> torch.Generator:
        """A generator that depends only on (seed, batch rows): the batch's masks are fixed."""
        key = f"{self.seed}:{','.join(map(str, indices))}".encode()
        value = int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "little")
        return torch.Generator().manual_seed(value >> 1)

    def collate(self, features: Features, indices: Sequence[int],
                pad_id: int) -> dict[str, torch.Tensor]:
        rows = [features.rows[i] for i in indices]
        input_ids = pad_sequences([r["input_ids"] for r in rows], pad_id)
        special = pad_sequences([r["special"] for r in rows], 1, width=input_ids.shape[1])
        attention = pad_sequences([[1] * len(r["input_ids"]) for r in rows], 0,
                                  width=input_ids.shape[1])
        corrupted, labels = mask_tokens(input_ids, special == 0, mask_id=self.mask_id,
                                        vocab_size=self.vocab_size,
                                        probability=self.probability,
                                        generator=self.batch_generator(indices))
        return {"input_ids": corrupted, "attention_mask": attention, "labels": labels}

    def decode(self, task: Task, examples: Sequence[Any], features: Features,
               outputs: list[np.ndarray]) -> list[Any]:
        raise XstiltsError("MLM streams are not decoded: they have no dev scoring")

    def gold(self, task: Task, example: Any) -> Any:
        return None

    def primary_metric(self, task: Task) -> str:
        raise XstiltsError("MLM streams have no metric: they have no dev scoring")

    def score(self, task: Task, examples: Sequence[Any], predictions: Sequence[Any], *,
              resamples: int, confidence: float, seed: int) -> list[Score]:
        raise XstiltsError("MLM streams are not scored: they have no dev scoring")
