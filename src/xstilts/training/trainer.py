"""The training loop of phases 2 and 3, on accelerate (CPU, one or several GPUs alike).

Model selection keeps the trainable weights of the epoch with the best dev score in memory
and restores them at the end, so the returned model is the selected one.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from accelerate import Accelerator
from accelerate.utils import set_seed
from tqdm.auto import tqdm
from transformers import get_linear_schedule_with_warmup

from xstilts.data.features import Features, collate, shuffled_batches
from xstilts.errors import TrainingError
from xstilts.evaluation.predict import predict_logits
from xstilts.models.heads import TaskModel
from xstilts.training.options import TrainingOptions


@dataclass(frozen=True)
class TrainResult:
    """What a phase reports about its own training."""

    steps: int
    epochs_run: int
    best_epoch: int
    best_dev_accuracy: float | None
    final_loss: float
    train_seconds: float
    examples_per_second: float


def freeze_word_embeddings(model: TaskModel) -> None:
    model.encoder.get_input_embeddings().weight.requires_grad_(False)


def _trainable_state(model: TaskModel) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}


def _dev_accuracy(model: TaskModel, task_name: str, dev: Features, pad_id: int,
                  batch_size: int, device: torch.device, bf16: bool) -> float:
    logits = predict_logits(model, task_name, dev, pad_id=pad_id, batch_size=batch_size,
                            device=device, autocast_bf16=bf16)
    gold = np.asarray(dev.labels)
    return float((logits.argmax(axis=1) == gold).mean())


def train_task_model(
    model: TaskModel,
    task_name: str,
    train: Features,
    dev: Features | None,
    options: TrainingOptions,
    *,
    seed: int,
    pad_id: int,
    log_path: Path | None = None,
    description: str = "train",
) -> TrainResult:
    """Fine-tune ``model`` (encoder and the task's head) on ``train``; select on ``dev``."""
    if len(train) == 0:
        raise TrainingError(f"{description}: no training examples")
    set_seed(seed)
    accelerator = Accelerator(
        mixed_precision=options.precision,
        gradient_accumulation_steps=options.gradient_accumulation_steps,
    )
    if options.freeze_embeddings:
        freeze_word_embeddings(model)
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.ndim > 1]
    no_decay = [p for p in params if p.ndim <= 1]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": options.weight_decay},
         {"params": no_decay, "weight_decay": 0.0}],
        lr=options.learning_rate,
    )
    steps_per_epoch = math.ceil(
        math.ceil(len(train) / options.batch_size) / options.gradient_accumulation_steps
    )
    total_steps = steps_per_epoch * options.epochs
    if options.max_steps is not None:
        total_steps = min(total_steps, options.max_steps)
    scheduler = get_linear_schedule_with_warmup(
        optimizer, int(options.warmup_ratio * total_steps), total_steps
    )
    model, optimizer, scheduler = accelerator.prepare(model, optimizer, scheduler)
    generator = torch.Generator().manual_seed(seed)
    bf16 = options.precision == "bf16"

    log_file = log_path.open("a", encoding="utf-8") if log_path else None
    best_state: dict[str, torch.Tensor] | None = None
    best_dev: float | None = None
    best_epoch = 0
    epochs_without_gain = 0
    step = 0
    seen = 0
    loss_value = float("nan")
    start = time.perf_counter()
    progress = tqdm(total=total_steps, desc=description, unit="step", leave=False,
                    disable=not accelerator.is_local_main_process)
    epoch = 0
    try:
        for epoch in range(1, options.epochs + 1):
            model.train()
            for batch_idx in shuffled_batches(len(train), options.batch_size, generator,
                                              lengths=train.lengths):
                batch = collate(train, batch_idx, pad_id)
                batch = {k: v.to(accelerator.device) for k, v in batch.items()}
                with accelerator.accumulate(model):
                    loss, _ = model(task_name, **batch)
                    if not torch.isfinite(loss):
                        raise TrainingError(
                            f"{description}: loss became {loss.item()} at step {step + 1} "
                            f"(epoch {epoch}); no checkpoint was written. Try a lower "
                            f"learning_rate (now {options.learning_rate}) or precision 'no'."
                        )
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
                        "step": step, "epoch": epoch, "loss": loss_value,
                        "lr": scheduler.get_last_lr()[0],
                        "examples_per_second": seen / elapsed,
                    }) + "\n")
                if step >= total_steps:
                    break
            if dev is not None and len(dev):
                dev_acc = _dev_accuracy(accelerator.unwrap_model(model), task_name, dev, pad_id,
                                        options.batch_size * 2, accelerator.device, bf16)
                if log_file:
                    log_file.write(json.dumps({"epoch": epoch, "dev_accuracy": dev_acc}) + "\n")
                if best_dev is None or dev_acc > best_dev:
                    best_dev, best_epoch = dev_acc, epoch
                    best_state = _trainable_state(accelerator.unwrap_model(model))
                    epochs_without_gain = 0
                else:
                    epochs_without_gain += 1
                    patience = options.early_stopping_patience
                    if patience is not None and epochs_without_gain >= patience:
                        break
            if step >= total_steps:
                break
    finally:
        progress.close()
        if log_file:
            log_file.close()
    unwrapped: TaskModel = accelerator.unwrap_model(model)
    if best_state is not None:
        unwrapped.load_state_dict(best_state, strict=False)
    elapsed = time.perf_counter() - start
    return TrainResult(
        steps=step,
        epochs_run=epoch,
        best_epoch=best_epoch or epoch,
        best_dev_accuracy=best_dev,
        final_loss=loss_value,
        train_seconds=elapsed,
        examples_per_second=seen / elapsed if elapsed > 0 else 0.0,
    )
