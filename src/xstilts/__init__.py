"""xstilts: zero-shot cross-lingual transfer studies with intermediate-task training.

The public API, imported lazily so that ``import xstilts`` stays cheap::

    import xstilts
    spec = xstilts.load_study("examples/quickstart.yaml")
    outcome = xstilts.run_study(spec, Path("xstilts-out"))
    xstilts.write_report(Path("xstilts-out"))
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_API = {
    "load_study": "xstilts.studies.spec",
    "StudySpec": "xstilts.studies.spec",
    "plan_study": "xstilts.studies.planner",
    "run_study": "xstilts.studies.executor",
    "write_report": "xstilts.report.summary",
    "get_task": "xstilts.tasks",
    "list_tasks": "xstilts.tasks",
    "register_task": "xstilts.tasks",
    "load_encoder": "xstilts.models",
    "load_task_model": "xstilts.training.checkpoint",
    "get_language": "xstilts.languages",
}

__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'xstilts' has no attribute {name!r}")
