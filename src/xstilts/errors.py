"""Error types with messages a user can act on.

Every error raised for bad user input derives from :class:`XstiltsError`, so the CLI can
print it without a traceback. Messages name the file, line or field and what was expected.
"""

from __future__ import annotations

from pathlib import Path


class XstiltsError(Exception):
    """Base class for errors caused by user input or environment, not by bugs."""


class StudyConfigError(XstiltsError):
    """A study file is invalid; carries every problem found, not just the first."""

    def __init__(self, path: str | Path | None, problems: list[str]):
        self.path = str(path) if path is not None else "<study>"
        self.problems = problems
        listing = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{self.path}: {len(problems)} problem(s) in the study:\n{listing}")


class DataFormatError(XstiltsError):
    """A data file does not have the expected format."""

    def __init__(self, path: str | Path, line: int | None, problem: str):
        self.path = str(path)
        self.line = line
        self.problem = problem
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {problem}")


class MissingDataError(XstiltsError):
    """A data file a task needs is not where it was looked for."""

    def __init__(self, path: str | Path, hint: str):
        self.path = str(path)
        super().__init__(f"data file not found: {path}\n{hint}")


class DataDirRequiredError(XstiltsError):
    """A file-based task was asked for data without a data folder (``--data-dir``).

    ``path`` is the file it would read, relative to the data folder (None if unknown).
    """

    def __init__(self, task: str, path: str | Path | None, hint: str):
        self.task = task
        self.path = str(path) if path is not None else None
        where = f"; it reads {self.path} under it" if path is not None else ""
        super().__init__(f"task {task!r} reads files: pass --data-dir (an XTREME download/ "
                         f"folder){where}. {hint}")


class UnlabeledSplitError(XstiltsError):
    """A split has no gold labels (XTREME strips test labels) and cannot be scored."""


class ModelLoadError(XstiltsError):
    """An encoder could not be loaded; the message says how to provide it."""


class TrainingError(XstiltsError):
    """Training cannot continue (e.g. the loss became NaN)."""
