"""Trains the tiny classifier of tests/test_ddp.py; run by torchrun (one copy per process).

Usage: ``torchrun --nproc_per_node N tests/ddp_worker.py OUT [--dropout] [--crash-at K]`` —
every process writes its final weights to OUT/weights-<rank>.safetensors, the main process
OUT/result.json; the run's log and resumable state go to OUT too. ``--dropout`` keeps the
encoder's dropout; ``--crash-at K`` interrupts every process at its K-th update (as a kill
would), leaving the resumable state of the last epoch end behind.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
from safetensors.torch import save_file

from xstilts.models import load_encoder
from xstilts.tasks import get_task
from xstilts.tasktypes import FeatureOptions, handler_for
from xstilts.training.options import TrainingOptions
from xstilts.training.phases import _model_with_heads
from xstilts.training.trainer import TrainingStream, train_model

# 7 batches of 8 and one of 4 per epoch: the last batch splits unevenly over 3 processes.
# fp32 on every machine: the comparisons with one process are about gradient averaging, and
# bf16 (what ``auto`` picks on a CPU with native bf16) rounds half batches differently.
OPTIONS = TrainingOptions(epochs=2, batch_size=8, max_seq_length=24, learning_rate=1e-3,
                          warmup_ratio=0.0, log_every=1, precision="no")
N_TRAIN = 60


def train(out: Path, dropout: bool = False) -> tuple[dict[str, torch.Tensor], dict]:
    """Train (by default without dropout: its masks depend on how a batch is split, so
    DDP could not match one process) and return the weights and the result."""
    encoder, tokenizer = load_encoder("tiny:random")
    task = get_task("cldr-continents")
    handler = handler_for(task)
    fopts = FeatureOptions(max_seq_length=24)
    train_rows, dev_rows = task.load("train", "en")[:N_TRAIN], task.load("dev", "en")[:16]
    stream = TrainingStream(task, handler,
                            handler.featurize(task, train_rows, tokenizer, fopts, training=True),
                            dev_rows,
                            handler.featurize(task, dev_rows, tokenizer, fopts, training=False))
    model = _model_with_heads(encoder, [stream], "mean", 0)
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout) and not dropout:
            module.p = 0.0
    result = train_model(model, [stream], OPTIONS, seed=0, pad_id=tokenizer.pad_token_id,
                         log_path=out / "log.jsonl", resume_dir=out / "resume")
    weights = {k: v.detach().contiguous().clone() for k, v in model.state_dict().items()}
    return weights, result.__dict__


if __name__ == "__main__":
    from accelerate import PartialState

    out = Path(sys.argv[1])
    if "--crash-at" in sys.argv:
        from xstilts.training import trainer

        crash_at, real_update, calls = int(sys.argv[sys.argv.index("--crash-at") + 1]), \
            trainer._update, [0]

        def crashing_update(*args, **kwargs):
            calls[0] += 1
            if calls[0] == crash_at:
                raise KeyboardInterrupt
            return real_update(*args, **kwargs)

        trainer._update = crashing_update
    weights, result = train(out, dropout="--dropout" in sys.argv)
    state = PartialState()
    save_file(weights, str(out / f"weights-{state.process_index}.safetensors"))
    if state.is_main_process:
        (out / "result.json").write_text(json.dumps({**result,
                                                     "processes": state.num_processes}))
