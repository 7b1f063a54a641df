"""Vocabulary trimming: size, memory and training speed of the bundled encoder before and after.

Run: ``python benchmarks/vocab_trim.py [--languages en,de,ar,zh,hi,sw] [--examples 256]
[--repeats 2] [--data-dir ../shared/data]``.

The bundled encoder (multilingual-e5-small) is trimmed to the pieces of a CPU-scale XNLI study:
the English training pairs plus the test pairs of ``--languages``. XNLI's English training set
(MNLI) is not in ../shared/data, so the English dev pairs (2,490; ``--split``) stand in, all of
them, since a study trains on a sample of them. Then four configurations train the same
``--examples`` pairs through the path a study uses (``build_stream`` + ``train_model``, batch 32,
max length 128, fp32), each in its own subprocess so each has its own peak RSS: the full and the
trimmed encoder, with word embeddings trained or frozen. Repeats are interleaved.

Printed: one JSON line with vocabulary kept/original, parameters, model.safetensors bytes, the
trim's own time; one per configuration (training-call examples/s median and range, peak RSS
after loading and after training); one with the trimmed/full ratios; one with the machine
(CPU flags, versions, date).
"""

from __future__ import annotations

import argparse
import json
import math
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
ENCODER = "bundled:multilingual-e5-small"
CONFIGS = ("full", "trimmed", "full_frozen", "trimmed_frozen")
BATCH, MAX_LEN = 32, 128


def study_texts(data_dir: Path, split: str, languages: list[str]) -> list[str]:
    """Every premise and hypothesis the study reads: English ``split`` + test per language."""
    files = [data_dir / "xnli" / f"{split}-en.tsv"]
    files += [data_dir / "xnli" / f"test-{lang}.tsv" for lang in languages]
    texts: list[str] = []
    for path in files:
        for line in path.read_text(encoding="utf-8").splitlines():
            texts += line.split("\t")[:2]
    return texts


def _peak_rss_mb() -> float:
    """This process' peak RSS. VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the
    parent across fork + exec, which would charge the parent's memory to every child."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(encoder: str, frozen: bool, data_dir: Path, split: str, n: int) -> None:
    """Load ``encoder`` and train ``n`` pairs as a study's phase 3 does; print one JSON line."""
    from xstilts.models import load_encoder
    from xstilts.training.options import TrainingOptions
    from xstilts.training.phases import _model_with_heads, build_stream
    from xstilts.training.runs import PhaseTask
    from xstilts.training.trainer import train_model

    model, tokenizer = load_encoder(encoder)
    load_rss = _peak_rss_mb()
    options = TrainingOptions(epochs=1, batch_size=BATCH, max_seq_length=MAX_LEN,
                              max_train_examples=n, log_every=1000, precision="no",
                              freeze_embeddings=frozen)
    stream = build_stream(PhaseTask("xnli", "en", split, None), options, tokenizer, data_dir)
    task_model = _model_with_heads(model, [stream], options.pooling, 0)
    start = time.perf_counter()
    train_model(task_model, [stream], options, seed=0, pad_id=tokenizer.pad_token_id,
                description="benchmark")
    seconds = time.perf_counter() - start
    print(json.dumps({"train_seconds": seconds, "load_peak_rss_mb": load_rss,
                      "peak_rss_mb": _peak_rss_mb(),
                      "params": sum(p.numel() for p in model.parameters())}), flush=True)


def checkpoint_figures(folder: Path) -> dict[str, int]:
    """Bytes of model.safetensors and parameters it holds (read from its header, not loaded)."""
    from safetensors import safe_open

    path = folder / "model.safetensors"
    with safe_open(path, "pt") as f:
        params = sum(math.prod(f.get_slice(k).get_shape()) for k in f.keys())
    return {"bytes": path.stat().st_size, "params": params}


def machine() -> dict[str, Any]:
    return {**machine_facts(), "machine": platform.processor() or platform.machine()}

def trim_child(out: Path, data_dir: Path, split: str, languages: list[str]) -> None:
    """Trim the bundled encoder to the study's texts into ``out``; print the size figures."""
    from xstilts.models import bundled_model_dir
    from xstilts.models.vocab_trim import trim_encoder

    texts = study_texts(data_dir, split, languages)
    start = time.perf_counter()
    report = trim_encoder(ENCODER, texts, out)
    seconds = time.perf_counter() - start
    before, after = checkpoint_figures(bundled_model_dir(ENCODER)), checkpoint_figures(out)
    print(json.dumps({
        "languages": languages, "texts": len(texts), "unique_texts": report.texts,
        "vocab_kept": report.kept, "vocab_original": report.original_vocab_size,
        "vocab_fraction": round(report.kept / report.original_vocab_size, 4),
        "params_full": before["params"], "params_trimmed": after["params"],
        "params_ratio": round(after["params"] / before["params"], 4),
        "checkpoint_bytes_full": before["bytes"], "checkpoint_bytes_trimmed": after["bytes"],
        "checkpoint_ratio": round(after["bytes"] / before["bytes"], 4),
        "trim_seconds": round(seconds, 1), "trim_peak_rss_mb": round(_peak_rss_mb())}),
        flush=True)


def _run_child(extra: list[str], args: argparse.Namespace) -> dict[str, Any]:
    """Run this script with ``extra`` in a fresh process; its last stdout line is JSON."""
    command = [sys.executable, __file__, "--data-dir", str(args.data_dir), "--split",
               args.split, "--examples", str(args.examples), *extra]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(extra)} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def summarise(config: str, runs: list[dict[str, Any]], n: int) -> dict[str, Any]:
    speeds = [n / r["train_seconds"] for r in runs]
    return {"config": config, "examples": n, "repeats": len(runs),
            "train_ex_s": round(statistics.median(speeds), 2),
            "train_ex_s_range": [round(min(speeds), 2), round(max(speeds), 2)],
            "load_peak_rss_mb": round(max(r["load_peak_rss_mb"] for r in runs)),
            "peak_rss_mb": round(max(r["peak_rss_mb"] for r in runs)),
            "encoder_params": runs[0]["params"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--split", default="dev", help="XNLI English split standing in for train")
    parser.add_argument("--languages", default="en,de,ar,zh,hi,sw",
                        help="XNLI test languages whose texts the trimmed vocabulary covers")
    parser.add_argument("--examples", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--configs", default=",".join(CONFIGS))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--frozen", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--trim-child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not args.data_dir.is_dir():
        raise SystemExit(f"no benchmark data at {args.data_dir} (--data-dir)")
    if args.child:
        return child(args.child, args.frozen, args.data_dir, args.split, args.examples)
    if args.trim_child:
        return trim_child(args.trim_child, args.data_dir, args.split, args.languages.split(","))

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "trimmed"
        sizes = _run_child(["--trim-child", str(out), "--languages", args.languages], args)
        print(json.dumps(sizes), flush=True)
        encoders = {"full": ENCODER, "trimmed": str(out)}
        configs = args.configs.split(",")
        runs: dict[str, list[dict[str, Any]]] = {c: [] for c in configs}
        for _ in range(args.repeats):  # interleaved, so drifts of a shared machine hit all
            for config in configs:
                kind, _, frozen = config.partition("_")
                runs[config].append(_run_child(
                    ["--child", encoders[kind], *(["--frozen"] if frozen else [])], args))
    summaries = {c: summarise(c, runs[c], args.examples) for c in configs}
    for summary in summaries.values():
        print(json.dumps(summary), flush=True)
    ratios: dict[str, Any] = {"ratios": "trimmed / full"}
    for suffix in ("", "_frozen"):
        full, small = summaries.get("full" + suffix), summaries.get("trimmed" + suffix)
        if full and small:
            for key in ("train_ex_s", "load_peak_rss_mb", "peak_rss_mb", "encoder_params"):
                ratios[key + suffix] = round(small[key] / full[key], 3)
    print(json.dumps(ratios))
    print(json.dumps({**machine(), "batch_size": BATCH, "max_length": MAX_LEN,
                      "precision": "fp32", "split": args.split}))


if __name__ == "__main__":
    main()
