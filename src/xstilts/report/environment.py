"""What a reader needs to reproduce a report: versions, hardware, seeds and run times.

Versions and hardware are those of the machine that *writes the report*; run times and seeds
come from the results store, so they describe the runs themselves.
"""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata
from typing import Any


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _cpu() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _gpu() -> str:
    """GPU name if torch sees one (torch is imported only if a run already loaded it)."""
    torch = sys.modules.get("torch")
    if torch is None:
        return "not probed (torch not loaded by the report process)"
    if torch.cuda.is_available():
        return ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))
    return "none (CPU)"


def environment(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Versions, hardware, seeds and run-time totals, as one JSON-ready record."""
    done = [r for r in runs if r["status"] == "done"]
    seconds = [r["wall_seconds"] or 0.0 for r in done]
    return {
        "xstilts": _version("xstilts"), "python": platform.python_version(),
        "torch": _version("torch"), "transformers": _version("transformers"),
        "numpy": _version("numpy"), "platform": platform.platform(),
        "cpu": f"{_cpu()} ({os.cpu_count()} logical cores)", "gpu": _gpu(),
        "seeds": sorted({r["seed"] for r in runs}),
        "runs": {status: sum(1 for r in runs if r["status"] == status)
                 for status in sorted({r["status"] for r in runs})},
        "run_seconds_total": round(sum(seconds), 1),
        "run_seconds_max": round(max(seconds), 1) if seconds else None,
    }
