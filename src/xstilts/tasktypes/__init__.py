"""Task-type handlers: featurisation, heads, decoding and scoring per task type."""

from xstilts.tasktypes.base import FeatureOptions, Features, TaskTypeHandler
from xstilts.tasktypes.registry import (
    encoder_handler_for,
    handler_for,
    register_handler,
    trainable_types,
)

__all__ = ["FeatureOptions", "Features", "TaskTypeHandler", "encoder_handler_for", "handler_for",
           "register_handler", "trainable_types"]
