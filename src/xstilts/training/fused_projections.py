"""Self-attention's query, key and value projections as one matmul in training
(``qkv_projection: fused``).

Why by hand: BERT-style encoders in transformers call three ``nn.Linear`` modules on the same
hidden states. On a 2-core CPU under bf16 autocast each call pays its own cast of the input,
its own small matmul forward and backward, and the input's gradient is summed from three
products; one ``F.linear`` over the concatenated weights does the same work in one product
(5.0 ms instead of 6.2-7.5 ms forward and backward per bundled-encoder layer at 32 x 48
tokens, bf16, AMX Xeon). transformers keeps the three modules (and checkpoints keep three
weights), so the fusion is done here, per step, without touching parameters or state dicts.

Semantics: the forward outputs are the same numbers (each output column is the same dot
product); the input's gradient is one product over the 3 x hidden concatenated columns instead
of three added, so it differs at rounding level and results differ from separate projections
(another run id, see :mod:`xstilts.training.runs`). Evaluation always runs the separate
projections.

How: the query module's class is swapped for :class:`FusedQueryLinear` (``isinstance``,
parameters and state dicts unchanged; key and value keep theirs). In training it computes
all three projections of its input and leaves the key's and value's parts with their modules;
those modules return them when called on the same, unmodified input tensor, and compute their
own projection otherwise (another input, as in cross-attention, or another call order).
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

QkvProjection = Literal["separate", "fused"]


class _Pending:
    """The key and value projections computed with a query's, until their modules ask."""

    __slots__ = ("source", "version", "parts")

    def __init__(self) -> None:
        self.source: torch.Tensor | None = None
        self.version = -1
        self.parts: dict[int, torch.Tensor] = {}

    def take(self, module: nn.Module, x: torch.Tensor) -> torch.Tensor | None:
        """``module``'s projection of ``x`` if it was computed with the query's (once)."""
        if self.source is not x or self.version != x._version:
            return None
        part = self.parts.pop(id(module), None)
        if not self.parts:
            self.clear()
        return part

    def clear(self) -> None:
        self.source, self.version, self.parts = None, -1, {}


class _ProjectionLinear(nn.Linear):
    """A key or value projection: returns its part of the fused product when there is one."""

    _pending: _Pending

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pending = self.__dict__.get("_pending")
        part = pending.take(self, x) if pending is not None and self.training else None
        return part if part is not None else super().forward(x)


class FusedQueryLinear(nn.Linear):
    """A query projection that, in training, computes the key and value projections of the
    same input in the same matmul (see the module docstring)."""

    _partners: tuple[nn.Linear, nn.Linear]
    _pending: _Pending

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return super().forward(x)
        key, value = self._partners
        pending = self._pending
        pending.clear()  # nothing of an earlier step is kept alive
        weight = torch.cat((self.weight, key.weight, value.weight))
        bias = (torch.cat((self.bias, key.bias, value.bias))
                if self.bias is not None else None)
        query_part, key_part, value_part = F.linear(x, weight, bias).split(
            (self.out_features, key.out_features, value.out_features), dim=-1)
        pending.source, pending.version = x, x._version
        pending.parts = {id(key): key_part, id(value): value_part}
        return query_part


def _fusable(module: nn.Module) -> tuple[nn.Linear, nn.Linear, nn.Linear] | None:
    """The query, key and value linears of a self-attention module that can share a matmul:
    plain (or already fused) linears reading the same width, all with biases or none, on one
    device and dtype."""
    linears = tuple(getattr(module, name, None) for name in ("query", "key", "value"))
    allowed = (nn.Linear, FusedQueryLinear, _ProjectionLinear)
    if not all(type(linear) in allowed for linear in linears):
        return None
    if "cross" in type(module).__name__.lower() or getattr(module, "is_cross_attention", False):
        return None
    first = linears[0]
    same = all(linear.in_features == first.in_features
               and (linear.bias is None) == (first.bias is None)
               and linear.weight.dtype == first.weight.dtype
               and linear.weight.device == first.weight.device for linear in linears)
    return linears if same else None  # type: ignore[return-value]


def use_qkv_projection(model: nn.Module, kind: QkvProjection) -> int:
    """Make every self-attention module of ``model`` with ``query``, ``key`` and ``value``
    linears project ``kind``-wise in training ("fused" or "separate"); returns how many
    attention modules it set."""
    if kind not in ("fused", "separate"):
        raise ValueError(f"qkv projection {kind!r}: expected 'fused' or 'separate'")
    count = 0
    for module in model.modules():
        linears = _fusable(module)
        if linears is None:
            continue
        query, key, value = linears
        if kind == "fused":
            pending = _Pending()
            query.__class__ = FusedQueryLinear
            key.__class__ = value.__class__ = _ProjectionLinear
            # Plain attributes, not submodules: the partners stay where the model has them.
            query.__dict__["_partners"] = (key, value)
            for linear in linears:
                linear.__dict__["_pending"] = pending
        else:
            for linear in linears:
                linear.__class__ = nn.Linear
                linear.__dict__.pop("_partners", None)
                linear.__dict__.pop("_pending", None)
        count += 1
    return count
