"""Batch order: seeded, length-grouped shuffles for training; length-sorted for inference."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch


def shuffled_batches(
    n: int, batch_size: int, generator: torch.Generator, lengths: Sequence[int] | None = None
) -> list[list[int]]:
    """One pass over ``n`` rows in seeded random order.

    With ``lengths``, rows are grouped by length inside chunks of 50 batches (a
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


def endless_batches(n: int, batch_size: int, generator: torch.Generator,
                    lengths: Sequence[int] | None = None) -> Iterator[list[int]]:
    """Passes of :func:`shuffled_batches`, reshuffled each pass, for as long as asked."""
    while True:
        yield from shuffled_batches(n, batch_size, generator, lengths)


def length_sorted_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Batches of similar length for inference (least padding); callers restore the order."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
