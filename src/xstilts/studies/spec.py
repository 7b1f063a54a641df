"""The study file: a YAML document validated up front, every problem reported at once.

Errors name the file, the line, the key and what was expected, before any training starts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, model_validator

from xstilts.errors import StudyConfigError, XstiltsError
from xstilts.evaluation.settings import (  # noqa: F401  (re-exported: the study file's keys)
    AlignOptions,
    EvaluationOptions,
    RetrievalOptions,
)
from xstilts.models.bundled import DEFAULT_ENCODER
from xstilts.tasks.translations import ZERO_SHOT
from xstilts.training.options import MixOptions, TrainingOptions
from xstilts.training.tracking import TrackingOptions
from xstilts.yaml_lines import describe_validation_error, file_line, read_yaml_mapping
from xstilts.yaml_lines import line_of as _line_of

# Per-phase overrides: every TrainingOptions field, all optional, unknown keys refused.
TrainingOverrides = create_model(  # type: ignore[call-overload]
    "TrainingOverrides",
    __config__=ConfigDict(extra="forbid", allow_inf_nan=False),
    **{name: (info.annotation | None, None) for name, info in TrainingOptions.model_fields.items()},
)


def resolve_training(base: TrainingOptions, *overrides: BaseModel | None) -> TrainingOptions:
    """Apply phase- and task-level overrides on top of the study's training defaults."""
    merged = base.model_dump()
    for override in overrides:
        if override is not None:
            merged.update(override.model_dump(exclude_unset=True))
    return TrainingOptions(**merged)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class MixMember(_Strict):
    """One task of a multi-task intermediate mix."""

    task: str
    language: str = "en"
    train_split: str | None = None

    @property
    def label(self) -> str:
        return self.task if self.language == "en" else f"{self.task}@{self.language}"


class IntermediateSpec(_Strict):
    """Phase 2 on one task (``task``) or a multi-task mix (``mix``) with one head per task.

    ``none`` in a study's intermediate list means: skip phase 2 (the baseline).
    """

    task: str | None = None
    language: str = "en"
    train_split: str | None = None
    mix: list[MixMember] | None = Field(None, min_length=2)
    sampling: MixOptions | None = None
    training: TrainingOverrides | None = None  # type: ignore[valid-type]
    mlm: bool = Field(False, description="also continue masked-language modelling on the "
                      "tasks' training texts (needs an encoder with a masked-LM head)")
    mlm_probability: float = Field(0.15, gt=0, lt=1, description="share of tokens masked")

    @model_validator(mode="before")
    @classmethod
    def _mix_members(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("mix"), list):
            data = dict(data)
            data["mix"] = [{"task": m} if isinstance(m, str) else m for m in data["mix"]]
        return data

    @model_validator(mode="after")
    def _task_or_mix(self) -> IntermediateSpec:
        if (self.task is None) == (self.mix is None):
            raise ValueError("give either 'task' (one intermediate task) or 'mix' (a list of "
                             "tasks), not both or neither")
        if self.mix is not None:
            labels = [m.label for m in self.mix]
            if len({m.task for m in self.mix}) != len(self.mix):
                raise ValueError(f"a mix lists the same task twice: {labels}")
        elif self.sampling is not None:
            raise ValueError("'sampling' applies to a 'mix' only")
        return self

    @property
    def members(self) -> list[MixMember]:
        if self.mix is not None:
            return self.mix
        assert self.task is not None  # guaranteed by _task_or_mix
        return [MixMember(task=self.task, language=self.language, train_split=self.train_split)]

    @property
    def label(self) -> str:
        if self.mix is not None:
            label = "mix(" + "+".join(m.label for m in self.mix) + ")"
        else:
            label = self.members[0].label
        # A suffix in parentheses keeps mix labels parseable ("mix(a+b) (mlm)" ends with ")").
        return f"{label} (mlm)" if self.mlm else label


# How a target uses machine translation (xstilts.tasks.translations.SETTINGS).
Setting = Literal["zero-shot", "translate-train", "translate-train-all", "translate-test"]


class TargetSpec(_Strict):
    """Phase 3 on a target task, then zero-shot evaluation on its languages."""

    task: str
    languages: list[str] | None = Field(None, description="default: every language of the task")
    train_split: str | None = None
    dev_split: str | None = None
    dev_language: str | None = Field(
        None, description="model selection language; default English (zero-shot protocol), "
        "a target language gives the few-shot protocol")
    eval_split: str | None = None
    training: TrainingOverrides | None = None  # type: ignore[valid-type]
    setting: Setting | list[Setting] = Field(
        "zero-shot", description="zero-shot (default), translate-train (one run per language, "
        "trained on its translated training set), translate-train-all (one run on English "
        "plus every translation), translate-test (trained on English, evaluated on the test "
        "sets translated into English); a list runs several (docs/translate.md)")

    @model_validator(mode="before")
    @classmethod
    def _settings_shorthand(cls, data: Any) -> Any:
        """Accept ``settings: [...]`` for ``setting``."""
        if isinstance(data, dict) and "settings" in data:
            if "setting" in data:
                raise ValueError("give either 'setting' or 'settings', not both")
            data = dict(data)
            data["setting"] = data.pop("settings")
        return data

    @model_validator(mode="after")
    def _distinct_settings(self) -> TargetSpec:
        if isinstance(self.setting, list):
            if not self.setting:
                raise ValueError("'setting' lists no setting; give at least one")
            if len(set(self.setting)) != len(self.setting):
                raise ValueError(f"'setting' lists a setting twice: {self.setting}")
        return self

    @property
    def settings(self) -> list[str]:
        """The settings this target runs, in the order given."""
        return list(self.setting) if isinstance(self.setting, list) else [self.setting]

    @property
    def translate_settings(self) -> list[str]:
        """The settings that read machine-translated files (all but zero-shot)."""
        return [s for s in self.settings if s != ZERO_SHOT]


class DataOptions(_Strict):
    """How runs read their data files. Part of the ids of the runs whose data it changes
    (only while on: :mod:`xstilts.training.runs`)."""

    skip_bad_rows: bool = Field(
        False, description="drop malformed rows (each file's count and first problems are "
        "logged and recorded in run.json under info.skipped_rows) instead of failing the run; "
        "applies to training, dev and evaluation files of trained tasks (retrieval targets "
        "read theirs strictly)")


class ResourceOptions(_Strict):
    """What one run asks of an executor (Ray schedules runs by these)."""

    cpus_per_run: float = Field(1, gt=0)
    gpus_per_run: float = Field(0, ge=0)


class RetentionOptions(_Strict):
    """What a study keeps on disk. Not part of any run id: keeping a file never changes a
    result, so turning an option on later does not redo finished runs (they stay without
    the file; delete ``runs/<id>`` to redo one)."""

    keep_target_checkpoints: bool = Field(
        False, description="write each target run's fine-tuned model (encoder + head, "
        "safetensors) to runs/<id>/model; off by default so that a large grid fits on disk. "
        "Intermediate encoders are always kept: later targets and studies reuse them")


class StudySpec(_Strict):
    """A study: encoders × intermediate configurations × targets × seeds."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    encoders: list[str] = Field(default_factory=lambda: [DEFAULT_ENCODER], min_length=1)
    intermediate: list[Literal["none"] | IntermediateSpec] = Field(
        default_factory=lambda: ["none"], min_length=1
    )
    targets: list[TargetSpec] = Field(min_length=1)
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1)
    training: TrainingOptions = Field(default_factory=TrainingOptions)
    intermediate_training: TrainingOverrides | None = None  # type: ignore[valid-type]
    target_training: TrainingOverrides | None = None  # type: ignore[valid-type]
    evaluation: EvaluationOptions = Field(default_factory=EvaluationOptions)
    data: DataOptions = Field(default_factory=DataOptions)
    resources: ResourceOptions = Field(default_factory=ResourceOptions)
    retention: RetentionOptions = Field(default_factory=RetentionOptions)
    tracking: TrackingOptions | None = Field(
        None, description="experiment trackers (tensorboard, mlflow, wandb) each run logs "
        "to; never part of a run id (README: Experiment trackers)")
    vocabulary: Literal["full", "trimmed"] = Field(
        "full", description="trimmed: before any run, trim the encoder's vocabulary to the "
        "tokens of every text the study reads (same predictions, a smaller and faster model; "
        "docs/vocab-trimming.md). Part of the run ids only when trimmed")
    task_files: list[str] = Field(
        default_factory=list, description="user task YAML files, relative to the study file"
    )

    @model_validator(mode="before")
    @classmethod
    def _shorthands(cls, data: Any) -> Any:
        """Accept ``encoder: X``, ``seed: N`` and task names as strings."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for single, plural in (("encoder", "encoders"), ("seed", "seeds")):
            if single in data:
                if plural in data:
                    raise ValueError(f"give either '{single}' or '{plural}', not both")
                data[plural] = [data.pop(single)]
        if isinstance(data.get("intermediate"), list):
            data["intermediate"] = [
                {"task": i} if isinstance(i, str) and i != "none" else i
                for i in data["intermediate"]
            ]
        if isinstance(data.get("targets"), list):
            data["targets"] = [{"task": t} if isinstance(t, str) else t for t in data["targets"]]
        return data


def load_study(path: str | Path) -> StudySpec:
    """Read and validate a study file; raise :class:`StudyConfigError` listing every problem."""
    path = Path(path)
    root, data = read_yaml_mapping(path, "study file", StudyConfigError)
    try:
        spec = StudySpec.model_validate(data)
    except ValidationError as err:
        problems = [describe_validation_error(error, root, keys_doc="the README for the study keys")
                    for error in err.errors() if not _is_noise(error)]
        raise StudyConfigError(path, problems) from None
    _register_task_files(spec, path, root)
    return spec


def _register_task_files(spec: StudySpec, path: Path, root: yaml.Node | None) -> None:
    """Register the study's user tasks, so that planning finds them like built-in ones."""
    from xstilts.tasks.user import load_task_file  # lazy: keeps spec imports light

    problems: list[str] = []
    for i, name in enumerate(spec.task_files):
        line = _line_of(root, ("task_files", i))
        try:
            load_task_file(path.parent / name)
        except XstiltsError as err:
            # A task file's own problems (each with its line there) are listed one by one.
            details = getattr(err, "problems", None) or [str(err)]
            problems += [f"line {line}, task_files.{i} ({name}): {d}" for d in details]
    if problems:
        raise StudyConfigError(path, problems)


def _is_noise(error: Any) -> bool:
    """Drop the "should be 'none'" half of an intermediate entry that is clearly a mapping."""
    tagged = any(isinstance(p, str) and p.startswith("literal[") for p in error["loc"])
    return tagged and not isinstance(error.get("input"), str)


def study_line(path: Path, loc: tuple[Any, ...]) -> int | None:
    """Line of a key path in a study file, for semantic errors found after parsing."""
    return file_line(path, loc)
