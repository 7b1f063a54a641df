"""Task definitions, readers and the task registry."""

from xstilts.tasks.base import Example, Task, TaskType
from xstilts.tasks.registry import get_task, list_tasks, register_task, resolve_task

__all__ = ["Example", "Task", "TaskType", "get_task", "list_tasks", "register_task",
           "resolve_task"]
