"""Training options that a task cannot be trained with, found before any training.

Each check mirrors a refusal the engine would otherwise raise only once the run that needs
it starts, possibly hours into a study, after earlier runs have trained:

* ``pair_encoding: siamese`` on a task type without a bi-encoder (classification, multiple
  choice, extractive QA, tagging) — :func:`xstilts.tasktypes.handler_for` refuses it;
* ``pair_encoding: siamese`` on a task whose examples hold one text (a user regression task
  without ``columns.text_b``) — the siamese featurisation refuses it;
* ``smoothing.substitution_dictionary`` on extractive QA (substitution would move the answer
  spans) or naming a dictionary that is missing or malformed — the substitution refuses it;
* extractive QA with ``max_seq_length`` too short for a question of ``max_query_length``
  tokens plus the context minimum — the QA featurisation refuses it at the first long
  question.

A problem is reported at the key that sets the option (the study's ``training``, the phase's
``*_training`` or the entry's own ``training``, whichever applies last), naming the task.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from pydantic import BaseModel

from xstilts.errors import XstiltsError
from xstilts.studies.spec import resolve_training
from xstilts.tasks import Task, TaskType
from xstilts.training.options import TrainingOptions

# (key path of a block in the study file, the training options given there or None), in the
# order resolve_training applies them: study defaults first, the entry's own block last.
Layer = tuple[tuple[Any, ...], BaseModel | None]

# Special tokens of a question-context pair: at least [CLS] q [SEP] c [SEP] (BERT); XLM-R
# has 4. The smaller count refuses only what fails with every tokenizer.
MIN_PAIR_SPECIAL_TOKENS = 3


def set_at(layers: Sequence[Layer], field: str) -> tuple[Any, ...] | None:
    """Key path of the layer that gives ``field`` its value (the last that sets it)."""
    for loc, options in reversed(layers):
        if options is not None and field in options.model_fields_set:
            return (*loc, field)
    return None


def texts_per_example(task: Task) -> int | None:
    """1 for a user task declared without ``columns.text_b``; None where the task does not
    say (built-in pair and regression tasks always have two texts)."""
    from xstilts.tasks.user import UserTaskSpec, definition_of

    definition = definition_of(task.name)
    if definition is None:
        return None
    columns = UserTaskSpec.model_validate_json(definition.declaration).columns
    return 1 if columns.text_b is None else 2


class CombinationChecks:
    """Checks one study's trained tasks; loads each substitution dictionary once."""

    def __init__(self, where: Callable[[tuple[Any, ...]], str]):
        self.where = where
        self._dictionaries: dict[str, str | None] = {}

    def training_problems(self, task: Task, layers: Sequence[Layer],
                          used_by: tuple[Any, ...]) -> list[str]:
        """What stops ``task`` (at ``used_by`` in the study) from training with the options
        of ``layers``."""
        base = layers[0][1]
        assert isinstance(base, TrainingOptions)
        training = resolve_training(base, *(options for _, options in layers[1:]))
        problems: list[str] = []

        def report(field: str, message: str, *subkeys: str) -> None:
            key = set_at(layers, field) or (*used_by, "training", field)
            note = "" if key[:len(used_by)] == used_by else \
                f" (used by {'.'.join(map(str, used_by))})"
            problems.append(f"{self.where((*key, *subkeys))}: {message}{note}")

        self._pair_encoding(task, training, report)
        self._substitution(task, training, report)
        self._qa_lengths(task, training, report)
        return problems

    @staticmethod
    def _pair_encoding(task: Task, training: TrainingOptions,
                       report: Callable[..., None]) -> None:
        from xstilts.tasktypes import handler_for  # lazy: pulls in torch

        try:
            handler_for(task, training.pair_encoding)
        except XstiltsError as err:
            report("pair_encoding", str(err))
            return
        if task.concrete_pair_encoding(training.pair_encoding) == "siamese" \
                and texts_per_example(task) == 1:
            report("pair_encoding", f"task {task.name!r} has one text per example (its task "
                   "file gives no columns.text_b); pair_encoding: siamese encodes the two "
                   "texts of a pair apart, so it needs two")

    def _substitution(self, task: Task, training: TrainingOptions,
                      report: Callable[..., None]) -> None:
        smoothing = training.smoothing
        if smoothing is None or not smoothing.substitution_dictionary:
            return
        if task.type == TaskType.EXTRACTIVE_QA:
            report("smoothing", f"task {task.name!r} is extractive QA: substituting words "
                   "would move its answer spans; use smoothing.noise_sigma instead",
                   "substitution_dictionary")
        problem = self._dictionary_problem(smoothing.substitution_dictionary)
        if problem is not None:
            report("smoothing", problem, "substitution_dictionary")

    def _dictionary_problem(self, path: str) -> str | None:
        if path not in self._dictionaries:
            from xstilts.training.substitution import load_dictionary

            try:
                load_dictionary(path)
            except XstiltsError as err:  # one line per problem in the listing
                self._dictionaries[path] = "; ".join(str(err).splitlines())
            else:
                self._dictionaries[path] = None
        return self._dictionaries[path]

    @staticmethod
    def _qa_lengths(task: Task, training: TrainingOptions,
                    report: Callable[..., None]) -> None:
        if task.type != TaskType.EXTRACTIVE_QA:
            return
        from xstilts.tasktypes.extractive_qa import MIN_CONTEXT_TOKENS  # lazy: torch

        room = training.max_seq_length - training.max_query_length - MIN_PAIR_SPECIAL_TOKENS
        if room < MIN_CONTEXT_TOKENS:
            report("max_seq_length", f"task {task.name!r}: max_seq_length "
                   f"{training.max_seq_length} leaves {room} context tokens after a question "
                   f"of max_query_length {training.max_query_length} tokens and "
                   f"{MIN_PAIR_SPECIAL_TOKENS} special tokens (at least {MIN_CONTEXT_TOKENS} "
                   "needed); raise max_seq_length or lower max_query_length")
