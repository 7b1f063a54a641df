"""Per-example statistics of a stored metric: what paired comparisons of two runs work on.

Why here: only a task type's handler knows how its metric decomposes over examples (accuracy:
a mean of 0/1; QA F1: a mean of per-question F1 under the task's normalisation rules; entity
or span F1: a ratio of summed per-sentence counts; a correlation: a function of all the
(gold, prediction) pairs at once). The report asks the handler
(:meth:`~xstilts.tasktypes.base.TaskTypeHandler.example_statistics`) and never guesses from the
JSON shape of a prediction file.

Three forms, one small abstraction:

* mean metric: one score per example; the metric is their plain mean (``form`` None);
* ratio metric: one count vector per example; the metric is ``form.value`` of their sums
  (a :class:`RatioForm`);
* correlation: one (gold, prediction) row per example; the metric is the correlation over
  the rows (a :class:`CorrelationForm`).

Both corpus-level forms answer ``of_rows`` (rows → metric), which is all the seed-level
statistics need; the interval and the test differ per form (``xstilts.report``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from xstilts.errors import UnlabeledSplitError
from xstilts.evaluation.correlation_scores import correlation_of_rows
from xstilts.evaluation.metrics import prf_from_counts

if TYPE_CHECKING:
    from xstilts.tasks.base import Task

ACCURACY = "accuracy"  # the name score_accuracy gives its Score


@dataclass(frozen=True)
class RatioForm:
    """A metric computed from summed per-example counts (the last axis of the counts)."""

    name: str
    statistics: tuple[str, ...]  # what each count is, for the report's methods notes
    value: Callable[[np.ndarray], np.ndarray]  # (..., k) summed counts -> (...) metric

    def of_rows(self, rows: np.ndarray) -> np.ndarray:
        """The metric of per-example count vectors (..., n, k): ``value`` of their sums."""
        return self.value(rows.sum(axis=-2))


@dataclass(frozen=True)
class CorrelationForm:
    """A correlation of gold and predicted scores over all examples: each example's row is
    (gold, prediction), and the metric cannot be had from sums of rows (ranks are global)."""

    name: str  # "spearman" or "pearson", as the regression handler's Score names them
    statistics: tuple[str, ...] = ("gold score", "predicted score")

    def of_rows(self, rows: np.ndarray) -> np.ndarray:
        """The correlation of (..., n, 2) rows along the examples axis (NaN if constant)."""
        return correlation_of_rows(self.name, rows[..., 0], rows[..., 1])


def f1_from_counts(sums: np.ndarray) -> np.ndarray:
    """F1 = 2·TP / (predicted + gold) from summed (TP, predicted, gold) counts, 0 if empty."""
    return prf_from_counts(sums[..., 0], sums[..., 1], sums[..., 2])[2]


ENTITY_F1 = RatioForm("entity_f1", ("correct entities", "predicted entities", "gold entities"),
                      f1_from_counts)
SPAN_F1 = RatioForm("span_f1", ("correct seqeval spans", "predicted spans", "gold spans"),
                    f1_from_counts)
SPEARMAN = CorrelationForm("spearman")
PEARSON = CorrelationForm("pearson")
CorpusForm = RatioForm | CorrelationForm


@dataclass(frozen=True)
class ExampleStatistics:
    """Per-example scores (``values`` shape (n,)) or rows ((n, k), with a corpus-level
    ``form``) of one prediction file, in file order, whose aggregate is ``metric``."""

    metric: str
    ids: tuple[str, ...]
    values: np.ndarray
    form: CorpusForm | None = None

    def __post_init__(self) -> None:
        expected = 2 if self.form is not None else 1
        if self.values.ndim != expected or self.values.shape[0] != len(self.ids):
            raise ValueError(f"{self.metric}: need one {'row' if self.form else 'score'}"
                             f" per example id ({len(self.ids)}), got shape {self.values.shape}")

    @property
    def value(self) -> float:
        """The metric of the whole file: the mean, or the form's metric of the rows."""
        if self.form is None:
            return float(self.values.mean())
        return float(self.form.of_rows(self.values))

    def by_id(self) -> dict[str, Any]:
        """Example id -> its score (a float) or its row."""
        if self.form is None:
            return {i: float(v) for i, v in zip(self.ids, self.values, strict=True)}
        return dict(zip(self.ids, self.values, strict=True))


def record_ids(records: Sequence[dict[str, Any]]) -> tuple[str, ...]:
    return tuple(str(r["id"]) for r in records)


def mean_statistics(metric: str, records: Sequence[dict[str, Any]],
                    scores: Sequence[float]) -> ExampleStatistics | None:
    """A mean metric's statistics; None when there is no example to average."""
    if not records:
        return None
    return ExampleStatistics(metric, record_ids(records), np.asarray(scores, dtype=np.float64))


def correctness(metric: str, records: Sequence[dict[str, Any]]) -> ExampleStatistics | None:
    """1/0 per example (gold == prediction): accuracy of classification-type predictions.
    None when a record is unlabeled (``gold`` null): accuracy is not defined there."""
    if any(r.get("gold") is None for r in records):
        return None
    return mean_statistics(metric, records, [float(r["gold"] == r.get("prediction"))
                                             for r in records])


def ratio_statistics(form: RatioForm, records: Sequence[dict[str, Any]],
                     counts: Callable[[list[Any], list[Any]], np.ndarray]
                     ) -> ExampleStatistics | None:
    """Per-example count vectors from ``counts(gold, predictions)`` (rows in file order); None
    when the records cannot be counted so (no gold, unequal lengths, tags of another scheme)."""
    if not records:
        return None
    try:
        values = counts([r.get("gold") for r in records], [r.get("prediction") for r in records])
    except (UnlabeledSplitError, ValueError, TypeError, AttributeError, LookupError):
        return None
    return ExampleStatistics(form.name, record_ids(records), np.asarray(values, np.float64), form)


def correlation_statistics(form: CorrelationForm, records: Sequence[dict[str, Any]]
                           ) -> ExampleStatistics | None:
    """(gold, prediction) rows of a graded-similarity file; None when a row is unlabeled or
    not a finite number (the correlation is then not what was scored)."""
    if len(records) < 2:
        return None
    try:
        rows = np.array([[float(r["gold"]), float(r["prediction"])] for r in records])
    except (KeyError, TypeError, ValueError):
        return None
    if not np.isfinite(rows).all():
        return None
    return ExampleStatistics(form.name, record_ids(records), rows, form)


@runtime_checkable
class TaskScoring(Protocol):
    """What every task type's handler answers about scoring (the trained types'
    :class:`~xstilts.tasktypes.base.TaskTypeHandler` and retrieval's handler alike)."""

    def category(self, task: Task) -> str: ...

    def primary_metric(self, task: Task) -> str: ...

    def official_metric(self, task: Task) -> str: ...

    def example_statistics(self, task: Task, metric: str, language: str,
                           records: Sequence[dict[str, Any]]) -> ExampleStatistics | None: ...


class AccuracyScored:
    """Scoring shared by the handlers whose one metric is accuracy over examples
    (classification, pair classification, multiple choice): mixed in before the handler."""

    CATEGORY = "classification"

    def primary_metric(self, task: Any) -> str:
        return ACCURACY

    def example_statistics(self, task: Any, metric: str, language: str,
                           records: Sequence[dict[str, Any]]) -> ExampleStatistics | None:
        return correctness(metric, records) if metric == ACCURACY else None
