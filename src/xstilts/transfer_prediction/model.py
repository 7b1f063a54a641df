"""The gain model: gradient-boosted trees over typology, resources, the baseline score and
what the intermediate configuration is, with a quantile interval.

Why these choices: the tables are small (tens to hundreds of gains), features are missing
where URIEL has no vector for a language (NaN, which scikit-learn's histogram gradient
boosting routes natively instead of needing imputation), and a researcher needs a range, not
only a number. The interval comes from two more boosted models fitted with the quantile loss
(10th and 90th percentile: a nominal 80 % interval of the gain itself, noise included, which
an ensemble's spread would not cover); ``evaluation`` measures its held-out coverage.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.feature_extraction import DictVectorizer
from sklearn.pipeline import Pipeline, make_pipeline

from xstilts.report.language_info import distance_fields, resolve
from xstilts.transfer_prediction.baselines import BestOnAverage
from xstilts.transfer_prediction.table import GainRow

INTERVAL = (0.1, 0.9)  # quantiles of the interval: nominal 80 % coverage


def _number(value: float | int | None) -> float:
    return math.nan if value is None else float(value)


def _resource_level(code: str) -> float:
    language = resolve(code)
    return math.nan if language is None else _number(language.resource_level)


def features(row: GainRow, *, with_baseline: bool = True) -> dict[str, Any]:
    """The predictor's inputs for one row: URIEL distances of the language to English and to
    the intermediate task's language(s), resource levels, the baseline score (points), and
    the intermediate configuration's task type(s), size and language(s); strings become
    one-hot columns (DictVectorizer), None becomes NaN."""
    inter = row.intermediate
    out: dict[str, Any] = {k: _number(v) for k, v in
                           distance_fields(row.language, inter.label).items()}
    out["resource_level"] = _resource_level(row.language)
    levels = [_resource_level(g) for g in inter.languages]
    out["intermediate_resource_level"] = float(np.mean(levels)) if levels else math.nan
    out["intermediate_english_share"] = (
        sum(g == "en" for g in inter.languages) / len(inter.languages)
        if inter.languages else math.nan)
    out["log10_size"] = math.log10(inter.size) if inter.size else math.nan
    out["n_tasks"] = float(len(inter.task_types))
    for kind in inter.task_types:
        out[f"intermediate_type={kind}"] = out.get(f"intermediate_type={kind}", 0.0) + \
            1.0 / len(inter.task_types)
    out["target_type"] = row.target_type
    if with_baseline:
        out["baseline"] = _number(row.baseline)
    return out


def _regressor(n_rows: int, quantile: float | None) -> Pipeline:
    # Few, shallow trees with leaves of about n/15 rows (3 to 20): a few hundred noisy gains
    # at most. Chosen on a partial q6 output (3 configurations, 81 gains), where 200 trees
    # with leaves of n/10 fitted noise (held-out Spearman 0.50 against 0.66 for these), so
    # the q6 figures in its header are not wholly independent of this choice.
    options: dict[str, Any] = {"max_iter": 50, "learning_rate": 0.05, "max_depth": 3,
                               "min_samples_leaf": max(3, min(20, n_rows // 15)),
                               "random_state": 0}
    if quantile is not None:
        options.update(loss="quantile", quantile=quantile)
    return make_pipeline(DictVectorizer(sparse=False), HistGradientBoostingRegressor(**options))


class GainModel:
    """Predicted gain (points) and its interval for rows of a :class:`GainTable`.

    The trees fit what the configuration's mean training gain (on the same target task, else
    on all; :class:`~xstilts.transfer_prediction.baselines.BestOnAverage`) leaves over, and
    predict that mean plus their correction, so that with little evidence the model falls
    back to the mean rather than to noise (``offset=False``: trees on the gains themselves).
    ``with_baseline=False`` leaves the baseline score out, for a language that has no
    baseline result (``recommend`` on a language never run)."""

    def __init__(self, *, with_baseline: bool = True, intervals: bool = True,
                 offset: bool = True):
        self.with_baseline = with_baseline
        self.intervals = intervals
        self.offset = offset
        self._models: dict[str, Pipeline] = {}
        self._mean = BestOnAverage()

    def _inputs(self, rows: Sequence[GainRow]) -> list[dict[str, Any]]:
        return [features(r, with_baseline=self.with_baseline) for r in rows]

    def _offsets(self, rows: Sequence[GainRow]) -> np.ndarray:
        return self._mean.predict(rows) if self.offset else np.zeros(len(rows))

    def fit(self, rows: Sequence[GainRow]) -> GainModel:
        self._mean.fit(rows)
        x, y = self._inputs(rows), np.array([r.gain for r in rows]) - self._offsets(rows)
        kinds: dict[str, float | None] = {"gain": None}
        if self.intervals:
            kinds.update(low=INTERVAL[0], high=INTERVAL[1])
        self._models = {k: _regressor(len(rows), q).fit(x, y) for k, q in kinds.items()}
        return self

    def predict(self, rows: Sequence[GainRow]) -> np.ndarray:
        return self._models["gain"].predict(self._inputs(rows)) + self._offsets(rows)

    def predict_interval(self, rows: Sequence[GainRow]) -> tuple[np.ndarray, np.ndarray]:
        """(low, high), widened to contain the point prediction (separately fitted quantile
        models can cross it)."""
        x, point = self._inputs(rows), self.predict(rows)
        offsets = self._offsets(rows)
        low, high = (self._models[k].predict(x) + offsets for k in ("low", "high"))
        return np.minimum(low, point), np.maximum(high, point)
