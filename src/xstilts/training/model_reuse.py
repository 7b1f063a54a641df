"""A trained phase-3 model handed from a target's zero-shot run to its translate-test twin.

Why: translate-test fine-tunes exactly what zero-shot fine-tunes (the English training and dev
data, the options, the seed); only the evaluated files differ (the test sets translated into
English). A study that runs both (``setting: [zero-shot, translate-test]``) would train the
same weights twice. The planner pairs the two runs (``PlannedRun.model_twin``, only where the
translated files cannot reach training: :func:`shares_training`); the one that runs first in a
study's process keeps its trained model here, and the other takes it instead of training.
Its predictions and metrics are the ones it would have trained to (compared byte for byte in
tests/test_model_reuse.py), so run ids do not change; ``run.json`` names the run that trained
the model (``info.model_from``). Runs elsewhere (Ray workers, a rerun after the first run
finished, several processes) train as before.

One model at most is held, only between the two runs, and released at the end of the study.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from xstilts.tasks.translations import TRANSLATE_TEST, ZERO_SHOT
from xstilts.training.runs import TargetRun

logger = logging.getLogger(__name__)

_SHARING = (ZERO_SHOT, TRANSLATE_TEST)


def shares_training(run: TargetRun, english: str) -> bool:
    """Whether ``run`` (zero-shot or translate-test) trains what its twin of the other setting
    trains: translate-test replaces the reads of (evaluated split, language other than
    ``english``), so a training or dev read of that kind would differ."""
    if run.setting not in _SHARING:
        return False
    reads = ((run.train_split, run.train_language), (run.dev_split, run.dev_language))
    return not any(split == run.eval_split and language != english for split, language in reads)


@dataclass
class TrainedModel:
    """A phase-3 model as its run left it after training, with what its twin records."""

    key: str
    run_id: str  # the run that trained it
    model: Any  # TaskModel (not imported: this module stays light for the executor)
    tokenizer: Any
    handler: Any
    training: dict[str, Any]  # TrainResult's fields
    log: bytes | None  # the training log, copied into the twin's folder


_held: TrainedModel | None = None


def training_key(run: TargetRun, data_dir: Path | None) -> str:
    """Equal for two runs that train the same model: the zero-shot run's id (its settings,
    the parent it starts from, the seed), plus where the data are read from."""
    zero_shot = replace(run, setting=ZERO_SHOT) if run.setting != ZERO_SHOT else run
    return f"{zero_shot.id}|{data_dir}"


def hold(trained: TrainedModel) -> None:
    """Keep ``trained`` for its twin (replacing any model held before)."""
    global _held
    _held = trained
    logger.info("phase-3 model of run %s kept for its translate-test/zero-shot twin",
                trained.run_id)


def take(key: str) -> TrainedModel | None:
    """The held model if it was trained under ``key`` (it is no longer held), else None."""
    global _held
    trained, _held = _held, None
    if trained is not None and trained.key != key:
        return None
    return trained


def release() -> None:
    """Drop any held model (between runs that do not share one, and at a study's end)."""
    global _held
    _held = None


def is_held(key: str) -> bool:
    return _held is not None and _held.key == key
