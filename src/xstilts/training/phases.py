"""Phase 2 (intermediate training) and phase 3 (target training + zero-shot evaluation).

Each phase is one readable function wiring small builders (load encoder, read data,
featurise, train, save, evaluate), in the spirit of a torchtune recipe. Both write into a run
folder that the executor moves into place atomically.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from xstilts.data.features import featurize
from xstilts.errors import XstiltsError
from xstilts.evaluation.zero_shot import evaluate_languages
from xstilts.models.encoders import load_encoder
from xstilts.models.heads import TaskModel
from xstilts.studies.store import MetricRow
from xstilts.tasks import Example, Task, get_task
from xstilts.training.checkpoint import save_encoder
from xstilts.training.options import TrainingOptions
from xstilts.training.support import SUPPORTED_TYPES
from xstilts.training.trainer import TrainResult, train_task_model

# Subsets are drawn with a fixed seed so that every run seed trains on the same examples:
# seeds then vary only data order and head initialisation, as the design asks.
SUBSET_SEED = 0


def select_examples(examples: list[Example], cap: int | None) -> list[Example]:
    if cap is None or cap >= len(examples):
        return examples
    picked = sorted(random.Random(SUBSET_SEED).sample(range(len(examples)), cap))
    return [examples[i] for i in picked]


def _supported(task: Task) -> None:
    if task.type not in SUPPORTED_TYPES:
        raise XstiltsError(
            f"task {task.name!r} is of type {task.type.value}, which has no head yet "
            f"(supported: {', '.join(t.value for t in SUPPORTED_TYPES)})"
        )


def _train_on(model: TaskModel, tokenizer: Any, task: Task, language: str, train_split: str,
              dev_split: str | None, options: TrainingOptions, seed: int,
              data_dir: Path | None, run_dir: Path, label: str) -> TrainResult:
    train = select_examples(task.load(train_split, language, data_dir), options.max_train_examples)
    dev = None
    if dev_split and dev_split != train_split and dev_split in task.splits and (
        task.has_data(dev_split, language, data_dir)
    ):
        dev = select_examples(task.load(dev_split, language, data_dir), options.max_dev_examples)
        if any(ex.label is None for ex in dev):
            dev = None  # an unlabeled dev split cannot select models
    model.add_classification_head(task.name, task.num_labels)
    train_features = featurize(train, tokenizer, options.max_seq_length)
    dev_features = featurize(dev, tokenizer, options.max_seq_length) if dev else None
    if any(label is None for label in train_features.labels):
        raise XstiltsError(f"{task.name}/{train_split}/{language} has no labels: cannot train")
    return train_task_model(
        model, task.name, train_features, dev_features, options, seed=seed,
        pad_id=tokenizer.pad_token_id, log_path=run_dir / "log.jsonl", description=label,
    )


def run_intermediate(settings: dict[str, Any], data_dir: Path | None, run_dir: Path) -> dict:
    """Phase 2: train the encoder on an intermediate task; save the encoder without heads."""
    task = get_task(settings["task"])
    _supported(task)
    options = TrainingOptions(**settings["training"])
    encoder, tokenizer = load_encoder(settings["encoder"])
    model = TaskModel(encoder, pooling=options.pooling)
    result = _train_on(model, tokenizer, task, settings["language"], settings["train_split"],
                       settings["dev_split"], options, settings["seed"], data_dir, run_dir,
                       f"phase 2 {task.name}")
    save_encoder(model, tokenizer, run_dir / "encoder")
    return {"training": result.__dict__}


def run_target(settings: dict[str, Any], encoder_source: str, data_dir: Path | None,
               run_dir: Path) -> tuple[list[MetricRow], dict]:
    """Phase 3: fine-tune on the target's English data, then evaluate every language."""
    task = get_task(settings["task"])
    _supported(task)
    options = TrainingOptions(**settings["training"])
    evaluation = settings["evaluation"]
    encoder, tokenizer = load_encoder(encoder_source)
    model = TaskModel(encoder, pooling=options.pooling)
    result = _train_on(model, tokenizer, task, settings["train_language"],
                       settings["train_split"], settings["dev_split"], options, settings["seed"],
                       data_dir, run_dir, f"phase 3 {task.name}")
    rows = evaluate_languages(
        model, tokenizer, task, settings["languages"], settings["eval_split"], data_dir,
        run_dir / "predictions", max_seq_length=options.max_seq_length,
        batch_size=evaluation["batch_size"], max_examples=evaluation["max_examples"],
        bootstrap_resamples=evaluation["bootstrap_resamples"],
        confidence=evaluation["confidence"], seed=settings["seed"],
    )
    (run_dir / "metrics.json").write_text(
        json.dumps([r.__dict__ for r in rows], indent=2), encoding="utf-8"
    )
    return rows, {"training": result.__dict__}
