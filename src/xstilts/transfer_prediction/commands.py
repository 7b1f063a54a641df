"""What ``xstilts predict`` and ``xstilts recommend`` compute, as JSON-ready dicts (the CLI
only prints them); the contracts are documented in the README."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from xstilts.errors import XstiltsError
from xstilts.languages import get_language
from xstilts.transfer_prediction.baselines import BestOnAverage, NearestLanguage
from xstilts.transfer_prediction.evaluation import PROTOCOLS, held_out
from xstilts.transfer_prediction.model import INTERVAL, GainModel
from xstilts.transfer_prediction.table import GainRow, GainTable, build_table

MIN_CONFIGURATIONS = 2  # fewer: nothing to rank
MIN_LANGUAGES = 3  # fewer: leaving one out leaves one language to learn from
MODEL = ("gradient-boosted trees (scikit-learn HistGradientBoostingRegressor) on URIEL "
         "distances, resource levels, the baseline score and the intermediate task's type, "
         "size and language; interval: quantile models at "
         f"{INTERVAL[0]:.0%} and {INTERVAL[1]:.0%} (nominal {INTERVAL[1] - INTERVAL[0]:.0%})")
RANKERS = {"model": GainModel, "best_on_average": BestOnAverage,
           "nearest_language": NearestLanguage}


def too_few(table: GainTable) -> str | None:
    """Why ``table`` is too small to learn from, or None."""
    configs, languages = len(table.configurations()), len(table.languages())
    if configs >= MIN_CONFIGURATIONS and languages >= MIN_LANGUAGES:
        return None
    return (f"too few runs to learn from: gains over the baseline for {configs} intermediate "
            f"configuration(s) in {languages} zero-shot language(s); the predictor needs at "
            f"least {MIN_CONFIGURATIONS} configurations and {MIN_LANGUAGES} languages (run a "
            "study with more intermediate tasks and target languages, e.g. "
            "studies/q6-transfer-prediction.cpu.yaml)")


def _head(table: GainTable) -> dict[str, Any]:
    return {"n_runs": table.n_runs, "n_gains": len(table.rows),
            "configurations": [c.label for c in table.configurations()],
            "languages": table.languages(), "targets": sorted(table.targets),
            "units": "points (metric × 100)", "notes": table.notes}


def predict(out_dirs: list[Path]) -> dict[str, Any]:
    """The predictor's held-out quality (and its baselines') on the runs in ``out_dirs``;
    ``too_few_runs`` says why there is no ``evaluation`` when the runs are too few."""
    table = build_table(out_dirs)
    reason = too_few(table)
    result = {**_head(table), "too_few_runs": reason, "model": MODEL, "evaluation": None}
    if reason is not None:
        return result
    evaluation: dict[str, Any] = {p: held_out(table.rows, GainModel, p) for p in PROTOCOLS}
    evaluation["baselines"] = {name: {p: held_out(table.rows, make, p) for p in PROTOCOLS}
                               for name, make in RANKERS.items() if name != "model"}
    result["evaluation"] = evaluation
    return result


def _same_language(a: str, b: str) -> bool:
    return get_language(a).code == get_language(b).code


def recommend(out_dirs: list[Path], target: str, language: str, top: int = 3
              ) -> dict[str, Any]:
    """The ``top`` intermediate configurations for ``target`` in ``language`` by predicted gain
    (a model fitted on every gain in ``out_dirs``), each with its interval."""
    if top < 1:
        raise XstiltsError(f"--top must be 1 or more, got {top}")
    get_language(language)  # an unknown code fails here, naming itself
    table = build_table(out_dirs)
    reason = too_few(table)
    result: dict[str, Any] = {**_head(table), "target": target, "language": language,
                              "too_few_runs": reason, "recommendations": []}
    if reason is not None:
        return result
    if target not in table.targets:
        raise XstiltsError(f"no gains for target task {target!r} in {', '.join(map(str, out_dirs))}"
                           f"; targets with gains: {', '.join(sorted(table.targets)) or '(none)'}")
    configs = sorted({r.intermediate for r in table.rows if r.target == target},
                     key=lambda c: (c.model, c.label))
    baselines = {c: table.baselines.get((c.model, target, language)) for c in configs}
    with_baseline = all(v is not None for v in baselines.values())
    queries = [GainRow(c, target, table.targets[target], language, baselines[c], float("nan"))
               for c in configs]
    model = GainModel(with_baseline=with_baseline).fit(table.rows)
    gains = model.predict(queries)
    low, high = model.predict_interval(queries)
    order = sorted(range(len(configs)), key=lambda i: -gains[i])[:top]
    result.update(
        seen_language=any(_same_language(r.language, language) for r in table.rows
                          if r.target == target),
        uses_baseline_score=with_baseline,
        interval=f"{INTERVAL[0]:.0%}-{INTERVAL[1]:.0%} quantiles of the gain "
                 f"(nominal {INTERVAL[1] - INTERVAL[0]:.0%})",
        recommendations=[{"intermediate": configs[i].label, "model": configs[i].model,
                          "predicted_gain": float(gains[i]), "low": float(low[i]),
                          "high": float(high[i])} for i in order])
    return result
