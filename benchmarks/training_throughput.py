"""Phase-3 training and evaluation throughput of the engine, per encoder shape and precision.

Run: ``python benchmarks/training_throughput.py [--data-dir ../shared/data] [--shapes e5-small,
xlmr-large] [--precisions no,bf16] [--examples 1024]``.

Trains UD-POS English (real sentences, tagging head, max_seq_length 128, batch 32, one epoch)
through the same ``train_model`` a study uses, then predicts the German dev sentences, and
prints examples/s for every (shape, precision) side by side in one process. Weights are random
(built from a config in code: no download), which does not change the arithmetic, so the
numbers size the paper-scale templates: e.g. xlmr-large examples/s on a GPU turns a template's
"training example passes" (``xstilts run --dry-run``) into hours.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from machine import encoder_config
from transformers import AutoModel

from xstilts.models import load_encoder
from xstilts.tasktypes.predict import row_outputs
from xstilts.training.options import TrainingOptions
from xstilts.training.phases import _model_with_heads, build_stream
from xstilts.training.runs import PhaseTask
from xstilts.training.trainer import train_model

DEFAULT_DATA = (Path(__file__).resolve().parents[1] / ".." / "shared" / "data").resolve()


def measure(shape: str, precision: str, examples: int, data_dir: Path) -> dict[str, float]:
    _, tokenizer = load_encoder("tiny:random")  # the bundled XLM-R tokenizer
    torch.manual_seed(0)
    encoder = AutoModel.from_config(encoder_config(shape, len(tokenizer), tokenizer.pad_token_id))
    options = TrainingOptions(epochs=1, batch_size=32, max_seq_length=128, precision=precision,
                              max_train_examples=examples, max_dev_examples=examples,
                              log_every=1000)
    stream = build_stream(PhaseTask("udpos", "en", "train", None), options, tokenizer, data_dir)
    model = _model_with_heads(encoder, [stream], "mean", 0)
    result = train_model(model, [stream], options, seed=0, pad_id=tokenizer.pad_token_id,
                         description=f"{shape} {precision}")
    dev_stream = build_stream(PhaseTask("udpos", "de", "dev", None), options, tokenizer,
                              data_dir)
    start = time.perf_counter()  # the forward passes of evaluation, without decoding
    row_outputs(model, "udpos", dev_stream.handler, dev_stream.train,
                pad_id=tokenizer.pad_token_id, batch_size=128, autocast_bf16=precision == "bf16")
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    eval_seconds = time.perf_counter() - start
    return {"train_ex_s": result.examples_per_second,
            "eval_ex_s": len(dev_stream.train) / eval_seconds, "device": result.device,
            "params_m": sum(p.numel() for p in model.parameters()) / 1e6}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--shapes", default="xlmr-large,e5-small")
    parser.add_argument("--precisions", default="bf16,no")
    parser.add_argument("--examples", type=int, default=1024)
    args = parser.parse_args()
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "CPU"
    print(f"device: {device}; UD-POS en train, {args.examples} sentences, "
          "max_seq_length 128, batch 32")
    print(f"{'shape':<12}{'precision':<11}{'params (M)':>11}{'train ex/s':>12}{'eval ex/s':>11}")
    # Untimed warm-up: the first training in a process pays for CUDA's context, cuBLAS and
    # kernel loading (seconds), which would otherwise be charged to the first row.
    measure("e5-small", "no", 64, args.data_dir)
    for shape in args.shapes.split(","):
        for precision in args.precisions.split(","):
            r = measure(shape, precision, args.examples, args.data_dir)
            print(f"{shape:<12}{precision:<11}{r['params_m']:>11.0f}{r['train_ex_s']:>12.1f}"
                  f"{r['eval_ex_s']:>11.1f}   ({r['device']})", flush=True)


if __name__ == "__main__":
    main()
