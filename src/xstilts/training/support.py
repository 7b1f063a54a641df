"""Which task types the engine can train today (kept torch-free so planning stays light)."""

from xstilts.tasks.base import TaskType

SUPPORTED_TYPES: tuple[TaskType, ...] = (TaskType.CLASSIFICATION, TaskType.PAIR_CLASSIFICATION)
