"""A finished one-seed study written straight into a results store, for report tests that
bring their own prediction files (entity F1, STS correlations)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path

# The run fields ResultStore.register reads, without planning a study.
from types import SimpleNamespace as StoredRun

from xstilts.results import Score
from xstilts.studies.store import ResultStore

# (configuration, language) -> (the prediction file's records, the scores the run stored)
RunFiles = Callable[[str, str], tuple[list[dict], list[Score]]]


def one_seed_study(out: Path, study: str, task: str, configs: Sequence[str],
                   languages: Sequence[str], files: RunFiles) -> Path:
    """``out`` holding study ``study``: one seed-0 target run of ``task`` per configuration
    (id: a hash of its name), each with a prediction file and scores per language from
    ``files``, called configuration by configuration in the order given."""
    store = ResultStore(out)
    runs = [StoredRun(id=hashlib.sha1(c.encode()).hexdigest()[:16], kind="target",
                      encoder="tiny:random", intermediate=c, task=task, seed=0, parent=None,
                      settings={"seed": 0}) for c in configs]
    store.register(study, runs)
    for run in runs:
        pred_dir = out / "runs" / run.id / "predictions"
        pred_dir.mkdir(parents=True)
        metrics: list[Score] = []
        for language in languages:
            records, scores = files(run.intermediate, language)
            (pred_dir / f"{language}.jsonl").write_text(
                "".join(json.dumps(r) + "\n" for r in records))
            metrics += scores
        store.mark_running(run.id)
        store.mark_done(run.id, metrics, {"wall_seconds": 1.0})
    store.close()
    (out / "studies").mkdir()
    (out / "studies" / f"{study}.json").write_text(json.dumps({"name": study, "seeds": [0]}))
    return out
