"""Pretrained encoders: bundled offline ones, local folders, the hub, and a tiny test model."""

from xstilts.models.bundled import bundled_model_dir
from xstilts.models.encoders import DEFAULT_ENCODER, describe_models, load_encoder

__all__ = ["DEFAULT_ENCODER", "bundled_model_dir", "describe_models", "load_encoder"]
