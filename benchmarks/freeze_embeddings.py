"""Does freezing the word embeddings change zero-shot transfer beyond seed noise?

Run: ``python benchmarks/freeze_embeddings.py [--data-dir ../shared/data] [--out DIR]
[--seeds 0,1,2] [--train 2000] [--eval 500] [--epochs 2]``.

One CPU-scale XNLI study run twice, identical but for ``training.freeze_embeddings``: the
bundled encoder fine-tuned on English XNLI pairs (the dev set: the shared data has no XNLI
train split; model selection between epochs reads its first 200 pairs, which it also trains
on: there is no held-out English dev here), and zero-shot accuracy on the first ``--eval``
test pairs of each language but English (default: XNLI's 14). Per seed, the zero-shot
average (English left out); the two arms are paired by seed (same data order, same head
initialisation), so the question is whether the mean paired difference's 95 % t-interval
excludes 0. Also the training throughput of
each arm (the run's own examples/s, start-up excluded) and its wall time. Prints one JSON line per
arm and one with the comparison, with the CPU flags and library versions.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import scipy.stats
from machine import machine_facts

from xstilts.studies.executor import run_study
from xstilts.studies.spec import StudySpec
from xstilts.studies.store import ResultStore

DEFAULT_DATA = (Path(__file__).resolve().parents[1] / ".." / "shared" / "data").resolve()
LANGUAGES = "ar,bg,de,el,en,es,fr,hi,ru,sw,th,tr,ur,vi,zh"  # XNLI's 15


def study(freeze: bool, seeds: list[int], train: int, evaluate: int, epochs: int,
          languages: list[str]) -> StudySpec:
    return StudySpec.model_validate({
        "name": f"freeze-{'on' if freeze else 'off'}", "encoder": "bundled:multilingual-e5-small",
        "seeds": seeds,
        "targets": [{"task": "xnli", "languages": languages, "train_split": "dev",
                     "dev_split": "dev"}],
        "training": {"learning_rate": 3.0e-5, "batch_size": 32, "epochs": epochs,
                     "max_seq_length": 128, "max_train_examples": train,
                     "max_dev_examples": 200, "freeze_embeddings": freeze},
        "evaluation": {"max_examples": evaluate, "bootstrap_resamples": 100}})


def arm(out: Path, spec: StudySpec, data_dir: Path) -> dict:
    start = time.perf_counter()
    outcome = run_study(spec, out, data_dir=data_dir, log=lambda _: None)
    wall = time.perf_counter() - start
    if outcome.failed:
        raise SystemExit(f"{spec.name}: runs failed: {outcome.failed}")
    store = ResultStore(out)
    try:
        runs = store.runs(spec.name)
        per_seed, speed = {}, []
        for run in runs:
            rows = [r for r in store.metrics([run["id"]]) if r["split"] == "test"
                    and r["metric"] == "accuracy" and r["language"] != "en"]
            per_seed[run["seed"]] = statistics.fmean(r["value"] for r in rows)
            speed.append(json.loads(run["info"])["training"]["examples_per_second"])
    finally:
        store.close()
    return {"arm": spec.name, "zero_shot_avg_per_seed": per_seed,
            "mean": statistics.fmean(per_seed.values()),
            "seed_sd": statistics.stdev(per_seed.values()) if len(per_seed) > 1 else None,
            "train_examples_per_s": statistics.fmean(speed), "wall_s": round(wall, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=Path("freeze-embeddings-out"))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--train", type=int, default=2000)
    parser.add_argument("--eval", type=int, default=500)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--languages", default=LANGUAGES, help="evaluated (en included)")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    machine = machine_facts()
    results = {}
    for freeze in (True, False):
        spec = study(freeze, seeds, args.train, args.eval, args.epochs,
                     args.languages.split(","))
        results[freeze] = arm(args.out, spec, args.data_dir)
        print(json.dumps({**results[freeze], **machine}), flush=True)
    on, off = results[True]["zero_shot_avg_per_seed"], results[False]["zero_shot_avg_per_seed"]
    diffs = [on[s] - off[s] for s in seeds]
    mean = statistics.fmean(diffs)
    comparison = {"comparison": "frozen - trained word embeddings, zero-shot average",
                  "paired_differences": diffs, "mean_difference": mean}
    if len(diffs) > 1:
        half = scipy.stats.t.ppf(0.975, len(diffs) - 1) * statistics.stdev(diffs) / len(diffs) ** .5
        comparison |= {"ci95": [mean - half, mean + half],
                       "excludes_zero": bool(abs(mean) > half)}
    comparison["speed_ratio_frozen_over_trained"] = (results[True]["train_examples_per_s"]
                                                     / results[False]["train_examples_per_s"])
    print(json.dumps({**comparison, **machine}))


if __name__ == "__main__":
    main()
