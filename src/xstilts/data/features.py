"""From raw examples to padded batches: tokenisation, dynamic padding, length-sorted order.

Kept free of task specifics beyond "one or two texts and a label" so that later task types
add their own featurisers next to this one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from transformers import PreTrainedTokenizerBase

from xstilts.tasks.base import Example


@dataclass(frozen=True)
class Features:
    """Tokenised examples of one task and language, in the order of the raw examples."""

    input_ids: list[list[int]]
    labels: list[int | None]
    example_ids: list[str]

    def __len__(self) -> int:
        return len(self.input_ids)

    @property
    def lengths(self) -> list[int]:
        return [len(ids) for ids in self.input_ids]


def featurize(
    examples: Sequence[Example], tokenizer: PreTrainedTokenizerBase, max_length: int
) -> Features:
    """Tokenise single texts or pairs (pairs truncated longest-first) without padding."""
    if not examples:
        return Features([], [], [])
    n_texts = len(examples[0].texts)
    firsts = [ex.texts[0] for ex in examples]
    seconds = [ex.texts[1] for ex in examples] if n_texts == 2 else None
    encoded = tokenizer(
        firsts,
        seconds,
        truncation="longest_first" if seconds is not None else True,
        max_length=max_length,
        padding=False,
        return_attention_mask=False,
        return_token_type_ids=False,
    )
    labels = [ex.label if ex.label is None else int(ex.label) for ex in examples]
    return Features(list(encoded["input_ids"]), labels, [ex.id for ex in examples])


def collate(
    features: Features, indices: Sequence[int], pad_id: int, with_labels: bool = True
) -> dict[str, torch.Tensor]:
    """Pad a batch to its own longest sequence (dynamic padding)."""
    rows = [features.input_ids[i] for i in indices]
    width = max(len(r) for r in rows)
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(rows), width), dtype=torch.long)
    for j, row in enumerate(rows):
        input_ids[j, : len(row)] = torch.tensor(row, dtype=torch.long)
        attention_mask[j, : len(row)] = 1
    batch = {"input_ids": input_ids, "attention_mask": attention_mask}
    if with_labels:
        batch["labels"] = torch.tensor([features.labels[i] for i in indices], dtype=torch.long)
    return batch


def shuffled_batches(
    n: int, batch_size: int, generator: torch.Generator, lengths: Sequence[int] | None = None
) -> list[list[int]]:
    """One epoch of batch indices in seeded random order.

    With ``lengths``, examples are grouped by length inside chunks of 50 batches (the
    "length-grouped sampler"), which cuts padding while keeping the order random.
    """
    order = torch.randperm(n, generator=generator).tolist()
    if lengths is not None:
        chunk = batch_size * 50
        grouped: list[int] = []
        for start in range(0, n, chunk):
            part = order[start : start + chunk]
            grouped.extend(sorted(part, key=lambda i: -lengths[i]))
        order = grouped
    batches = [order[i : i + batch_size] for i in range(0, n, batch_size)]
    if lengths is not None:
        perm = torch.randperm(len(batches), generator=generator).tolist()
        batches = [batches[i] for i in perm]
    return batches


def length_sorted_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Batches of similar length for inference (least padding); callers restore the order."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
