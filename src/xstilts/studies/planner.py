"""A study becomes a DAG of runs whose ids are content hashes.

A run's id hashes its resolved settings and its parent's id (or the encoder name for runs on
the pretrained encoder), so an intermediate checkpoint is trained once per (encoder,
intermediate config, seed) and shared by every target and every study in the same output
folder; changing any setting that matters gives a new id, never a stale result.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from xstilts.errors import StudyConfigError
from xstilts.evaluation.settings import EvaluationOptions
from xstilts.studies.spec import (
    IntermediateSpec,
    StudySpec,
    TargetSpec,
    resolve_training,
)
from xstilts.studies.validation import (  # noqa: F401  (check_study: the planner's gate)
    check_study,
    target_languages,
    task_language,
)
from xstilts.tasks import Task, TaskType, get_task
from xstilts.tasks.base import RetrievalKind
from xstilts.tasks.translations import TRANSLATE_TEST, TRANSLATE_TRAIN, ZERO_SHOT
from xstilts.tasks.user import UserTaskDefinition, definition_of
from xstilts.training.model_reuse import shares_training
from xstilts.training.runs import (  # noqa: F401  (run_id: the id of a stored settings dict)
    NO_INTERMEDIATE,
    IntermediateRun,
    PhaseTask,
    Run,
    TargetRun,
    run_id,
    setting_label,
)
from xstilts.training.tracking import TrackingOptions
from xstilts.training.vocabulary import SourceKey, study_text_sources

# Per base encoder, the text sources its trimmed vocabulary covers (``vocabulary: trimmed``).
Vocabularies = dict[str, tuple[SourceKey, ...]]


@dataclass(frozen=True)
class PlannedRun:
    """One node of the DAG: phase 2 ('intermediate') or phase 3 + evaluation ('target').

    ``run`` is the typed run contract (it owns the id and the recorded settings); the rest is
    how a study shows and keeps the run.
    """

    id: str = field(init=False)  # the contract's, hashed once
    run: Run = field(repr=False)
    # The intermediate configuration's label ("none" for the baseline arm).
    intermediate: str
    # Retention, not a setting: it never changes results, so it stays out of the id.
    keep_checkpoint: bool = False
    # The user tasks (task files) the run names, as data: a process that runs it elsewhere
    # (a Ray worker) registers them first. Filled from the registry when the run is planned;
    # where a task is declared is not a result-changing setting, so it stays out of the id.
    user_tasks: tuple[UserTaskDefinition, ...] = field(default=(), repr=False, compare=False)
    # The study's experiment trackers (set by the executor); logging never changes results,
    # so it stays out of the id. Travels with the run to the process that executes it.
    tracking: TrackingOptions | None = field(default=None, repr=False, compare=False)
    # The run of the same target, seed and parent in the other of zero-shot / translate-test,
    # which trains the very same model: the second of the two in a process reuses the first's
    # (:mod:`xstilts.training.model_reuse`). Results are the same either way: not in the id.
    model_twin: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "id", self.run.id)
        if not self.user_tasks:
            object.__setattr__(self, "user_tasks", user_task_definitions(self.run.task_names))

    @property
    def kind(self) -> str:
        return self.run.kind

    @property
    def encoder(self) -> str:
        return self.run.encoder

    @property
    def task(self) -> str:
        """The target task, or for phase 2 the configuration's label."""
        return self.run.task if isinstance(self.run, TargetRun) else self.intermediate

    @property
    def seed(self) -> int:
        return self.run.seed

    @property
    def parent(self) -> str | None:
        return self.run.parent

    @property
    def settings(self) -> dict[str, Any]:
        """The settings as recorded in the store and ``run.json`` (read-only view)."""
        return self.run.settings()


def user_task_definitions(names: tuple[str, ...]) -> tuple[UserTaskDefinition, ...]:
    """Definitions of the user tasks among a run's task names."""
    found = (definition_of(name) for name in dict.fromkeys(names))
    return tuple(d for d in found if d is not None)


@dataclass(frozen=True)
class StudyPlan:
    study: StudySpec
    runs: list[PlannedRun]

    @property
    def intermediate_runs(self) -> list[PlannedRun]:
        return [r for r in self.runs if r.kind == "intermediate"]

    @property
    def target_runs(self) -> list[PlannedRun]:
        return [r for r in self.runs if r.kind == "target"]


def run_evaluation(spec: StudySpec, task: Task) -> EvaluationOptions:
    """The study's evaluation options as a target run holds them.

    The retrieval preset is resolved into the run's own protocol; retrieval targets have no
    task model, so the options that evaluate one are dropped for them rather than changing
    their ids for nothing: the generalized matrix always, alignment except on bitext tasks
    (Tatoeba: its pairs are what it is fitted and scored on, see
    :mod:`xstilts.alignment.tatoeba_target`).
    """
    drop: dict[str, Any] = {"retrieval": None}
    if task.type == TaskType.RETRIEVAL:
        drop["generalized"] = None
        if task.retrieval_kind != RetrievalKind.BITEXT:
            drop["align"] = None
    return spec.evaluation.model_copy(update=drop)


def study_retrieval_protocol(spec: StudySpec, encoder: str) -> dict[str, Any]:
    """The retrieval protocol of a study's encoder, resolved once from the *base* encoder's
    name (a phase-2 checkpoint folder has lost it) and used by every arm."""
    from xstilts.evaluation.retrieval_protocols import plan_protocol  # light: no torch

    options = spec.evaluation.retrieval
    given = options.model_dump(exclude={"protocol"}) if options else {}
    try:
        return plan_protocol(encoder, options.protocol if options else "auto", **given)
    except (OSError, ValueError) as err:
        raise StudyConfigError(None, [
            f"evaluation.retrieval: cannot resolve the retrieval protocol of encoder "
            f"{encoder!r}: {err}; give evaluation.retrieval.layer"]) from err


def retrieval_settings(protocol: dict[str, Any], task: Task) -> dict[str, Any]:
    """A retrieval target's protocol as its settings hold it: the direction the task searches
    in (:func:`~xstilts.evaluation.retrieval_protocols.task_direction`)."""
    from xstilts.evaluation.retrieval_protocols import task_direction  # light: no torch

    return {**protocol, "direction": task_direction(task.retrieval_kind, protocol["direction"])}


def intermediate_run(spec: StudySpec, inter: IntermediateSpec, encoder: str,
                     seed: int, vocabulary: tuple[SourceKey, ...] | None = None
                     ) -> IntermediateRun:
    """Phase 2 of one intermediate configuration (on the trimmed encoder when
    ``vocabulary`` names its text sources)."""
    tasks = []
    for m in inter.members:
        task = get_task(m.task)
        tasks.append(PhaseTask(task.name, m.language, m.train_split or task.train_split,
                               task.dev_split))
    return IntermediateRun(
        encoder=encoder, tasks=tuple(tasks),
        training=resolve_training(spec.training, spec.intermediate_training, inter.training),
        seed=seed, mix=inter.sampling,
        mlm_probability=inter.mlm_probability if inter.mlm else None,
        skip_bad_rows=spec.data.skip_bad_rows, vocabulary=vocabulary)


def target_run(spec: StudySpec, target: TargetSpec, encoder: str, seed: int,
               parent: str | None, protocols: dict[str, dict[str, Any]],
               vocabulary: tuple[SourceKey, ...] | None = None) -> TargetRun:
    """Phase 3 (or, for retrieval, the pooled evaluation) of one target after ``parent``,
    zero-shot; ``protocols`` caches each base encoder's resolved retrieval protocol."""
    return _zero_shot_run(spec, target, encoder, seed, parent, protocols, vocabulary)


def target_runs(spec: StudySpec, target: TargetSpec, encoder: str, seed: int,
                parent: str | None, protocols: dict[str, dict[str, Any]],
                vocabulary: tuple[SourceKey, ...] | None = None
                ) -> list[tuple[str, TargetRun]]:
    """The runs of one target after ``parent``, with their settings: per setting one run
    (zero-shot, translate-train-all, translate-test), or for translate-train one run per
    evaluated language other than the training language (trained on its translation)."""
    zero_shot = _zero_shot_run(spec, target, encoder, seed, parent, protocols, vocabulary)
    runs: list[tuple[str, TargetRun]] = []
    for setting in target.settings:
        if setting == TRANSLATE_TRAIN:
            runs += [(setting, replace(zero_shot, setting=setting, train_language=lang,
                                       languages=(lang,)))
                     for lang in zero_shot.languages if lang != zero_shot.train_language]
        else:
            runs.append((setting, replace(zero_shot, setting=setting)))
    return runs


def _zero_shot_run(spec: StudySpec, target: TargetSpec, encoder: str, seed: int,
                   parent: str | None, protocols: dict[str, dict[str, Any]],
                   vocabulary: tuple[SourceKey, ...] | None = None) -> TargetRun:
    task = get_task(target.task)
    retrieval = task.type == TaskType.RETRIEVAL
    protocol = None
    if retrieval:
        if encoder not in protocols:
            protocols[encoder] = study_retrieval_protocol(spec, encoder)
        protocol = retrieval_settings(protocols[encoder], task)
    return TargetRun(
        encoder=encoder, task=task.name, train_language=task.train_language,
        train_split=target.train_split or task.train_split,
        dev_split=target.dev_split or task.dev_split,
        dev_language=task_language(target.dev_language or task.train_language, task),
        eval_split=target.eval_split or task.test_split,
        languages=target_languages(target, task),
        training=resolve_training(spec.training, spec.target_training, target.training),
        evaluation=run_evaluation(spec, task), seed=seed, parent=parent,
        skip_bad_rows=spec.data.skip_bad_rows and not retrieval,  # retrieval reads strictly
        retrieval=protocol, vocabulary=vocabulary)


def plan_study(spec: StudySpec) -> StudyPlan:
    """Expand encoders × intermediate configurations × targets × seeds into ordered runs.

    With ``vocabulary: trimmed`` every run of an encoder holds the text sources of all that
    encoder's runs, which are only known once they are planned: so the study is planned
    twice, the second time with the sources.
    """
    vocabularies: Vocabularies = {}
    if spec.vocabulary == "trimmed":
        untrimmed = _plan_runs(spec, {})
        vocabularies = {encoder: study_text_sources(r.run for r in untrimmed
                                                    if r.encoder == encoder)
                        for encoder in spec.encoders}
    return StudyPlan(spec, _plan_runs(spec, vocabularies))


def _plan_runs(spec: StudySpec, vocabularies: Vocabularies) -> list[PlannedRun]:
    runs: list[PlannedRun] = []
    protocols: dict[str, dict[str, Any]] = {}  # per base encoder, resolved once
    for encoder in spec.encoders:
        for seed in spec.seeds:
            for inter in spec.intermediate:
                parent: PlannedRun | None = None
                label = NO_INTERMEDIATE
                if inter != NO_INTERMEDIATE:
                    label = inter.label
                    parent = PlannedRun(intermediate_run(spec, inter, encoder, seed,
                                                         vocabularies.get(encoder)), label)
                    if parent.id not in {r.id for r in runs}:
                        runs.append(parent)
                for target in spec.targets:
                    settings = target_runs(spec, target, encoder, seed,
                                           parent.id if parent else None, protocols,
                                           vocabularies.get(encoder))
                    twins = model_twins([run for _, run in settings])
                    runs += [PlannedRun(run, setting_label(label, setting),
                                        spec.retention.keep_target_checkpoints,
                                        model_twin=twins.get(run.id))
                             for setting, run in settings]
    return runs


def model_twins(runs: list[TargetRun]) -> dict[str, str]:
    """Among one target's runs (same seed and parent), the zero-shot run and the
    translate-test run, each mapped to the other, where both exist and train the same model
    (:func:`~xstilts.training.model_reuse.shares_training`)."""
    task = get_task(runs[0].task) if runs else None
    if task is None or task.type == TaskType.RETRIEVAL:  # nothing trained
        return {}
    by_setting = {run.setting: run for run in runs
                  if shares_training(run, task.train_language)}
    if set(by_setting) != {ZERO_SHOT, TRANSLATE_TEST}:
        return {}
    zero_shot, translated = by_setting[ZERO_SHOT].id, by_setting[TRANSLATE_TEST].id
    return {zero_shot: translated, translated: zero_shot}
