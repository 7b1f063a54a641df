"""Everything a study file can get wrong that a schema cannot see, found before any training.

A crash after hours of training is a validation bug, so every task, language, split, data file
and option combination a study names is checked here, and all problems are reported together,
each with the line and key of the study file that caused it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from xstilts.errors import StudyConfigError, XstiltsError
from xstilts.languages import get_language
from xstilts.studies.combinations import CombinationChecks
from xstilts.studies.spec import (
    IntermediateSpec,
    StudySpec,
    TargetSpec,
    resolve_training,
    study_line,
)
from xstilts.tasks import Task, TaskType, get_task
from xstilts.tasks.registry import list_tasks
from xstilts.tasks.translations import (
    TRANSLATE_TEST,
    TRANSLATE_TRAIN,
    files_of,
    has_translations,
    translation_file,
)

Location = tuple[Any, ...]


def check_study(spec: StudySpec, path: Path | None, data_dir: Path | None) -> None:
    """Semantic checks a schema cannot do: tasks, languages, splits and data files exist."""
    StudyValidator(spec, path, data_dir).raise_problems()


class StudyValidator:
    """Collects the problems of one study: one method per part of the study file."""

    def __init__(self, spec: StudySpec, path: Path | None, data_dir: Path | None) -> None:
        self.spec, self.path, self.data_dir = spec, path, data_dir
        self.problems: list[str] = []
        self.combos = CombinationChecks(self.where)

    def raise_problems(self) -> None:
        for i, inter in enumerate(self.spec.intermediate):
            if inter != "none":
                self.check_intermediate(i, inter)
        for i, target in enumerate(self.spec.targets):
            self.check_target(i, target)
        if self.spec.vocabulary == "trimmed":
            self.problems += trimmed_vocabulary_problems(self.spec, self.where)
        if self.problems:
            raise StudyConfigError(self.path, self.problems)

    def where(self, loc: Location) -> str:
        """``line N, key.path`` of the study file, or just the key when there is no file."""
        line = study_line(self.path, loc) if self.path else None
        key = ".".join(str(p) for p in loc)
        return f"line {line}, {key}" if line else key

    def add(self, loc: Location, message: str) -> None:
        self.problems.append(f"{self.where(loc)}: {message}")

    def add_once(self, loc: Location, message: str) -> None:
        """A problem several runs of one target share (a shared or translated file): once."""
        problem = f"{self.where(loc)}: {message}"
        if problem not in self.problems:
            self.problems.append(problem)

    # -- one task -------------------------------------------------------------------------

    def lookup(self, name: str, loc: Location) -> Task | None:
        try:
            task = get_task(name)
        except XstiltsError as err:
            self.add(loc, str(err))
            return None
        if task.label_inventory is not None and self.data_dir is not None:
            # Labels read from the data (ccg/tags.txt): a missing or broken inventory would
            # only surface when the head is built, after earlier runs had trained.
            try:
                return task.with_data_labels(self.data_dir)
            except XstiltsError as err:
                self.add(loc, f"task {task.name!r} has no labels: {err}")
        return task

    def trainable(self, task: Task, loc: Location) -> bool:
        from xstilts.tasktypes import trainable_types  # lazy: pulls in torch

        supported = trainable_types()
        if task.type in supported:
            return True
        self.add(loc, f"task {task.name!r} is of type {task.type}, which cannot be trained "
                      f"yet (supported: {', '.join(sorted(str(t) for t in supported))})")
        return False

    def need(self, task: Task, split: str, language: str, loc: Location, role: str) -> None:
        """The split exists and its data file (and any shared file) is on disk."""
        if split not in task.splits:
            self.add(loc, f"task {task.name!r} has no split {split!r} "
                          f"(it has {', '.join(task.splits)})")
            return
        if not task.needs_data_dir:  # data that ships, or files next to a task file
            file = task.data_path(split, language, Path())
            if file is not None and not file.is_file():
                self.add(loc, f"{role} data not found: {file}. {task.data_hint}")
            return
        if self.data_dir is None:
            self.add(loc, f"task {task.name!r} reads data files; pass --data-dir (an XTREME "
                          f"download/ folder). {task.data_hint}")
            return
        file = task.data_path(split, language, self.data_dir)
        if file is not None and not file.is_file():
            self.add(loc, f"{role} data not found: {file}. {task.data_hint}")
        for shared in task.missing_shared_files(split, self.data_dir):
            self.add_once(loc, f"{role} data not found: {shared}. {task.data_hint}")

    # -- the parts of a study -------------------------------------------------------------

    def check_intermediate(self, i: int, inter: IntermediateSpec) -> None:
        spec = self.spec
        if inter.mlm:
            from xstilts.models.encoders import has_mlm_head, no_mlm_head_message  # torch

            for encoder in spec.encoders:
                if has_mlm_head(encoder) is False:
                    self.add(("intermediate", i, "mlm"), no_mlm_head_message(encoder))
        for j, member in enumerate(inter.members):
            base = ("intermediate", i) if inter.mix is None else ("intermediate", i, "mix", j)
            task = self.lookup(member.task, (*base, "task"))
            if task is None or not self.trainable(task, (*base, "task")):
                continue
            if member.language not in task.languages:
                self.add((*base, "language"), f"task {task.name!r} has no language "
                         f"{member.language!r}; it has {', '.join(task.languages)}")
                continue
            self.need(task, member.train_split or task.train_split, member.language, base,
                      "training")
            self.problems += self.combos.training_problems(
                task, [(("training",), spec.training),
                       (("intermediate_training",), spec.intermediate_training),
                       (("intermediate", i, "training"), inter.training)], base)

    def check_target(self, i: int, target: TargetSpec) -> None:
        loc = ("targets", i)
        task = self.lookup(target.task, (*loc, "task"))
        if task is None:
            return
        retrieval = task.type == TaskType.RETRIEVAL  # no phase 3: the encoder is pooled
        if not retrieval and not self.trainable(task, (*loc, "task")):
            return
        unknown = [lang for lang in target_languages(target, task) if lang not in task.languages]
        if unknown:
            self.add((*loc, "languages"), f"task {task.name!r} has no language(s) "
                     f"{', '.join(unknown)}; it has {', '.join(task.languages)}")
            return
        if not self.check_settings(i, target, task):
            return
        if not retrieval:
            self.check_target_training_data(i, target, task)
        self.check_evaluation_data(i, target, task)
        if not retrieval:
            self.problems += evaluation_option_problems(self.spec, target, task,
                                                        self.where(loc))
            self.problems += self.combos.training_problems(
                task, [(("training",), self.spec.training),
                       (("target_training",), self.spec.target_training),
                       ((*loc, "training"), target.training)], loc)

    def check_settings(self, i: int, target: TargetSpec, task: Task) -> bool:
        """The translate settings the task has files for, and every translated file the runs
        read (missing ones named with the path looked for); False when a setting cannot
        run at all."""
        loc = ("targets", i, "setting")
        translated = target.translate_settings
        if translated and task.type == TaskType.RETRIEVAL:
            self.add(loc, f"task {task.name!r} is a retrieval task (no fine-tuning, nothing "
                     f"translated to train or test on): it runs zero-shot only")
            return False
        missing = [s for s in translated if not has_translations(task, s)]
        if missing:
            having = [t.name for t in list_tasks() if t.translations]
            self.add(loc, f"task {task.name!r} has no {' / '.join(missing)} files (tasks with "
                     f"translated files: {', '.join(having) or 'none'}; a task file may name "
                     "its own, docs/translate.md)")
            return False
        train_split = target.train_split or task.train_split
        eval_split = target.eval_split or task.test_split
        for setting in translated:
            split = eval_split if setting == TRANSLATE_TEST else train_split
            role = "translate-test evaluation" if setting == TRANSLATE_TEST \
                else f"{setting} training"
            for lang in target_languages(target, task):
                if lang == task.train_language:
                    continue  # English reads its own files
                file = translation_file(task, setting, split, lang, self.data_dir)
                if not (task.translations[files_of(setting)].needs_data_dir
                        and self.data_dir is None) and not file.is_file():
                    self.add_once(loc, f"{role} data for {lang!r} not found: {file}")
        return True

    def check_target_training_data(self, i: int, target: TargetSpec, task: Task) -> None:
        loc = ("targets", i)
        if set(target.settings) != {TRANSLATE_TRAIN}:  # the other settings train on English
            self.need(task, target.train_split or task.train_split, task.train_language, loc,
                      "training")
        dev_language = task_language(target.dev_language or task.train_language, task)
        if dev_language not in task.languages:
            self.add((*loc, "dev_language"), f"task {task.name!r} has no language "
                                             f"{dev_language!r}")
        else:
            self.need(task, target.dev_split or task.dev_split, dev_language, loc, "dev")

    def check_evaluation_data(self, i: int, target: TargetSpec, task: Task) -> None:
        """Every file the zero-shot evaluation reads: each evaluated language's, a candidate
        pool's other languages, and the generalized matrix's languages."""
        loc = ("targets", i)
        eval_split = target.eval_split or task.test_split
        evaluated = target_languages(target, task)
        for lang in evaluated:
            self.need(task, eval_split, lang, loc, "evaluation")
        if task.reads_every_language and eval_split in task.splits and self.data_dir:
            for lang in task.languages:
                if lang not in evaluated:
                    self.need(task, eval_split, lang, loc, "candidate pool")
        for lang in generalized_languages(self.spec, task):
            if lang not in evaluated:  # read by the generalized matrix only
                self.need(task, eval_split, lang, ("evaluation", "generalized"),
                          "generalized evaluation")


def trimmed_vocabulary_problems(spec: StudySpec, where: Any) -> list[str]:
    """What ``vocabulary: trimmed`` cannot do exactly, refused before the trim and any run:
    an encoder ``trim_encoder`` refuses (hub ids, non-Unigram tokenizers), substitution
    smoothing (it trains on words no study text has), and masked-LM phase 2 (its softmax and
    its random replacement tokens range over the whole vocabulary, so trimming changes it)."""
    from xstilts.training.vocabulary import trim_refusal  # torch: the trim module

    problems = []
    for i, encoder in enumerate(spec.encoders):
        refusal = trim_refusal(encoder)
        if refusal:
            problems.append(f"{where(('encoders', i))}: vocabulary: trimmed: {refusal}")
    for i, inter in enumerate(spec.intermediate):
        if inter == "none":
            continue
        if inter.mlm:
            problems.append(f"{where(('intermediate', i, 'mlm'))}: vocabulary: trimmed cannot "
                            "be combined with mlm: masked-LM predicts over the whole vocabulary "
                            "(and masks with random tokens from it), so a trimmed one changes "
                            "the results; use vocabulary: full")
        training = resolve_training(spec.training, spec.intermediate_training, inter.training)
        problems += _substitution_problem(training, where(("intermediate", i)))
    for i, target in enumerate(spec.targets):
        training = resolve_training(spec.training, spec.target_training, target.training)
        problems += _substitution_problem(training, where(("targets", i)))
        translated = target.translate_settings
        if translated:
            problems.append(f"{where(('targets', i, 'setting'))}: vocabulary: trimmed cannot be "
                            f"combined with {', '.join(translated)}: the trimmed vocabulary "
                            "covers the task's own files, not its translated ones; use "
                            "vocabulary: full")
    return list(dict.fromkeys(problems))


def _substitution_problem(training: Any, where: str) -> list[str]:
    smoothing = training.smoothing
    if smoothing is None or not smoothing.substitution_dictionary:
        return []
    return [f"{where}: vocabulary: trimmed cannot be combined with "
            "training.smoothing.substitution_dictionary: substitution trains on words that "
            "no text of the study holds, which a trimmed vocabulary splits differently; use "
            "vocabulary: full"]


def task_language(code: str, task: Task) -> str:
    """``code`` as ``task`` writes it: a code the task lists is kept; another spelling of one
    (``aym`` for ``ay``, ``deu`` for ``de``, ``sr-Latn`` for ``sr``) becomes the task's."""
    if code in task.languages:
        return code
    try:
        canonical = get_language(code).code
    except XstiltsError:
        return code  # unknown: reported as such by the caller
    return canonical if canonical in task.languages else code


def target_languages(target: TargetSpec, task: Task) -> tuple[str, ...]:
    """The languages a target evaluates, as the task writes them (all of them by default)."""
    if not target.languages:
        return task.languages
    return tuple(task_language(code, task) for code in target.languages)


def generalized_languages(spec: StudySpec, task: Task) -> list[str]:
    """The languages whose test files the generalized matrix reads for ``task`` (none where
    it does not apply; those problems are reported by :func:`evaluation_option_problems`)."""
    languages = spec.evaluation.generalized or []
    if task.type != TaskType.PAIR_CLASSIFICATION:
        return []
    return [lang for lang in dict.fromkeys(languages) if lang in task.languages]


def evaluation_option_problems(spec: StudySpec, target: TargetSpec, task: Task,
                               where: str) -> list[str]:
    """What stops the generalized matrix or the alignment from running on a target, found
    before any training rather than after phase 3."""
    problems = []
    evaluation = spec.evaluation
    if evaluation.generalized is not None:
        if task.type != TaskType.PAIR_CLASSIFICATION:
            problems.append(f"{where}: evaluation.generalized needs a pair task with parallel "
                            f"test sets (XNLI, PAWS-X); {task.name!r} is {task.type}")
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
        used = task.concrete_pair_encoding(training.pair_encoding)
        if used != "siamese":
            given = repr(used) if used == training.pair_encoding else \
                f"{training.pair_encoding!r}, which is {used!r} for {task.name!r}"
            problems.append(f"{where}: evaluation.align projects per-sentence vectors, so it "
                            f"needs training.pair_encoding: siamese (got {given}: a "
                            "cross-encoder has none)")
    return problems
