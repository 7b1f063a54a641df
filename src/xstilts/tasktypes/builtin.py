"""Imports every module that registers a task-type handler."""

from xstilts.tasktypes import classification  # noqa: F401
