"""Whether a mixed precision makes sense on this machine, said before training starts.

accelerate accepts every precision everywhere and silently does something else or something
slow: fp16 without a GPU trains in fp32, and bf16 on a CPU without native bf16 instructions
(AVX512-BF16 or AMX) is emulated — measured here on an AVX2-only machine, the bundled encoder
trained 11x slower in bf16 than in fp32 (benchmarks/training_throughput.py: 0.9 vs 10.4
examples/s).
"""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path

import torch

from xstilts.errors import TrainingError

logger = logging.getLogger(__name__)

NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


@lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags (Linux /proc/cpuinfo; empty elsewhere, which warns nothing)."""
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("flags"):
                return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def check_precision(precision: str) -> None:
    """Refuse fp16 without a GPU; warn that bf16 on a CPU without bf16 instructions is slow."""
    if torch.cuda.is_available():
        return
    if precision == "fp16":
        raise TrainingError("precision 'fp16' needs a GPU (on a CPU it would silently run in "
                            "fp32); use precision 'bf16' (CPU autocast) or 'no'")
    flags = cpu_flags()
    if precision == "bf16" and flags and not flags.intersection(NATIVE_BF16_FLAGS):
        warn_emulated_bf16()


@lru_cache(maxsize=1)
def warn_emulated_bf16() -> None:
    """Once per process: a study runs many phases with the same options."""
    logger.warning("precision 'bf16' on this CPU (no avx512_bf16 / amx_bf16) is emulated and "
                   "much slower than fp32 (11x measured on an AVX2 machine); use precision "
                   "'no' here")
