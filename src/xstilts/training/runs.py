"""The run contract: what one run of a study does, as typed values, and the rules of its id.

The planner builds these from a validated study, the executor and the phases execute them,
and :meth:`identity` is the one place that decides what enters a run id. Ids are content
hashes of the settings dict xstilts has always stored (``run.json`` ``settings``), so finished
runs of older output folders keep their ids: :meth:`settings` writes that dict and
:meth:`identity` the part of it that is hashed. The legacy rules, all here:

* training options: bookkeeping fields (logging, checkpoint frequency) hash at their defaults,
  fields added later only when set (:func:`xstilts.training.options.training_identity`);
* evaluation options added later (``generalized``, ``align``) only when set, and never for
  retrieval targets (which have no task model), except ``align`` on Tatoeba;
* ``data`` options only when on, and never for retrieval targets (they read strictly);
* ``vocabulary`` (the text sources of a trimmed study) only when trimmed;
* phase 2's ``mlm`` only when on; a mix's ``mix`` is ``{}`` without sampling options;
* a target's translate ``setting`` only when not ``zero-shot``;
* a retrieval target's protocol only where it computes something else than xstilts computed
  before protocols were settings;
* ``precision: auto`` never: a run holds the precision it resolves to on the machine that
  plans it (:func:`concrete_training`), so fp32-only machines keep every id and a bf16 machine's
  runs get their own; ``dropout_masks: auto`` likewise (fast masks on a CPU, torch's on a
  GPU), and ``torch`` is what runs trained with before the field existed, so it is not hashed;
  ``pair_encoding: auto`` likewise (the task's protocol: ``cross``, the old default, for every
  task but STS 2017, whose default runs train ``siamese`` and so have new ids).

Light on purpose (no torch): planning and ``--dry-run`` build these.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from xstilts.evaluation.settings import EvaluationOptions
from xstilts.tasks import get_task
from xstilts.tasks.translations import ZERO_SHOT
from xstilts.training.options import MixOptions, TrainingOptions
from xstilts.training.precision import resolve_dropout_masks, resolve_precision

# The intermediate label of the arms without phase 2 (the baseline of every comparison).
NO_INTERMEDIATE = "none"


def baseline_first(intermediate: str) -> tuple[bool, str]:
    """Sort key of intermediate configurations as tables show them: the baseline, then by name."""
    return intermediate != NO_INTERMEDIATE, intermediate

# Training fields that change how a run is logged or checkpointed, never its results: ids
# hash them at their defaults, so asking for more frequent checkpoints keeps finished runs.
BOOKKEEPING_FIELDS = ("log_every", "checkpoint_every_steps")
# Training fields added after run ids were first published, with the value that runs finished
# before the field existed trained with: stored and hashed only when another value is set, so
# those runs keep their ids and their settings' keys. Add every new TrainingOptions field here.
FIELDS_ADDED_LATER: dict[str, Any] = {"threads": None, "dropout_masks": "torch"}
# Evaluation keys added after run ids were first published: left out of a run's settings
# while unset. ``retrieval`` is never stored as given: a retrieval target holds the protocol
# it resolves to (:attr:`TargetRun.retrieval`).
OPTIONAL_EVALUATION_KEYS = ("generalized", "align", "retrieval")


def training_identity(dumped: dict[str, Any]) -> dict[str, Any]:
    """The part of a dumped :class:`TrainingOptions` that identifies a run's results."""
    defaults = TrainingOptions().model_dump()
    identity = {**dumped, **{k: defaults[k] for k in BOOKKEEPING_FIELDS}}
    for key, before in FIELDS_ADDED_LATER.items():
        if identity.get(key) == before:
            identity.pop(key, None)
    return identity


def training_settings(options: TrainingOptions) -> dict[str, Any]:
    """A run's training options as its settings hold them: fields added later only when set,
    so ``run.json`` and the store keep the keys they always had."""
    return {k: v for k, v in options.model_dump().items()
            if k not in FIELDS_ADDED_LATER or v != FIELDS_ADDED_LATER[k]}


def concrete_training(options: TrainingOptions, tasks: tuple[str, ...]) -> TrainingOptions:
    """``options`` with ``precision: auto`` (bf16 where native, else "no"),
    ``dropout_masks: auto`` (fast on a CPU, torch on a GPU) and ``pair_encoding: auto`` (the
    protocol of the run's ``tasks``) resolved: what a run trains with, stores in ``run.json``
    and hashes into its id."""
    return options.model_copy(update={
        "precision": resolve_precision(options.precision),
        "dropout_masks": resolve_dropout_masks(options.dropout_masks),
        "pair_encoding": _concrete_pair_encoding(options.pair_encoding, tasks)})


def _concrete_pair_encoding(option: str, tasks: tuple[str, ...]) -> str:
    """``auto``: the tasks' protocol where they share one (a single task always does), else a
    cross-encoder (one setting applies to every task of a mix)."""
    if option != "auto":
        return option
    encodings = {get_task(name).concrete_pair_encoding(option) for name in tasks}
    return encodings.pop() if len(encodings) == 1 else "cross"


def evaluation_settings(options: EvaluationOptions) -> dict[str, Any]:
    """A target run's evaluation options as its settings hold them (later keys only when
    set; a run's options never hold the study's retrieval preset)."""
    dumped = options.model_dump()
    for key in OPTIONAL_EVALUATION_KEYS:
        if dumped[key] is None:
            del dumped[key]
    return dumped


@dataclass(frozen=True)
class PhaseTask:
    """One task a phase trains on: its training language and splits (dev for selection)."""

    task: str
    language: str
    train_split: str
    dev_split: str | None


@dataclass(frozen=True)
class IntermediateRun:
    """Phase 2: train ``encoder`` on one task or a mix (one head each); keep the encoder."""

    encoder: str
    tasks: tuple[PhaseTask, ...]
    training: TrainingOptions
    seed: int
    mix: MixOptions | None = None  # a mix's sampling options as given (None: the defaults)
    mlm_probability: float | None = None  # masked-LM streams on the tasks' texts when set
    skip_bad_rows: bool = False
    # ``vocabulary: trimmed``: the study's text sources the encoder is trimmed to
    # (:mod:`xstilts.training.vocabulary`); None for the full vocabulary.
    vocabulary: tuple[tuple[str, ...], ...] | None = None

    kind = "intermediate"

    def __post_init__(self) -> None:
        object.__setattr__(self, "training", concrete_training(self.training, self.task_names))

    @property
    def parent(self) -> None:
        return None

    @property
    def task_names(self) -> tuple[str, ...]:
        return tuple(t.task for t in self.tasks)

    def settings(self) -> dict[str, Any]:
        """The settings as ``run.json`` and the store record them (keys as always)."""
        settings: dict[str, Any] = {
            "encoder": self.encoder,
            "tasks": [{"task": t.task, "language": t.language, "train_split": t.train_split,
                       "dev_split": t.dev_split} for t in self.tasks],
            "mix": self.mix.model_dump() if self.mix else ({} if len(self.tasks) > 1 else None),
            "training": training_settings(self.training),
            "seed": self.seed,
        }
        if self.mlm_probability is not None:
            settings["mlm"] = {"probability": self.mlm_probability}
        if self.skip_bad_rows:
            settings["data"] = {"skip_bad_rows": True}
        return _with_vocabulary(settings, self.vocabulary)

    def identity(self) -> dict[str, Any]:
        """What the run id hashes (phase 2 always starts from the named encoder)."""
        return _identity(self.kind, self.settings(), self.encoder)

    @property
    def id(self) -> str:
        return _hash(self.identity())


@dataclass(frozen=True)
class TargetRun:
    """Phase 3 on a target task and its zero-shot evaluation (retrieval targets: no phase 3,
    the encoder is pooled). ``parent`` is the phase-2 run it starts from, if any."""

    encoder: str
    task: str
    train_language: str
    train_split: str
    dev_split: str
    dev_language: str
    eval_split: str
    languages: tuple[str, ...]
    training: TrainingOptions
    evaluation: EvaluationOptions
    seed: int
    parent: str | None = None
    skip_bad_rows: bool = False
    retrieval: dict[str, Any] | None = None  # a retrieval target's resolved protocol
    vocabulary: tuple[tuple[str, ...], ...] | None = None  # as IntermediateRun.vocabulary
    # translate-train: trains on ``train_language``'s translated training set;
    # translate-train-all: on English plus the translations of ``languages``; translate-test:
    # evaluates ``languages`` on their test sets translated into English.
    setting: str = ZERO_SHOT

    kind = "target"

    def __post_init__(self) -> None:
        object.__setattr__(self, "training", concrete_training(self.training, (self.task,)))

    @property
    def task_names(self) -> tuple[str, ...]:
        return (self.task,)

    def settings(self) -> dict[str, Any]:
        """The settings as ``run.json`` and the store record them (keys as always)."""
        settings: dict[str, Any] = {
            "encoder": self.encoder,
            "task": self.task,
            "train_language": self.train_language,
            "train_split": self.train_split,
            "dev_split": self.dev_split,
            "dev_language": self.dev_language,
            "eval_split": self.eval_split,
            "languages": list(self.languages),
            "training": training_settings(self.training),
            "evaluation": evaluation_settings(self.evaluation),
            "seed": self.seed,
        }
        if self.skip_bad_rows:
            settings["data"] = {"skip_bad_rows": True}
        if self.retrieval is not None:
            settings["retrieval"] = self.retrieval
        if self.setting != ZERO_SHOT:  # zero-shot runs keep the ids they always had
            settings["setting"] = self.setting
        return _with_vocabulary(settings, self.vocabulary)

    def identity(self) -> dict[str, Any]:
        """What the run id hashes: the settings, less the retrieval protocol where that
        computes what xstilts computed before protocols were settings (those runs keep their
        ids and results; any other protocol gives a new id)."""
        from xstilts.evaluation.retrieval_protocols import (  # light: no torch
            legacy_protocol,
            same_results,
        )

        settings = self.settings()
        if self.retrieval is not None:
            legacy = legacy_protocol(self.encoder, from_checkpoint=self.parent is not None)
            if same_results(self.retrieval, legacy, self.task):
                del settings["retrieval"]
        return _identity(self.kind, settings, self.parent or self.encoder)

    @property
    def id(self) -> str:
        return _hash(self.identity())


Run = IntermediateRun | TargetRun


def setting_label(label: str, setting: str) -> str:
    """The arm label of a target run: its intermediate configuration's label, with the
    translate setting in brackets when not zero-shot (``none [translate-test]``), so that
    the report compares each setting with zero-shot like any other arm."""
    return label if setting == ZERO_SHOT else f"{label} [{setting}]"


def split_setting(label: str) -> tuple[str, str]:
    """``(intermediate label, setting)`` of an arm label (:func:`setting_label`'s inverse)."""
    if label.endswith("]") and " [" in label:
        base, setting = label[:-1].rsplit(" [", 1)
        if setting.startswith("translate-"):
            return base, setting
    return label, ZERO_SHOT


def _with_vocabulary(settings: dict[str, Any],
                     sources: tuple[tuple[str, ...], ...] | None) -> dict[str, Any]:
    """A trimmed study's runs record (and hash) the text sources the encoder is trimmed to;
    full-vocabulary runs have no ``vocabulary`` key, so their ids are what they always were."""
    if sources is not None:
        settings["vocabulary"] = {"trimmed_on": [list(s) for s in sources]}
    return settings


def _identity(kind: str, settings: dict[str, Any], parent: str) -> dict[str, Any]:
    if "training" in settings:
        settings = {**settings, "training": training_identity(settings["training"])}
    return {"kind": kind, "settings": settings, "parent": parent}


def _hash(identity: dict[str, Any]) -> str:
    payload = json.dumps(identity, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def run_id(kind: str, settings: dict[str, Any], parent: str) -> str:
    """The id of a run recorded as ``settings`` (a stored ``run.json``'s, say): the same hash
    as :attr:`IntermediateRun.id` / :attr:`TargetRun.id`."""
    return _hash(_identity(kind, settings, parent))
