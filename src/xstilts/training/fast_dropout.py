"""Dropout whose masks cost a third of torch's on a CPU (``dropout_masks: fast``).

Why by hand: torch's CPU dropout draws one Bernoulli sample per element (``bernoulli_``, then
a scaling pass and the multiply): on the bundled encoder's ~37 dropouts per step it was 15-20 %
of a bf16 training step on 2-core CPUs (benchmarks/README.md). Here a mask costs one draw of
16 random bits per element (``random_`` on int64 words, viewed as int16), turned into the mask
with int16 arithmetic: 2.5 ms instead of 6.6 ms forward and backward on a 32 x 12 x 40 x 40
bf16 tensor (Zen 4, when the mask was still built with a compare and a ``where``; the int16
arithmetic builds the same mask in 1.6 ms instead of 2.6 ms on 32 x 12 x 60 x 60, AMX Xeon).
No library offers this; torch.compile would fuse torch's own dropout but compiles for
minutes on 2 cores.

Semantics: an element is dropped with probability ``round(p * 65536) / 65536`` (p rounded to
1/65536: 0.1 becomes 0.100006) and kept elements are scaled by the inverse of the keep
probability, so the expected output is the input, as with torch's dropout (the scale rounded
to the tensor's dtype, as torch's CPU dropout rounds it: 1.109375 for p = 0.1 in bf16, so a
bf16 dropout keeps 99.84 % of the mean, torch's as ours). The bits come from
torch's generator of the tensor's device, so ``torch.manual_seed`` reproduces the masks and
the saved RNG state of a resumable run resumes them; the masks differ from torch's (other
results, hence another run id, see :mod:`xstilts.training.runs`).

Where: every ``nn.Dropout`` module of a model (its class swapped for :class:`FastDropout`, so
``p``, ``isinstance`` checks and state dicts are unchanged), and the attention-probability
dropout of models whose attention goes through transformers' ``sdpa`` function (BERT,
XLM-R and most encoders): :func:`sdpa_or_fast_attention` replaces that function and computes
attention eagerly with a fast mask only for modules that opted in, in training (with dropout 0
too: SDPA's CPU backward is the slower one); everything else (evaluation, other models) still
runs transformers' own function.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

# 16 random bits per element: p is rounded to a multiple of 1 / 65536.
_LEVELS = 1 << 16


def dropout_mask(shape: torch.Size | tuple[int, ...], p: float, dtype: torch.dtype,
                 device: torch.device) -> torch.Tensor:
    """0 where dropped, 1 / keep-probability where kept, in ``dtype``; drawn from the
    device's default generator (16 bits per element)."""
    dropped = round(p * _LEVELS)
    n = math.prod(shape)
    with torch.no_grad():
        # random_(-2**63, None) fills all 64 bits of each word uniformly; viewed as four
        # int16 each is uniform over [-32768, 32767].
        words = torch.empty((n + 3) // 4, dtype=torch.int64, device=device)
        bits = words.random_(-(1 << 63), None).view(torch.int16)[:n].view(shape)
        if dropped == 0:  # after the draw: the generator advances as it always did
            return torch.ones(shape, dtype=dtype, device=device)
        # Kept where bits >= low. Not as ``where(bits >= low, scale, 0)``: CPU kernels that
        # read or write bool tensors are slow (compare + where 1.5 ms on a 32 x 12 x 60 x 60
        # tensor, AMX Xeon); clamping to {low - 1, low} and shifting to {0, 1} stays in int16
        # (0.2 ms). Same values as the ``where``: 0, or the scale rounded to dtype.
        low = dropped - (1 << 15)
        kept = bits.clamp_(low - 1, low).sub_(low - 1).to(dtype)
        return kept.mul_(_LEVELS / (_LEVELS - dropped))


def fast_dropout(x: torch.Tensor, p: float) -> torch.Tensor:
    """Training-mode dropout of ``x`` with a :func:`dropout_mask` (autograd keeps the mask)."""
    if p <= 0:
        return x
    if p >= 1 or round(p * _LEVELS) >= _LEVELS:
        return x * 0
    return x * dropout_mask(x.shape, p, x.dtype, x.device)


class FastDropout(nn.Dropout):
    """``nn.Dropout`` with :func:`fast_dropout` masks (never in place: autograd needs x)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return x
        return fast_dropout(x, self.p)


def use_dropout_masks(model: nn.Module, kind: str) -> int:
    """Make every plain dropout module of ``model`` draw ``kind`` masks ("fast" or "torch");
    returns how many modules it set. Subclasses of ``nn.Dropout`` other than ours keep
    their own behaviour."""
    if kind not in ("fast", "torch"):
        raise ValueError(f"dropout masks {kind!r}: expected 'fast' or 'torch'")
    target = FastDropout if kind == "fast" else nn.Dropout
    count = 0
    for module in model.modules():
        if type(module) in (nn.Dropout, FastDropout):
            module.__class__ = target
            count += 1
    return count


def _fast_attention_applies(module: nn.Module, query: torch.Tensor, key: torch.Tensor,
                            is_causal: bool | None, kwargs: dict[str, Any]) -> bool:
    """Training an opted-in, bidirectional, multi-head (not grouped) module without position
    bias or soft-capping: the cases the eager path below computes. With dropout 0 too: SDPA's
    CPU backward is slower than the eager one (forward and backward of one bundled-encoder
    layer, 32 x 41 tokens, bf16, AMX Xeon: 27 ms against 5 ms)."""
    causal = is_causal if is_causal is not None else getattr(module, "is_causal", True)
    return (module.training
            and isinstance(getattr(module, "dropout", None), FastDropout)
            and not causal and query.shape[1] == key.shape[1]
            and kwargs.get("position_bias") is None and kwargs.get("softcap") is None
            and not kwargs.get("output_attentions", False))


def sdpa_or_fast_attention(module: nn.Module, query: torch.Tensor, key: torch.Tensor,
                           value: torch.Tensor, attention_mask: torch.Tensor | None,
                           dropout: float = 0.0, scaling: float | None = None,
                           is_causal: bool | None = None, **kwargs: Any
                           ) -> tuple[torch.Tensor, None]:
    """transformers' ``sdpa`` attention, except for opted-in modules in training: eager
    attention (as SDPA's own math path computes it on a CPU with dropout)
    with a fast mask on the probabilities. Same inputs and output layout (batch, length,
    heads, head size)."""
    if not _fast_attention_applies(module, query, key, is_causal, kwargs):
        return sdpa_attention_forward(module, query, key, value, attention_mask,
                                      dropout=dropout, scaling=scaling, is_causal=is_causal,
                                      **kwargs)
    scale = scaling if scaling is not None else query.shape[-1] ** -0.5
    scores = torch.matmul(query, key.transpose(-2, -1)) * scale
    if attention_mask is not None:
        if attention_mask.dtype == torch.bool:  # sdpa masks: True where a key is attended
            attention_mask = _additive_mask(attention_mask, scores.dtype)
        scores = scores + attention_mask
    probs = fast_dropout(torch.softmax(scores, dim=-1), dropout)
    return torch.matmul(probs, value).transpose(1, 2).contiguous(), None


_last_mask: tuple[torch.Tensor, int, torch.dtype, torch.Tensor] | None = None


def _additive_mask(keep: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """0 where a key is attended, ``dtype``'s minimum elsewhere.

    Why: adding it gives the scores of ``masked_fill(~keep, min)`` bit for bit (a score plus
    the minimum rounds to the minimum), but the add costs a fifth of the broadcast
    ``masked_fill`` (0.08 vs 0.35 ms on 32 x 12 x 41 x 41 bf16 scores, AMX Xeon) and its
    backward is free; built once per forward pass, as every layer gets the same mask tensor.
    """
    global _last_mask
    last = _last_mask
    if last is None or last[0] is not keep or last[1:3] != (keep._version, dtype):
        additive = torch.zeros(keep.shape, dtype=dtype, device=keep.device)
        _last_mask = (keep, keep._version, dtype,
                      additive.masked_fill_(keep.logical_not(), torch.finfo(dtype).min))
    return _last_mask[3]


def install_attention() -> None:
    """Route transformers' ``sdpa`` attention through :func:`sdpa_or_fast_attention` (once;
    a no-op for every module that has not opted in)."""
    ALL_ATTENTION_FUNCTIONS["sdpa"] = sdpa_or_fast_attention


install_attention()
