"""Which precision (and dropout masks) a run trains with: ``auto`` resolved on the machine at
hand, and checks.

accelerate accepts every precision everywhere and silently does something else or something
slow: fp16 without a GPU trains in fp32, and bf16 on a CPU without native bf16 instructions
(AVX512-BF16 or AMX) is emulated — measured here on an AVX2-only machine, the bundled encoder
trained 11x slower in bf16 than in fp32 (benchmarks/training_throughput.py: 0.9 vs 10.4
examples/s). So ``auto`` (the default) picks bf16 only where it runs natively and fp32 ("no")
elsewhere; a run stores and hashes the concrete value, never ``auto``.

``dropout_masks: auto`` likewise: fast masks (training/fast_dropout.py) on a CPU, where torch's
per-element Bernoulli draws are 15-20 % of a step, torch's own on a GPU, where its dropout is
a fused kernel.

Light on purpose: the run contract resolves ``auto`` while planning, so torch is imported only
for the CUDA check (and only when ``auto`` is asked for).
"""

from __future__ import annotations

import logging
import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from xstilts.errors import TrainingError

logger = logging.getLogger(__name__)

NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16")
# What ``auto`` resolves to when set ("no" or "bf16"): plans a study as on another machine (its
# run ids carry the concrete precision), e.g. to reuse runs finished on an fp32-only machine;
# the test suite sets "no" so pinned ids and numbers do not depend on the CPU it runs on.
AUTO_OVERRIDE_ENV = "XSTILTS_AUTO_PRECISION"

# What ``dropout_masks: auto`` resolves to when set ("torch" or "fast"); the test suite sets
# "torch" for the same reason as above.
AUTO_DROPOUT_OVERRIDE_ENV = "XSTILTS_AUTO_DROPOUT_MASKS"

Concrete = Literal["no", "bf16", "fp16"]


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


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bf16 matmuls in hardware (AVX512-BF16 or AMX)."""
    return bool(cpu_flags().intersection(NATIVE_BF16_FLAGS))


def _cuda_bf16() -> bool | None:
    """None without a CUDA GPU; else whether it runs bf16 natively (Ampere and later)."""
    import torch  # lazily: planning resolves precisions and stays light otherwise

    if not torch.cuda.is_available():
        return None
    return bool(torch.cuda.is_bf16_supported(including_emulation=False))


def _forced_auto(option: str, env: str, allowed: tuple[str, str]) -> str | None:
    """What ``env`` sets an ``auto`` option to (checked against ``allowed``), if set."""
    forced = os.environ.get(env)
    if forced:
        if forced not in allowed:
            raise TrainingError(f"{env}={forced!r}: expected {allowed[0]!r} or {allowed[1]!r}")
        logger.info("%s auto: %s (set by %s)", option, forced, env)
    return forced or None


@lru_cache(maxsize=1)
def _auto() -> Concrete:
    """What ``auto`` means here; computed once per process (devices do not change)."""
    forced = _forced_auto("precision", AUTO_OVERRIDE_ENV, ("no", "bf16"))
    if forced:
        return forced  # type: ignore[return-value]
    on_gpu = _cuda_bf16()
    native = cpu_has_native_bf16() if on_gpu is None else on_gpu
    chosen: Concrete = "bf16" if native else "no"
    where = "CPU" if on_gpu is None else "GPU"
    logger.info("precision auto: %s (%s %s native bf16)", chosen, where,
                "has" if native else "lacks")
    return chosen


def resolve_precision(requested: str) -> Concrete:
    """The concrete precision for ``requested``: ``auto`` becomes bf16 where the device runs
    it natively (a CUDA GPU with bf16; a CPU with avx512_bf16 or amx_bf16), fp32 (``no``)
    elsewhere; the others are returned as they are."""
    if requested == "auto":
        return _auto()
    if requested not in ("no", "bf16", "fp16"):
        raise TrainingError(f"training option precision: {requested!r} is not one of "
                            "auto, no, bf16, fp16")
    return requested  # type: ignore[return-value]


@lru_cache(maxsize=1)
def _auto_dropout_masks() -> str:
    forced = _forced_auto("dropout_masks", AUTO_DROPOUT_OVERRIDE_ENV, ("torch", "fast"))
    return forced or ("fast" if _cuda_bf16() is None else "torch")


def resolve_dropout_masks(requested: str) -> str:
    """The concrete dropout masks for ``requested``: ``auto`` is "fast" without a CUDA GPU,
    "torch" with one; the others are returned as they are."""
    if requested == "auto":
        return _auto_dropout_masks()
    if requested not in ("torch", "fast"):
        raise TrainingError(f"training option dropout_masks: {requested!r} is not one of "
                            "auto, torch, fast")
    return requested


def check_precision(precision: str) -> None:
    """Refuse fp16 without a GPU; warn that bf16 on a CPU without bf16 instructions is slow."""
    import torch

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
                   "'no' or 'auto' here")
