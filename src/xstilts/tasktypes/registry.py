"""Task type → handler; one lookup used by training, evaluation and study validation."""

from __future__ import annotations

from typing import Any

from xstilts.errors import XstiltsError
from xstilts.tasks.base import Task
from xstilts.tasktypes.base import TaskTypeHandler

# Keyed by (task type, pair encoding): pair tasks and regression have a cross-encoder
# handler ("cross", the pair in one input) and may have a siamese one ("siamese", SBERT).
_HANDLERS: dict[tuple[str, str], TaskTypeHandler] = {}
PAIR_ENCODINGS = ("cross", "siamese")


def register_handler(handler: TaskTypeHandler, pair_encoding: str = "cross") -> TaskTypeHandler:
    if pair_encoding not in PAIR_ENCODINGS:
        raise ValueError(f"pair_encoding must be one of {PAIR_ENCODINGS}")
    for task_type in handler.types:
        _HANDLERS[(task_type, pair_encoding)] = handler
    return handler


def handler_for(task: Task, pair_encoding: str = "cross") -> TaskTypeHandler:
    """The handler of ``task``'s type; ``pair_encoding='siamese'`` asks for the bi-encoder,
    ``'auto'`` for the task's protocol (:meth:`Task.concrete_pair_encoding`)."""
    _ensure_builtins()
    pair_encoding = task.concrete_pair_encoding(pair_encoding)
    key = (task.type, pair_encoding)
    if key in _HANDLERS:
        return _HANDLERS[key]
    if (task.type, "cross") in _HANDLERS:
        raise XstiltsError(
            f"task {task.name!r} ({task.type}) has no {pair_encoding} architecture; "
            "pair_encoding: siamese applies to pair classification and regression tasks"
        )
    raise XstiltsError(
        f"task {task.name!r} is of type {task.type}, which cannot be trained yet "
        f"(trainable: {', '.join(sorted(str(t) for t in trainable_types()))})"
    )


# Task types scored on the encoder itself, with no head and no training (retrieval: the
# pooled encoder is searched). Kept apart from the trainable handlers above, so that
# ``handler_for`` and ``trainable_types`` still say such a task cannot be trained.
_ENCODER_HANDLERS: dict[str, Any] = {}


def register_encoder_handler(handler: Any) -> Any:
    """Register the handler of task types evaluated without training (``handler.types``)."""
    for task_type in handler.types:
        _ENCODER_HANDLERS[task_type] = handler
    return handler


def encoder_handler_for(task: Task) -> Any | None:
    """The handler that evaluates ``task`` on the encoder itself, or None when ``task`` is
    trained (its handler is :func:`handler_for`'s)."""
    _ensure_builtins()
    return _ENCODER_HANDLERS.get(task.type)


def trainable_types() -> tuple[str, ...]:
    _ensure_builtins()
    return tuple(dict.fromkeys(t for t, _ in _HANDLERS))


def _ensure_builtins() -> None:
    import xstilts.tasktypes.builtin  # noqa: F401
