"""The options every task-model evaluation shares, as one value.

Why one object: the per-language, generalized and aligned evaluations all run the same loop
(read, featurise, predict, score), so they take the same options; passing one frozen value
through keeps them from drifting apart when an option is added.
"""

from __future__ import annotations

from dataclasses import dataclass

from xstilts.tasktypes import FeatureOptions, TaskTypeHandler


@dataclass(frozen=True)
class EvaluationSettings:
    """How a task model is evaluated.

    ``handler`` defaults to the task type's own (a siamese model must pass its handler);
    ``max_examples`` keeps the first N examples per language; ``skip_bad_rows`` drops
    malformed rows of the evaluation files (the readers log them) instead of failing.
    """

    feature_options: FeatureOptions
    handler: TaskTypeHandler | None = None
    batch_size: int = 64
    max_examples: int | None = None
    bootstrap_resamples: int = 1000
    confidence: float = 0.95
    seed: int = 0
    autocast_bf16: bool = False
    skip_bad_rows: bool = False
