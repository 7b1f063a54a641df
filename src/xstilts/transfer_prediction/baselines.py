"""The two rankers a learned predictor has to beat, fitted and evaluated like it.

* ``best_on_average``: each configuration's mean gain over the training rows of the same
  target task (over all training rows when that task is held out) - what a researcher does
  without a model: pick the intermediate task that helped most so far.
* ``nearest_language``: the gains the configurations had on the typologically nearest
  language seen in training (smallest URIEL syntactic distance, the typological one: the
  genetic and geographic ones are not typology, and the phonological and inventory vectors
  are sparse enough to call Chinese nearer to German than to Japanese; the mean of the other
  types where a language has no syntactic vector), on the same target task when it was seen,
  else the mean over the targets that language has; falling back to ``best_on_average`` for
  a configuration not run on that language.
"""

from __future__ import annotations

import functools
import math
from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from xstilts.language_distances import distances
from xstilts.report.language_info import resolve
from xstilts.transfer_prediction.table import GainRow, Intermediate


@functools.cache
def language_distance(a: str, b: str) -> float:
    """URIEL syntactic distance between two codes (see the module doc for why), else the mean
    of the other known types; inf when none is known."""
    if a == b:
        return 0.0
    la, lb = resolve(a), resolve(b)
    if la is None or lb is None:
        return math.inf
    found = distances(la.code, lb.code)
    if found["syntactic"] is not None:
        return found["syntactic"]
    known = [v for v in found.values() if v is not None]
    return float(np.mean(known)) if known else math.inf


def _means(pairs: dict[tuple, list[float]]) -> dict[tuple, float]:
    return {k: float(np.mean(v)) for k, v in pairs.items()}


class BestOnAverage:
    """Rank by mean training gain (see the module doc)."""

    def fit(self, rows: Sequence[GainRow]) -> BestOnAverage:
        per_target: dict[tuple, list[float]] = defaultdict(list)
        overall: dict[tuple, list[float]] = defaultdict(list)
        for r in rows:
            per_target[(r.intermediate, r.target)].append(r.gain)
            overall[(r.intermediate,)].append(r.gain)
        self._per_target, self._overall = _means(per_target), _means(overall)
        return self

    def gain(self, intermediate: Intermediate, target: str) -> float:
        """Mean training gain (0 for a configuration never seen: no evidence either way)."""
        found = self._per_target.get((intermediate, target))
        return found if found is not None else self._overall.get((intermediate,), 0.0)

    def predict(self, rows: Sequence[GainRow]) -> np.ndarray:
        return np.array([self.gain(r.intermediate, r.target) for r in rows])


class NearestLanguage:
    """Rank by the gains on the nearest seen language (see the module doc)."""

    def fit(self, rows: Sequence[GainRow]) -> NearestLanguage:
        self._fallback = BestOnAverage().fit(rows)
        self._languages: dict[str, set[str]] = defaultdict(set)  # target → languages seen
        gains: dict[tuple, list[float]] = defaultdict(list)
        for r in rows:
            self._languages[r.target].add(r.language)
            self._languages[""].add(r.language)  # any target
            gains[(r.intermediate, r.target, r.language)].append(r.gain)
            gains[(r.intermediate, "", r.language)].append(r.gain)
        self._gains = _means(gains)
        return self

    def nearest(self, language: str, target: str) -> str | None:
        """The seen language nearest to ``language`` (ties: alphabetical order)."""
        scope = target if target in self._languages else ""
        seen = sorted(self._languages[scope])
        return min(seen, key=lambda g: language_distance(language, g)) if seen else None

    def predict(self, rows: Sequence[GainRow]) -> np.ndarray:
        out = []
        for r in rows:
            near = self.nearest(r.language, r.target)
            scope = r.target if r.target in self._languages else ""
            found = self._gains.get((r.intermediate, scope, near))
            out.append(found if found is not None else self._fallback.gain(r.intermediate,
                                                                            r.target))
        return np.array(out)
