"""Flatten the store into one row per run × task × language × metric (the results table)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from xstilts.errors import XstiltsError
from xstilts.studies.store import ResultStore
from xstilts.tasks.user import load_saved_definitions

RESULT_COLUMNS = (
    "study", "run_id", "model", "intermediate", "target_task", "language", "split", "metric",
    "value", "ci_low", "ci_high", "n", "seed",
)


def collect_results(out_dir: Path, study: str | None = None) -> list[dict[str, Any]]:
    """Rows of finished target runs (all studies in OUT unless ``study`` is given).

    Also registers the user tasks saved in OUT, so that every later report step (a new
    process) sees their task types as the runs did."""
    if not (out_dir / "xstilts.sqlite").is_file():
        raise XstiltsError(f"{out_dir} holds no xstilts results (no xstilts.sqlite); "
                           "run a study with `xstilts run STUDY.yaml --out DIR` first")
    load_saved_definitions(out_dir)
    store = ResultStore(out_dir)
    try:
        rows: list[dict[str, Any]] = []
        known = store.studies()
        if study and study not in known:
            raise XstiltsError(f"{out_dir} has no study named {study!r}; its studies: "
                               f"{', '.join(sorted(known)) or '(none)'}")
        studies = [study] if study else known
        for name in studies:
            runs = {r["id"]: r for r in store.runs(name) if r["status"] == "done"}
            for metric in store.metrics(runs):
                run = runs[metric["run_id"]]
                rows.append({
                    "study": name, "run_id": run["id"], "model": run["encoder"],
                    "intermediate": run["intermediate"], "target_task": metric["task"],
                    "language": metric["language"], "split": metric["split"],
                    "metric": metric["metric"], "value": metric["value"],
                    "ci_low": metric["ci_low"], "ci_high": metric["ci_high"],
                    "n": metric["n"], "seed": run["seed"],
                })
        return rows
    finally:
        store.close()


def run_table(out_dir: Path, study: str | None = None) -> list[dict[str, Any]]:
    """Runs (of ``study``, or all) with status and timing, for `xstilts status` and the report."""
    store = ResultStore(out_dir)
    try:
        runs = store.runs(study)
        for run in runs:
            run["settings"] = json.loads(run["settings"])
        return runs
    finally:
        store.close()
