"""The tiny offline study several executor tests run (tiny random encoder, CLDR tasks)."""

from __future__ import annotations

import json
from pathlib import Path


def tiny_study(name: str, training: str = "epochs: 1, batch_size: 8, max_seq_length: 24, "
               "max_train_examples: 48, max_dev_examples: 16, learning_rate: 0.001") -> str:
    """A two-configuration study (none, cldr-units → cldr-continents in en, de), 3 runs."""
    return f"""
name: {name}
encoder: tiny:random
seeds: [0]
intermediate: [none, cldr-units]
targets:
  - task: cldr-continents
    languages: [en, de]
training: {{{training}}}
evaluation: {{max_examples: 24, bootstrap_resamples: 50}}
"""


def records(out: Path) -> dict[str, dict]:
    """Every finished run's run.json in output folder ``out``, by run id."""
    return {p.parent.name: json.loads(p.read_text()) for p in (out / "runs").glob("*/run.json")}


def predictions(out: Path) -> dict[str, bytes]:
    """Every prediction file's bytes in output folder ``out``, by ``<run id>/<file>``."""
    return {f"{p.parent.parent.name}/{p.name}": p.read_bytes()
            for p in (out / "runs").glob("*/predictions/*")}
