"""Same numbers whatever the executor (issue #17): a run computes with its ``threads`` setting,
else the study process's default, in-process and on Ray alike, and ``run.json`` records it.

The quickstart under Ray used to differ from the in-process run in 66 of 108 results: Ray
workers computed with the one CPU Ray reserved per run, the in-process run with every core.
Here the driver's default is 2 threads and Ray reserves 1 CPU per run, the case that differed;
every metric, prediction and phase-2 weight must be bit-identical.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from tiny_study import predictions, records, tiny_study

from xstilts.studies.executor import run_study
from xstilts.studies.planner import plan_study
from xstilts.studies.spec import load_study
from xstilts.training import threads as run_threads

DRIVER_THREADS = 2


@pytest.fixture
def driver_threads(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    """This process's default thread count is DRIVER_THREADS for the test, then restored."""
    before = torch.get_num_threads()
    monkeypatch.setattr(run_threads, "_default", DRIVER_THREADS)
    yield DRIVER_THREADS
    torch.set_num_threads(before)


def write_study(folder: Path, name: str, training: str | None = None) -> Path:
    study = folder / f"{name}.yaml"
    study.write_text(tiny_study(name) if training is None else tiny_study(name, training),
                     encoding="utf-8")
    return study


def encoder_weights(out: Path) -> dict[str, dict[str, torch.Tensor]]:
    return {p.parent.parent.name: load_file(p)
            for p in (out / "runs").glob("*/encoder/*.safetensors")}


def test_in_process_and_ray_give_identical_results(tmp_path: Path, driver_threads: int) -> None:
    ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'xstilts[ray]')")
    from xstilts.studies.ray_executor import run_study_ray

    study = write_study(tmp_path, "equal")
    spec = load_study(study)
    assert spec.resources.cpus_per_run == 1  # Ray reserves fewer CPUs than the driver's threads
    local = run_study(spec, tmp_path / "local", study_path=study, log=lambda _: None)
    notes: list[str] = []
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        distributed = run_study_ray(spec, tmp_path / "ray", study_path=study, log=notes.append)
    finally:
        ray.shutdown()
    assert not distributed.failed and sorted(distributed.done) == sorted(local.done)
    assert len(local.done) == 3

    ours, theirs = records(tmp_path / "local"), records(tmp_path / "ray")
    assert sorted(ours) == sorted(theirs) == sorted(local.done)
    for run_id, record in ours.items():
        assert record["info"]["threads"] == theirs[run_id]["info"]["threads"] == driver_threads
        assert record["metrics"] == theirs[run_id]["metrics"], run_id  # every metric, exactly
        assert record["info"]["training"]["final_loss"] == \
            theirs[run_id]["info"]["training"]["final_loss"]
    assert predictions(tmp_path / "local") == predictions(tmp_path / "ray")
    weights, ray_weights = encoder_weights(tmp_path / "local"), encoder_weights(tmp_path / "ray")
    assert len(weights) == 1 and weights.keys() == ray_weights.keys()
    for run_id, tensors in weights.items():
        for name, tensor in tensors.items():
            assert torch.equal(tensor, ray_weights[run_id][name]), f"{run_id}: {name}"
    assert any("compute with 2 thread(s)" in note for note in notes), notes


def test_a_threads_setting_is_applied_recorded_and_part_of_the_id(
        tmp_path: Path, driver_threads: int) -> None:
    unset = plan_study(load_study(write_study(tmp_path, "unset"))).runs
    study = write_study(tmp_path, "one-thread", "epochs: 1, batch_size: 8, max_seq_length: 24, "
                        "max_train_examples: 48, max_dev_examples: 16, learning_rate: 0.001, "
                        "threads: 1")
    spec = load_study(study)
    pinned = plan_study(spec).runs
    # unset, the setting is left out of the ids (ids of finished runs stay valid); set, it
    # changes results, so it is in them
    assert {r.run.training.threads for r in unset} == {None}
    assert not {r.id for r in unset} & {r.id for r in pinned}
    outcome = run_study(spec, tmp_path / "out", study_path=study, log=lambda _: None)
    assert len(outcome.done) == 3
    for record in records(tmp_path / "out").values():
        assert record["settings"]["training"]["threads"] == 1
        assert record["info"]["threads"] == 1
    assert torch.get_num_threads() == 1  # the last run's count, not the default of 2


def test_thread_counts_must_be_positive(tmp_path: Path) -> None:
    study = write_study(tmp_path, "zero", "epochs: 1, threads: 0")
    with pytest.raises(Exception, match="threads"):
        load_study(study)
    with pytest.raises(ValueError, match="at least 1"):
        run_threads.adopt_default(0)
