"""A score, and where it was measured: the one results type of every layer.

Why one type at the bottom of the package: a metric function returns a :class:`Score` (metric,
value, bootstrap interval, number of examples) and an evaluation places it (task, language,
split) before the results store records it. When these were two types, the evaluation code
took the stored row type from the store, so lower layers imported the studies package above
them. Here nothing above is imported and every layer may use it.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field, replace
from typing import Any


@dataclass(frozen=True)
class Score:
    """A metric value with its interval and the number of examples behind it.

    ``task``, ``language`` and ``split`` say where it was measured; they are empty until an
    evaluation places it (:meth:`at`). Keyword-only, so ``Score(metric, value, low, high, n)``
    reads the same everywhere. ``ci_low``/``ci_high`` are None where no interval was computed.
    """

    metric: str
    value: float
    ci_low: float | None = None
    ci_high: float | None = None
    n: int = 0
    task: str = field(default="", kw_only=True)
    language: str = field(default="", kw_only=True)
    split: str = field(default="", kw_only=True)

    def __post_init__(self) -> None:
        # A clear error for misplaced positional values (the old row type put task, language
        # and split first), never a silently wrong stored row.
        if not isinstance(self.metric, str) or not self.metric:
            raise TypeError(f"Score.metric must be a metric name, got {self.metric!r}")
        if not isinstance(self.value, numbers.Real) or isinstance(self.value, bool):
            raise TypeError(f"Score {self.metric!r}: value must be a number, got {self.value!r}")
        if not isinstance(self.n, numbers.Integral):
            raise TypeError(f"Score {self.metric!r}: n must be an integer, got {self.n!r}")

    def at(self, task: str, language: str, split: str) -> Score:
        """This score, placed: measured on ``task``/``language``/``split``."""
        return replace(self, task=task, language=language, split=split)

    def to_dict(self) -> dict[str, Any]:
        """The stored form (run.json, metrics.json): the results store's metric columns, in
        their order."""
        return {"task": self.task, "language": self.language, "split": self.split,
                "metric": self.metric, "value": self.value, "ci_low": self.ci_low,
                "ci_high": self.ci_high, "n": self.n}

    @classmethod
    def from_dict(cls, row: dict[str, Any]) -> Score:
        """The inverse of :meth:`to_dict` (a run.json ``metrics`` entry)."""
        return cls(row["metric"], row["value"], row["ci_low"], row["ci_high"], row["n"],
                   task=row["task"], language=row["language"], split=row["split"])
