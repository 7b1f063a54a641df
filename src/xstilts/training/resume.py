"""Resumable training state: everything needed for a restarted run to continue exactly.

Saved at optimizer-step boundaries: the trainable weights, optimizer and scheduler state, the
RNG states (torch on the CPU and the GPU, per process; the task chooser), fp16's loss scaler, each
stream's data cursor, and the model-selection bookkeeping. A run resumed from it gives the
same final weights and metrics as one that was never interrupted. Tensors go to safetensors;
optimizer and scheduler state are written with ``torch.save`` and read back with
``weights_only=True`` (no arbitrary unpickling). A checksum manifest is written with the files
(:mod:`xstilts.integrity`) and verified on load: a damaged state is refused, naming the file.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from xstilts import faults
from xstilts.data.batching import shuffled_batches
from xstilts.integrity import verify_manifest, write_manifest


@dataclass
class BatchCursor:
    """Where one stream is in its data: pass ``epoch_pass``, batch ``position`` of that pass.

    The order of a pass is a pure function of (seed, stream, pass), so a cursor is all that
    must be saved to reproduce the data order after a restart.
    """

    n: int
    batch_size: int
    seed: int
    stream: int
    epoch_pass: int = 0
    position: int = 0
    _lengths: list[int] | None = field(default=None, repr=False)
    _batches: list[list[int]] | None = field(default=None, repr=False)

    def _order(self) -> list[list[int]]:
        generator = torch.Generator().manual_seed(
            (self.seed * 1_000_003 + self.stream * 7_919 + self.epoch_pass) % 2**63)
        return shuffled_batches(self.n, self.batch_size, generator, self._lengths)

    def next(self) -> list[int]:
        if self._batches is None:
            self._batches = self._order()
        if self.position >= len(self._batches):
            self.epoch_pass, self.position = self.epoch_pass + 1, 0
            self._batches = self._order()
        batch = self._batches[self.position]
        self.position += 1
        return batch

    def state(self) -> dict[str, int]:
        return {"epoch_pass": self.epoch_pass, "position": self.position}

    def restore(self, state: dict[str, int]) -> None:
        self.epoch_pass, self.position = state["epoch_pass"], state["position"]
        self._batches = None


@dataclass
class Progress:
    """The loop's counters and model-selection bookkeeping."""

    micro: int = 0
    step: int = 0
    seen: int = 0
    loss: float = float("nan")
    best: float | None = None
    best_epoch: int = 0
    epochs_without_gain: int = 0
    dev_scores: dict[str, float] = field(default_factory=dict)
    elapsed: float = 0.0
    stopped_early: bool = False


def rng_state(device: torch.device) -> dict[str, torch.Tensor]:
    """This process's generators: the CPU's, and the GPU's (dropout on a GPU draws from it)."""
    state = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def restore_rng(saved: dict[str, Any], rank: int, processes: int,
                device: torch.device) -> None:
    """Put back this process's generators.

    Every process of a DDP launch has its own, and they drift apart (each draws dropout masks
    for its own slice of the batch), so the state holds one per process; a state saved by
    another number of processes, or before per-process states, restores the main one.
    """
    states = saved.get("rng") or [{"cpu": saved["torch_rng"]}]
    state = states[rank] if len(states) == processes else states[0]
    torch.set_rng_state(state["cpu"])
    if "cuda" in state and device.type == "cuda":
        torch.cuda.set_rng_state(state["cuda"], device)


def save_state(folder: Path, *, trainable: dict[str, torch.Tensor],
               best_state: dict[str, torch.Tensor] | None, optimizer: Any, scheduler: Any,
               chooser: Any, cursors: list[BatchCursor], progress: Progress,
               rng: list[dict[str, torch.Tensor]], scaler: Any = None) -> None:
    """Write the state atomically (temporary folder, then rename).

    ``rng`` holds :func:`rng_state` of every process, in rank order; ``scaler`` is fp16's
    loss scaler (its scale and growth counter), if any.
    """
    tmp = folder.parent / f".{folder.name}.tmp-{uuid.uuid4().hex[:6]}"
    tmp.mkdir(parents=True)
    try:
        save_file({k: v.detach().contiguous().cpu() for k, v in trainable.items()},
                  str(tmp / "trainable.safetensors"))
        if best_state is not None:
            save_file({k: v.contiguous().cpu() for k, v in best_state.items()},
                      str(tmp / "best.safetensors"))
        faults.point("checkpoint.state", tmp / "optimizer.pt")
        torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                    "rng": rng, **({"scaler": scaler.state_dict()} if scaler is not None else {})},
                   tmp / "optimizer.pt")
        (tmp / "state.json").write_text(json.dumps({
            "progress": asdict(progress), "cursors": [c.state() for c in cursors],
            "chooser": chooser.bit_generator.state,
        }))
        write_manifest(tmp)
        if folder.exists():
            shutil.rmtree(folder)
        faults.point("checkpoint.state.swap", folder)
        os.replace(tmp, folder)
    finally:  # a failed write (a full disk) leaves the previous state, not a half-written one
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def load_state(folder: Path) -> dict[str, Any] | None:
    """The saved state, or None when there is none (or it is incomplete). A state whose
    files do not match their checksums raises :class:`~xstilts.integrity.CorruptFileError`."""
    if not (folder / "state.json").is_file():
        return None
    verify_manifest(folder)
    state = json.loads((folder / "state.json").read_text())
    state["trainable"] = load_file(str(folder / "trainable.safetensors"))
    best = folder / "best.safetensors"
    state["best_state"] = load_file(str(best)) if best.is_file() else None
    # On the CPU first: the optimizer moves its state to its parameters' device when loaded.
    state.update(torch.load(folder / "optimizer.pt", weights_only=True, map_location="cpu"))
    return state
