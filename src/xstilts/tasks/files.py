"""File tasks as data: a declaration says where a task's files lie and which format reads them;
one builder, :func:`file_task`, turns it into a :class:`~xstilts.tasks.base.Task`.

Why one builder: the built-in XTREME / XTREME-R / English / intermediate / code tasks differ
only in data (name, type, labels, languages, layout, format, metric, source). Their loaders
used to be one closure per task, each re-deciding how to report a missing folder or file and
whether to pass ``skip_bad_rows`` on. The loader made here (:class:`FileReader`) does it once:

- no data folder: :class:`~xstilts.errors.DataDirRequiredError` naming the file it would read;
- a missing file: :class:`~xstilts.errors.MissingDataError` naming the path and the hint;
- ``skip_bad_rows`` always reaches the format function (every one takes it), and the rows it
  skips are logged and counted by the format readers as before
  (:func:`xstilts.tasks.readers.recording_skipped_rows`).

A format function (:data:`FileFormat`) gets one :class:`FileRequest` and returns the examples;
the plain ones are in :mod:`xstilts.tasks.file_formats`, and the few tasks that compute
something (BUCC's three files, ANLI's rounds, the code tasks' negatives) keep theirs next to
their declaration.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from xstilts.errors import DataDirRequiredError, MissingDataError
from xstilts.tasks.base import Locator, Task, check_split_language
from xstilts.tasks.readers import first_existing

# The example ids of most file tasks: "<task>-<split>-<language>-<row number>".
DEFAULT_ID_PREFIX = "{task}-{split}-{language}-"
# ... and of English-only tasks: "<task>-<split>-<row number>".
ENGLISH_ID_PREFIX = "{task}-{split}-"


@dataclass(frozen=True, eq=False)
class FileLayout:
    """Where the file of (split, language) lies under the data folder, as path patterns.

    ``patterns`` are alternatives (e.g. XTREME's ``download/`` copy, then the upstream
    release): the first that exists is read; when none does, the first is the one errors name.
    Placeholders: ``{split}``, ``{language}``, and ``{split_file}`` / ``{language_file}``, the
    split's / language's name in the files (``split_files`` / ``language_files``; the split or
    language itself where not listed). ``per_split`` gives other patterns for some splits
    (TyDiQA's train and dev files differ in folder and name).

    ``eq=False``: a layout compares and hashes by identity, like the locator functions it
    stands for, so a :class:`Task` holding one stays hashable.
    """

    patterns: str | tuple[str, ...]
    split_files: Mapping[str, str] = field(default_factory=dict)
    language_files: Mapping[str, str] = field(default_factory=dict)
    per_split: Mapping[str, str | tuple[str, ...]] = field(default_factory=dict)

    def __call__(self, split: str, language: str, data_dir: Path) -> Path:
        patterns = self.per_split.get(split, self.patterns)
        if isinstance(patterns, str):
            patterns = (patterns,)
        values = {
            "split": split, "language": language,
            "split_file": self.split_files.get(split, split),
            "language_file": self.language_files.get(language, language),
        }
        return first_existing(*(Path(data_dir) / p.format(**values) for p in patterns))


@dataclass(frozen=True)
class FileRequest:
    """One read of a file task: the file of (split, language), and how to report and name."""

    task: str
    split: str
    language: str
    path: Path
    data_dir: Path
    labels: tuple[str, ...]
    data_hint: str
    id_prefix: str
    skip_bad_rows: bool

    @property
    def hint(self) -> str:
        """What a missing-file error adds: which file this read wanted, and how to get it."""
        return f"{self.task}: {self.split}/{self.language} reads {self.path}. {self.data_hint}"

    def reading(self, path: Path) -> FileRequest:
        """The same read, of another file (ANLI's other rounds, LAReQA's other languages)."""
        return replace(self, path=path)


# A format function: the examples of one request (see :mod:`xstilts.tasks.file_formats`).
FileFormat = Callable[[FileRequest], list]


@dataclass(frozen=True, eq=False)
class FileReader:
    """The loader of a file task (its ``Task.reader``): layout + format, errors, ids.

    A callable object rather than a closure, so that what a task reads is inspectable data.
    """

    task: str
    splits: tuple[str, ...]
    languages: tuple[str, ...]
    labels: tuple[str, ...]
    label_inventory: Callable[[Path], tuple[str, ...]] | None
    layout: Locator
    read: FileFormat
    data_hint: str
    id_prefix: str
    # False where the layout places files without the data folder (a user task's files next
    # to its task file): then no data folder is needed, and the request's is "." if none.
    needs_data_dir: bool = True

    def __call__(self, split: str, language: str, data_dir: Path | None, *,
                 skip_bad_rows: bool = False) -> list:
        check_split_language(self.task, self.splits, self.languages, split, language)
        if data_dir is None and self.needs_data_dir:
            raise DataDirRequiredError(self.task, self.layout(split, language, Path()),
                                       self.data_hint)
        folder = Path(data_dir) if data_dir is not None else Path()
        # Labels that ship with the data (ccg/tags.txt) are read first: without them no file
        # of the task can be read.
        labels = self.label_inventory(folder) if self.label_inventory else self.labels
        request = FileRequest(
            task=self.task, split=split, language=language,
            path=self.layout(split, language, folder), data_dir=folder, labels=labels,
            data_hint=self.data_hint, skip_bad_rows=skip_bad_rows,
            id_prefix=self.id_prefix.format(task=self.task, split=split, language=language),
        )
        if not request.path.is_file():
            raise MissingDataError(request.path, request.hint)
        return self.read(request)


def file_task(
    name: str, type: str, languages: Sequence[str], *, layout: Locator,  # noqa: A002
    read: FileFormat, data_hint: str, id_prefix: str = DEFAULT_ID_PREFIX,
    needs_data_dir: bool = True, **fields: Any,
) -> Task:
    """The task of a file-task declaration.

    ``layout`` is a :class:`FileLayout` (or, where the layout branches on split and language,
    a locator function); ``read`` the format function; ``id_prefix`` a template over
    ``{task}``, ``{split}``, ``{language}`` (formats that keep the file's own ids ignore it);
    ``data_hint`` says how to get the data; ``needs_data_dir=False`` for a layout that places
    files without the data folder. Every other :class:`Task` field (labels, metric, splits,
    description, ...) is passed through as given.
    """
    task = Task(name=name, type=type, languages=tuple(languages), reader=_unbuilt,
                locate=layout, data_hint=data_hint, needs_data_dir=needs_data_dir, **fields)
    return replace(task, reader=FileReader(
        task=name, splits=task.splits, languages=task.languages, labels=task.labels,
        label_inventory=task.label_inventory, layout=layout, read=read, data_hint=data_hint,
        id_prefix=id_prefix, needs_data_dir=needs_data_dir,
    ))


def _unbuilt(split: str, language: str, data_dir: Path | None, *,
             skip_bad_rows: bool = False) -> list:
    raise AssertionError("file_task replaces this placeholder reader")  # pragma: no cover
