"""Imports every module that registers a task-type handler."""

from xstilts.tasktypes import (
    classification,  # noqa: F401
    extractive_qa,  # noqa: F401
    multiple_choice,  # noqa: F401
    regression,  # noqa: F401
    retrieval,  # noqa: F401
    siamese,  # noqa: F401
    tagging,  # noqa: F401
)
