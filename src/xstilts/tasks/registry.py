"""One registry of tasks: built-in modules and user YAML files register here, nowhere else."""

from __future__ import annotations

import difflib

from xstilts.errors import XstiltsError
from xstilts.tasks.base import Task

_TASKS: dict[str, Task] = {}


def register_task(task: Task) -> Task:
    """Add a task; a second task with the same name is a bug, so it raises."""
    if task.name in _TASKS:
        raise XstiltsError(f"a task named {task.name!r} is already registered")
    _TASKS[task.name] = task
    return task


def get_task(name: str) -> Task:
    """Look a task up by name; an unknown name answers with suggestions."""
    _ensure_builtins()
    if name in _TASKS:
        return _TASKS[name]
    close = difflib.get_close_matches(name, list(_TASKS), n=3)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise XstiltsError(
        f"unknown task {name!r}.{hint} Available: {', '.join(sorted(_TASKS))}"
    )


def list_tasks() -> list[Task]:
    _ensure_builtins()
    return [_TASKS[k] for k in sorted(_TASKS)]


def _ensure_builtins() -> None:
    # Imported lazily so that importing xstilts.tasks stays cheap and cycle-free.
    import xstilts.tasks.builtin  # noqa: F401
