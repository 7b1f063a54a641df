"""Seed-level values of one (model, task, metric, split) and the averages built on them.

Why one module: ``summary.md``'s tables and the analysis (``summary.json``, the HTML page, the
headline) used to average and subtract on their own and disagreed when a configuration lacked
a language: the tables averaged the languages it had, the analysis gave no average. The rule
here, for every output: a macro average over languages exists only when every language has a
score, because an average over other languages is not comparable with the baseline's (its
delta would mix a language effect into the intermediate-task effect).

Units are whatever the caller stores (fractions in ``summary.md``, points in the analysis).
"""

from __future__ import annotations

import statistics
from collections import defaultdict


class SeedTable:
    """``values[config][language][seed]``: one value per run (a later row of the same
    configuration, language and seed replaces an earlier one)."""

    def __init__(self) -> None:
        self.values: dict[str, dict[str, dict[int, float]]] = defaultdict(
            lambda: defaultdict(dict))

    def add(self, config: str, language: str, seed: int, value: float) -> None:
        self.values[config][language][int(seed)] = value

    def seeds(self, config: str) -> set[int]:
        """Every seed of ``config`` (on any language)."""
        return {s for by_seed in self.values[config].values() for s in by_seed}

    def score(self, config: str, language: str) -> float | None:
        """Mean over seeds of one language; None when it has no run."""
        vals = list(self.values[config].get(language, {}).values())
        return statistics.fmean(vals) if vals else None

    def average(self, config: str, languages: list[str]) -> float | None:
        """Macro average over ``languages`` of the seed means; None if one has no score (and
        for no language at all)."""
        vals = [self.score(config, lang) for lang in languages]
        if not vals or any(v is None for v in vals):
            return None
        return statistics.fmean(v for v in vals if v is not None)

    def per_seed(self, config: str, languages: list[str]) -> list[float]:
        """The macro average over ``languages`` of each seed that has all of them (sorted)."""
        if not languages:
            return []
        seeds = set.intersection(*(set(self.values[config].get(g, {})) for g in languages))
        return [statistics.fmean(self.values[config][g][s] for g in languages)
                for s in sorted(seeds)]

    def seed_std(self, config: str, languages: list[str]) -> float | None:
        """Standard deviation over seeds of the macro average (None below two seeds)."""
        per_seed = self.per_seed(config, languages)
        return statistics.stdev(per_seed) if len(per_seed) > 1 else None

    def delta(self, config: str, versus: str, languages: list[str]) -> float | None:
        """average(config) − average(versus) over the same languages; None if either is."""
        a, b = self.average(config, languages), self.average(versus, languages)
        return None if a is None or b is None else a - b
