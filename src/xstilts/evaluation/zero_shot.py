"""Zero-shot evaluation of a task model on every language of its target task.

Writes the predictions themselves (one JSONL file per language: id, gold, prediction) so that
every number can be re-scored later, and returns metric rows with bootstrap intervals.
"""

from __future__ import annotations

import json
from pathlib import Path

from transformers import PreTrainedTokenizerBase

from xstilts.evaluation.predict import predict
from xstilts.models.heads import TaskModel
from xstilts.progress import progress_bar
from xstilts.studies.store import MetricRow
from xstilts.tasks import Task
from xstilts.tasktypes import FeatureOptions, TaskTypeHandler, handler_for


def evaluate_languages(
    model: TaskModel,
    tokenizer: PreTrainedTokenizerBase,
    task: Task,
    languages: list[str],
    split: str,
    data_dir: Path | None,
    predictions_dir: Path,
    *,
    handler: TaskTypeHandler | None = None,
    feature_options: FeatureOptions,
    batch_size: int = 64,
    max_examples: int | None = None,
    bootstrap_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    autocast_bf16: bool = False,
) -> list[MetricRow]:
    """Predict and score ``task`` on each language; write ``predictions_dir/LANG.jsonl``."""
    handler = handler or handler_for(task)
    predictions_dir.mkdir(parents=True, exist_ok=True)
    rows: list[MetricRow] = []
    for language in progress_bar(languages, desc=f"evaluate {task.name}", unit="lang",
                                 leave=False):
        examples = task.load(split, language, data_dir)
        if max_examples is not None:
            examples = examples[:max_examples]
        features = handler.featurize(task, examples, tokenizer, feature_options, training=False)
        predicted = predict(model, task, handler, examples, features,
                            pad_id=tokenizer.pad_token_id, batch_size=batch_size,
                            autocast_bf16=autocast_bf16)
        with (predictions_dir / f"{language}.jsonl").open("w", encoding="utf-8") as out:
            for ex, pred in zip(examples, predicted, strict=True):
                out.write(json.dumps({"id": ex.id, "gold": handler.gold(task, ex),
                                      "prediction": pred}, ensure_ascii=False) + "\n")
        for score in handler.score(task, examples, predicted, resamples=bootstrap_resamples,
                                   confidence=confidence, seed=seed):
            rows.append(MetricRow(task.name, language, split, score.metric, score.value,
                                  score.ci_low, score.ci_high, score.n))
    return rows
