"""Pretrained encoders: bundled offline ones, local folders, the hub, and a tiny test model.

The names below load lazily (PEP 562), so light modules (study validation, planning) can
import ``xstilts.models.bundled`` without pulling in torch and transformers.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "DEFAULT_ENCODER": "xstilts.models.bundled",
    "bundled_model_dir": "xstilts.models.bundled",
    "describe_models": "xstilts.models.encoders",
    "load_encoder": "xstilts.models.encoders",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'xstilts.models' has no attribute {name!r}")
    return getattr(import_module(_EXPORTS[name]), name)
