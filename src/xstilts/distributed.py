"""Which process of a multi-process launch this is, for running one study on several devices.

``accelerate launch`` and ``torchrun`` start the same command once per device. Every process
trains each run together (DDP, see training/trainer.py); the main process alone writes the
store, the run folders and the report, and evaluates (the others wait for it). accelerate
already knows the launch; this module only adds the few collective steps the executor needs,
and stays import-free (no torch) for single-process runs, which is every `--dry-run`.
"""

from __future__ import annotations

import os
from datetime import timedelta
from functools import lru_cache
from typing import Any

# Non-main processes wait at a barrier while the main process evaluates a run; evaluation of a
# large benchmark can exceed the default 10-30 min collective timeout.
BARRIER_TIMEOUT = timedelta(hours=6)


def launched_processes() -> int:
    """How many processes the launcher started (1 when not launched by one)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


@lru_cache(maxsize=1)
def process_state() -> Any:
    """accelerate's process state, created on first use with :data:`BARRIER_TIMEOUT`."""
    import torch
    from accelerate import PartialState

    # On a machine without accelerators the launch is a multi-CPU one (gloo); accelerate only
    # treats it as distributed when asked to use the CPU.
    cpu = not torch.cuda.is_available()
    if cpu:
        os.environ.setdefault("ACCELERATE_USE_CPU", "true")  # for the trainer's Accelerator
    return PartialState(cpu=cpu, timeout=BARRIER_TIMEOUT)


def is_main_process() -> bool:
    return launched_processes() == 1 or process_state().is_main_process


def barrier() -> None:
    if launched_processes() > 1:
        process_state().wait_for_everyone()


def broadcast(value: Any) -> Any:
    """The main process's ``value``, on every process."""
    if launched_processes() == 1:
        return value
    from accelerate.utils import broadcast_object_list

    process_state()
    return broadcast_object_list([value], from_process=0)[0]
