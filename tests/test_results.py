"""The one results type: a Score, placed (task, language, split) for the results store."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

from xstilts.results import Score
from xstilts.studies.store import ResultStore, metric_rows_to_json

# The store's metric columns after run_id, in order (studies/store.py _SCHEMA): run.json and
# metrics.json have always written a row's keys in this order.
STORED_KEYS = ["task", "language", "split", "metric", "value", "ci_low", "ci_high", "n"]


def test_a_placed_score_is_stored_with_the_store_columns_in_order():
    score = Score("accuracy", 0.75, 0.5, 1.0, 4)
    assert (score.task, score.language, score.split) == ("", "", "")
    placed = score.at("xnli", "de", "test")
    assert placed.to_dict() == {"task": "xnli", "language": "de", "split": "test",
                                "metric": "accuracy", "value": 0.75, "ci_low": 0.5,
                                "ci_high": 1.0, "n": 4}
    assert list(placed.to_dict()) == STORED_KEYS
    assert json.dumps(metric_rows_to_json([placed])) == (
        '[{"task": "xnli", "language": "de", "split": "test", "metric": "accuracy", '
        '"value": 0.75, "ci_low": 0.5, "ci_high": 1.0, "n": 4}]')
    assert Score.from_dict(placed.to_dict()) == placed


def test_numpy_numbers_are_accepted_and_misplaced_values_refused():
    assert Score("f1", np.float64(0.5), None, None, np.int64(3)).n == 3
    # The old row type's positional order (task, language, split, metric, ...) must fail
    # loudly rather than store "de" as a value.
    with pytest.raises(TypeError, match="value must be a number, got 'de'"):
        Score("xnli", "de", "test", "accuracy", 0.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="n must be an integer"):
        Score("accuracy", 0.5, None, None, 2.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="metric name"):
        Score("", 0.5)


def test_the_store_records_placed_scores(tmp_path):
    store = ResultStore(tmp_path)
    run = SimpleNamespace(id="r1", kind="target", encoder="e", intermediate="none",
                          task="xnli", seed=0, parent=None, settings={})
    store.register("s", [run])
    store.mark_done("r1", [Score("accuracy", 0.25, 0.0, 0.5, 8).at("xnli", "fr", "test")], {})
    (row,) = store.metrics(["r1"])
    assert row == {"run_id": "r1", "task": "xnli", "language": "fr", "split": "test",
                   "metric": "accuracy", "value": 0.25, "ci_low": 0.0, "ci_high": 0.5, "n": 8}
    store.close()
