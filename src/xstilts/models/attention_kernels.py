"""Which fused attention kernels a model may use on a GPU: flash and memory-efficient, not
cuDNN's.

Why: where torch ranks cuDNN's attention first (torch 2.11 on an H200), each new shape of
query and key builds and finalises a cuDNN execution plan on the host. xstilts pads every
batch to its own longest row, so nearly every training step and many evaluation batches bring
a new length. Measured on an H200 (benchmarks/README.md, xlm-roberta-large's shape, batch 32,
XNLI English): cuDNN's attention forward and backward took 54 % of the host's time over 20
training steps (2.95 and 3.55 ms of host time per call against 36 us of GPU time each),
while the GPU was busy 16 % of the steps' wall time. The flash and memory-efficient kernels
need no plan. The math path stays allowed for what neither fused kernel computes.

Transformers' ``sdpa`` attention calls ``scaled_dot_product_attention``, which picks among
the backends this context allows; on a CPU, or with ``XSTILTS_CUDNN_ATTENTION=1`` (the other
side of the benchmark), it allows what torch allows by default.
"""

from __future__ import annotations

import os
from contextlib import AbstractContextManager, nullcontext

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

ENV_SWITCH = "XSTILTS_CUDNN_ATTENTION"

GPU_BACKENDS = [SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH]


def attention_kernels(device: torch.device | str) -> AbstractContextManager[None]:
    """The SDPA backends for work on ``device``: without cuDNN's on a CUDA device."""
    if torch.device(device).type != "cuda" or os.environ.get(ENV_SWITCH) == "1":
        return nullcontext()
    return sdpa_kernel(GPU_BACKENDS)
