"""Experiment trackers (TensorBoard, MLflow, Weights & Biases) for a study's runs.

One xstilts run is one tracker run, named by its run id (and a readable name): its settings
as parameters, the training loop's log records (loss, learning rate, examples/s every
``log_every`` steps; dev scores every epoch) as step metrics, and its final per-language
metrics. Through accelerate's tracker classes (:mod:`accelerate.tracking`), created directly:
a run spans several Accelerators (one per phase, :func:`~xstilts.training.trainer.
_fresh_accelerator`), so ``Accelerator(log_with=...)`` would end the tracker with the phase.

Optional on purpose: the libraries are the ``tracking`` extra, imported only when a study
asks for a backend, and a tracker never breaks a run (an error is a warning and that tracker
is dropped for the rest of the run). Light at import (pydantic only): the study file's
schema imports :class:`TrackingOptions`.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import math
import os
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from xstilts.errors import XstiltsError
from xstilts.results import Score

logger = logging.getLogger("xstilts.tracking")

Backend = Literal["tensorboard", "mlflow", "wandb"]
# The module each backend needs (TensorBoard: torch.utils.tensorboard needs tensorboard).
BACKEND_MODULES: dict[str, str] = {"tensorboard": "tensorboard", "mlflow": "mlflow",
                                   "wandb": "wandb"}
INSTALL_HINT = "pip install 'xstilts[tracking]'"
# Where trackers write, under the output folder, unless ``tracking.dir`` says otherwise.
DEFAULT_DIR = "tracking"
# Tag (MLflow) / config key naming the xstilts run a tracker run belongs to.
RUN_ID_TAG = "xstilts.run_id"
# MLflow metric and parameter names allow these characters only (mlflow.utils.validation).
_UNSAFE_NAME = re.compile(r"[^\w\-./ :]")


class TrackingOptions(BaseModel):
    """``tracking:`` in a study. Not part of any run id: logging never changes a result."""

    model_config = ConfigDict(extra="forbid")

    backends: list[Backend] = Field(min_length=1, description="tensorboard, mlflow, wandb")
    project: str | None = Field(None, description="MLflow experiment / W&B project; default: "
                                "the study's name")
    dir: str | None = Field(None, description="where trackers write (relative: to the output "
                            "folder); default OUT/tracking")
    mlflow_uri: str | None = Field(None, description="MLflow tracking URI; default the file "
                                   "store DIR/mlruns")
    wandb_mode: Literal["offline", "online"] | None = Field(
        None, description="default: WANDB_MODE, else offline (nothing leaves the machine)")

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        """``tracking: tensorboard`` and ``tracking: [tensorboard, mlflow]``."""
        if isinstance(data, str):
            return {"backends": [data]}
        if isinstance(data, list):
            return {"backends": data}
        return data

    @model_validator(mode="after")
    def _distinct(self) -> TrackingOptions:
        self.backends = list(dict.fromkeys(self.backends))
        return self

    def with_backends(self, backends: Iterable[str]) -> TrackingOptions:
        """These options with ``backends`` added (``xstilts run --track``)."""
        return TrackingOptions.model_validate(
            {**self.model_dump(), "backends": [*self.backends, *backends]})

    def for_study(self, study: str) -> TrackingOptions:
        """The options a run holds: the project defaults to the study's name."""
        return self if self.project else self.model_copy(update={"project": study})

    def folder(self, out_dir: Path) -> Path:
        return out_dir / (self.dir or DEFAULT_DIR)

    def mlflow_tracking_uri(self, out_dir: Path) -> str:
        return self.mlflow_uri or (self.folder(out_dir) / "mlruns").resolve().as_uri()


def with_track_option(options: TrackingOptions | None, value: str) -> TrackingOptions:
    """A study's tracking options with ``--track tensorboard,mlflow`` added to its backends
    (the study's other tracking keys kept)."""
    names = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in BACKEND_MODULES]
    if unknown or not names:
        raise XstiltsError(f"--track: unknown backend(s) {unknown or [value]}; expected a "
                           f"comma-separated list of {', '.join(BACKEND_MODULES)}")
    if options is None:
        return TrackingOptions.model_validate({"backends": names})
    return options.with_backends(names)


def tracking_problems(options: TrackingOptions | None) -> list[str]:
    """Each requested backend whose library is not installed (checked before training)."""
    if options is None:
        return []
    return [f"tracking.backends: {backend} needs the {module} library, which is not "
            f"installed: {INSTALL_HINT} (or pip install {module})"
            for backend in options.backends
            if importlib.util.find_spec(module := BACKEND_MODULES[backend]) is None]


def prepare_tracking(options: TrackingOptions, out_dir: Path) -> None:
    """Once per study, before any run: the tracking folder, and the MLflow experiment (so
    that runs on several workers never race to create it)."""
    options.folder(out_dir).mkdir(parents=True, exist_ok=True)
    if "mlflow" not in options.backends:
        return
    project = options.project or "xstilts"
    try:
        client = _mlflow_client(options, out_dir)
        if client.get_experiment_by_name(project) is None:
            client.create_experiment(project)
    except Exception as err:  # never break a study: each run tries (and warns) again
        logger.warning("tracking: mlflow could not prepare experiment %r at %s (%s: %s)",
                       project, options.mlflow_tracking_uri(out_dir), type(err).__name__, err)


def _allow_file_store(uri: str) -> None:
    """MLflow 3 refuses its file store unless asked (it is in maintenance mode, the database
    stores need the full ``mlflow`` package); xstilts asks for it when the URI is a folder."""
    if uri.startswith("file:") or "://" not in uri:
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")


def _mlflow_client(options: TrackingOptions, out_dir: Path) -> Any:
    from mlflow.tracking import MlflowClient

    uri = options.mlflow_tracking_uri(out_dir)
    _allow_file_store(uri)
    return MlflowClient(uri)


def flat_settings(settings: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested settings as ``a.b`` keys with scalar values (what hparams and params take):
    lists as JSON, None as "null"."""
    flat: dict[str, Any] = {}
    for key, value in settings.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flat_settings(value, f"{name}."))
        elif value is None:
            flat[name] = "null"
        elif isinstance(value, bool | int | float | str):
            flat[name] = value
        else:
            flat[name] = json.dumps(value, default=str)
    return flat


def metric_name(*parts: str) -> str:
    """A metric name every backend accepts (``+`` of ``test+generalized`` becomes ``_``)."""
    return "/".join(_UNSAFE_NAME.sub("_", part) for part in parts)


def training_values(record: Mapping[str, Any]) -> dict[str, float]:
    """A training-loop log record as metrics: a step record's loss, lr and examples/s, or an
    epoch's dev scores (each task's primary metric) and their mean."""
    if "dev" in record:
        values = {metric_name("dev", task): float(v) for task, v in record["dev"].items()}
        values["dev/mean"] = float(record["dev_mean"])
        values["epoch"] = float(record["epoch"])
        return values
    return {metric_name("train", key): float(record[key])
            for key in ("loss", "lr", "examples_per_second") if key in record}


def result_values(metrics: Iterable[Score], info: Mapping[str, Any]) -> dict[str, float]:
    """A finished run's metrics, one per (split, metric, language), and its training
    summary (best dev score, seconds, examples/s)."""
    values = {metric_name("eval", m.split or "eval", m.metric, m.language or "all"): m.value
              for m in metrics if m.value is not None and math.isfinite(m.value)}
    training = info.get("training") or {}
    for key in ("best_dev_score", "final_loss", "train_seconds", "examples_per_second",
                "steps", "epochs_run", "best_epoch"):
        if isinstance(training.get(key), int | float):
            values[metric_name("summary", key)] = float(training[key])
    for key in ("wall_seconds", "evaluation_seconds"):
        if isinstance(info.get(key), int | float):
            values[metric_name("summary", key)] = float(info[key])
    return values


class RunTracker:
    """The trackers of one xstilts run. Every call is guarded: a tracker that raises is
    reported as a warning and dropped, and the run goes on."""

    def __init__(self, trackers: Mapping[str, Any], *, run_id: str) -> None:
        self.trackers = dict(trackers)
        self.run_id = run_id
        self.last_step = 0

    @property
    def backends(self) -> list[str]:
        return list(self.trackers)

    def _each(self, what: str, call: Callable[[str, Any], None]) -> None:
        for name, tracker in list(self.trackers.items()):
            try:
                call(name, tracker)
            except Exception as err:  # a tracker must never break a run
                logger.warning("tracking: %s could not %s for run %s (%s: %s); the run goes "
                               "on without it", name, what, self.run_id, type(err).__name__,
                               err)
                self.trackers.pop(name, None)

    def log_settings(self, settings: Mapping[str, Any]) -> None:
        """The run's settings as hyperparameters / params, and as JSON text (TensorBoard)."""
        flat = flat_settings(settings)
        text = json.dumps(settings, indent=2, sort_keys=True, default=str)

        def log(name: str, tracker: Any) -> None:
            tracker.store_init_configuration(flat)
            if name == "tensorboard":
                # Markdown code block: TensorBoard's text tab renders it as written.
                tracker.log({"settings": "    " + text.replace("\n", "\n    ")}, step=0)

        self._each("log the settings", log)

    def log(self, values: Mapping[str, float], step: int) -> None:
        self.last_step = max(self.last_step, step)
        self._each("log metrics", lambda _, tracker: tracker.log(dict(values), step=step))

    def log_training(self, record: Mapping[str, Any]) -> None:
        """A training-loop log record (:meth:`TrainingLoop._log`), at its step."""
        values = self._values("read a training log record", training_values, record)
        if values:
            self.log(values, int(record.get("step", 0)))

    def log_results(self, metrics: Iterable[Score], info: Mapping[str, Any]) -> None:
        """The final per-language metrics and the training summary, at the last step."""
        values = self._values("read the run's results", result_values, metrics, info)
        steps = (info.get("training") or {}).get("steps")
        if values:
            self.log(values, int(steps) if isinstance(steps, int) and steps else self.last_step)

    def _values(self, what: str, compute: Callable[..., dict[str, float]],
                *args: Any) -> dict[str, float]:
        try:
            return compute(*args)
        except Exception as err:  # never break a run: an unexpected record is skipped
            logger.warning("tracking: could not %s for run %s (%s: %s)", what, self.run_id,
                           type(err).__name__, err)
            return {}

    def finish(self, *, failed: bool = False) -> None:
        def end(name: str, tracker: Any) -> None:
            if failed and name == "mlflow":  # accelerate's finish() always says FINISHED
                import mlflow

                mlflow.end_run(status="FAILED")
            elif failed and name == "wandb":
                tracker.run.finish(exit_code=1)
            else:
                tracker.finish()

        self._each("finish", end)
        self.trackers.clear()


def open_run_tracker(options: TrackingOptions, out_dir: Path, *, run_id: str, name: str,
                     tags: Mapping[str, str], settings: Mapping[str, Any]) -> RunTracker:
    """Start each backend's tracker run for one xstilts run and log its settings.

    A backend that fails to start is a warning (the others go on); ``tags`` (kind, task,
    intermediate, seed, ...) label the run where a backend has tags.
    """
    trackers: dict[str, Any] = {}
    starters = {"tensorboard": _tensorboard, "mlflow": _mlflow, "wandb": _wandb}
    for backend in options.backends:
        try:
            tracker = starters[backend](options, out_dir, run_id, name, dict(tags))
            tracker.start()
        except Exception as err:
            logger.warning("tracking: %s could not start for run %s (%s: %s); the run goes "
                           "on without it", backend, run_id, type(err).__name__, err)
            continue
        trackers[backend] = tracker
    tracker = RunTracker(trackers, run_id=run_id)
    tracker.log_settings(settings)
    return tracker


def _tensorboard(options: TrackingOptions, out_dir: Path, run_id: str, name: str,
                 tags: dict[str, str]) -> Any:
    """Event files in DIR/tensorboard/<run id> (one folder a run: TensorBoard's run list)."""
    from accelerate.tracking import TensorBoardTracker

    return TensorBoardTracker(run_id, options.folder(out_dir) / "tensorboard")


def _mlflow(options: TrackingOptions, out_dir: Path, run_id: str, name: str,
            tags: dict[str, str]) -> Any:
    """A run of the project's experiment; an unfinished one of the same xstilts run (an
    interrupted, resumed run) is continued rather than started anew.

    accelerate's MLflowTracker logs through mlflow's global tracking URI, so it is set here
    (one run at a time per process: the executors run one run per process at a time).
    """
    import mlflow
    from accelerate.tracking import MLflowTracker

    client = _mlflow_client(options, out_dir)
    mlflow.set_tracking_uri(options.mlflow_tracking_uri(out_dir))
    if mlflow.active_run() is not None:  # left by a run whose tracker could not finish
        mlflow.end_run(status="KILLED")
    project = options.project or "xstilts"
    experiment = client.get_experiment_by_name(project)
    previous = None
    if experiment is not None:
        found = client.search_runs(
            [experiment.experiment_id],
            filter_string=f"tags.`{RUN_ID_TAG}` = '{run_id}' and attributes.status != "
                          "'FINISHED'", max_results=1)
        previous = found[0].info.run_id if found else None
    return MLflowTracker(experiment_name=project, run_id=previous, run_name=name,
                         tags={RUN_ID_TAG: run_id, **tags})


def _wandb(options: TrackingOptions, out_dir: Path, run_id: str, name: str,
           tags: dict[str, str]) -> Any:
    """A W&B run with the xstilts run id as its id, offline unless asked otherwise.

    accelerate's WandBTracker passes its first argument as the *project* to ``wandb.init``
    and the rest as they are: the run's name, id, folder and mode are given here.
    """
    import wandb
    from accelerate.tracking import WandBTracker

    folder = options.folder(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    mode = options.wandb_mode or os.environ.get("WANDB_MODE") or "offline"
    return WandBTracker(options.project or "xstilts", name=name, id=run_id, dir=str(folder),
                        mode=mode, resume="allow", group=tags.get("intermediate"),
                        tags=[f"{k}:{v}"[:64] for k, v in tags.items() if v],
                        settings=wandb.Settings(console="off", silent=True))
