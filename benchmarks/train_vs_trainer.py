"""Phase-3 training speed of xstilts side by side with the Hugging Face ``Trainer``.

Run: ``python benchmarks/train_vs_trainer.py [--examples 512] [--repeats 2]
[--configs trainer,trainer_tuned,xstilts,xstilts_tuned,xstilts_dense]
[--data-dir ../shared/data]``;
``--profile 20`` instead prints torch.profiler's top ops over 20 steps of ``xstilts``.

Four configurations train the bundled encoder (multilingual-e5-small) on the same real XNLI
English pairs (batch 32, max length 128, one pass over ``--examples`` pairs):

* ``trainer``: ``Trainer`` as run_xnli.py sets it up: every pair padded to 128, fp32,
  ``AutoModelForSequenceClassification``;
* ``trainer_tuned``: ``Trainer`` as a user who knows the switches runs it: dynamic padding
  (``DataCollatorWithPadding``), length-grouped batches (``train_sampling_strategy:
  group_by_length``, transformers 5's spelling of ``group_by_length``), frozen word embeddings,
  bf16 only where the CPU/GPU runs it natively (Trainer's default optimizer is fused AdamW);
* ``xstilts``: xstilts' defaults, through the ``build_stream`` / ``train_model`` path a study
  uses;
* ``xstilts_tuned``: ``freeze_embeddings: true`` and ``precision: auto``;
* ``xstilts_dense``: the defaults with the word embeddings' row-sparse AdamW switched off
  (``XSTILTS_ROW_SPARSE_EMBEDDINGS=0``: torch's dense step over all 250k rows), the lever's
  other side.

Each configuration runs in its own subprocess (so each has its own peak RSS), repeats are
interleaved (A B C D A B C D) so that drifts of a shared machine hit every side alike. Printed:
one JSON line per configuration (median and range of examples/s over the training call alone
and over the whole subprocess including interpreter start, imports, model load and
tokenisation; peak RSS; real / padded tokens; achieved matmul GFLOP/s and its fraction of the
measured peak), one with the ratios, and one with the machine (CPU flags, versions, date).
The model FLOPs are estimated as 6 x non-embedding parameters per real token (forward 2,
backward 4; attention score FLOPs and padded tokens are left out), so the fraction is a lower
bound of how busy the matmul units are.

XNLI's English training set (MNLI) is not in ../shared/data; the labeled English dev pairs
(2,490) stand in, as they do in CPU-scale studies (``--split`` chooses).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from machine import machine_facts

DEFAULT_DATA = (Path(__file__).resolve().parents[1] / ".." / "shared" / "data").resolve()
ENCODER = "multilingual-e5-small"
CONFIGS = ("trainer", "trainer_tuned", "xstilts", "xstilts_tuned", "xstilts_dense")
BATCH, MAX_LEN = 32, 128


class TokenCounter:
    """Counts real and padded tokens of the batches a collator builds (attention masks)."""

    def __init__(self, collate: Any) -> None:
        self.collate, self.real, self.padded = collate, 0, 0

    def __call__(self, *args: Any) -> dict:
        batch = self.collate(*args)
        mask = batch["attention_mask"]
        self.real += int(mask.sum())
        self.padded += int(mask.numel())
        return batch


def _examples(data_dir: Path, split: str, n: int) -> list:
    """The XNLI English pairs a study's phase 3 would train on (the same subset)."""
    from xstilts.tasks import get_task
    from xstilts.training.phases import select_examples

    return select_examples(get_task("xnli").load(split, "en", data_dir), n)


def _non_embedding_params(model: Any) -> int:
    embeddings = model.get_input_embeddings().weight.numel()
    return sum(p.numel() for p in model.parameters()) - embeddings


def _run_trainer(tuned: bool, data_dir: Path, split: str, n: int) -> dict[str, Any]:
    """HF Trainer, run_xnli defaults or hand-tuned; the timed part is ``trainer.train()``."""
    import torch
    from datasets import Dataset
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        DataCollatorWithPadding,
        Trainer,
        TrainingArguments,
        default_data_collator,
    )

    from xstilts.models.bundled import bundled_model_dir
    from xstilts.training.precision import resolve_precision

    folder = bundled_model_dir(ENCODER)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    examples = _examples(data_dir, split, n)
    features = tokenizer([e.texts[0] for e in examples], [e.texts[1] for e in examples],
                         truncation=True, max_length=MAX_LEN,
                         padding=False if tuned else "max_length")
    dataset = Dataset.from_dict({**features, "label": [int(e.label) for e in examples]})
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(folder, num_labels=3)
    bf16 = tuned and resolve_precision("auto") == "bf16"
    if tuned:
        model.get_input_embeddings().weight.requires_grad_(False)
    counter = TokenCounter(DataCollatorWithPadding(tokenizer) if tuned
                           else default_data_collator)
    with tempfile.TemporaryDirectory() as out:
        args = TrainingArguments(
            output_dir=out, per_device_train_batch_size=BATCH, num_train_epochs=1,
            learning_rate=5e-5, seed=0, bf16=bf16,
            train_sampling_strategy="group_by_length" if tuned else "random",
            use_cpu=not torch.cuda.is_available(), save_strategy="no", logging_strategy="no",
            report_to="none", disable_tqdm=True, dataloader_num_workers=0)
        trainer = Trainer(model=model, args=args, train_dataset=dataset,
                          data_collator=counter)
        start = time.perf_counter()
        trainer.train()
        seconds = time.perf_counter() - start
    return {"train_seconds": seconds, "real_tokens": counter.real,
            "padded_tokens": counter.padded, "precision": "bf16" if bf16 else "no",
            "non_embedding_params": _non_embedding_params(model)}


def _xstilts_setup(tuned: bool, data_dir: Path, split: str, n: int) -> tuple:
    """The model, stream and options a study's phase 3 builds (no dev set: no selection)."""
    from xstilts.models import load_encoder
    from xstilts.training.options import TrainingOptions
    from xstilts.training.phases import _model_with_heads, build_stream
    from xstilts.training.runs import PhaseTask, concrete_training

    encoder, tokenizer = load_encoder(f"bundled:{ENCODER}")
    options = TrainingOptions(epochs=1, batch_size=BATCH, max_seq_length=MAX_LEN,
                              max_train_examples=n, log_every=1000,
                              **({"freeze_embeddings": True, "precision": "auto"}
                                 if tuned else {}))
    options = concrete_training(options)  # as the run contract stores it
    stream = build_stream(PhaseTask("xnli", "en", split, None), options, tokenizer, data_dir)
    model = _model_with_heads(encoder, [stream], options.pooling, 0)
    return model, stream, options, tokenizer.pad_token_id


def _run_xstilts(tuned: bool, data_dir: Path, split: str, n: int) -> dict[str, Any]:
    """xstilts' own path; the timed part is ``train_model`` (the analogue of ``train()``)."""
    from xstilts.training.trainer import train_model

    model, stream, options, pad_id = _xstilts_setup(tuned, data_dir, split, n)
    counter = TokenCounter(stream.handler.collate)
    stream.handler.collate = counter  # this subprocess only
    start = time.perf_counter()
    result = train_model(model, [stream], options, seed=0, pad_id=pad_id,
                         description="benchmark")
    seconds = time.perf_counter() - start
    return {"train_seconds": seconds, "real_tokens": counter.real,
            "padded_tokens": counter.padded, "precision": options.precision,
            "own_examples_per_second": result.examples_per_second,
            "non_embedding_params": _non_embedding_params(model.encoder)}


def child(config: str, data_dir: Path, split: str, n: int) -> None:
    """One configuration in this process; prints one JSON line (with this process' peak RSS)."""
    run = _run_trainer if config.startswith("trainer") else _run_xstilts
    if config == "xstilts_dense":
        from xstilts.training.row_sparse import ENV_SWITCH

        os.environ[ENV_SWITCH] = "0"
    out = run(config.endswith("_tuned"), data_dir, split, n)
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out), flush=True)


def matmul_peak(dtype_name: str, seconds: float = 2.0, n: int = 2048) -> float:
    """GFLOP/s of a square matmul on this machine in ``dtype_name`` (fp32 or bf16)."""
    import torch

    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}[dtype_name]
    device = "cuda" if torch.cuda.is_available() else "cpu"
    a = torch.randn(n, n, dtype=dtype, device=device)
    b = torch.randn(n, n, dtype=dtype, device=device)
    a @ b  # warm-up
    iters, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        a @ b
        iters += 1
        if device == "cuda":
            torch.cuda.synchronize()
    return 2 * n**3 * iters / (time.perf_counter() - start) / 1e9


def machine() -> dict[str, Any]:
    return {**machine_facts("accelerate"), "machine": platform.processor() or platform.machine()}

def _spawn(config: str, args: argparse.Namespace) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", config, "--data-dir", str(args.data_dir),
               "--split", args.split, "--examples", str(args.examples)]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{config} failed:\n{done.stderr[-3000:]}")
    result = {**json.loads(done.stdout.strip().splitlines()[-1]), "wall_seconds": wall}
    print(json.dumps({"finished": config, **result}), file=sys.stderr, flush=True)  # progress
    return result


def summarise(config: str, runs: list[dict], n: int, peaks: dict[str, float]) -> dict:
    """One configuration's figures over its repeats (medians, with min-max ranges)."""
    train = [n / r["train_seconds"] for r in runs]
    whole = [n / r["wall_seconds"] for r in runs]
    first = runs[0]
    tokens = first["real_tokens"]
    flops = 6 * first["non_embedding_params"] * tokens
    achieved = [flops / r["train_seconds"] / 1e9 for r in runs]
    precision = "bf16" if first["precision"] == "bf16" else "fp32"
    return {
        "config": config, "examples": n, "repeats": len(runs), "precision": first["precision"],
        "train_ex_s": round(statistics.median(train), 2),
        "train_ex_s_range": [round(min(train), 2), round(max(train), 2)],
        "whole_call_ex_s": round(statistics.median(whole), 2),
        "whole_call_ex_s_range": [round(min(whole), 2), round(max(whole), 2)],
        "peak_rss_mb": round(max(r["peak_rss_mb"] for r in runs)),
        "real_to_padded_tokens": round(tokens / first["padded_tokens"], 3),
        "achieved_gflop_s": round(statistics.median(achieved), 1),
        "matmul_peak_fraction": round(statistics.median(achieved) / peaks[precision], 3),
        **({"own_ex_s": [r["own_examples_per_second"] for r in runs]}
           if "own_examples_per_second" in first else {}),
    }


def ratios(summaries: dict[str, dict]) -> dict[str, Any]:
    """xstilts over the Trainer, per pair of sides that exist in this run."""
    out: dict[str, Any] = {"ratios": "numerator / denominator, training-call ex/s "
                           "(whole-call ex/s in whole_call)"}
    pairs = [(a, b) for a in ("xstilts", "xstilts_tuned") for b in ("trainer", "trainer_tuned")]
    pairs.append(("xstilts", "xstilts_dense"))
    for a, b in pairs:
        if a in summaries and b in summaries:
            key = f"{a}/{b}"
            out[key] = round(summaries[a]["train_ex_s"] / summaries[b]["train_ex_s"], 2)
            out[f"whole_call {key}"] = round(
                summaries[a]["whole_call_ex_s"] / summaries[b]["whole_call_ex_s"], 2)
            out[f"peak_rss {key}"] = round(
                summaries[a]["peak_rss_mb"] / summaries[b]["peak_rss_mb"], 2)
    return out


def profile(steps: int, data_dir: Path, split: str, rows: int = 15) -> None:
    """torch.profiler over ``steps`` training steps of the ``xstilts`` configuration."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    from xstilts.training.trainer import train_model

    model, stream, options, pad_id = _xstilts_setup(False, data_dir, split, steps * BATCH)
    options = options.model_copy(update={"max_steps": steps})
    with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
        train_model(model, [stream], options, seed=0, pad_id=pad_id, description="profile")
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--split", default="dev", help="XNLI English split to train on")
    parser.add_argument("--examples", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--configs", default=",".join(CONFIGS))
    parser.add_argument("--child", choices=CONFIGS, help=argparse.SUPPRESS)
    parser.add_argument("--profile", type=int, metavar="STEPS",
                        help="print torch.profiler's top ops over STEPS steps of 'xstilts'")
    args = parser.parse_args()
    if not args.data_dir.is_dir():
        raise SystemExit(f"no benchmark data at {args.data_dir} (--data-dir)")
    if args.child:
        return child(args.child, args.data_dir, args.split, args.examples)
    if args.profile:
        return profile(args.profile, args.data_dir, args.split)
    about = machine()
    peaks = {"fp32": matmul_peak("fp32")}
    if about["auto_precision"] == "bf16":
        peaks["bf16"] = matmul_peak("bf16")
    else:  # emulated bf16 is never used by the tuned sides; fp32 stands in for the ratio
        peaks["bf16"] = peaks["fp32"]
    about["matmul_peak_gflop_s"] = {k: round(v, 1) for k, v in peaks.items()}
    configs = args.configs.split(",")
    runs: dict[str, list[dict]] = {c: [] for c in configs}
    for _ in range(args.repeats):  # interleaved: A B C D A B C D
        for config in configs:
            runs[config].append(_spawn(config, args))
    summaries = {c: summarise(c, runs[c], args.examples, peaks) for c in configs}
    for summary in summaries.values():
        print(json.dumps(summary), flush=True)
    print(json.dumps(ratios(summaries)))
    print(json.dumps({**about, "batches": math.ceil(args.examples / BATCH),
                      "batch_size": BATCH, "max_length": MAX_LEN, "split": args.split}))


if __name__ == "__main__":
    main()
