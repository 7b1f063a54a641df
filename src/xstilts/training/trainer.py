"""The training loop of phases 2 and 3, on accelerate (CPU, one or several GPUs alike).

One loop serves single-task and multi-task training: each micro-batch draws a task from the
mix (always the same task when there is one), takes that task's next batch, and updates the
shared encoder and that task's head. After every epoch the dev sets are scored; the trainable
weights of the best epoch are kept and restored at the end, so the returned model is the
selected one. With ``resume_dir`` the loop saves its full state at epoch ends (and every
``checkpoint_every_steps``) and a restarted run continues exactly where it stopped.

Under ``accelerate launch`` / ``torchrun`` with several processes (DDP) every process draws the
same global batch from the same cursor and trains on its own slice of it; each slice's loss is
weighted by its share of the batch, so DDP's gradient average is the gradient of the global
batch (a single process and N processes take the same steps). Only the main process writes
the log and the resumable state; every process reads the state back on a restart.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from accelerate import Accelerator
from accelerate.state import AcceleratorState, GradientState
from accelerate.utils import DistributedDataParallelKwargs, gather_object, set_seed
from transformers import get_linear_schedule_with_warmup

from xstilts.distributed import launched_processes, process_state
from xstilts.errors import TrainingError
from xstilts.evaluation.predict import predict
from xstilts.models.heads import TaskModel
from xstilts.progress import progress_bar
from xstilts.tasks.base import Task
from xstilts.tasktypes.base import Features, TaskTypeHandler
from xstilts.training.options import MixOptions, TrainingOptions
from xstilts.training.precision import check_precision
from xstilts.training.resume import (
    BatchCursor,
    Progress,
    load_state,
    restore_rng,
    rng_state,
    save_state,
)
from xstilts.training.robust import (
    adversarial_loss,
    embedding_offset,
    gaussian_noise,
    passes_per_update,
)


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
    forward_passes_per_update: int
    resumed_from_step: int
    device: str = "cpu"  # where it trained ("cpu", "cuda", "cuda:1") and in how many processes
    processes: int = 1


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


def _oom_error(description: str, options: TrainingOptions, err: BaseException) -> TrainingError:
    return TrainingError(
        f"{description}: out of memory at batch_size {options.batch_size}, max_seq_length "
        f"{options.max_seq_length} ({err}). Try a smaller batch_size with "
        "gradient_accumulation_steps to keep the effective batch, a shorter max_seq_length, "
        "freeze_embeddings: true, or precision: bf16.")


def train_model(
    model: TaskModel,
    streams: Sequence[TrainingStream],
    options: TrainingOptions,
    *,
    seed: int,
    pad_id: int,
    mix: MixOptions | None = None,
    log_path: Path | None = None,
    resume_dir: Path | None = None,
    description: str = "train",
) -> TrainResult:
    """Fine-tune the encoder and the streams' heads; select the epoch on the dev sets."""
    if not streams or any(len(s.train) == 0 for s in streams):
        raise TrainingError(f"{description}: no training examples")
    set_seed(seed)
    accelerator = _fresh_accelerator(options)
    writer = accelerator.is_main_process
    if options.freeze_embeddings:
        freeze_word_embeddings(model)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(
        [{"params": [p for p in params if p.ndim > 1], "weight_decay": options.weight_decay},
         {"params": [p for p in params if p.ndim <= 1], "weight_decay": 0.0}],
        lr=options.learning_rate)
    batches_per_epoch = sum(math.ceil(len(s.train) / options.batch_size) for s in streams)
    steps_per_epoch = math.ceil(batches_per_epoch / options.gradient_accumulation_steps)
    total_steps = steps_per_epoch * options.epochs
    if options.max_steps is not None:
        total_steps = min(total_steps, options.max_steps)
    scheduler = get_linear_schedule_with_warmup(
        optimizer, int(options.warmup_ratio * total_steps), total_steps)
    model, optimizer, scheduler = accelerator.prepare(model, optimizer, scheduler)
    unwrapped: TaskModel = accelerator.unwrap_model(model)

    cursors = [BatchCursor(len(s.train), options.batch_size, seed, i, _lengths=s.train.lengths)
               for i, s in enumerate(streams)]
    probabilities = (mix or MixOptions()).probabilities([len(s.train) for s in streams])
    chooser = np.random.default_rng(seed)
    progress = Progress()
    best_state: dict[str, torch.Tensor] | None = None
    resumed_from = 0
    saved = load_state(resume_dir) if resume_dir else None
    if saved is not None:
        unwrapped.load_state_dict(saved["trainable"], strict=False)
        best_state = saved["best_state"]
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        restore_rng(saved, accelerator.process_index, accelerator.num_processes,
                    accelerator.device)
        if accelerator.scaler is not None and "scaler" in saved:
            accelerator.scaler.load_state_dict(saved["scaler"])
        chooser.bit_generator.state = saved["chooser"]
        for cursor, state in zip(cursors, saved["cursors"], strict=True):
            cursor.restore(state)
        progress = Progress(**saved["progress"])
        resumed_from = progress.step
        if writer:
            _truncate_log(log_path, progress.step)

    def checkpoint() -> None:  # called by every process (the RNG states are gathered)
        if resume_dir is None:
            return
        # Every process's state in rank order; one process gets back its own, as a list.
        rng = gather_object([rng_state(accelerator.device)])
        if writer:
            save_state(resume_dir, trainable=_trainable_state(unwrapped), best_state=best_state,
                       optimizer=optimizer, scheduler=scheduler, chooser=chooser,
                       cursors=cursors, progress=progress, rng=rng, scaler=accelerator.scaler)

    bf16 = options.precision == "bf16"
    smoothing = options.smoothing
    noise = (embedding_offset(unwrapped.encoder, gaussian_noise(smoothing.noise_sigma))
             if smoothing and smoothing.noise_sigma else nullcontext())
    # Line-buffered: the log can be followed during training, and no line logged before a
    # checkpoint is lost to a kill (a resumed run keeps the lines up to its checkpoint).
    log_file = (log_path.open("a", encoding="utf-8", buffering=1) if log_path and writer
                else None)
    start = time.perf_counter() - progress.elapsed
    bar = progress_bar(total=total_steps, initial=progress.step, desc=description, unit="step",
               leave=False, disable=not accelerator.is_local_main_process)
    model.train()
    try:
        with noise:
            while progress.step < total_steps and not progress.stopped_early:
                k = int(chooser.choice(len(streams), p=probabilities)) if len(streams) > 1 else 0
                stream = streams[k]
                batch_idx = cursors[k].next()
                shard, weight = process_shard(batch_idx, accelerator.process_index,
                                              accelerator.num_processes)
                batch = stream.handler.collate(stream.train, shard, pad_id)
                batch = {key: v.to(accelerator.device) for key, v in batch.items()}
                try:
                    loss = _update(model, stream.task.name, batch, options, accelerator,
                                   params, optimizer, scheduler, weight)
                except torch.OutOfMemoryError as err:
                    raise _oom_error(description, options, err) from err
                if accelerator.num_processes > 1:  # the global batch's loss, on every process
                    loss = accelerator.reduce(loss * weight / accelerator.num_processes, "sum")
                if not torch.isfinite(loss):
                    raise TrainingError(
                        f"{description}: loss became {loss.item()} at step {progress.step + 1} "
                        f"(task {stream.task.name}); no checkpoint was written. Try a lower "
                        f"learning_rate (now {options.learning_rate}) or precision 'no'.")
                progress.micro += 1
                progress.seen += len(batch_idx)
                progress.loss = float(loss.item())
                if accelerator.sync_gradients:
                    progress.step += 1
                    elapsed = time.perf_counter() - start
                    bar.set_postfix(loss=f"{progress.loss:.3f}",
                                    ex_s=f"{progress.seen / elapsed:.1f}", refresh=False)
                    bar.update(1)  # redraws (postfix included) at the bar's own pace
                    if log_file and (progress.step % options.log_every == 0
                                     or progress.step == total_steps):
                        log_file.write(json.dumps({
                            "step": progress.step, "task": stream.task.name,
                            "loss": progress.loss, "lr": scheduler.get_last_lr()[0],
                            "examples_per_second": round(progress.seen / elapsed, 2)}) + "\n")
                epoch_end = progress.micro % batches_per_epoch == 0
                if epoch_end or (accelerator.sync_gradients and progress.step >= total_steps):
                    best_state = _select(unwrapped, streams, options, pad_id, accelerator.device,
                                         bf16, progress, best_state, log_file)
                if accelerator.sync_gradients and progress.step < total_steps and (
                        epoch_end or (options.checkpoint_every_steps and
                                      progress.step % options.checkpoint_every_steps == 0)):
                    progress.elapsed = time.perf_counter() - start
                    checkpoint()
                    accelerator.wait_for_everyone()
    finally:
        bar.close()
        if log_file:
            log_file.close()
    if best_state is not None:
        unwrapped.load_state_dict(best_state, strict=False)
    elapsed = time.perf_counter() - start
    epochs = math.ceil(progress.micro / batches_per_epoch)
    return TrainResult(
        steps=progress.step, epochs_run=epochs, best_epoch=progress.best_epoch or epochs,
        best_dev_score=progress.best, dev_scores=progress.dev_scores, final_loss=progress.loss,
        train_seconds=round(elapsed, 2),
        examples_per_second=round(progress.seen / elapsed, 2) if elapsed > 0 else 0.0,
        forward_passes_per_update=passes_per_update(options.adversarial),
        resumed_from_step=resumed_from, device=str(accelerator.device),
        processes=accelerator.num_processes)


def process_shard(batch_idx: list[int], rank: int, world: int) -> tuple[list[int], float]:
    """This process's slice of a global batch and the weight of its mean loss.

    The weight (slice size × processes / batch size) makes DDP's average of the processes'
    gradients equal the gradient of the whole batch's mean loss, also when the last batch of an
    epoch does not split evenly. A process whose slice would be empty trains on the batch's
    first example with weight 0, so that every process still takes part in the all-reduce.
    """
    if world == 1:
        return batch_idx, 1.0
    shard = batch_idx[rank::world]
    if not shard:
        return batch_idx[:1], 0.0
    return shard, len(shard) * world / len(batch_idx)


def _fresh_accelerator(options: TrainingOptions) -> Accelerator:
    """An Accelerator for this phase alone.

    accelerate keeps its state in process-wide singletons and refuses a second Accelerator with
    another mixed precision; a study runs many phases in one process (e.g. phase 2 in bf16,
    phase 3 in fp32), so the per-run state is reset first. The process-level (distributed)
    PartialState is kept. accelerate's own tests reset state the same way.

    Under DDP some parameters get no gradient in a step (the encoder's unused pooler; in a
    mix, the heads of the tasks not drawn), so DDP is told to look for them.
    """
    if launched_processes() > 1:
        process_state()  # the process group, with the study's barrier timeout
    AcceleratorState._reset_state(reset_partial_state=False)
    GradientState._reset_state()
    check_precision(options.precision)
    return Accelerator(
        mixed_precision=options.precision,
        gradient_accumulation_steps=options.gradient_accumulation_steps,
        kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=True)])


def _update(model: Any, task_name: str, batch: dict[str, torch.Tensor],
            options: TrainingOptions, accelerator: Accelerator, params: list,
            optimizer: Any, scheduler: Any, weight: float = 1.0) -> torch.Tensor:
    """Forward, backward (plain or adversarial) and, at accumulation boundaries, a step.

    ``weight`` scales what is back-propagated (see :func:`process_shard`); the returned loss
    is this process's unweighted mean loss.
    """

    def backward(value: torch.Tensor) -> None:
        accelerator.backward(value * weight if weight != 1.0 else value)

    with accelerator.accumulate(model):
        if options.adversarial is not None:
            loss = adversarial_loss(model, task_name, batch, options.adversarial, backward)
        else:
            loss, _ = model(task_name, batch)
            if loss is None:
                raise TrainingError(f"task {task_name}: the training batch has no labels")
            # Under DDP every process must join the gradient all-reduce; a non-finite loss
            # stops the run right after this update either way.
            if torch.isfinite(loss) or accelerator.num_processes > 1:
                backward(loss)
        if accelerator.sync_gradients:
            accelerator.clip_grad_norm_(params, options.max_grad_norm)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
    return loss.detach()


def _select(model: TaskModel, streams: Sequence[TrainingStream], options: TrainingOptions,
            pad_id: int, device: torch.device, bf16: bool, progress: Progress,
            best_state: dict[str, torch.Tensor] | None,
            log_file: Any) -> dict[str, torch.Tensor] | None:
    """Score the dev sets at an epoch end; keep the best weights; decide early stopping."""
    scores = _dev_scores(model, streams, pad_id, options.batch_size * 2, device, bf16)
    model.train()
    if not scores:
        return best_state
    progress.dev_scores = scores
    current = float(np.mean(list(scores.values())))
    epoch = math.ceil(progress.micro / max(1, _batches_per_epoch(streams, options)))
    if log_file:
        log_file.write(json.dumps({"epoch": epoch, "step": progress.step, "dev": scores,
                                   "dev_mean": current}) + "\n")
    if progress.best is None or current > progress.best:
        progress.best, progress.best_epoch, progress.epochs_without_gain = current, epoch, 0
        return _trainable_state(model)
    progress.epochs_without_gain += 1
    patience = options.early_stopping_patience
    if patience is not None and progress.epochs_without_gain >= patience:
        progress.stopped_early = True
    return best_state


def _batches_per_epoch(streams: Sequence[TrainingStream], options: TrainingOptions) -> int:
    return sum(math.ceil(len(s.train) / options.batch_size) for s in streams)


def _truncate_log(log_path: Path | None, step: int) -> None:
    """Drop log lines written after the resumed step (they will be written again)."""
    if log_path is None or not log_path.is_file():
        return
    kept = [line for line in log_path.read_text().splitlines()
            if json.loads(line).get("step", 0) <= step]
    log_path.write_text("".join(line + "\n" for line in kept))
