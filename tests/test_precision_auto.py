"""``precision: auto`` (the default) resolves to bf16 only where the device runs it natively,
and runs store and hash the concrete value: on an fp32-only machine every run id is the id
of ``precision: "no"``, as before ``auto`` existed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from xstilts.errors import TrainingError
from xstilts.studies.executor import run_study
from xstilts.studies.planner import plan_study
from xstilts.studies.spec import load_study
from xstilts.training import precision
from xstilts.training.options import TrainingOptions
from xstilts.training.precision import resolve_precision

AVX2_ONLY = frozenset({"sse4_2", "avx", "avx2", "fma"})  # this repository's CI machine
ZEN4 = AVX2_ONLY | {"avx512f", "avx512_bf16"}
SAPPHIRE_RAPIDS = AVX2_ONLY | {"avx512f", "amx_tile", "amx_bf16"}


@pytest.fixture
def machine(monkeypatch: pytest.MonkeyPatch):
    """Pretend to be a machine: its CPU flags and its CUDA GPU (None: none; else whether the
    GPU has native bf16). ``auto`` is resolved afresh for each pretended machine."""

    def pretend(flags: frozenset[str], gpu_bf16: bool | None = None) -> None:
        monkeypatch.delenv(precision.AUTO_OVERRIDE_ENV, raising=False)  # conftest sets it
        monkeypatch.setattr(precision, "cpu_flags", lambda: flags)
        monkeypatch.setattr(torch.cuda, "is_available", lambda: gpu_bf16 is not None)
        monkeypatch.setattr(torch.cuda, "is_bf16_supported",
                            lambda including_emulation=True: bool(gpu_bf16))
        precision._auto.cache_clear()

    yield pretend
    precision._auto.cache_clear()


@pytest.mark.parametrize(("flags", "gpu_bf16", "expected"), [
    (AVX2_ONLY, None, "no"),  # bf16 would be emulated, ~11x slower
    (ZEN4, None, "bf16"),
    (SAPPHIRE_RAPIDS, None, "bf16"),
    (frozenset(), None, "no"),  # no /proc/cpuinfo: assume nothing
    (AVX2_ONLY, True, "bf16"),  # an Ampere+ GPU decides, whatever the host CPU
    (ZEN4, False, "no"),  # a V100/T4: the GPU trains, and it has no native bf16
])
def test_auto_is_bf16_exactly_where_the_device_runs_it_natively(
        machine, flags: frozenset[str], gpu_bf16: bool | None, expected: str) -> None:
    machine(flags, gpu_bf16)
    assert resolve_precision("auto") == expected


def test_explicit_precisions_are_kept_and_unknown_ones_refused(machine) -> None:
    machine(ZEN4)
    assert [resolve_precision(p) for p in ("no", "bf16", "fp16")] == ["no", "bf16", "fp16"]
    with pytest.raises(TrainingError, match="precision: 'fp8'"):
        resolve_precision("fp8")


def test_auto_is_the_default() -> None:
    assert TrainingOptions().precision == "auto"


STUDY = """
name: {name}
encoder: tiny:random
seeds: [0]
intermediate: [none]
targets:
  - task: cldr-continents
    languages: [en, de]
training: {{epochs: 1, batch_size: 8, max_seq_length: 24, max_train_examples: 24,
           max_dev_examples: 8, learning_rate: 0.001{extra}}}
evaluation: {{max_examples: 8, bootstrap_resamples: 10}}
"""


def _study(tmp_path: Path, extra: str = "", name: str = "auto") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(STUDY.format(name=name, extra=extra), encoding="utf-8")
    return path


def _ids(path: Path) -> list[str]:
    return [r.id for r in plan_study(load_study(path)).runs]


def test_auto_keeps_the_fp32_ids_on_an_fp32_machine_and_gets_new_ones_on_bf16(
        machine, tmp_path: Path) -> None:
    auto, fp32 = _study(tmp_path), _study(tmp_path, ", precision: 'no'", "fp32")
    bf16 = _study(tmp_path, ", precision: bf16", "bf16")
    machine(AVX2_ONLY)
    assert _ids(auto) == _ids(fp32)
    runs = plan_study(load_study(auto)).runs
    assert {r.settings["training"]["precision"] for r in runs} == {"no"}
    machine(ZEN4)
    assert _ids(auto) == _ids(bf16) and set(_ids(auto)).isdisjoint(_ids(fp32))


def test_run_json_holds_the_concrete_precision(machine, tmp_path: Path) -> None:
    """A study run with ``auto`` on a pretended bf16 CPU records bf16 (tiny model: emulated
    bf16 is slow but small), and the recorded settings hash to the run's id."""
    machine(SAPPHIRE_RAPIDS, None if not torch.cuda.is_available() else True)
    path = _study(tmp_path)
    outcome = run_study(load_study(path), tmp_path / "out", study_path=path,
                        log=lambda _: None)
    assert not outcome.failed and len(outcome.done) == 1
    record = json.loads(next((tmp_path / "out" / "runs").glob("*/run.json")).read_text())
    assert record["settings"]["training"]["precision"] == "bf16"
    assert record["id"] == _ids(_study(tmp_path, ", precision: bf16", "bf16"))[0]


@pytest.mark.parametrize(("forced", "flags"), [("no", ZEN4), ("bf16", AVX2_ONLY)])
def test_the_environment_decides_auto_when_set(machine, monkeypatch: pytest.MonkeyPatch,
                                               forced: str, flags: frozenset[str]) -> None:
    machine(flags)
    monkeypatch.setenv(precision.AUTO_OVERRIDE_ENV, forced)
    assert precision.resolve_precision("auto") == forced


def test_a_wrong_forced_auto_is_refused(machine, monkeypatch: pytest.MonkeyPatch) -> None:
    machine(ZEN4)
    monkeypatch.setenv(precision.AUTO_OVERRIDE_ENV, "fp8")
    with pytest.raises(TrainingError, match="expected 'no' or 'bf16'"):
        precision.resolve_precision("auto")

