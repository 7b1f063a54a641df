"""Zero-shot evaluation of a task model on every language of its target task.

Writes the predictions themselves (one JSONL file per language) so that every number can be
re-scored later, and returns one metric row per language with a bootstrap interval.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm
from transformers import PreTrainedTokenizerBase

from xstilts.data.features import featurize
from xstilts.evaluation.metrics import score_accuracy
from xstilts.evaluation.predict import predict_logits
from xstilts.models.heads import TaskModel
from xstilts.studies.store import MetricRow
from xstilts.tasks import Task


def evaluate_languages(
    model: TaskModel,
    tokenizer: PreTrainedTokenizerBase,
    task: Task,
    languages: list[str],
    split: str,
    data_dir: Path | None,
    predictions_dir: Path,
    *,
    max_seq_length: int,
    batch_size: int = 64,
    max_examples: int | None = None,
    bootstrap_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> list[MetricRow]:
    """Predict and score ``task`` on each language; write ``predictions_dir/LANG.jsonl``."""
    predictions_dir.mkdir(parents=True, exist_ok=True)
    rows: list[MetricRow] = []
    for language in tqdm(languages, desc=f"evaluate {task.name}", unit="lang", leave=False):
        examples = task.load(split, language, data_dir)
        if max_examples is not None:
            examples = examples[:max_examples]
        features = featurize(examples, tokenizer, max_seq_length)
        logits = predict_logits(model, task.name, features, pad_id=tokenizer.pad_token_id,
                                batch_size=batch_size)
        predicted = logits.argmax(axis=1)
        probs = _softmax(logits)
        with (predictions_dir / f"{language}.jsonl").open("w", encoding="utf-8") as out:
            for ex, pred, p in zip(examples, predicted, probs, strict=True):
                out.write(json.dumps({
                    "id": ex.id, "gold": ex.label, "prediction": int(pred),
                    "probabilities": [round(float(x), 5) for x in p],
                }) + "\n")
        score = score_accuracy([ex.label for ex in examples], predicted.tolist(),
                               resamples=bootstrap_resamples, confidence=confidence, seed=seed)
        rows.append(MetricRow(task.name, language, split, score.metric, score.value,
                              score.ci_low, score.ci_high, score.n))
    return rows


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)
