"""Deterministic fault injection at named points, for the reliability tests.

Why: "kill -9 at a random time" rarely lands in the few milliseconds where a file is half
written, so each risky moment is named here and a test can fail exactly there.
``XSTILTS_FAULT=<point>[:<n>[:<action>]]`` makes the n-th pass (default 1st) through
``faults.point("<point>")`` in this process

- ``kill``   (default): ``SIGKILL`` itself, like the OOM killer or a preempted machine;
- ``enospc``: raise ``OSError(ENOSPC)`` naming the path being written, like a full disk.

Several faults may be listed, comma-separated. With the variable unset a point costs one dict
lookup. The points are listed in :data:`POINTS` and documented in docs/reliability.md.
"""

from __future__ import annotations

import errno
import os
import signal
from collections import Counter
from pathlib import Path

ENV = "XSTILTS_FAULT"

POINTS: dict[str, str] = {
    "tokenize": "featurising a task's examples (training or evaluation), before the result",
    "train.step": "after an optimizer step, mid-epoch, before any checkpoint of it",
    "checkpoint.state": "writing the resumable state: weights written, state.json not yet",
    "checkpoint.state.swap": "resumable state: old folder removed, new one not renamed yet",
    "checkpoint.encoder": "writing an encoder/model checkpoint: weights written, no marker",
    "eval.predictions": "writing a language's predictions file: first line written",
    "run.record": "finishing a run: run.json written, completion marker not yet",
    "run.rename": "renaming the work folder into runs/<id>: old folder gone, rename not done",
    "run.renamed": "run folder in place, its result not yet in the store",
    "store.write": "inside the store transaction that records a run's metrics",
    "store.register": "inside the store transaction that records a study's runs",
    "report.write": "writing a report file: temporary file written, not renamed yet",
}

_counts: Counter[str] = Counter()


def _plan() -> dict[str, tuple[int, str]]:
    """The faults asked for in the environment: point -> (hit number, action)."""
    setting = os.environ.get(ENV, "")
    plan = {}
    for item in filter(None, (part.strip() for part in setting.split(","))):
        name, _, rest = item.partition(":")
        hit, _, action = rest.partition(":")
        if name not in POINTS:
            raise ValueError(f"{ENV}: unknown fault point {name!r}; known: {', '.join(POINTS)}")
        action = action or "kill"
        if action not in ("kill", "enospc"):
            raise ValueError(f"{ENV}: unknown action {action!r} for {name} (kill or enospc)")
        plan[name] = (int(hit or 1), action)
    return plan


def point(name: str, path: str | Path | None = None) -> None:
    """Fail here if ``XSTILTS_FAULT`` names this point and this is its chosen pass.

    ``path``: the file being written, named by an injected disk-full error.
    """
    if ENV not in os.environ:
        return
    plan = _plan()
    if name not in plan:
        return
    _counts[name] += 1
    hit, action = plan[name]
    if _counts[name] != hit:
        return
    if action == "enospc":
        raise OSError(errno.ENOSPC, "No space left on device (injected)", str(path or name))
    os.kill(os.getpid(), signal.SIGKILL)
