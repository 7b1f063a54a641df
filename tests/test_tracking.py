"""Experiment trackers (issue #18 part 2), read back with the real libraries.

A tiny study runs with ``tracking: [tensorboard, mlflow, wandb]`` (W&B offline); what each
tracker wrote is read back with TensorBoard's event reader, MLflow's client on the local file
store and W&B's own record protobuf, and compared with what the run folders and the results
store recorded (log.jsonl, run.json). Tracking never enters a run id, reused runs are not
logged again, a missing library stops the study before training, and a broken tracker never
breaks a run.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import struct
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tiny_study import tiny_study

from xstilts.errors import StudyConfigError, XstiltsError
from xstilts.studies.executor import run_study
from xstilts.studies.planner import plan_study
from xstilts.studies.spec import load_study
from xstilts.training.tracking import TrackingOptions, with_track_option

# log_every 2: three loss points in a run's six steps (log_every never enters a run id).
TRAINING = ("epochs: 1, batch_size: 8, max_seq_length: 24, max_train_examples: 48, "
            "max_dev_examples: 16, learning_rate: 0.001, log_every: 2")
STUDY = "tracked"


def installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


BACKENDS = [b for b in ("tensorboard", "mlflow", "wandb") if installed(b)]


def write_study(folder: Path, name: str, extra: str = "", training: str = TRAINING) -> Path:
    study = folder / f"{name}.yaml"
    study.write_text(tiny_study(name, training) + extra, encoding="utf-8")
    return study


def small_study(folder: Path, name: str, extra: str = "") -> Path:
    """One target run (no phase 2), the cheapest study that trains."""
    study = folder / f"{name}.yaml"
    study.write_text(f"""
name: {name}
encoder: tiny:random
intermediate: [none]
targets: [{{task: cldr-continents, languages: [en, de]}}]
training: {{epochs: 1, batch_size: 8, max_seq_length: 24, max_train_examples: 16,
           max_dev_examples: 8, log_every: 1}}
evaluation: {{max_examples: 8, bootstrap_resamples: 10}}
{extra}""", encoding="utf-8")
    return study


def records(out: Path) -> dict[str, dict[str, Any]]:
    return {p.parent.name: json.loads(p.read_text()) for p in (out / "runs").glob("*/run.json")}


def log_lines(out: Path, run_id: str) -> list[dict[str, Any]]:
    lines = (out / "runs" / run_id / "log.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def leaves(settings: dict[str, Any]) -> int:
    """How many scalar-or-list values nested settings hold (a non-empty dict is a branch)."""
    return sum(leaves(v) if isinstance(v, dict) and v else 1 for v in settings.values())


@pytest.fixture(scope="module")
def tracked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The tiny study (3 runs) tracked by every installed backend; W&B offline."""
    if not BACKENDS:
        pytest.skip("no tracker library installed (pip install 'xstilts[tracking]')")
    folder = tmp_path_factory.mktemp("tracked")
    study = write_study(folder, STUDY, f"tracking: {{backends: [{', '.join(BACKENDS)}], "
                                       "wandb_mode: offline}\n")
    outcome = run_study(load_study(study), folder / "out", study_path=study,
                        log=lambda _: None)
    assert not outcome.failed and len(outcome.done) == 3
    yield folder / "out"


def test_tensorboard_event_files_hold_the_log_and_the_results(tracked: Path) -> None:
    pytest.importorskip("tensorboard", reason="tensorboard is not installed "
                        "(pip install 'xstilts[tracking]')")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    for run_id, record in records(tracked).items():
        events = EventAccumulator(str(tracked / "tracking" / "tensorboard" / run_id),
                                  size_guidance={"tensors": 0, "scalars": 0})
        events.Reload()
        logged = log_lines(tracked, run_id)
        steps = [line for line in logged if "loss" in line]
        assert len(steps) == 3  # 6 steps, every 2nd logged
        for tag, key in (("train/loss", "loss"), ("train/lr", "lr"),
                         ("train/examples_per_second", "examples_per_second")):
            points = events.Scalars(tag)
            assert [p.step for p in points] == [line["step"] for line in steps]
            assert [p.value for p in points] == pytest.approx([line[key] for line in steps],
                                                              rel=1e-6, abs=1e-9)
        dev = [line for line in logged if "dev" in line]
        for task in dev[0]["dev"]:
            points = events.Scalars(f"dev/{task}")
            assert [p.step for p in points] == [line["step"] for line in dev]
            assert [p.value for p in points] == pytest.approx(
                [line["dev"][task] for line in dev], rel=1e-6)
        text = events.Tensors("settings/text_summary")[0].tensor_proto.string_val[0]
        assert json.loads(text.decode()) == record["settings"]
        for metric in record["metrics"]:
            tag = f"eval/{metric['split']}/{metric['metric']}/{metric['language']}"
            (point,) = events.Scalars(tag)
            assert point.value == pytest.approx(metric["value"], rel=1e-6)
            assert point.step == record["info"]["training"]["steps"] == 6


def test_mlflow_file_store_holds_params_history_and_final_metrics(tracked: Path) -> None:
    pytest.importorskip("mlflow", reason="mlflow is not installed "
                        "(pip install 'xstilts[tracking]')")
    from mlflow.tracking import MlflowClient

    client = MlflowClient((tracked / "tracking" / "mlruns").resolve().as_uri())
    experiment = client.get_experiment_by_name(STUDY)  # the project defaults to the study
    runs = {r.data.tags["xstilts.run_id"]: r for r in client.search_runs(
        [experiment.experiment_id])}
    stored = records(tracked)
    assert sorted(runs) == sorted(stored)
    for run_id, record in stored.items():
        run, settings = runs[run_id], record["settings"]
        assert run.info.status == "FINISHED"
        assert run.data.tags["kind"] == record["kind"]
        assert len(run.data.params) == leaves(settings)
        assert run.data.params["seed"] == str(settings["seed"]) == "0"
        assert run.data.params["encoder"] == "tiny:random"
        assert run.data.params["training.learning_rate"] == "0.001"
        assert run.data.params["training.max_steps"] == "null"
        history = client.get_metric_history(run.info.run_id, "train/loss")
        logged = [line for line in log_lines(tracked, run_id) if "loss" in line]
        assert [(m.step, m.value) for m in sorted(history, key=lambda m: m.step)] == [
            (line["step"], line["loss"]) for line in logged]
        for metric in record["metrics"]:
            name = f"eval/{metric['split']}/{metric['metric']}/{metric['language']}"
            assert run.data.metrics[name] == metric["value"]
        best = record["info"]["training"]["best_dev_score"]
        assert run.data.metrics["summary/best_dev_score"] == best


def wandb_records(run_file: Path) -> Iterator[Any]:
    """The records of a W&B offline run file (``run-<id>.wandb``), parsed with W&B's own
    protobuf. The file is W&B's LevelDB-style log (a 7-byte header, then 32 KiB blocks of
    chunks with a 7-byte header each: checksum, length, type full/first/middle/last); wandb
    0.31 ships no Python reader of it (its Go core reads it), hence these few lines."""
    from wandb.proto import wandb_internal_pb2

    data, block, pos, pending = run_file.read_bytes(), 32768, 7, b""
    assert data[:4] == b":W&B"
    while pos + 7 <= len(data):
        if block - pos % block < 7:  # a block's tail too short for a header is padding
            pos += block - pos % block
            continue
        _, length, kind = struct.unpack("<IHB", data[pos:pos + 7])
        chunk, pos = data[pos + 7:pos + 7 + length], pos + 7 + length
        if kind in (1, 4):  # full, last
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending + chunk if kind == 4 else chunk)
            pending = b""
            yield record
        elif kind in (2, 3):  # first, middle
            pending += chunk
        elif kind == 0:  # zero padding up to the block's end
            pos += (block - pos % block) % block


def test_wandb_offline_run_holds_the_history(tracked: Path) -> None:
    pytest.importorskip("wandb", reason="wandb is not installed "
                        "(pip install 'xstilts[tracking]')")
    for run_id, record in records(tracked).items():
        (folder,) = (tracked / "tracking" / "wandb").glob(f"offline-run-*-{run_id}")
        parsed = list(wandb_records(folder / f"run-{run_id}.wandb"))
        (run,) = [r.run for r in parsed if r.WhichOneof("record_type") == "run"]
        assert (run.run_id, run.project) == (run_id, STUDY)
        rows = [{item.key or "/".join(item.nested_key): json.loads(item.value_json)
                 for item in r.history.item}
                for r in parsed if r.WhichOneof("record_type") == "history"]
        logged = [line for line in log_lines(tracked, run_id) if "loss" in line]
        assert [(row["_step"], row["train/loss"]) for row in rows if "train/loss" in row] \
            == [(line["step"], line["loss"]) for line in logged]
        finals = {k: v for row in rows for k, v in row.items() if k.startswith("eval/")}
        assert finals == {f"eval/{m['split']}/{m['metric']}/{m['language']}": m["value"]
                          for m in record["metrics"]}
        config = {item.key: json.loads(item.value_json) for r in parsed
                  if r.WhichOneof("record_type") == "config" for item in r.config.update}
        assert config["seed"] == record["settings"]["seed"]


def test_reused_runs_are_not_logged_again(tracked: Path) -> None:
    """A second run of the same study reuses every run and starts no tracker run."""
    before = sorted(p.relative_to(tracked) for p in (tracked / "tracking").rglob("*"))
    study = tracked.parent / f"{STUDY}.yaml"
    outcome = run_study(load_study(study), tracked, study_path=study, log=lambda _: None)
    assert len(outcome.reused) == 3 and not outcome.done
    after = sorted(p.relative_to(tracked) for p in (tracked / "tracking").rglob("*"))
    assert after == before


def test_tracking_never_enters_a_run_id(tmp_path: Path) -> None:
    plain = plan_study(load_study(write_study(tmp_path, "ids")))
    tracked = plan_study(load_study(write_study(
        tmp_path, "ids", "tracking: {backends: [tensorboard, mlflow], project: p, dir: t}\n")))
    assert [r.id for r in tracked.runs] == [r.id for r in plain.runs]
    assert [r.settings for r in tracked.runs] == [r.settings for r in plain.runs]


def test_study_keys_and_track_option() -> None:
    assert TrackingOptions.model_validate("mlflow").backends == ["mlflow"]
    assert TrackingOptions.model_validate(["tensorboard", "mlflow"]).backends == [
        "tensorboard", "mlflow"]
    study = TrackingOptions(backends=["mlflow"], project="p")
    merged = with_track_option(study, "tensorboard, mlflow")
    assert merged.backends == ["mlflow", "tensorboard"] and merged.project == "p"
    assert with_track_option(None, "wandb").backends == ["wandb"]
    with pytest.raises(XstiltsError, match="--track: unknown backend.*'neptune'"):
        with_track_option(None, "tensorboard,neptune")


def test_unknown_backend_in_a_study_names_the_line(tmp_path: Path) -> None:
    study = write_study(tmp_path, "bad", "tracking: {backends: [tensorboard, comet]}\n")
    with pytest.raises(StudyConfigError, match=r"line \d+.*tracking.*backends"):
        load_study(study)


def test_missing_library_stops_the_study_before_training(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    """``sys.modules[name] = None`` is how Python marks a module as not importable (what a
    machine without the package sees); the study stops before any run, naming the extra."""
    monkeypatch.setitem(sys.modules, "mlflow", None)
    study = small_study(tmp_path, "missing", "tracking: [tensorboard, mlflow]\n")
    with pytest.raises(StudyConfigError, match=r"line \d+, tracking.backends: mlflow needs "
                       r"the mlflow library.*pip install 'xstilts\[tracking\]'"):
        run_study(load_study(study), tmp_path / "out", study_path=study, log=lambda _: None)
    assert not (tmp_path / "out").exists()


def test_without_tracking_nothing_is_written(tmp_path: Path) -> None:
    study = small_study(tmp_path, "plain")
    outcome = run_study(load_study(study), tmp_path / "out", study_path=study,
                        log=lambda _: None)
    assert len(outcome.done) == 1
    assert not (tmp_path / "out" / "tracking").exists()
    assert not list(tmp_path.rglob("mlruns")) and not list(tmp_path.rglob("wandb"))


def test_a_broken_tracker_never_breaks_the_run(tmp_path: Path,
                                               caplog: pytest.LogCaptureFixture) -> None:
    """MLflow pointed at a file store under a regular file cannot start: a warning, and the
    run finishes, tracked by TensorBoard alone."""
    pytest.importorskip("mlflow", reason="mlflow is not installed")
    pytest.importorskip("tensorboard", reason="tensorboard is not installed")
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    uri = (blocker / "mlruns").as_uri()
    study = small_study(tmp_path, "broken",
                        f"tracking: {{backends: [mlflow, tensorboard], mlflow_uri: '{uri}'}}\n")
    with caplog.at_level(logging.WARNING, logger="xstilts.tracking"):
        outcome = run_study(load_study(study), tmp_path / "out", study_path=study,
                            log=lambda _: None)
    assert len(outcome.done) == 1 and not outcome.failed
    assert any("mlflow" in r.getMessage() and "the run goes on" in r.getMessage()
               for r in caplog.records)
    (run_id,) = outcome.done
    assert list((tmp_path / "out" / "tracking" / "tensorboard" / run_id).glob("events.*"))


def test_cli_track_adds_a_backend(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard", reason="tensorboard is not installed")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from typer.testing import CliRunner

    from xstilts.cli import app

    study = small_study(tmp_path, "cli")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", str(study), "--out", str(out),
                                      "--track", "tensorboard"])
    assert result.exit_code == 0, result.output
    (run_id,) = records(out)
    events = EventAccumulator(str(out / "tracking" / "tensorboard" / run_id))
    events.Reload()
    logged = [line for line in log_lines(out, run_id) if "loss" in line]
    assert [p.step for p in events.Scalars("train/loss")] == [line["step"] for line in logged]


@pytest.mark.slow  # a Ray start / a fresh-process reload: keeps the default suite < 15 min
def test_ray_workers_log_to_the_trackers(tmp_path: Path) -> None:
    """The tracking options travel with each run to its Ray worker (PlannedRun.tracking)."""
    ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'xstilts[ray]')")
    pytest.importorskip("mlflow", reason="mlflow is not installed")
    from mlflow.tracking import MlflowClient

    from xstilts.studies.ray_executor import run_study_ray

    study = small_study(tmp_path, "rayed", "tracking: [mlflow]\n")
    out = tmp_path / "out"
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
    try:
        outcome = run_study_ray(load_study(study), out, study_path=study, log=lambda _: None)
    finally:
        ray.shutdown()
    (run_id,) = outcome.done
    (record,) = records(out).values()
    client = MlflowClient((out / "tracking" / "mlruns").resolve().as_uri())
    (run,) = client.search_runs([client.get_experiment_by_name("rayed").experiment_id])
    assert run.data.tags["xstilts.run_id"] == run_id and run.info.status == "FINISHED"
    for metric in record["metrics"]:
        name = f"eval/{metric['split']}/{metric['metric']}/{metric['language']}"
        assert run.data.metrics[name] == metric["value"]


def test_an_interrupted_run_continues_its_mlflow_run(tmp_path: Path) -> None:
    """A run killed mid-training (its MLflow run never ended) and resumed logs into the same
    MLflow run, not a second one of the same name."""
    pytest.importorskip("mlflow", reason="mlflow is not installed")
    from mlflow.tracking import MlflowClient

    from xstilts.training.tracking import open_run_tracker, prepare_tracking

    options = TrackingOptions(backends=["mlflow"], project="resumed")
    prepare_tracking(options, tmp_path)
    first = open_run_tracker(options, tmp_path, run_id="abc", name="n", tags={},
                             settings={"seed": 0})
    first.log({"train/loss": 2.0}, step=1)  # then killed: never finished
    second = open_run_tracker(options, tmp_path, run_id="abc", name="n", tags={},
                              settings={"seed": 0})
    second.log({"train/loss": 1.0}, step=2)
    second.finish()
    client = MlflowClient(options.mlflow_tracking_uri(tmp_path))
    (run,) = client.search_runs([client.get_experiment_by_name("resumed").experiment_id])
    assert run.info.status == "FINISHED"
    history = client.get_metric_history(run.info.run_id, "train/loss")
    assert sorted((m.step, m.value) for m in history) == [(1, 2.0), (2, 1.0)]
