"""Imports every module that registers built-in tasks (the registry's single entry point)."""

from xstilts.tasks import code, offline, xtreme  # noqa: F401
