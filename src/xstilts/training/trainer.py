"""The training loop of phases 2 and 3, on accelerate (CPU, one or several GPUs alike).

One loop serves single-task and multi-task training: each step draws a task from the mix
(always the same task when there is one), takes that task's next batch, and updates the
shared encoder and that task's head. After every epoch the dev sets are scored; the
trainable weights of the best epoch are kept in memory and restored at the end, so the
returned model is the selected one.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from accelerate import Accelerator
from accelerate.utils import set_seed
from tqdm.auto import tqdm
from transformers import get_linear_schedule_with_warmup

from xstilts.data.batching import endless_batches
from xstilts.errors import TrainingError
from xstilts.evaluation.predict import predict
from xstilts.models.heads import TaskModel
from xstilts.tasks.base import Task
from xstilts.tasktypes.base import Features, TaskTypeHandler
from xstilts.training.options import MixOptions, TrainingOptions


@dataclass
class TrainingStream:
    """One task's training data (and optional dev data) inside a phase."""

    task: Task
    handler: TaskTypeHandler
    train: Features
    dev_examples: Sequence[Any] | None = None
    dev: Features | None = None


@dataclass(frozen=True)
class TrainResult:
    """What a phase reports about its own training."""

    steps: int
    epochs_run: int
    best_epoch: int
    best_dev_score: float | None
    dev_scores: dict[str, float]
    final_loss: float
    train_seconds: float
    examples_per_second: float


def freeze_word_embeddings(model: TaskModel) -> None:
    model.encoder.get_input_embeddings().weight.requires_grad_(False)


def _trainable_state(model: TaskModel) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}


def _dev_scores(model: TaskModel, streams: Sequence[TrainingStream], pad_id: int,
                batch_size: int, device: torch.device, bf16: bool) -> dict[str, float]:
    scores: dict[str, float] = {}
    for s in streams:
        if s.dev is None or not s.dev_examples:
            continue
        predictions = predict(model, s.task, s.handler, s.dev_examples, s.dev, pad_id=pad_id,
                              batch_size=batch_size, device=device, autocast_bf16=bf16)
        primary = s.handler.score(s.task, s.dev_examples, predictions, resamples=10,
                                  confidence=0.95, seed=0)[0]
        scores[s.task.name] = primary.value
    return scores


def train_model(
    model: TaskModel,
    streams: Sequence[TrainingStream],
    options: TrainingOptions,
    *,
    seed: int,
    pad_id: int,
    mix: MixOptions | None = None,
    log_path: Path | None = None,
    description: str = "train",
) -> TrainResult:
    """Fine-tune the encoder and the streams' heads; select the epoch on the dev sets."""
    if not streams or any(len(s.train) == 0 for s in streams):
        raise TrainingError(f"{description}: no training examples")
    set_seed(seed)
    accelerator = Accelerator(mixed_precision=options.precision,
                              gradient_accumulation_steps=options.gradient_accumulation_steps)
    if options.freeze_embeddings:
        freeze_word_embeddings(model)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(
        [{"params": [p for p in params if p.ndim > 1], "weight_decay": options.weight_decay},
         {"params": [p for p in params if p.ndim <= 1], "weight_decay": 0.0}],
        lr=options.learning_rate,
    )
    batches_per_epoch = sum(math.ceil(len(s.train) / options.batch_size) for s in streams)
    steps_per_epoch = math.ceil(batches_per_epoch / options.gradient_accumulation_steps)
    total_steps = steps_per_epoch * options.epochs
    if options.max_steps is not None:
        total_steps = min(total_steps, options.max_steps)
    scheduler = get_linear_schedule_with_warmup(
        optimizer, int(options.warmup_ratio * total_steps), total_steps)
    model, optimizer, scheduler = accelerator.prepare(model, optimizer, scheduler)
    unwrapped: TaskModel = accelerator.unwrap_model(model)

    generator = torch.Generator().manual_seed(seed)
    iterators = [endless_batches(len(s.train), options.batch_size, generator, s.train.lengths)
                 for s in streams]
    probabilities = (mix or MixOptions()).probabilities([len(s.train) for s in streams])
    choose = np.random.default_rng(seed)
    bf16 = options.precision == "bf16"

    log_file = log_path.open("a", encoding="utf-8") if log_path else None
    best_state: dict[str, torch.Tensor] | None = None
    best: float | None = None
    best_epoch, epochs_without_gain, step, seen, epoch = 0, 0, 0, 0, 0
    dev_scores: dict[str, float] = {}
    loss_value = float("nan")
    start = time.perf_counter()
    progress = tqdm(total=total_steps, desc=description, unit="step", leave=False,
                    disable=not accelerator.is_local_main_process)
    model.train()
    try:
        while step < total_steps:
            epoch += 1
            for _ in range(batches_per_epoch):
                k = int(choose.choice(len(streams), p=probabilities)) if len(streams) > 1 else 0
                stream = streams[k]
                batch_idx = next(iterators[k])
                batch = stream.handler.collate(stream.train, batch_idx, pad_id)
                batch = {key: v.to(accelerator.device) for key, v in batch.items()}
                with accelerator.accumulate(model):
                    loss, _ = model(stream.task.name, batch)
                    if loss is None or not torch.isfinite(loss):
                        raise TrainingError(
                            f"{description}: loss became {loss} at step {step + 1} (epoch "
                            f"{epoch}, task {stream.task.name}); no checkpoint was written. "
                            f"Try a lower learning_rate (now {options.learning_rate}) or "
                            "precision 'no'.")
                    accelerator.backward(loss)
                    if accelerator.sync_gradients:
                        accelerator.clip_grad_norm_(params, options.max_grad_norm)
                    optimizer.step()
                    scheduler.step()
                    optimizer.zero_grad()
                seen += len(batch_idx)
                loss_value = float(loss.item())
                if not accelerator.sync_gradients:
                    continue
                step += 1
                elapsed = time.perf_counter() - start
                progress.update(1)
                progress.set_postfix(loss=f"{loss_value:.3f}", ex_s=f"{seen / elapsed:.1f}")
                if log_file and (step % options.log_every == 0 or step == total_steps):
                    log_file.write(json.dumps({
                        "step": step, "epoch": epoch, "task": stream.task.name,
                        "loss": loss_value, "lr": scheduler.get_last_lr()[0],
                        "examples_per_second": round(seen / elapsed, 2)}) + "\n")
                if step >= total_steps:
                    break
            dev_scores = _dev_scores(unwrapped, streams, pad_id, options.batch_size * 2,
                                     accelerator.device, bf16)
            if dev_scores:
                current = float(np.mean(list(dev_scores.values())))
                if log_file:
                    log_file.write(json.dumps({"epoch": epoch, "dev": dev_scores,
                                               "dev_mean": current}) + "\n")
                if best is None or current > best:
                    best, best_epoch, epochs_without_gain = current, epoch, 0
                    best_state = _trainable_state(unwrapped)
                else:
                    epochs_without_gain += 1
                    patience = options.early_stopping_patience
                    if patience is not None and epochs_without_gain >= patience:
                        break
    finally:
        progress.close()
        if log_file:
            log_file.close()
    if best_state is not None:
        unwrapped.load_state_dict(best_state, strict=False)
    elapsed = time.perf_counter() - start
    return TrainResult(steps=step, epochs_run=epoch, best_epoch=best_epoch or epoch,
                       best_dev_score=best, dev_scores=dev_scores, final_loss=loss_value,
                       train_seconds=round(elapsed, 2),
                       examples_per_second=round(seen / elapsed, 2) if elapsed > 0 else 0.0)
