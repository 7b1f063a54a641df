"""Reference points of a classification-type test set: majority class, chance and macro-F1.

Why: an accuracy means little without the rate a trivial model reaches on the same test set.
A model trained on SST-2 and tested on 797 Spanish tweets scored 59.8 % while always answering
the most frequent label would have scored 66.4 %; the report must say so next to the score.

Definitions (the report's legend repeats them, see :data:`LEGEND`):

* Classification-type results: classification, pair classification and multiple choice. A task
  the report process cannot look up (a user task registered only in the run's process) counts
  when its metric is accuracy and every gold label and prediction is an integer.
* Majority class: the share of the test set's most frequent gold label; for multiple choice
  the most frequent position of the right answer. It is a property of the test set, read from
  the gold labels of the prediction files (``runs/<id>/predictions[/<view>]/<lang>.jsonl``).
* Chance: 1/k, the expected accuracy of guessing uniformly among the k labels (choices); k is
  the task's label count, or where the report cannot know it (an unregistered task, labels
  read from the data) the number of distinct labels in the gold labels and predictions.
* Imbalanced: majority class more than :data:`IMBALANCE_MARGIN` above chance; such test sets
  get macro-F1 (the unweighted mean of the per-label F1 over the labels in gold or
  predictions, as scikit-learn's ``f1_score(average="macro")``) next to accuracy.
* Below majority: an accuracy (mean over seeds) lower than the majority class.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from xstilts.errors import XstiltsError
from xstilts.prediction_files import RecordCache
from xstilts.report.matrix import is_generalized
from xstilts.training.run_folder import RunFolder

CLASSIFICATION_TYPES = frozenset({"classification", "pair_classification", "multiple_choice"})
ACCURACY = "accuracy"
IMBALANCE_MARGIN = 0.05
BELOW_MAJORITY = "▼"
LEGEND = (
    f"{BELOW_MAJORITY} = accuracy (mean over seeds) below the majority-class rate of that test "
    "set: always answering its most frequent label would score higher. Majority class = share "
    "of the most frequent gold label (multiple choice: of the most frequent right-answer "
    "position); chance = 1/k for k labels (choices), the expected accuracy of uniform guessing. "
    "Macro-F1 (unweighted mean of per-label F1, mean over seeds) is shown where the test set is "
    f"imbalanced: majority class more than {100 * IMBALANCE_MARGIN:.0f} points above chance.")

# (task, split, language) of a test set; (model, intermediate, task, split, language) of a
# configuration's results on it.
SetKey = tuple[str, str, str]
ResultKey = tuple[str, str, str, str, str]


@dataclass(frozen=True)
class GoldRates:
    """Gold-label statistics of one test set (rates are fractions)."""

    n: int
    labels: int
    labels_source: str  # "task": the task's label list; "seen": labels in gold and predictions
    majority_label: Any
    majority: float
    chance: float

    @property
    def imbalanced(self) -> bool:
        return self.majority > self.chance + IMBALANCE_MARGIN

    def record(self) -> dict[str, Any]:
        return {**asdict(self), "imbalanced": self.imbalanced}


@dataclass
class References:
    """Test-set rates and per-seed macro-F1 of the classification-type results of a study."""

    rates: dict[SetKey, GoldRates] = field(default_factory=dict)
    macro_f1: dict[ResultKey, dict[int, float]] = field(default_factory=dict)

    def rates_for(self, task: str, split: str, language: str) -> GoldRates | None:
        return self.rates.get((task, split, language))

    def macro_f1_mean(self, model: str, config: str, task: str, split: str,
                      language: str) -> float | None:
        """Macro-F1 (fraction) averaged over the seeds that have one."""
        by_seed = self.macro_f1.get((model, config, task, split, language))
        return float(np.mean(list(by_seed.values()))) if by_seed else None


def macro_f1(gold: list[Any], predicted: list[Any]) -> float:
    """Unweighted mean over labels (those in gold or predictions) of 2·TP / (2·TP + FP + FN).

    Hand-written with numpy because scikit-learn is only a test dependency of xstilts; the
    tests check it against ``sklearn.metrics.f1_score(average="macro")``. A label with no
    true positive gets F1 = 0, as scikit-learn's default ``zero_division`` does.
    """
    if len(gold) != len(predicted) or not gold:
        raise ValueError("macro_f1 needs equally long, non-empty gold and prediction lists")
    labels = sorted({*gold, *predicted}, key=repr)
    index = {label: i for i, label in enumerate(labels)}
    g = np.array([index[x] for x in gold])
    p = np.array([index[x] for x in predicted])
    k = len(labels)
    tp = np.bincount(g[g == p], minlength=k)
    fp = np.bincount(p, minlength=k) - tp
    fn = np.bincount(g, minlength=k) - tp
    return float(np.mean(2 * tp / (2 * tp + fp + fn)))


def gold_rates(gold: Iterable[Any], labels: int | None, seen: int) -> GoldRates:
    """Majority class and chance of a test set from its gold labels.

    ``labels``: the task's label count (None if unknown); ``seen``: the number of distinct
    labels in gold and predictions, used when ``labels`` is None.
    """
    counts = Counter(gold)
    n = sum(counts.values())
    if n == 0:
        raise ValueError("a test set without gold labels has no majority class")
    top = max(counts.values())
    majority_label = min((x for x, c in counts.items() if c == top), key=repr)  # ties: stable
    k = labels if labels else max(seen, len(counts))
    return GoldRates(n=n, labels=k, labels_source="task" if labels else "seen",
                        majority_label=majority_label, majority=top / n, chance=1 / k)


def _is_label(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _task_info(task: str) -> tuple[str | None, int | None]:
    """(task type, label count) of a registered task; (None, None) if this process lacks it."""
    from xstilts.tasks import get_task

    try:
        found = get_task(task)
    except XstiltsError:
        return None, None
    return str(found.type), len(found.labels) or None


def _classification_records(task_type: str | None, metric: str,
                            records: list[dict[str, Any]]) -> bool:
    if task_type is not None:
        return task_type in CLASSIFICATION_TYPES
    return metric == ACCURACY and bool(records) and all(
        _is_label(r["gold"]) and _is_label(r["prediction"]) for r in records)


def load_references(out_dir: Path, rows: Iterable[dict[str, Any]],
                    read: RecordCache | None = None) -> References:
    """Rates of every classification-type test set in ``rows`` and each run's macro-F1
    (prediction files through ``read``, shared with the per-example statistics).

    A test set's gold labels are the union over the runs that evaluated it (id → gold); a row
    without a prediction file or with an unlabeled example gets no reference point.
    """
    read = read or RecordCache()
    refs = References()
    gold_by_set: dict[SetKey, dict[str, Any]] = defaultdict(dict)
    seen_by_set: dict[SetKey, set[Any]] = defaultdict(set)
    label_counts: dict[SetKey, int | None] = {}
    done: set[tuple[str, str, str]] = set()
    info: dict[str, tuple[str | None, int | None]] = {}
    for row in rows:
        if is_generalized(row):
            continue
        task, split, lang = row["target_task"], row["split"], row["language"]
        if (row["run_id"], split, lang) in done:  # one file per run and language, many metrics
            continue
        done.add((row["run_id"], split, lang))
        path = RunFolder.of(out_dir, row["run_id"]).prediction_file(lang, split)
        if not path.is_file():
            continue
        task_type, labels = info.setdefault(task, _task_info(task))
        records = read(path)
        if not _classification_records(task_type, row["metric"], records):
            continue
        if any(r["gold"] is None for r in records):
            continue
        gold = [r["gold"] for r in records]
        predicted = [r["prediction"] for r in records]
        key = (task, split, lang)
        gold_by_set[key].update((str(r["id"]), r["gold"]) for r in records)
        seen_by_set[key] |= {*gold, *predicted}
        label_counts[key] = labels
        refs.macro_f1.setdefault((row["model"], row["intermediate"], task, split, lang),
                                 {})[int(row["seed"])] = macro_f1(gold, predicted)
    for key, gold in gold_by_set.items():
        refs.rates[key] = gold_rates(gold.values(), label_counts[key], len(seen_by_set[key]))
    return refs


def mean_majority(refs: References, task: str, split: str, languages: list[str]
                  ) -> float | None:
    """Macro average of the majority-class rates of ``languages`` (None if one is missing),
    the reference of a macro-averaged accuracy over the same languages."""
    rates = [refs.rates_for(task, split, lang) for lang in languages]
    if not rates or any(r is None for r in rates):
        return None
    return float(np.mean([r.majority for r in rates]))


def below_majority(accuracy: float | None, rates: GoldRates | None) -> bool | None:
    """Whether an accuracy (fraction) is below the majority class; None when not comparable."""
    if accuracy is None or rates is None:
        return None
    return accuracy < rates.majority - 1e-12
