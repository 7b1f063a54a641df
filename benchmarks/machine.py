"""What the benchmark scripts share: the machine facts every line carries, so a figure is never
read without them (CPU flags that decide the precision — avx512_bf16 / amx_bf16: native bf16,
else fp32 under ``precision: auto`` — threads, GPU, library versions, the time), and the
interleaved timing of two sides.

Imported by the scripts next to it (``python benchmarks/<script>.py`` puts this folder on
``sys.path``).
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import metadata
from typing import Any, TypeVar

A = TypeVar("A")
B = TypeVar("B")

FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16")


def machine_facts(*packages: str) -> dict[str, Any]:
    """CPU flags, threads, GPU, ``precision: auto`` here, versions of torch, transformers and
    ``packages``, and the UTC time."""
    import torch

    from xstilts.training.precision import cpu_flags, resolve_precision

    flags = cpu_flags()
    versions = {}
    for package in ("torch", "transformers", *packages):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return {"machine": platform.machine(), "cpu_flags": {f: f in flags for f in FLAGS},
            "threads": torch.get_num_threads(),
            "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
            "auto_precision": resolve_precision("auto"), "versions": versions,
            "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%MZ")}


def interleaved(first: Callable[[], A], second: Callable[[], B],
                repeats: int) -> tuple[list[float], A, list[float], B]:
    """Both sides warmed up once untimed (first-call allocations, oneDNN primitive caches),
    then timed alternately ``repeats`` times, so machine noise hits both alike: each side's
    seconds and its last output."""
    first()
    second()
    first_s, second_s = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        first_out = first()
        first_s.append(time.perf_counter() - start)
        start = time.perf_counter()
        second_out = second()
        second_s.append(time.perf_counter() - start)
    return first_s, first_out, second_s, second_out
