"""Held-out quality of a gain ranker: how well it orders intermediate configurations for a
language (or a target task) it was not fitted on.

Protocol: leave one language out (or one target task out), fit on the other rows, predict the
held-out rows; each (model, target task, language) of the held-out rows is one *query* whose
configurations are ranked by predicted gain. Per query:

* Spearman ρ between predicted and true gains (scipy); a ranker that predicts the same gain
  for every configuration gives no order and scores 0; a query whose true gains are all equal
  has no order to recover and counts for Regret@1 only;
* NDCG@3 (scikit-learn's ``ndcg_score``, ties in the prediction averaged) with the true gains
  shifted within the query so that the worst configuration has relevance 0 (NDCG needs
  non-negative relevance; a shift keeps the order and the differences between gains);
* Regret@1: the true gain of the best configuration minus that of the predicted best
  (points; 0 is perfect; of tied predicted bests, the first in the table's order).

The figures are means over queries; ``queries`` says how many there were.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np
from scipy.stats import spearmanr
from sklearn.metrics import ndcg_score

from xstilts.transfer_prediction.table import GainRow

K = 3
PROTOCOLS = {"leave_one_language_out": lambda r: r.language,
             "leave_one_target_task_out": lambda r: r.target}


class Ranker(Protocol):
    def fit(self, rows: Sequence[GainRow]) -> Ranker: ...

    def predict(self, rows: Sequence[GainRow]) -> np.ndarray: ...


def rank_quality(true: Sequence[float], predicted: Sequence[float], k: int = K
                 ) -> dict[str, float | None]:
    """Spearman, NDCG@k and Regret@1 of one query (see the module doc)."""
    y, p = np.asarray(true, dtype=float), np.asarray(predicted, dtype=float)
    if y.size < 2 or y.size != p.size:
        raise ValueError(f"a query needs 2 or more configurations with one prediction each, "
                         f"got {y.size} gains and {p.size} predictions")
    out: dict[str, float | None] = {"spearman": None, f"ndcg@{k}": None,
                                    "regret@1": float(y.max() - y[int(np.argmax(p))])}
    if np.ptp(y) == 0:
        return out
    out["spearman"] = 0.0 if np.ptp(p) == 0 else float(spearmanr(y, p).statistic)
    out[f"ndcg@{k}"] = float(ndcg_score([y - y.min()], [p], k=k))
    return out


def _queries(rows: Sequence[GainRow]) -> dict[tuple[str, str, str], list[int]]:
    groups: dict[tuple[str, str, str], list[int]] = defaultdict(list)
    for i, r in enumerate(rows):
        groups[(r.intermediate.model, r.target, r.language)].append(i)
    return {q: idx for q, idx in groups.items() if len(idx) >= 2}


def _mean(values: list[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return float(np.mean(kept)) if kept else None


def held_out(rows: Sequence[GainRow], make: Callable[[], Ranker], protocol: str
             ) -> dict[str, Any] | None:
    """Mean query quality of rankers made by ``make`` under ``protocol`` (a key of
    :data:`PROTOCOLS`); None when there are fewer than two groups to hold out. A ranker with
    ``predict_interval`` also gets the share of held-out gains inside its interval."""
    key = PROTOCOLS[protocol]
    groups = sorted({key(r) for r in rows})
    if len(groups) < 2:
        return None
    scores: list[dict[str, float | None]] = []
    inside, total = 0, 0
    for group in groups:
        train = [r for r in rows if key(r) != group]
        test = [r for r in rows if key(r) == group]
        queries = _queries(test)
        if len({r.intermediate for r in train}) < 2 or not queries:
            continue
        ranker = make().fit(train)
        predicted = ranker.predict(test)
        true = np.array([r.gain for r in test])
        for idx in queries.values():
            scores.append(rank_quality(true[idx], predicted[idx]))
        interval = getattr(ranker, "predict_interval", None)
        if interval is not None:
            low, high = interval(test)
            inside += int(((true >= low) & (true <= high)).sum())
            total += len(test)
    if not scores:
        return None
    out: dict[str, Any] = {name: _mean([s[name] for s in scores]) for name in scores[0]}
    out["queries"] = len(scores)
    if total:
        out["interval_coverage"] = inside / total
    return out
