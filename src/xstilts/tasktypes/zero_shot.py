"""Zero-shot evaluation of a task model on every language of its target task.

Writes the predictions themselves (one JSONL file per language: id, gold, prediction) so that
every number can be re-scored later, and returns scores (placed: task, language, split) with
bootstrap intervals. The generalized (mixed-language) matrix runs the same loop on a view of
the task (:mod:`xstilts.evaluation.generalized`).

Why one frozen :class:`EvaluationSettings` for the loops: the per-language, generalized and
aligned evaluations all run the same loop (read, featurise, predict, score), so they take the
same options; one value keeps them from drifting apart when an option is added. It is built
from a study's :class:`~xstilts.evaluation.settings.EvaluationOptions` and takes its defaults
from it, so each default is defined once.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from transformers import PreTrainedTokenizerBase

from xstilts import faults
from xstilts.data.feature_options import FeatureOptions
from xstilts.evaluation.generalized import SPLIT_SUFFIX, generalized_task
from xstilts.evaluation.settings import EvaluationOptions
from xstilts.models.heads import TaskModel
from xstilts.prediction_files import language_file
from xstilts.progress import progress_bar
from xstilts.results import Score
from xstilts.tasks import Task
from xstilts.tasktypes.base import TaskTypeHandler
from xstilts.tasktypes.feature_cache import cached_featurize
from xstilts.tasktypes.predict import predict
from xstilts.tasktypes.registry import handler_for

_DEFAULTS = EvaluationOptions()


@dataclass(frozen=True)
class EvaluationSettings:
    """How a task model is evaluated.

    ``handler`` defaults to the task type's own (a siamese model must pass its handler);
    ``max_examples`` keeps the first N examples per language; ``skip_bad_rows`` drops
    malformed rows of the evaluation files (the readers log them) instead of failing.
    """

    feature_options: FeatureOptions
    handler: TaskTypeHandler | None = None
    batch_size: int = _DEFAULTS.batch_size
    max_examples: int | None = _DEFAULTS.max_examples
    bootstrap_resamples: int = _DEFAULTS.bootstrap_resamples
    confidence: float = _DEFAULTS.confidence
    seed: int = 0
    autocast_bf16: bool = False
    skip_bad_rows: bool = False

    @classmethod
    def from_options(cls, options: EvaluationOptions, feature_options: FeatureOptions, *,
                     handler: TaskTypeHandler | None = None, seed: int = 0,
                     autocast_bf16: bool = False, skip_bad_rows: bool = False
                     ) -> EvaluationSettings:
        """The loops' value for a study's (or a run's) evaluation options."""
        return cls(feature_options=feature_options, handler=handler,
                   batch_size=options.batch_size, max_examples=options.max_examples,
                   bootstrap_resamples=options.bootstrap_resamples,
                   confidence=options.confidence, seed=seed, autocast_bf16=autocast_bf16,
                   skip_bad_rows=skip_bad_rows)


def evaluate_languages(
    model: TaskModel, tokenizer: PreTrainedTokenizerBase, task: Task, languages: Sequence[str],
    split: str, data_dir: Path | None, predictions_dir: Path, settings: EvaluationSettings,
) -> list[Score]:
    """Predict and score ``task`` on each language; write ``predictions_dir/LANG.jsonl``."""
    handler = settings.handler or handler_for(task)
    predictions_dir.mkdir(parents=True, exist_ok=True)
    rows: list[Score] = []
    for language in progress_bar(languages, desc=f"evaluate {task.name}", unit="lang",
                                 leave=False):
        examples = task.load(split, language, data_dir, skip_bad_rows=settings.skip_bad_rows)
        if settings.max_examples is not None:
            examples = examples[:settings.max_examples]
        features = cached_featurize(handler, task, examples, tokenizer, settings.feature_options,
                                     training=False)
        predicted = predict(model, task, handler, examples, features,
                            pad_id=tokenizer.pad_token_id, batch_size=settings.batch_size,
                            autocast_bf16=settings.autocast_bf16)
        with language_file(predictions_dir, language).open("w", encoding="utf-8") as out:
            for ex, pred in zip(examples, predicted, strict=True):
                out.write(json.dumps({"id": ex.id, "gold": handler.gold(task, ex),
                                      "prediction": pred}, ensure_ascii=False) + "\n")
                faults.point("eval.predictions", out.name)
        for score in handler.score(task, examples, predicted,
                                   resamples=settings.bootstrap_resamples,
                                   confidence=settings.confidence, seed=settings.seed):
            rows.append(score.at(task.name, language, split))
    return rows


def evaluate_generalized(
    model: TaskModel, tokenizer: PreTrainedTokenizerBase, task: Task, languages: Sequence[str],
    split: str, data_dir: Path | None, predictions_dir: Path, settings: EvaluationSettings,
) -> list[Score]:
    """Score every ordered language pair (A, B): |languages|² cells per metric, split
    ``<split>+generalized`` (:mod:`xstilts.evaluation.generalized`)."""
    view, codes = generalized_task(task, split, languages, data_dir,
                                   skip_bad_rows=settings.skip_bad_rows)
    rows = evaluate_languages(model, tokenizer, view, codes, split, None, predictions_dir,
                              settings)
    return [dataclasses.replace(r, split=r.split + SPLIT_SUFFIX) for r in rows]
