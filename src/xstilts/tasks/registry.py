"""One registry of tasks: built-in modules and user YAML files register here, nowhere else."""

from __future__ import annotations

import difflib
from pathlib import Path

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


def resolve_task(name: str, data_dir: Path | str | None) -> Task:
    """The task, with its labels read from ``data_dir`` when the data defines them (``ccg``).

    Use this wherever labels matter (heads, scoring, listings) and a data folder is at hand;
    ``get_task`` alone leaves such a task's ``labels`` empty.
    """
    return get_task(name).with_data_labels(Path(data_dir) if data_dir is not None else None)


def list_tasks(data_dir: Path | str | None = None) -> list[Task]:
    """Every task, by name. With ``data_dir``, tasks whose labels come from the data (``ccg``)
    carry them where the inventory is found there, and stay label-less where it is not (a
    listing reports what is there; it does not fail on what is missing)."""
    _ensure_builtins()
    tasks = [_TASKS[k] for k in sorted(_TASKS)]
    if data_dir is None:
        return tasks
    return [_with_labels_if_found(t, Path(data_dir)) for t in tasks]


def _with_labels_if_found(task: Task, data_dir: Path) -> Task:
    try:
        return task.with_data_labels(data_dir)
    except XstiltsError:
        return task


def _ensure_builtins() -> None:
    # Imported lazily so that importing xstilts.tasks stays cheap and cycle-free.
    import xstilts.tasks.builtin  # noqa: F401
