"""xstilts: zero-shot cross-lingual transfer studies with intermediate-task training."""

__version__ = "0.1.0"
