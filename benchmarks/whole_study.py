"""A whole study's run time, where it goes, and what a second study over the same data costs.

Run: ``python benchmarks/whole_study.py [STUDY.yaml] [--data-dir DIR] [--out DIR]
[--first-only]`` (default: examples/quickstart.yaml, the README's first study).

Runs the study into a fresh output folder with a fresh feature cache, then a second study over
the same data (the same file renamed, first seed only) into another folder with the same cache.
Per run it splits the run's wall time into training (the training loop's own clock), evaluation
(zero-shot prediction and scoring of every language) and the rest — loading the encoder and the
data, tokenising, writing the run folder — which is the per-run overhead issue #15 asks to keep
under 10 %. A run that took its zero-shot / translate-test twin's model trained nothing: it
counts no training time (``models_reused``). Prints one JSON line per study (sums, overhead
fraction, the feature-cache entries it wrote: 0 for the second study means it re-tokenised
nothing) and one with the machine. ``--first-only`` skips the second study.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from machine import machine_facts

DEFAULT_STUDY = Path(__file__).resolve().parents[1] / "examples" / "quickstart.yaml"


def run(study_path: Path, out: Path, data_dir: Path | None, cache: Path, *, name: str | None,
        seeds: list[int] | None) -> dict:
    from xstilts.studies.executor import run_study
    from xstilts.studies.spec import load_study
    from xstilts.studies.store import ResultStore

    spec = load_study(study_path)
    if name:
        spec = spec.model_copy(update={"name": name, "seeds": seeds or spec.seeds})
    entries_before = len(list(cache.rglob("*.json")))
    start = time.perf_counter()
    outcome = run_study(spec, out, data_dir=data_dir, study_path=study_path, log=lambda _: None)
    wall = time.perf_counter() - start
    if outcome.failed:
        raise SystemExit(f"{spec.name}: failed runs {outcome.failed}")
    store = ResultStore(out)
    try:
        runs = store.runs(spec.name)
    finally:
        store.close()
    parts = {"run_seconds": 0.0, "training": 0.0, "evaluation": 0.0}
    by_kind: dict[str, float] = {}
    reused = 0
    for r in runs:
        info = json.loads(r["info"] or "{}")
        parts["run_seconds"] += r["wall_seconds"] or 0.0
        reused += "model_from" in info
        if "model_from" not in info:  # a reused model's training figures are its twin's
            parts["training"] += info.get("training", {}).get("train_seconds", 0.0)
        parts["evaluation"] += info.get("evaluation_seconds", 0.0)
        by_kind[r["kind"]] = by_kind.get(r["kind"], 0.0) + (r["wall_seconds"] or 0.0)
    overhead = parts["run_seconds"] - parts["training"] - parts["evaluation"]
    return {"study": spec.name, "runs": len(runs), "wall_s": round(wall, 1),
            **{k: round(v, 1) for k, v in parts.items()},
            "overhead_s": round(overhead, 1),
            "overhead_fraction": round(overhead / parts["run_seconds"], 3),
            "seconds_by_kind": {k: round(v, 1) for k, v in by_kind.items()},
            "models_reused": reused,
            "feature_cache_entries_written": len(list(cache.rglob("*.json"))) - entries_before}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("study", type=Path, nargs="?", default=DEFAULT_STUDY)
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--first-only", action="store_true",
                        help="skip the second study over the same data")
    args = parser.parse_args()
    root = args.out or Path(tempfile.mkdtemp(prefix="xstilts-whole-study-"))
    cache = root / "feature-cache"
    os.environ["XSTILTS_FEATURE_CACHE"] = str(cache)  # fresh: the first study tokenises all
    cache.mkdir(parents=True, exist_ok=True)

    first = run(args.study, root / "first", args.data_dir, cache, name=None, seeds=None)
    print(json.dumps(first), flush=True)
    if args.first_only:
        print(json.dumps(machine_facts()))
        return
    second = run(args.study, root / "second", args.data_dir, cache, name="second-same-data",
                 seeds=[0])
    print(json.dumps(second), flush=True)
    print(json.dumps(machine_facts()))

if __name__ == "__main__":
    main()
