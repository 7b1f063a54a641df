"""The uninterrupted reference run that the fault tests compare with, once per session: each
test copies it or reads it, never changes it."""

from __future__ import annotations

from pathlib import Path

import pytest
from reliability_helpers import write_study, xstilts_run


@pytest.fixture(scope="session")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(study file, output folder) of the tiny study run without faults."""
    root = tmp_path_factory.mktemp("uninterrupted")
    study = write_study(root)
    result = xstilts_run(study, root / "out")
    assert result.returncode == 0, result.output
    return study, root / "out"
