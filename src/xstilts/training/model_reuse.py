"""Phase-3 models trained once and evaluated by every run that would train the same weights.

Why: a target run's id hashes what it evaluates (its languages, evaluated split, evaluation
options, translate-test or zero-shot) as well as what it trains, so two runs can differ only in
evaluation and still each fine-tune the same model:

* a target with ``setting: [zero-shot, translate-test]``: translate-test fine-tunes exactly
  what zero-shot fine-tunes (English training and dev data, options, seed); only the evaluated
  files are the translations;
* a finished study run again with more languages, another evaluated split or other
  evaluation options (bootstrap resamples, a generalized matrix, ...): new run ids, the same
  training.

Two ways to reuse, both keyed by :func:`training_key` (the run's id with the evaluation-only
settings left out):

* in memory: the planner pairs a zero-shot and a translate-test run
  (``PlannedRun.model_twin``); the first of the two in a study's process keeps its trained
  model here and the second takes it (:func:`hold`, :func:`take`);
* on disk: a finished run that kept its model (``retention: {keep_target_checkpoints:
  true}``) is found by its key in the output folder (:func:`find_kept_model`) and loaded
  instead of training, after its manifest is checked; a damaged one is passed over.

Either way the run's predictions and metrics are those it would have trained to (compared
byte for byte in tests/test_model_reuse.py), its id does not change, and its ``run.json`` names
the run whose model it evaluated (``info.model_from``), with that run's training summary and
log. Kept models are reused in any single process (a study's, a Ray worker's); the in-memory
hand-over only in a study run by ``xstilts run`` itself; a multi-process (DDP) launch trains.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xstilts.tasks import get_task
from xstilts.tasks.translations import TRANSLATE_TEST, ZERO_SHOT
from xstilts.training.run_folder import RunFolder
from xstilts.training.runs import TargetRun, run_id

logger = logging.getLogger(__name__)

_SHARING = (ZERO_SHOT, TRANSLATE_TEST)
_RUN_ID = re.compile(r"[0-9a-f]{16}")


def shares_training(run: TargetRun, english: str) -> bool:
    """Whether ``run`` (zero-shot or translate-test) trains what a run of the other of the two
    settings would: translate-test replaces the reads of (evaluated split, a language other
    than ``english``), so a training or dev read of that kind would differ."""
    return _shares(run.settings(), english)


def _shares(settings: dict[str, Any], english: str) -> bool:
    if settings.get("setting", ZERO_SHOT) not in _SHARING:
        return False
    reads = ((settings["train_split"], settings["train_language"]),
             (settings["dev_split"], settings["dev_language"]))
    return not any(split == settings["eval_split"] and language != english
                   for split, language in reads)


def training_key(settings: dict[str, Any], parent: str | None, english: str) -> str:
    """Equal for two target runs that train the same model: the id of their settings less the
    evaluation-only ones (and less zero-shot / translate-test where :func:`_shares` holds;
    translate-train and translate-train-all train on the languages' translations, so they keep
    their languages). ``settings`` as ``run.json`` records them; ``parent``: the parent run's id,
    None on the pretrained encoder."""
    kept = dict(settings)
    kept.pop("evaluation", None)
    if _shares(settings, english):
        for name in ("setting", "languages", "eval_split"):
            kept.pop(name, None)
    return run_id("target-training", kept, parent or settings["encoder"])


def run_training_key(run: TargetRun, english: str | None = None) -> str:
    """:func:`training_key` of a planned run (``english``: its task's training language,
    looked up when not given)."""
    if english is None:
        english = get_task(run.task).train_language
    return training_key(run.settings(), run.parent, english)


@dataclass
class TrainedModel:
    """A phase-3 model as its run left it after training, with what a reusing run records."""

    key: str
    run_id: str  # the run that trained it
    model: Any  # TaskModel (not imported: this module stays light for the executor)
    tokenizer: Any
    training: dict[str, Any]  # TrainResult's fields
    log: bytes | None  # the training log (read when held or loaded), copied over
    folder: Path | None = None  # the kept checkpoint it was loaded from, if any


_held: TrainedModel | None = None


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


@dataclass(frozen=True)
class KeptModel:
    """A finished run's kept target model that a run with the same training key can evaluate."""

    run_id: str
    folder: RunFolder
    training: dict[str, Any]


def kept_models(runs_dir: Path, english: str) -> dict[str, KeptModel]:
    """The finished target runs in ``runs_dir`` that kept their model (``model/`` complete), by
    training key (``english``: the training language of the tasks looked for); where two share a
    key, the first by folder name."""
    found: dict[str, KeptModel] = {}
    for record_path in sorted(runs_dir.glob("*/run.json")):
        if not _RUN_ID.fullmatch(record_path.parent.name):  # not <id>.corrupt, .work-<id>
            continue
        folder = RunFolder(record_path.parent)
        if not folder.is_complete() or not (folder.model / "heads.json").is_file():
            continue
        try:
            record = json.loads(record_path.read_text(encoding="utf-8"))
            if record.get("kind") != "target":
                continue
            key = training_key(record["settings"], record.get("parent"), english)
            kept = KeptModel(record["id"], folder, record["info"].get("training", {}))
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue  # not a run.json this version can read: never a reason to fail
        found.setdefault(key, kept)
    return found


def find_kept_model(runs_dir: Path, key: str, english: str) -> KeptModel | None:
    """The kept model of a finished run trained under ``key`` (:func:`kept_models`), or None."""
    return kept_models(runs_dir, english).get(key)
