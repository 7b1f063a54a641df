"""Zero-shot evaluation of a task model on every language of its target task.

Writes the predictions themselves (one JSONL file per language: id, gold, prediction) so that
every number can be re-scored later, and returns metric rows with bootstrap intervals.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from transformers import PreTrainedTokenizerBase

from xstilts.evaluation.predict import predict
from xstilts.evaluation.settings import EvaluationSettings
from xstilts.models.heads import TaskModel
from xstilts.progress import progress_bar
from xstilts.studies.store import MetricRow
from xstilts.tasks import Task
from xstilts.tasktypes import handler_for


def evaluate_languages(
    model: TaskModel, tokenizer: PreTrainedTokenizerBase, task: Task, languages: Sequence[str],
    split: str, data_dir: Path | None, predictions_dir: Path, settings: EvaluationSettings,
) -> list[MetricRow]:
    """Predict and score ``task`` on each language; write ``predictions_dir/LANG.jsonl``."""
    handler = settings.handler or handler_for(task)
    predictions_dir.mkdir(parents=True, exist_ok=True)
    rows: list[MetricRow] = []
    for language in progress_bar(languages, desc=f"evaluate {task.name}", unit="lang",
                                 leave=False):
        examples = task.load(split, language, data_dir, skip_bad_rows=settings.skip_bad_rows)
        if settings.max_examples is not None:
            examples = examples[:settings.max_examples]
        features = handler.featurize(task, examples, tokenizer, settings.feature_options,
                                     training=False)
        predicted = predict(model, task, handler, examples, features,
                            pad_id=tokenizer.pad_token_id, batch_size=settings.batch_size,
                            autocast_bf16=settings.autocast_bf16)
        with (predictions_dir / f"{language}.jsonl").open("w", encoding="utf-8") as out:
            for ex, pred in zip(examples, predicted, strict=True):
                out.write(json.dumps({"id": ex.id, "gold": handler.gold(task, ex),
                                      "prediction": pred}, ensure_ascii=False) + "\n")
        for score in handler.score(task, examples, predicted,
                                   resamples=settings.bootstrap_resamples,
                                   confidence=settings.confidence, seed=settings.seed):
            rows.append(MetricRow(task.name, language, split, score.metric, score.value,
                                  score.ci_low, score.ci_high, score.n))
    return rows
