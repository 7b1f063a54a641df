"""The report's one door to scoring truth: a result row's task and its task-type handler.

Why: which metric is primary and how a stored metric decomposes over examples are facts of
the task type (:class:`~xstilts.tasktypes.base.TaskTypeHandler`), not of the order metrics were
stored in or of the JSON shape of a prediction file. User tasks are known here because
:func:`xstilts.report.results.collect_results` registers the definitions saved in OUT first.
"""

from __future__ import annotations

from collections.abc import Sequence

from xstilts.errors import XstiltsError
from xstilts.tasks import get_task
from xstilts.tasks.base import Task
from xstilts.tasktypes import encoder_handler_for, handler_for
from xstilts.tasktypes.per_example import TaskScoring


def scorer(task_name: str) -> tuple[Task, TaskScoring] | None:
    """The registered task and its handler (a trained type's, or retrieval's, scored on the
    encoder itself); None for a task this process does not know (a user task of an OUT saved
    before runs carried their task files) or a type without a handler."""
    try:
        task = get_task(task_name)
    except XstiltsError:
        return None
    encoder_handler = encoder_handler_for(task)
    if isinstance(encoder_handler, TaskScoring):
        return task, encoder_handler
    try:
        return task, handler_for(task)
    except XstiltsError:
        return None


def block_metric(task_name: str, stored: Sequence[str]) -> tuple[str, str | None]:
    """The metric the report shows for a task (given the metrics stored for it, in order),
    and a note saying which metric it fell back to when that is not the handler's primary."""
    found = scorer(task_name)
    if found is not None:
        task, handler = found
        primary = handler.primary_metric(task)
        if primary in stored:
            return primary, None
        why = f"its primary metric {primary} is not stored (runs of an older version)"
    else:
        why = "its task type is not known to this process"
    return stored[0], (f"{task_name}: {why}; the report shows {stored[0]}, "
                       "the first metric its runs stored")
