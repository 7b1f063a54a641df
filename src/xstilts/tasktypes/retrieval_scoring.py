"""The scoring half of the retrieval handler: its metrics per retrieval kind and what the
report may pair example by example.

Why apart from :mod:`xstilts.tasktypes.retrieval`: retrieval is scored on the encoder itself
and has no :class:`~xstilts.tasktypes.base.TaskTypeHandler`, but the report asks every task
type the same three questions (primary metric, official metric, per-example statistics).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from xstilts.errors import XstiltsError
from xstilts.evaluation.pooled_retrieval import MAP_K
from xstilts.tasks.base import RetrievalKind, Task
from xstilts.tasktypes.per_example import ACCURACY, ExampleStatistics, correctness

# What each kind's evaluation stores (evaluation.retrieval, .bucc, .pooled_retrieval), which
# is also what XTREME / XTREME-R's evaluate.py names for it: Tatoeba accuracy, BUCC F1,
# Mewsli-X / LAReQA mAP@20.
_METRICS = {RetrievalKind.BITEXT: ACCURACY, RetrievalKind.MINING: "f1",
            RetrievalKind.POOLED: f"map@{MAP_K}"}


class RetrievalScoring:
    """Mixed into the retrieval handler (same interface as the trained types' handlers)."""

    def category(self, task: Task) -> str:
        return "retrieval"

    def primary_metric(self, task: Task) -> str:
        if task.retrieval_kind is None:
            raise XstiltsError(f"task {task.name!r} declares no retrieval_kind")
        return _METRICS[task.retrieval_kind]

    def official_metric(self, task: Task) -> str:
        return self.primary_metric(task)

    def example_statistics(self, task: Task, metric: str, language: str,
                           records: Sequence[dict[str, Any]]) -> ExampleStatistics | None:
        """Bitext accuracy: 1/0 per query (nearest neighbour == gold index). Mined-pair F1
        is a property of the mined set, not of examples; pooled mAP@20 gets none (yet)."""
        if task.retrieval_kind == RetrievalKind.BITEXT and metric == ACCURACY:
            return correctness(metric, records)
        return None
