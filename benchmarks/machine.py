"""What the benchmark scripts share: the machine facts every line carries, so a figure is never
read without them (CPU flags that decide the precision — avx512_bf16 / amx_bf16: native bf16,
else fp32 under ``precision: auto`` — threads, GPU, library versions, the time), the
interleaved timing of two sides, and the encoder shapes built from a config in code.

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


SHAPES = ("e5-small", "xlmr-large")


def encoder_config(shape: str, vocab_size: int, pad_id: int) -> Any:
    """The config of an encoder shape the templates name, for random weights (no download:
    the arithmetic, and so the speed, is that of the real model)."""
    from transformers import BertConfig, XLMRobertaConfig

    from xstilts.models.bundled import bundled_model_dir

    if shape == "e5-small":  # multilingual-e5-small (the bundled encoder's own config)
        return BertConfig.from_pretrained(bundled_model_dir("multilingual-e5-small"))
    if shape == "xlmr-large":  # xlm-roberta-large, the paper-scale encoder
        return XLMRobertaConfig(vocab_size=vocab_size, hidden_size=1024, num_hidden_layers=24,
                                num_attention_heads=16, intermediate_size=4096,
                                max_position_embeddings=514, type_vocab_size=1,
                                pad_token_id=pad_id)
    raise SystemExit(f"unknown shape {shape!r} (one of {', '.join(SHAPES)})")
