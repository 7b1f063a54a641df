"""Shared fixtures: where the benchmark files are, and a test-wide model cache."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

# Converted bundled encoders are kept between test sessions on one machine (conversion takes
# seconds, not minutes) but never in the user's own cache.
os.environ.setdefault("XSTILTS_CACHE", str(Path(tempfile.gettempdir()) / "xstilts-test-cache"))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# ``precision: auto`` resolves as on a CPU without native bf16, whatever this machine has: run
# ids carry the concrete precision, and the pinned ids and numbers must not depend on the CPU
# the suite runs on (bf16 training is tested where a test asks for it explicitly).
os.environ.setdefault("XSTILTS_AUTO_PRECISION", "no")
# Likewise ``dropout_masks: auto`` resolves to torch's masks (what the pinned ids and numbers
# were recorded with); the fast masks are tested where a test asks for them.
os.environ.setdefault("XSTILTS_AUTO_DROPOUT_MASKS", "torch")

SHARED_DATA = Path(
    os.environ.get("XSTILTS_SHARED_DATA", Path(__file__).resolve().parents[1] / ".." / "shared"
                   / "data")
).resolve()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real XTREME-family files of ../shared/data; tests skip when they are absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"benchmark files not found at {SHARED_DATA} "
                    "(set XSTILTS_SHARED_DATA to the shared/data folder)")
    return SHARED_DATA
