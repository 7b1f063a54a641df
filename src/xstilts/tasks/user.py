"""User tasks declared in YAML: add a target or intermediate task without touching the engine.

A task file lists tasks (schema: :class:`UserTaskSpec`; guide: ``docs/user-tasks.md``). Each
declaration is validated up front (unknown keys refused, every problem reported with its line)
and turned into an ordinary :class:`~xstilts.tasks.base.Task` in the one registry, so a study
names it like any built-in task. Rows are read lazily, when a phase needs a split, and a bad
row raises :class:`~xstilts.errors.DataFormatError` with its file and line, or, read with
``skip_bad_rows=True``, is dropped and counted in a warning (:mod:`xstilts.tasks.user_rows`).

Paths: a relative ``path`` resolves against the task file's folder, so a task file and its data
travel together; a path starting with ``{data_dir}/`` resolves against ``--data-dir`` (the
task then needs one, like the XTREME tasks), and an absolute path is taken as is.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from xstilts.errors import DataFormatError, XstiltsError
from xstilts.integrity import atomic_write_text
from xstilts.languages import get_language
from xstilts.tasks.base import Example, Reader, Task, TaskType, Translation
from xstilts.tasks.files import FileFormat, FileRequest, file_task
from xstilts.tasks.readers import RowProblems
from xstilts.tasks.registry import get_task, register_task
from xstilts.tasks.translations import TRANSLATE_TEST, TRANSLATE_TRAIN
from xstilts.tasks.user_rows import (
    converter,
    examples_of,
    of_language,
    parse_rows,
    required_columns,
)
from xstilts.yaml_lines import describe_validation_error, read_yaml_mapping

# Row-level types the readers below can build today (the others need their own example shape).
READABLE_TYPES = (TaskType.CLASSIFICATION, TaskType.PAIR_CLASSIFICATION, TaskType.REGRESSION)
DATA_DIR_PREFIX = "{data_dir}/"


class TaskFileError(XstiltsError):
    """A task file is invalid; lists every problem, each with its line and key."""

    def __init__(self, path: str | Path, problems: list[str]):
        self.path = str(path)
        self.problems = problems
        listing = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{self.path}: {len(problems)} problem(s) in the task file:\n{listing}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class ColumnsSpec(_Strict):
    """Which column (TSV/CSV header name, JSON key, dataset column) holds which part."""

    text_a: str
    text_b: str | None = None
    label: str | None = None
    id: str | None = None


class FilesSpec(_Strict):
    """Where the rows are: ``{split}``/``{language}`` in ``path`` pick the file; without
    ``{language}``, ``language_column`` says which rows belong to which language."""

    path: str
    language_column: str | None = None


class TranslationsSpec(_Strict):
    """Machine-translated files of a file task, read with the task's own format and columns
    (docs/translate.md): path templates like ``files.path`` (``{split}``, ``{language}``,
    ``{data_dir}/``). ``translate_train``: the training set translated into each language
    (read for its training split); ``translate_test``: each language's test set translated
    into English, one row per row of the original, in the same order (ids pair by row)."""

    translate_train: str | None = None
    translate_test: str | None = None

    def templates(self) -> dict[str, str]:
        """Setting -> path template, for the settings given."""
        found = {TRANSLATE_TRAIN: self.translate_train, TRANSLATE_TEST: self.translate_test}
        return {k: v for k, v in found.items() if v is not None}


class HubSpec(_Strict):
    """A Hugging Face dataset: a hub name (or a folder written by ``save_to_disk``), a config
    (may contain ``{language}``), and our split name -> the dataset's split name."""

    name: str
    config: str | None = None
    splits: dict[str, str] = Field(default_factory=dict)
    language_column: str | None = None
    revision: str | None = None


class UserTaskSpec(_Strict):
    """One task declaration (see docs/user-tasks.md)."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.@-]+$")
    type: TaskType
    labels: list[str] = Field(default_factory=list)
    languages: list[str] = Field(min_length=1)
    train_language: str = "en"
    format: Literal["tsv", "csv", "jsonl", "hf"]
    files: FilesSpec | None = None
    hf: HubSpec | None = None
    columns: ColumnsSpec
    splits: list[str] = Field(default_factory=lambda: ["train", "dev", "test"], min_length=1)
    train_split: str = "train"
    dev_split: str = "dev"
    test_split: str = "test"
    metric: str | None = None
    description: str = ""
    translations: TranslationsSpec | None = None

    @model_validator(mode="after")
    def _consistent(self) -> UserTaskSpec:
        """Cross-field rules a reader would otherwise trip over much later."""
        if self.type not in READABLE_TYPES:
            raise ValueError(f"type {str(self.type)!r} cannot be read from a task file yet "
                             f"(supported: {', '.join(t.value for t in READABLE_TYPES)})")
        classifying = self.type is not TaskType.REGRESSION
        if classifying and len(self.labels) < 2:
            raise ValueError("a classification task needs 'labels' (at least two)")
        if self.type is TaskType.PAIR_CLASSIFICATION and self.columns.text_b is None:
            raise ValueError("a pair_classification task needs columns.text_b")
        if (self.format == "hf") != (self.hf is not None) or (self.hf and self.files):
            raise ValueError("format hf takes an 'hf' section; the file formats a 'files' one")
        if self.format != "hf" and self.files is None:
            raise ValueError(f"format {self.format} needs a 'files' section with a path")
        templates = [self.files.path if self.files else (self.hf.config or "") if self.hf
                     else ""]
        if self.translations is not None:
            if self.files is None:
                raise ValueError("'translations' name files: they need a task over files "
                                 "(format tsv, csv or jsonl)")
            templates += self.translations.templates().values()
        for template in templates:
            unknown = placeholders(template) - {"split", "language", "data_dir"}
            if unknown:
                raise ValueError(f"unknown placeholder(s) {', '.join(sorted(unknown))} in "
                                 f"{template!r}; use {{split}}, {{language}}, {{data_dir}}")
        canonical = self.task_languages()  # raises on a code no language has
        if _canonical(self.train_language) not in canonical:
            raise ValueError(f"train_language {self.train_language!r} is not in languages")
        if self.test_split not in self.splits:
            raise ValueError(f"test_split {self.test_split!r} is not in splits {self.splits}")
        return self


    def task_languages(self) -> list[str]:
        """The languages as xstilts codes them (``aym`` -> ``ay``, ``deu`` -> ``de``); the
        declaration keeps them as written, since file names and hub configs spell them so."""
        return [_canonical(code) for code in self.languages]

    def spelling(self, language: str) -> str:
        """How the declaration writes the language xstilts codes ``language``: what
        ``{language}`` in ``files.path`` or ``hf.config`` becomes."""
        return dict(zip(self.task_languages(), self.languages, strict=True)).get(language,
                                                                                 language)


class TaskFileSpec(_Strict):
    tasks: list[UserTaskSpec] = Field(min_length=1)


def _canonical(code: str) -> str:
    try:
        return get_language(code).code
    except XstiltsError as err:
        raise ValueError(str(err)) from None


# --------------------------------------------------------------------------------------------
# loading a task file


def load_task_file(path: str | Path) -> list[Task]:
    """Validate a task file and register its tasks; returns them in file order.

    Loading the same file (or an identical declaration) again returns the tasks already
    registered, so a study can be loaded twice in one process; a *different* task under a
    taken name is refused.
    """
    path = Path(path).resolve()
    spec = parse_task_file(path)
    return [_register(task_spec, path.parent) for task_spec in spec.tasks]


def parse_task_file(path: Path) -> TaskFileSpec:
    """Read and validate without registering; :class:`TaskFileError` lists every problem."""
    root, data = read_yaml_mapping(path, "task file", TaskFileError)
    try:
        return TaskFileSpec.model_validate(data)
    except ValidationError as err:
        problems = [describe_validation_error(e, root, keys_doc="docs/user-tasks.md")
                    for e in err.errors()]
        raise TaskFileError(path, problems) from None


@dataclass(frozen=True)
class UserTaskDefinition:
    """A registered user task as plain, picklable data: the validated declaration (JSON) and
    the folder its relative paths resolve against.

    Why: the registry lives in one process. A run executed elsewhere (a Ray worker) carries
    the definitions of the user tasks it names (:attr:`PlannedRun.user_tasks`) and registers
    them there with :func:`register_definitions`; the worker never reads the study file.
    """

    name: str
    base: str
    declaration: str  # UserTaskSpec.model_dump_json()


_DEFINITIONS: dict[str, UserTaskDefinition] = {}
SAVED_TASKS = "tasks"  # OUT/tasks/<name>.json: the user tasks of the studies run into OUT
logger = logging.getLogger("xstilts.tasks")


def definition_of(name: str) -> UserTaskDefinition | None:
    """The definition of a user task registered in this process; None for any other name."""
    return _DEFINITIONS.get(name)


def register_definitions(definitions: Iterable[UserTaskDefinition]) -> list[Task]:
    """Register user tasks from their definitions (already registered ones are a no-op)."""
    tasks = []
    for definition in definitions:
        try:
            spec = UserTaskSpec.model_validate_json(definition.declaration)
        except ValidationError as err:
            raise XstiltsError(f"user task {definition.name!r} (from {definition.base}): "
                               f"invalid declaration: {err}") from None
        tasks.append(_register(spec, Path(definition.base)))
    return tasks


def save_definitions(out_dir: Path, definitions: Iterable[UserTaskDefinition]) -> None:
    """Keep the user tasks a study runs in ``OUT/tasks/<name>.json``.

    Why: ``xstilts report`` is a new process that never read the study; it registers these
    (:func:`load_saved_definitions`) so that it sees a user task's type like the run did.
    """
    for definition in definitions:
        (out_dir / SAVED_TASKS).mkdir(parents=True, exist_ok=True)
        path = out_dir / SAVED_TASKS / f"{definition.name}.json"
        # Atomic replace: a symlink planted at the path is replaced, never written through.
        atomic_write_text(path, json.dumps(asdict(definition), indent=2))


def load_saved_definitions(out_dir: Path) -> list[Task]:
    """Register the user tasks saved under ``OUT/tasks/`` that this process lacks.

    Lenient, as a report must be: a name this process already gives another task keeps that
    task, and an unreadable file is skipped, each with a warning.
    """
    tasks = []
    for path in sorted((out_dir / SAVED_TASKS).glob("*.json")):
        try:
            definition = UserTaskDefinition(**json.loads(path.read_text(encoding="utf-8")))
            tasks += register_definitions([definition])
        except (OSError, TypeError, ValueError, XstiltsError) as err:
            logger.warning("%s: user task not loaded: %s", path, err)
    return tasks


def _register(spec: UserTaskSpec, base: Path) -> Task:
    """Register once; an identical definition (same declaration, same folder) is a no-op."""
    identity = UserTaskDefinition(spec.name, str(base), spec.model_dump_json())
    if _DEFINITIONS.get(spec.name) == identity:
        return get_task(spec.name)
    try:
        get_task(spec.name)
    except XstiltsError:
        pass
    else:
        raise XstiltsError(f"task {spec.name!r} from {base} clashes with a task already "
                           "registered under that name; rename it in the task file")
    task = register_task(build_task(spec, base))
    _DEFINITIONS[spec.name] = identity
    return task


def build_task(spec: UserTaskSpec, base: Path) -> Task:
    """The :class:`Task` of a declaration: a file task (:func:`~xstilts.tasks.files.file_task`,
    the builder of every file task) over its files, or a task over Hugging Face rows."""
    fields: dict[str, Any] = dict(
        labels=tuple(spec.labels), metric=spec.metric or _default_metric(spec.type),
        train_language=_canonical(spec.train_language), train_split=spec.train_split,
        dev_split=spec.dev_split, test_split=spec.test_split, splits=tuple(spec.splits),
        description=spec.description or f"user task ({spec.format}) declared in {base}")
    if spec.files is not None:
        if spec.translations is not None:  # read with the task's own format (read=None)
            fields["translations"] = {
                setting: Translation(partial(_template_path, template, spec, base),
                                     needs_data_dir=template.startswith(DATA_DIR_PREFIX))
                for setting, template in spec.translations.templates().items()}
        return file_task(
            spec.name, spec.type, spec.task_languages(), layout=partial(_file_path, spec, base),
            read=_file_format(spec, base), data_hint=f"declared in a task file in {base}",
            needs_data_dir=spec.files.path.startswith(DATA_DIR_PREFIX), **fields)
    return Task(name=spec.name, type=spec.type, languages=tuple(spec.task_languages()),
                reader=_hub_reader(spec, base), data_hint=f"declared in a task file in {base}",
                needs_data_dir=False, **fields)


def _default_metric(task_type: TaskType) -> str:
    return "pearson" if task_type is TaskType.REGRESSION else "accuracy"


# --------------------------------------------------------------------------------------------
# rows (parsing and conversion: xstilts.tasks.user_rows)

def _file_path(spec: UserTaskSpec, base: Path, split: str, language: str,
               data_dir: Path) -> Path:
    """The task's :class:`~xstilts.tasks.files.FileLayout`-like locator: ``files.path`` under
    the task file's folder, or under the data folder (``{data_dir}/...``)."""
    assert spec.files is not None
    return _template_path(spec.files.path, spec, base, split, language, data_dir)


def _template_path(template: str, spec: UserTaskSpec, base: Path, split: str, language: str,
                   data_dir: Path) -> Path:
    """A path template of the task file (``files.path``, a translated file's) resolved."""
    raw = template.format(split=split, language=spec.spelling(language),
                          data_dir="{data_dir}")
    if raw.startswith(DATA_DIR_PREFIX):
        return Path(data_dir) / raw.removeprefix(DATA_DIR_PREFIX)
    path = Path(raw)
    return path if path.is_absolute() else base / path


def _file_format(spec: UserTaskSpec, base: Path) -> FileFormat:
    """The format function of the task's files: parse (tsv/csv/jsonl), keep the language's
    rows, convert them (errors and skipped rows with file and line)."""
    assert spec.files is not None
    files = spec.files
    hint = f"task {spec.name!r}: files.path is {files.path!r} (relative to {base})"
    required = required_columns(spec)
    convert = converter(spec)

    def read(request: FileRequest) -> list[Example]:
        problems = RowProblems(request.path, request.skip_bad_rows)
        parsed = parse_rows(request.path, spec.format, hint, required, problems)
        rows = of_language(parsed, files.language_column, request.language, str(request.path))
        examples = examples_of(rows, convert, problems, request.split, request.language)
        return _nonempty(spec, examples, problems, request.split, request.language)

    return read


def _hub_reader(spec: UserTaskSpec, base: Path) -> Reader:
    """The reader of a task over Hugging Face rows (a hub id or a saved dataset folder)."""
    from xstilts.tasks.hf import hf_rows  # lazy: `datasets` is an optional dependency

    assert spec.hf is not None
    hub = hf_rows(spec.hf, base, of_language, spell=spec.spelling)
    convert = converter(spec)

    def reader(split: str, language: str, data_dir: Path | None, *,
               skip_bad_rows: bool = False) -> list[Example]:
        where, found = hub(split, language, data_dir)
        problems = RowProblems(where, skip_bad_rows)  # type: ignore[arg-type]  # "hf:name/split"
        examples = examples_of(found, convert, problems, split, language)
        return _nonempty(spec, examples, problems, split, language)

    return reader


def _nonempty(spec: UserTaskSpec, examples: list[Example], problems: RowProblems, split: str,
              language: str) -> list[Example]:
    """A split with no rows for the language is an error, not an empty evaluation."""
    if not examples:
        raise DataFormatError(problems.path, None, f"no rows for split {split!r}, "
                              f"language {language!r} in task {spec.name!r}")
    return examples


def placeholders(template: str) -> set[str]:
    """The ``{name}`` placeholders of a path or config template."""
    return set(re.findall(r"{(\w*)}", template))
