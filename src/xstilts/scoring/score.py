"""Score a prediction folder against a label folder of the leaderboard layout.

Which tasks: those named, or every known task folder present in both folders (as
evaluate.py does). Which languages: every ``test-<lang>.<suffix>`` of the gold folder; each
needs its prediction file. evaluate.py instead insists on all benchmark languages; scoring a
subset is allowed here (a study rarely covers all), and a note says that such an average is
not comparable with leaderboard averages.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xstilts.errors import XstiltsError
from xstilts.scoring.official import OFFICIAL_TASKS, OfficialTask, headline


@dataclass
class ScoreResult:
    """``tasks``: the ``--json`` payload's ``tasks``; ``notes``: things the user should see."""

    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"tasks": self.tasks}


def _languages(folder: Path, task: OfficialTask) -> list[str]:
    pattern = re.compile(rf"test-(.+)\.{re.escape(task.suffix)}")
    found = {m.group(1) for p in folder.iterdir() if (m := pattern.fullmatch(p.name))}
    known = [lang for lang in task.languages if lang in found]
    return known + sorted(found - set(known))


def _select_tasks(pred_dir: Path, label_dir: Path, tasks: Sequence[str] | None,
                  notes: list[str]) -> list[OfficialTask]:
    for folder, what in ((pred_dir, "prediction"), (label_dir, "label")):
        if not folder.is_dir():
            raise XstiltsError(f"{what} folder {folder} does not exist")
    if tasks:
        unknown = [t for t in tasks if t not in OFFICIAL_TASKS]
        if unknown:
            raise XstiltsError(f"unknown task(s) {', '.join(unknown)}; the leaderboard tasks "
                               f"are {', '.join(OFFICIAL_TASKS)}")
        for name in tasks:
            for folder in (pred_dir, label_dir):
                if not (folder / name).is_dir():
                    raise XstiltsError(f"{folder / name} does not exist (task {name} was asked "
                                       "for)")
        return [OFFICIAL_TASKS[t] for t in tasks]
    chosen = [t for name, t in OFFICIAL_TASKS.items()
              if (pred_dir / name).is_dir() and (label_dir / name).is_dir()]
    for name in sorted(p.name for p in pred_dir.iterdir() if p.is_dir()):
        if name not in OFFICIAL_TASKS:
            notes.append(f"{pred_dir / name}: not a leaderboard task folder, skipped")
        elif not (label_dir / name).is_dir():
            notes.append(f"{pred_dir / name}: no gold folder {label_dir / name}, skipped")
    if not chosen:
        raise XstiltsError(f"no task folder ({', '.join(OFFICIAL_TASKS)}) is in both "
                           f"{pred_dir} and {label_dir}")
    return chosen


def score_task(task: OfficialTask, pred_dir: Path, label_dir: Path,
               notes: list[str]) -> dict[str, Any]:
    """``{"languages": {lang: {metric: points}}, "average": {metric: points}}``."""
    gold_folder, pred_folder = label_dir / task.name, pred_dir / task.name
    languages = _languages(gold_folder, task)
    if not languages:
        raise XstiltsError(f"{gold_folder} has no test-<lang>.{task.suffix} gold files")
    stray = set(_languages(pred_folder, task)) - set(languages)
    if stray:
        raise XstiltsError(f"{pred_folder} has predictions for {', '.join(sorted(stray))} but "
                           f"{gold_folder} has no gold for them")
    per_language: dict[str, dict[str, float]] = {}
    for lang in languages:
        name = f"test-{lang}.{task.suffix}"
        if not (pred_folder / name).is_file():
            raise XstiltsError(f"missing prediction file {pred_folder / name} (its gold file "
                               f"{gold_folder / name} exists)")
        result = task.scorer(pred_folder / name, gold_folder / name, lang)
        per_language[lang] = result.metrics
        notes.extend(result.notes)
    metrics = list(per_language[languages[0]])
    average = {m: sum(scores[m] for scores in per_language.values()) / len(per_language)
               for m in metrics}
    average["metric"] = headline(task, average)
    missing = [lang for lang in task.languages if lang not in per_language]
    if missing:
        notes.append(f"{task.name}: {len(languages)} language(s) scored, {len(missing)} of "
                     "its leaderboard languages missing, so the average is not comparable with "
                     "leaderboard averages")
    return {"languages": per_language, "average": average}


def score_submission(pred_dir: Path, label_dir: Path,
                     tasks: Sequence[str] | None = None) -> ScoreResult:
    """Score every selected task; raises :class:`XstiltsError` on any malformed input."""
    result = ScoreResult()
    for task in _select_tasks(pred_dir, label_dir, tasks, result.notes):
        result.tasks[task.name] = score_task(task, pred_dir, label_dir, result.notes)
    return result
