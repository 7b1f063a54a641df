"""The predictor's training table: one zero-shot gain per (intermediate configuration, target
task, language), read from the finished runs of one or more output folders.

Why through the report's blocks (:func:`xstilts.report.analysis.seed_tables`): the gain must
be the one ``xstilts report`` shows (primary metric, points, mean over seeds, configuration
minus the ``none`` baseline of the same model), not a second definition of it.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xstilts.errors import XstiltsError
from xstilts.report.analysis import BASELINE, seed_tables
from xstilts.report.results import collect_results
from xstilts.studies.store import ResultStore
from xstilts.tasks.registry import get_task
from xstilts.training.runs import ZERO_SHOT, split_setting


@dataclass(frozen=True)
class Intermediate:
    """What the predictor knows of an intermediate configuration: its task types, training
    languages and size (examples per task, None when the run used all of a task's data)."""

    model: str
    label: str  # the configuration's label in the report ("xnli@ar", "mix(a+b)")
    task_types: tuple[str, ...]
    languages: tuple[str, ...]
    size: int | None


@dataclass(frozen=True)
class GainRow:
    """The zero-shot gain (points) of ``intermediate`` over the baseline on ``target`` in
    ``language``, with the baseline's own score there (points); a query for
    ``recommend`` is a row whose gain is unknown (NaN)."""

    intermediate: Intermediate
    target: str
    target_type: str
    language: str
    baseline: float | None  # None: a query for a language without a baseline result
    gain: float


@dataclass
class GainTable:
    """The rows plus what the commands report about them."""

    rows: list[GainRow]
    n_runs: int  # finished runs whose results entered a gain (baseline runs included)
    baselines: dict[tuple[str, str, str], float]  # (model, target, language) → baseline points
    targets: dict[str, str]  # target task with gains → its task type
    notes: list[str]

    def configurations(self) -> list[Intermediate]:
        return sorted({r.intermediate for r in self.rows}, key=lambda i: (i.model, i.label))

    def languages(self) -> list[str]:
        return sorted({r.language for r in self.rows})


def task_type(name: str) -> str:
    """The task type of a task name; "other" for a task this process does not know."""
    try:
        return str(get_task(name).type)
    except XstiltsError:
        return "other"


def _intermediate_settings(out_dirs: list[Path]) -> dict[tuple[str, str], list[dict]]:
    """(model, configuration label) → the settings of its phase-2 runs, from every store."""
    found: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for out in out_dirs:
        store = ResultStore(out)
        try:
            for run in store.runs():
                if run["kind"] == "intermediate" and run["status"] == "done":
                    found[(run["encoder"], run["intermediate"])].append(
                        json.loads(run["settings"]))
        finally:
            store.close()
    return found


def _describe(model: str, label: str, settings: list[dict], notes: list[str]) -> Intermediate:
    """Type, languages and size of a configuration from its phase-2 settings (the first
    run's; a second run with another size makes the size unknown, with a note)."""
    if not settings:
        notes.append(f"{label}: no finished phase-2 run found; its task type and size are "
                     "unknown to the predictor")
        return Intermediate(model, label, ("other",), (), None)
    tasks = settings[0]["tasks"]
    sizes = {s["training"].get("max_train_examples") for s in settings}
    size = next(iter(sizes)) if len(sizes) == 1 else None
    if len(sizes) > 1:
        notes.append(f"{label}: phase-2 runs with different sizes {sorted(map(str, sizes))}; "
                     "its size is left unknown")
    return Intermediate(model, label, tuple(task_type(t["task"]) for t in tasks),
                        tuple(t["language"] for t in tasks), size)


def build_table(out_dirs: list[Path]) -> GainTable:
    """The gain rows of every finished target run in ``out_dirs`` (zero-shot languages only:
    the target task's training language, English, measures no transfer)."""
    rows: list[dict[str, Any]] = []
    for out in out_dirs:
        rows += collect_results(out)
    settings = _intermediate_settings(out_dirs)
    notes: list[str] = []
    described: dict[tuple[str, str], Intermediate] = {}
    table: list[GainRow] = []
    baselines: dict[tuple[str, str, str], float] = {}
    targets: dict[str, str] = {}
    used: set[tuple[str, str, str]] = set()  # (model, target, configuration) with a gain
    for block in seed_tables(rows):
        if BASELINE not in block.configs:
            continue
        kind = task_type(block.task_name)
        for lang in block.zero_shot:
            base = block.score(BASELINE, lang)
            if base is None:
                continue
            baselines[(block.model, block.task, lang)] = base
            for config in block.configs:
                score = block.score(config, lang)
                # Translate-setting arms ("none [translate-test]") are no intermediate task.
                if config == BASELINE or score is None or split_setting(config)[1] != ZERO_SHOT:
                    continue
                key = (block.model, config)
                if key not in described:
                    described[key] = _describe(block.model, config, settings.get(key, []), notes)
                targets[block.task] = kind
                table.append(GainRow(described[key], block.task, kind, lang, base, score - base))
                used.update({(block.model, block.task_name, config),
                             (block.model, block.task_name, BASELINE)})
    n_runs = len({r["run_id"] for r in rows
                  if (r["model"], r["target_task"], r["intermediate"]) in used})
    return GainTable(table, n_runs, baselines, targets, notes)
