"""A study becomes a DAG of runs whose ids are content hashes.

A run's id hashes its resolved settings and its parent's id (or the encoder name for runs on
the pretrained encoder), so an intermediate checkpoint is trained once per (encoder,
intermediate config, seed) and shared by every target and every study in the same output
folder; changing any setting that matters gives a new id, never a stale result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xstilts.errors import StudyConfigError, XstiltsError
from xstilts.evaluation.settings import EvaluationOptions
from xstilts.studies.combinations import CombinationChecks
from xstilts.studies.spec import (
    IntermediateSpec,
    StudySpec,
    TargetSpec,
    resolve_training,
    study_line,
)
from xstilts.tasks import Task, TaskType, get_task
from xstilts.tasks.base import RetrievalKind
from xstilts.tasks.user import UserTaskDefinition, definition_of
from xstilts.training.runs import (  # noqa: F401  (run_id: the id of a stored settings dict)
    NO_INTERMEDIATE,
    IntermediateRun,
    PhaseTask,
    Run,
    TargetRun,
    run_id,
)


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
    """A retrieval target's protocol as its settings hold it (direction as the task uses it:
    a mining task mines source to English, a pooled task searches one pool; a bitext task
    searches as the protocol says)."""
    from xstilts.evaluation.retrieval_protocols import FIXED_DIRECTIONS  # light: no torch

    if task.retrieval_kind not in FIXED_DIRECTIONS:
        return protocol
    return {**protocol, "direction": FIXED_DIRECTIONS[task.retrieval_kind]}


def intermediate_run(spec: StudySpec, inter: IntermediateSpec, encoder: str,
                     seed: int) -> IntermediateRun:
    """Phase 2 of one intermediate configuration."""
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
        skip_bad_rows=spec.data.skip_bad_rows)


def target_run(spec: StudySpec, target: TargetSpec, encoder: str, seed: int,
               parent: str | None, protocols: dict[str, dict[str, Any]]) -> TargetRun:
    """Phase 3 (or, for retrieval, the pooled evaluation) of one target after ``parent``;
    ``protocols`` caches each base encoder's resolved retrieval protocol."""
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
        dev_language=target.dev_language or task.train_language,
        eval_split=target.eval_split or task.test_split,
        languages=tuple(target.languages or task.languages),
        training=resolve_training(spec.training, spec.target_training, target.training),
        evaluation=run_evaluation(spec, task), seed=seed, parent=parent,
        skip_bad_rows=spec.data.skip_bad_rows and not retrieval,  # retrieval reads strictly
        retrieval=protocol)


def plan_study(spec: StudySpec) -> StudyPlan:
    """Expand encoders × intermediate configurations × targets × seeds into ordered runs."""
    runs: list[PlannedRun] = []
    protocols: dict[str, dict[str, Any]] = {}  # per base encoder, resolved once
    for encoder in spec.encoders:
        for seed in spec.seeds:
            for inter in spec.intermediate:
                parent: PlannedRun | None = None
                label = NO_INTERMEDIATE
                if inter != NO_INTERMEDIATE:
                    label = inter.label
                    parent = PlannedRun(intermediate_run(spec, inter, encoder, seed), label)
                    if parent.id not in {r.id for r in runs}:
                        runs.append(parent)
                for target in spec.targets:
                    run = target_run(spec, target, encoder, seed,
                                     parent.id if parent else None, protocols)
                    runs.append(PlannedRun(run, label, spec.retention.keep_target_checkpoints))
    return StudyPlan(spec, runs)


def check_study(spec: StudySpec, path: Path | None, data_dir: Path | None) -> None:
    """Semantic checks a schema cannot do: tasks, languages, splits and data files exist."""
    problems: list[str] = []

    def where(loc: tuple[Any, ...]) -> str:
        line = study_line(path, loc) if path else None
        key = ".".join(str(p) for p in loc)
        return f"line {line}, {key}" if line else key

    def need(task: Task, split: str, language: str, loc: tuple[Any, ...], role: str) -> None:
        if split not in task.splits:
            problems.append(f"{where(loc)}: task {task.name!r} has no split {split!r} "
                            f"(it has {', '.join(task.splits)})")
            return
        if not task.needs_data_dir:
            return
        if data_dir is None:
            problems.append(f"{where(loc)}: task {task.name!r} reads data files; pass --data-dir "
                            f"(an XTREME download/ folder). {task.data_hint}")
            return
        file = task.data_path(split, language, data_dir)
        if file is not None and not file.is_file():
            problems.append(f"{where(loc)}: {role} data not found: {file}. {task.data_hint}")
        for shared in task.missing_shared_files(split, data_dir):
            problem = f"{where(loc)}: {role} data not found: {shared}. {task.data_hint}"
            if problem not in problems:  # one shared file, named once
                problems.append(problem)

    def lookup(name: str, loc: tuple[Any, ...]) -> Task | None:
        try:
            task = get_task(name)
        except XstiltsError as err:
            problems.append(f"{where(loc)}: {err}")
            return None
        if task.label_inventory is not None and data_dir is not None:
            # Labels read from the data (ccg/tags.txt): a missing or broken inventory would
            # only surface when the head is built, after earlier runs had trained.
            try:
                return task.with_data_labels(data_dir)
            except XstiltsError as err:
                problems.append(f"{where(loc)}: task {task.name!r} has no labels: {err}")
        return task

    def trainable(task: Task, loc: tuple[Any, ...]) -> bool:
        from xstilts.tasktypes import trainable_types  # lazy: pulls in torch

        supported = trainable_types()
        if task.type in supported:
            return True
        problems.append(f"{where(loc)}: task {task.name!r} is of type {task.type.value}, which "
                        f"cannot be trained yet (supported: "
                        f"{', '.join(sorted(t.value for t in supported))})")
        return False

    combos = CombinationChecks(where)
    for i, inter in enumerate(spec.intermediate):
        if inter == "none":
            continue
        if inter.mlm:
            from xstilts.models.encoders import has_mlm_head, no_mlm_head_message  # lazy: torch

            problems += [f"{where(('intermediate', i, 'mlm'))}: {no_mlm_head_message(encoder)}"
                         for encoder in spec.encoders if has_mlm_head(encoder) is False]
        for j, member in enumerate(inter.members):
            base = ("intermediate", i) if inter.mix is None else ("intermediate", i, "mix", j)
            task = lookup(member.task, (*base, "task"))
            if task is None or not trainable(task, (*base, "task")):
                continue
            if member.language not in task.languages:
                problems.append(f"{where((*base, 'language'))}: task {task.name!r} has no "
                                f"language {member.language!r}; it has "
                                f"{', '.join(task.languages)}")
                continue
            need(task, member.train_split or task.train_split, member.language, base,
                 "training")
            problems += combos.training_problems(
                task, [(("training",), spec.training),
                       (("intermediate_training",), spec.intermediate_training),
                       (("intermediate", i, "training"), inter.training)], base)
    for i, target in enumerate(spec.targets):
        task = lookup(target.task, ("targets", i, "task"))
        if task is None:
            continue
        retrieval = task.type == TaskType.RETRIEVAL  # no phase 3: the encoder is pooled
        if not retrieval and not trainable(task, ("targets", i, "task")):
            continue
        unknown = [lang for lang in target.languages or () if lang not in task.languages]
        if unknown:
            problems.append(f"{where(('targets', i, 'languages'))}: task {task.name!r} has no "
                            f"language(s) {', '.join(unknown)}; it has {', '.join(task.languages)}")
            continue
        if not retrieval:
            need(task, target.train_split or task.train_split, task.train_language,
                 ("targets", i), "training")
            dev_language = target.dev_language or task.train_language
            if dev_language not in task.languages:
                problems.append(f"{where(('targets', i, 'dev_language'))}: task {task.name!r} "
                                f"has no language {dev_language!r}")
            else:
                need(task, target.dev_split or task.dev_split, dev_language,
                     ("targets", i), "dev")
        eval_split = target.eval_split or task.test_split
        evaluated = target.languages or task.languages
        for lang in evaluated:
            need(task, eval_split, lang, ("targets", i), "evaluation")
        if task.reads_every_language and eval_split in task.splits and data_dir:
            for lang in task.languages:
                if lang not in evaluated:
                    need(task, eval_split, lang, ("targets", i), "candidate pool")
        for lang in _generalized_languages(spec, task):
            if lang not in evaluated:  # read by the generalized matrix only
                need(task, eval_split, lang, ("evaluation", "generalized"),
                     "generalized evaluation")
        if not retrieval:
            problems += _evaluation_option_problems(spec, target, task, where(("targets", i)))
            problems += combos.training_problems(
                task, [(("training",), spec.training),
                       (("target_training",), spec.target_training),
                       (("targets", i, "training"), target.training)], ("targets", i))
    if problems:
        raise StudyConfigError(path, problems)


def _generalized_languages(spec: StudySpec, task: Task) -> list[str]:
    """The languages whose test files the generalized matrix reads for ``task`` (none where
    it does not apply; those problems are reported by :func:`_evaluation_option_problems`)."""
    languages = spec.evaluation.generalized or []
    if task.type != TaskType.PAIR_CLASSIFICATION:
        return []
    return [lang for lang in dict.fromkeys(languages) if lang in task.languages]


def _evaluation_option_problems(spec: StudySpec, target: TargetSpec, task: Task,
                                where: str) -> list[str]:
    """What stops the generalized matrix or the alignment from running on a target, found
    before any training rather than after phase 3."""
    problems = []
    evaluation = spec.evaluation
    if evaluation.generalized is not None:
        if task.type != TaskType.PAIR_CLASSIFICATION:
            problems.append(f"{where}: evaluation.generalized needs a pair task with parallel "
                            f"test sets (XNLI, PAWS-X); {task.name!r} is {task.type.value}")
        else:
            unknown = [lang for lang in evaluation.generalized if lang not in task.languages]
            if unknown:
                problems.append(f"{where}: evaluation.generalized: task {task.name!r} has no "
                                f"language(s) {', '.join(unknown)}")
            repeated = sorted({lang for lang in evaluation.generalized
                               if evaluation.generalized.count(lang) > 1})
            if repeated:
                problems.append(f"{where}: evaluation.generalized lists {', '.join(repeated)} "
                                "more than once; give distinct languages")
    if evaluation.align is not None:
        training = resolve_training(spec.training, spec.target_training, target.training)
        if training.pair_encoding != "siamese":
            problems.append(f"{where}: evaluation.align projects per-sentence vectors, so it "
                            f"needs training.pair_encoding: siamese (got "
                            f"{training.pair_encoding!r}: a cross-encoder has none)")
    return problems
