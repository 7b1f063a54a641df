"""How texts become token rows: the one definition of the featurisation defaults.

Why here, at the bottom of the package: the training options (whose study-file defaults these
are) and the task-type handlers (which read them) both build on this value, and neither may
import the other's layer; this module is also free of torch, so validating a study stays light.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FeatureOptions:
    """Options that shape featurisation (a subset of the training options)."""

    max_seq_length: int = 128
    doc_stride: int = 128
    max_query_length: int = 64
