"""The machine facts every benchmark line carries, so a figure is never read without them:
CPU flags that decide the precision (avx512_bf16 / amx_bf16: native bf16, else fp32 under
``precision: auto``), threads, GPU, library versions and the time of the measurement.

Imported by the scripts next to it (``python benchmarks/<script>.py`` puts this folder on
``sys.path``).
"""

from __future__ import annotations

import platform
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

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
