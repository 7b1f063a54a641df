"""Zero-shot evaluation speed: xstilts' prediction loop vs a naive inference loop.

Run: ``python benchmarks/eval_vs_naive.py [--data-dir ../shared/data] [--lang de]
[--examples 1000] [--repeats 3]``.

Both sides predict the same real XNLI test pairs with the same model (the bundled
multilingual-e5-small encoder and a seeded, untrained classification head: speed and the
equality of predictions matter here, not accuracy) from the same token ids, so tokenisation is
outside both timings. The naive side is what a first script would do: batches in file order,
padded to ``max_length``, fp32, ``torch.no_grad``. The xstilts side is
``xstilts.tasktypes.predict.predict`` as a study calls it (length-sorted batches, dynamic
padding, ``inference_mode``, the evaluation batch size, bf16 only where the CPU runs it
natively). The sides alternate ``--repeats`` times; the JSON line reports the median of each.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import numpy as np
import torch
from machine import interleaved, machine_facts

from xstilts.data.batching import length_sorted_batches
from xstilts.data.feature_options import FeatureOptions
from xstilts.evaluation.settings import EvaluationOptions
from xstilts.models import load_encoder
from xstilts.models.heads import TaskModel
from xstilts.tasks import get_task
from xstilts.tasktypes.base import Features, attention_from, pad_sequences
from xstilts.tasktypes.predict import row_outputs
from xstilts.tasktypes.registry import handler_for
from xstilts.training.precision import resolve_precision

DEFAULT_DATA = (Path(__file__).resolve().parents[1] / ".." / "shared" / "data").resolve()
TASK = "xnli"


@torch.no_grad()
def naive_logits(model: TaskModel, features: Features, *, pad_id: int, batch_size: int,
                 max_length: int) -> np.ndarray:
    """The reference loop: file order, every batch padded to ``max_length``, fp32."""
    model.eval()
    out = []
    for start in range(0, len(features), batch_size):
        ids = [r["input_ids"] for r in features.rows[start:start + batch_size]]
        input_ids = pad_sequences(ids, pad_id, width=max_length)
        batch = {"input_ids": input_ids,
                 "attention_mask": attention_from(input_ids, [len(x) for x in ids])}
        _, logits = model(TASK, batch)
        out.append(logits.numpy())
    return np.concatenate(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--lang", default="de")
    parser.add_argument("--split", default="test")
    parser.add_argument("--examples", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--naive-batch", type=int, default=32)
    parser.add_argument("--batch", type=int, default=EvaluationOptions().batch_size,
                        help="xstilts' evaluation batch size (default: a study's default)")
    parser.add_argument("--model", default="bundled:multilingual-e5-small")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: torch's own choice)")
    parser.add_argument("--profile", type=int, default=0, metavar="ROWS",
                        help="also print (to stderr) the torch profiler's top ROWS operators "
                             "of one xstilts pass: where the time goes")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    task = get_task(TASK)
    handler = handler_for(task)
    examples = task.load(args.split, args.lang, args.data_dir)[:args.examples]
    encoder, tokenizer = load_encoder(args.model)
    features = handler.featurize(task, examples, tokenizer,
                                 FeatureOptions(max_seq_length=args.max_length), training=False)
    torch.manual_seed(0)
    model = TaskModel(encoder, "mean")
    model.add_head(TASK, handler.build_head(task, model.hidden_size, "mean"))
    pad_id = tokenizer.pad_token_id
    bf16 = resolve_precision("auto") == "bf16"  # as a study's evaluation does

    def naive() -> np.ndarray:
        return naive_logits(model, features, pad_id=pad_id, batch_size=args.naive_batch,
                            max_length=args.max_length)

    def ours() -> np.ndarray:
        return np.stack(row_outputs(model, TASK, handler, features, pad_id=pad_id,
                                    batch_size=args.batch, autocast_bf16=bf16))

    naive_s, naive_out, ours_s, ours_out = interleaved(naive, ours, args.repeats)
    naive_pred = naive_out.argmax(-1)
    ours_pred = np.asarray(handler.decode(task, examples, features, list(ours_out)))
    if args.profile:
        with torch.profiler.profile() as prof:
            ours()
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.profile),
              file=sys.stderr)
    n = len(features)
    naive_rate = n / statistics.median(naive_s)
    ours_rate = n / statistics.median(ours_s)
    tokens = sum(features.lengths)
    batches = length_sorted_batches(features.lengths, args.batch)  # the batches ours runs
    padded = sum(len(b) * max(features.lengths[i] for i in b) for b in batches)
    print(json.dumps({
        "comparison": "evaluation_vs_naive_loop", "task": TASK, "language": args.lang,
        "split": args.split, "examples": n, "mean_tokens": round(tokens / n, 1),
        "max_length": args.max_length, "model": args.model,
        "naive": {"examples_per_s": round(naive_rate, 2), "batch_size": args.naive_batch,
                  "padded_tokens": n * args.max_length,
                  "seconds": [round(s, 3) for s in naive_s]},
        "xstilts": {"examples_per_s": round(ours_rate, 2), "batch_size": args.batch,
                    "padded_tokens": padded, "bf16": bf16,
                    "seconds": [round(s, 3) for s in ours_s]},
        "ratio": round(ours_rate / naive_rate, 2),
        "identical_predictions": bool((naive_pred == ours_pred).all()),
        "differing_predictions": int((naive_pred != ours_pred).sum()),
        "max_abs_logit_diff": float(np.abs(naive_out - ours_out).max()),
        **machine_facts(),
    }))


if __name__ == "__main__":
    main()
