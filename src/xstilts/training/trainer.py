"""The training loop of phases 2 and 3, on accelerate (CPU, one or several GPUs alike).

One loop serves single-task and multi-task training: each micro-batch draws a task from the
mix (always the same task when there is one), takes that task's next batch, and updates the
shared encoder and that task's head. After every epoch the dev sets are scored (each on its
task type's primary metric, a point value); the trainable weights of the best epoch (best mean
over the dev sets) are kept and restored at the end, so the returned model is the selected
one. With ``resume_dir`` the loop saves its full state at epoch ends (and every
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
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from accelerate import Accelerator
from accelerate.state import AcceleratorState, GradientState
from accelerate.utils import DistributedDataParallelKwargs, gather_object, set_seed
from transformers import get_linear_schedule_with_warmup

from xstilts import faults
from xstilts.distributed import launched_processes, process_state
from xstilts.errors import TrainingError
from xstilts.models.attention_kernels import attention_kernels
from xstilts.models.heads import TaskModel
from xstilts.progress import progress_bar
from xstilts.tasks.base import Task
from xstilts.tasktypes.base import Features, TaskTypeHandler
from xstilts.tasktypes.predict import predict
from xstilts.training.fast_dropout import use_dropout_masks
from xstilts.training.options import MixOptions, TrainingOptions
from xstilts.training.precision import (
    check_precision,
    resolve_dropout_masks,
    resolve_precision,
)
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
from xstilts.training.row_sparse import (
    RowSparseEmbeddingAdamW,
    clip_gradients,
    row_sparse_applies,
)
from xstilts.training.tracking import RunTracker


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


def own_memory(params: Sequence[torch.nn.Parameter]) -> None:
    """Give parameters that will be written on the CPU memory of their own.

    Why: ``from_pretrained`` maps safetensors files copy-on-write, so the first write to each
    4 KB page of a loaded weight faults and copies that page. Measured on a 2-core Xeon
    (benchmarks/README.md): the first decay pass over the bundled encoder's 384 MB word
    embeddings took 1.33 s, the next 0.08 s, and cloning them 0.075 s. Called for CPU training
    only (a GPU copies them anyway), before ``accelerator.prepare`` (DDP keeps views of its
    parameters).
    """
    with torch.no_grad():
        for param in params:
            param.data = param.data.clone()


def _trainable_state(model: TaskModel) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}


def _dev_scores(model: TaskModel, streams: Sequence[TrainingStream], pad_id: int,
                batch_size: int, device: torch.device, bf16: bool) -> dict[str, float]:
    """Each dev set's primary metric (the task type's :meth:`primary_metric`), as a point
    value: selection compares point values, so no bootstrap interval is computed."""
    scores: dict[str, float] = {}
    for s in streams:
        if s.dev is None or not s.dev_examples:
            continue
        predictions = predict(model, s.task, s.handler, s.dev_examples, s.dev, pad_id=pad_id,
                              batch_size=batch_size, device=device, autocast_bf16=bf16)
        computed = s.handler.score(s.task, s.dev_examples, predictions, resamples=0,
                                   confidence=0.95, seed=0)
        primary = s.handler.primary_metric(s.task)
        by_name = {score.metric: score.value for score in computed}
        if primary not in by_name:
            raise TrainingError(f"task {s.task.name}: its primary metric {primary!r} is not "
                                f"among the dev scores {sorted(by_name)}")
        scores[s.task.name] = by_name[primary]
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
    tracker: RunTracker | None = None,
) -> TrainResult:
    """Fine-tune the encoder and the streams' heads; select the epoch on the dev sets.
    ``tracker``: the run's experiment trackers, sent every log record (main process)."""
    return TrainingLoop(model, streams, options, seed=seed, pad_id=pad_id, mix=mix,
                        log_path=log_path, resume_dir=resume_dir, description=description,
                        tracker=tracker).run()


class TrainingLoop:
    """One phase's training, one concern per method: :meth:`run` reads as the algorithm.

    Construction sets everything up (:meth:`_setup_optimization`, :meth:`_setup_data`) in the
    order that fixes the random draws; :meth:`restore` continues a saved run; :meth:`step`
    trains on one micro-batch; :meth:`select` scores the dev sets; :meth:`checkpoint` saves
    the resumable state.
    """

    def __init__(self, model: TaskModel, streams: Sequence[TrainingStream],
                 options: TrainingOptions, *, seed: int, pad_id: int,
                 mix: MixOptions | None = None, log_path: Path | None = None,
                 resume_dir: Path | None = None, description: str = "train",
                 tracker: RunTracker | None = None) -> None:
        if not streams or any(len(s.train) == 0 for s in streams):
            raise TrainingError(f"{description}: no training examples")
        self.streams, self.options, self.pad_id = streams, options, pad_id
        self.log_path, self.resume_dir, self.description = log_path, resume_dir, description
        self.tracker = tracker
        set_seed(seed)
        self.precision = resolve_precision(options.precision)  # runs hold it resolved already
        use_dropout_masks(model, resolve_dropout_masks(options.dropout_masks))
        self.accelerator = _fresh_accelerator(options, self.precision)
        self.writer = self.accelerator.is_main_process  # writes the log and the saved state
        self._setup_optimization(model)
        self._setup_data(seed, mix)
        self.progress = Progress()
        self.best_state: dict[str, torch.Tensor] | None = None
        self.resumed_from = 0
        self.log_file: Any = None
        self.start = self.last_saved = self.last_loss_check = 0.0
        # (step, task, loss on the device) of the micro-batches whose loss is not checked yet
        self.unchecked_losses: list[tuple[int, str, torch.Tensor]] = []

    def _setup_optimization(self, model: TaskModel) -> None:
        """AdamW (no weight decay on biases and norms), linear warmup and decay, prepared."""
        options = self.options
        if options.freeze_embeddings:
            freeze_word_embeddings(model)
        self.params = [p for p in model.parameters() if p.requires_grad]
        if self.accelerator.device.type == "cpu":
            own_memory(self.params)
        optimizer = _adamw(
            [{"params": [p for p in self.params if p.ndim > 1],
              "weight_decay": options.weight_decay},
             {"params": [p for p in self.params if p.ndim <= 1], "weight_decay": 0.0}],
            options.learning_rate, self.accelerator.device)
        self.batches_per_epoch = sum(math.ceil(len(s.train) / options.batch_size)
                                     for s in self.streams)
        steps_per_epoch = math.ceil(self.batches_per_epoch / options.gradient_accumulation_steps)
        self.total_steps = steps_per_epoch * options.epochs
        if options.max_steps is not None:
            self.total_steps = min(self.total_steps, options.max_steps)
        scheduler = get_linear_schedule_with_warmup(
            optimizer, int(options.warmup_ratio * self.total_steps), self.total_steps)
        self.model, self.optimizer, self.scheduler = self.accelerator.prepare(
            model, optimizer, scheduler)
        self.unwrapped: TaskModel = self.accelerator.unwrap_model(self.model)
        self.embedding_rows = self._row_sparse_embeddings(optimizer)

    def _row_sparse_embeddings(self, optimizer: torch.optim.Optimizer
                               ) -> RowSparseEmbeddingAdamW | None:
        """Trained word embeddings are updated on their touched rows where that is exact
        (training/row_sparse.py): ~40 % of a step saved on the bundled encoder."""
        embedding = self.unwrapped.encoder.get_input_embeddings()
        smoothing = self.options.smoothing
        perturbs = self.options.adversarial is not None or bool(smoothing and
                                                                smoothing.noise_sigma)
        if not row_sparse_applies(self.unwrapped, embedding, device=self.accelerator.device,
                                  processes=self.accelerator.num_processes,
                                  precision=self.precision, perturbs_embeddings=perturbs):
            return None
        return RowSparseEmbeddingAdamW(embedding, optimizer)

    def _setup_data(self, seed: int, mix: MixOptions | None) -> None:
        """Each stream's batch cursor and the seeded task chooser of a multi-task mix."""
        self.cursors = [BatchCursor(len(s.train), self.options.batch_size, seed, i,
                                    _lengths=s.train.lengths)
                        for i, s in enumerate(self.streams)]
        self.probabilities = (mix or MixOptions()).probabilities(
            [len(s.train) for s in self.streams])
        self.chooser = np.random.default_rng(seed)

    def run(self) -> TrainResult:
        """Restore, train step by step until the step budget or early stopping, then put back
        the selected (best-epoch) weights."""
        self.restore()
        try:
            with (self._outputs(), self._noise(),
                  attention_kernels(self.accelerator.device)):
                while self.progress.step < self.total_steps and not self.progress.stopped_early:
                    self.step()
            self._check_losses()
        finally:
            if self.embedding_rows is not None:  # the model may be trained again, or evaluated
                self.embedding_rows.remove()
        if self.best_state is not None:
            self.unwrapped.load_state_dict(self.best_state, strict=False)
        return self._result()

    def restore(self) -> None:
        """Continue from the saved state, if any: weights, optimizer, scheduler, fp16's scaler,
        every process's RNG, the task chooser, the cursors and the counters."""
        saved = load_state(self.resume_dir) if self.resume_dir else None
        if saved is None:
            return
        acc = self.accelerator
        self.unwrapped.load_state_dict(saved["trainable"], strict=False)
        self.best_state = saved["best_state"]
        self.optimizer.load_state_dict(saved["optimizer"])
        self.scheduler.load_state_dict(saved["scheduler"])
        restore_rng(saved, acc.process_index, acc.num_processes, acc.device)
        if acc.scaler is not None and "scaler" in saved:
            acc.scaler.load_state_dict(saved["scaler"])
        self.chooser.bit_generator.state = saved["chooser"]
        for cursor, state in zip(self.cursors, saved["cursors"], strict=True):
            cursor.restore(state)
        self.progress = Progress(**saved["progress"])
        self.resumed_from = self.progress.step
        if self.writer:
            _truncate_log(self.log_path, self.progress.step)

    def step(self) -> None:
        """One micro-batch: draw a task and its next global batch, train on this process's
        slice, count and log; select at an epoch end (or the last step), then checkpoint."""
        k = (int(self.chooser.choice(len(self.streams), p=self.probabilities))
             if len(self.streams) > 1 else 0)
        stream, batch_idx = self.streams[k], self.cursors[k].next()
        loss = self._train_on(stream, batch_idx)
        self._count(stream, len(batch_idx), loss)
        updated = self.accelerator.sync_gradients
        if updated:
            faults.point("train.step")
        epoch_end = self.progress.micro % self.batches_per_epoch == 0
        if epoch_end or (updated and self.progress.step >= self.total_steps):
            self.select()
        every = self.options.checkpoint_every_steps
        if updated and self.progress.step < self.total_steps and (
                (epoch_end and self._epoch_checkpoint_due())
                or (every and self.progress.step % every == 0)):
            self.checkpoint()

    def _epoch_checkpoint_due(self) -> bool:
        """At an epoch end: save unless the last save (or the start) is under
        :data:`CHECKPOINT_MIN_SECONDS` old. Why: a CPU-scale epoch of a few seconds is cheaper
        to redo than to save (the resumable state of the bundled encoder is hundreds of MB;
        saving it was ~10 % of the quickstart's training time). Under DDP every process must
        take the same decision (the save gathers RNG states), so there every epoch end saves."""
        if self.accelerator.num_processes > 1:
            return True
        return time.perf_counter() - self.last_saved >= CHECKPOINT_MIN_SECONDS

    def _train_on(self, stream: TrainingStream, batch_idx: list[int]) -> torch.Tensor:
        """Update on this process's slice; the global batch's mean loss (checked finite)."""
        acc = self.accelerator
        shard, weight = process_shard(batch_idx, acc.process_index, acc.num_processes)
        batch = stream.handler.collate(stream.train, shard, self.pad_id)
        # non_blocking: a blocking copy to a GPU waits for the work queued before it
        batch = {key: v.to(acc.device, non_blocking=True) for key, v in batch.items()}
        try:
            loss = _update(self.model, stream.task.name, batch, self.options, acc, self.params,
                           self.optimizer, self.scheduler, weight, self.embedding_rows)
        except torch.OutOfMemoryError as err:
            raise _oom_error(self.description, self.options, err) from err
        if acc.num_processes > 1:  # the global batch's loss, on every process
            loss = acc.reduce(loss * weight / acc.num_processes, "sum")
        return loss

    def _count(self, stream: TrainingStream, examples: int, loss: torch.Tensor) -> None:
        """Advance the counters; after an optimizer step, the progress bar and the log."""
        progress = self.progress
        progress.micro += 1
        progress.seen += examples
        self.unchecked_losses.append((progress.step + 1, stream.task.name, loss))
        updated = self.accelerator.sync_gradients
        progress.step += updated
        logged = updated and (progress.step % self.options.log_every == 0
                              or progress.step == self.total_steps)
        if logged or self._loss_check_due():
            self._check_losses()
        if not updated:
            return
        elapsed = time.perf_counter() - self.start
        self.bar.set_postfix(loss=f"{progress.loss:.3f}",
                             ex_s=f"{progress.seen / elapsed:.1f}", refresh=False)
        self.bar.update(1)  # redraws (postfix included) at the bar's own pace
        if logged:
            self._log({"step": progress.step, "task": stream.task.name, "loss": progress.loss,
                       "lr": self.scheduler.get_last_lr()[0],
                       "examples_per_second": round(progress.seen / elapsed, 2)})

    def _loss_check_due(self) -> bool:
        """Every micro-batch on a CPU and under DDP (where every process must stop at the
        same step); on one GPU every :data:`LOSS_CHECK_SECONDS`, at log steps and before
        selection, checkpoints and the end.

        Why: reading a loss makes the host wait for the device. Per step, the host could not
        queue the next step's kernels while the GPU computed: on an H200 it launched
        xlm-roberta-large's steps with the GPU busy 16 % of the time (benchmarks/README.md).
        """
        return (self.accelerator.device.type == "cpu" or self.accelerator.num_processes > 1
                or time.perf_counter() - self.last_loss_check >= LOSS_CHECK_SECONDS)

    def _check_losses(self) -> None:
        """Read the unchecked losses (one wait for the device) and stop at the first
        non-finite one, naming its step; else the last becomes the progress' loss."""
        self.last_loss_check = time.perf_counter()
        if not self.unchecked_losses:
            return
        values = torch.stack([loss.float() for *_, loss in self.unchecked_losses]).cpu()
        bad = (~torch.isfinite(values)).nonzero()
        if len(bad):
            step, task, _ = self.unchecked_losses[int(bad[0])]
            raise TrainingError(
                f"{self.description}: loss became {values[int(bad[0])].item()} at step "
                f"{step} (task {task}); no checkpoint was written. Try a lower "
                f"learning_rate (now {self.options.learning_rate}) or precision 'no'.")
        self.progress.loss = float(values[-1])
        self.unchecked_losses.clear()

    def select(self) -> None:
        """Score the dev sets; keep the best weights (mean primary metric over the streams);
        count the epochs without gain for early stopping."""
        self._check_losses()  # never keep weights a non-finite loss has touched
        self._current_embeddings()
        scores = _dev_scores(self.unwrapped, self.streams, self.pad_id,
                             self.options.batch_size * 2, self.accelerator.device,
                             self.precision == "bf16")
        self.unwrapped.train()
        if not scores:
            return
        progress = self.progress
        progress.dev_scores = scores
        current = float(np.mean(list(scores.values())))
        epoch = math.ceil(progress.micro / self.batches_per_epoch)
        self._log({"epoch": epoch, "step": progress.step, "dev": scores, "dev_mean": current})
        if progress.best is None or current > progress.best:
            progress.best, progress.best_epoch, progress.epochs_without_gain = current, epoch, 0
            self.best_state = _trainable_state(self.unwrapped)
            return
        progress.epochs_without_gain += 1
        patience = self.options.early_stopping_patience
        if patience is not None and progress.epochs_without_gain >= patience:
            progress.stopped_early = True

    def checkpoint(self) -> None:
        """Save the resumable state. Every process calls it: the RNG states are gathered in
        rank order, the main process writes, and all wait for it."""
        acc = self.accelerator
        self._check_losses()
        self.progress.elapsed = time.perf_counter() - self.start
        self.last_saved = time.perf_counter()
        if self.resume_dir is not None:
            self._current_embeddings()
            rng = gather_object([rng_state(acc.device)])  # one process: its own, as a list
            if self.writer:
                save_state(self.resume_dir, trainable=_trainable_state(self.unwrapped),
                           best_state=self.best_state, optimizer=self.optimizer,
                           scheduler=self.scheduler, chooser=self.chooser,
                           cursors=self.cursors, progress=self.progress, rng=rng,
                           scaler=acc.scaler)
        acc.wait_for_everyone()

    def _current_embeddings(self) -> None:
        """Before the weights are read whole: the row-sparse update's deferred decay applied
        (bit-identical to the dense step's, whenever it is applied)."""
        if self.embedding_rows is not None:
            self.embedding_rows.flush()

    @contextmanager
    def _outputs(self) -> Iterator[None]:
        """The log (main process) and the progress bar, open while training; the clock."""
        # Line-buffered: the log can be followed during training, and no line logged before a
        # checkpoint is lost to a kill (a resumed run keeps the lines up to its checkpoint).
        self.log_file = (self.log_path.open("a", encoding="utf-8", buffering=1)
                         if self.log_path and self.writer else None)
        self.start = time.perf_counter() - self.progress.elapsed
        self.last_saved = time.perf_counter()
        self.bar = progress_bar(total=self.total_steps, initial=self.progress.step,
                                desc=self.description, unit="step", leave=False,
                                disable=not self.accelerator.is_local_main_process)
        self.model.train()
        try:
            yield
        finally:
            self.bar.close()
            if self.log_file:
                self.log_file.close()

    def _noise(self) -> AbstractContextManager[None]:
        """Randomized smoothing's Gaussian noise on the word embeddings, if asked for."""
        smoothing = self.options.smoothing
        if smoothing and smoothing.noise_sigma:
            return embedding_offset(self.unwrapped.encoder,
                                    gaussian_noise(smoothing.noise_sigma))
        return nullcontext()

    def _log(self, record: dict[str, Any]) -> None:
        if self.log_file:
            self.log_file.write(json.dumps(record) + "\n")
        if self.tracker is not None and self.writer:  # the same records, to the trackers
            self.tracker.log_training(record)

    def _result(self) -> TrainResult:
        progress, elapsed = self.progress, time.perf_counter() - self.start
        epochs = math.ceil(progress.micro / self.batches_per_epoch)
        return TrainResult(
            steps=progress.step, epochs_run=epochs, best_epoch=progress.best_epoch or epochs,
            best_dev_score=progress.best, dev_scores=progress.dev_scores,
            final_loss=progress.loss, train_seconds=round(elapsed, 2),
            examples_per_second=round(progress.seen / elapsed, 2) if elapsed > 0 else 0.0,
            forward_passes_per_update=passes_per_update(self.options.adversarial),
            resumed_from_step=self.resumed_from, device=str(self.accelerator.device),
            processes=self.accelerator.num_processes)


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


# An epoch end saves the resumable state only this long after the last save (or the start);
# ``checkpoint_every_steps`` saves on its own schedule regardless.
CHECKPOINT_MIN_SECONDS = 60.0
# How often one GPU's training reads its losses (for the progress bar), at most.
LOSS_CHECK_SECONDS = 1.0

# Devices with torch's fused AdamW kernel (one kernel over all tensors, no per-tensor loop).
FUSED_ADAMW_DEVICES = ("cpu", "cuda")


def _adamw(groups: list[dict[str, Any]], learning_rate: float,
           device: torch.device) -> torch.optim.AdamW:
    """AdamW, fused where torch has the kernel for the training device.

    On a CPU torch's default is a Python loop over the tensors: measured on the bundled
    encoder (118M parameters, 2 cores) one step took 9.9 s that way, 4.2 s with ``foreach``
    and 0.9 s fused (0.72 / 0.22 s with frozen word embeddings), which is a third of a
    default fp32 training step. The updates agree to float rounding (4e-9 after 5 steps).
    """
    params = [p for g in groups for p in g["params"]]
    fused = device.type in FUSED_ADAMW_DEVICES and all(p.is_floating_point() for p in params)
    return torch.optim.AdamW(groups, lr=learning_rate, fused=fused or None)


def _fresh_accelerator(options: TrainingOptions, precision: str) -> Accelerator:
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
    check_precision(precision)
    return Accelerator(
        mixed_precision=precision,
        gradient_accumulation_steps=options.gradient_accumulation_steps,
        kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=True)])


def _update(model: Any, task_name: str, batch: dict[str, torch.Tensor],
            options: TrainingOptions, accelerator: Accelerator, params: list,
            optimizer: Any, scheduler: Any, weight: float = 1.0,
            embedding_rows: RowSparseEmbeddingAdamW | None = None) -> torch.Tensor:
    """Forward, backward (plain or adversarial) and, at accumulation boundaries, a step.

    ``weight`` scales what is back-propagated (see :func:`process_shard`); the returned loss
    is this process's unweighted mean loss. ``embedding_rows``: the word embeddings' row-sparse
    update, when the run has one (clipped and stepped with the rest).
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
            # Back-propagated even when not finite (checking would make the host wait for the
            # device): the loop stops with an error before the weights are selected or saved.
            backward(loss)
        if accelerator.sync_gradients:
            if embedding_rows is None:
                accelerator.clip_grad_norm_(params, options.max_grad_norm)
            else:
                clip_gradients(params, options.max_grad_norm, embedding_rows)
        optimizer.step()
        if embedding_rows is not None and accelerator.sync_gradients:
            embedding_rows.step()  # the scheduler has not moved yet: the same learning rate
        scheduler.step()
        optimizer.zero_grad()
    return loss.detach()


def _truncate_log(log_path: Path | None, step: int) -> None:
    """Drop log lines written after the resumed step (they will be written again)."""
    if log_path is None or not log_path.is_file():
        return
    kept = [line for line in log_path.read_text().splitlines()
            if (record := _log_record(line)) is not None and record.get("step", 0) <= step]
    log_path.write_text("".join(line + "\n" for line in kept))


def _log_record(line: str) -> dict[str, Any] | None:
    """A log line's record; None for a line cut short (a full disk mid-write), dropped."""
    try:
        record = json.loads(line)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None
