"""The data model of a task: what a task is, and what one example looks like.

One frozen dataclass describes a task (type, languages, labels, metric, reader); a reader
function turns files into :class:`Example` objects. An unlabeled example has ``label=None``,
never a fake label, so it can never be scored by accident.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Protocol


class TaskType(StrEnum):
    """The names of the built-in task types (each has a handler in :mod:`xstilts.tasktypes`).

    A task's ``type`` is a plain string, so a new task type is one handler module in
    ``tasktypes`` whose ``types`` names it; its tasks say ``type="<name>"``. These members are
    strings too, so ``task.type == TaskType.TAGGING`` works whichever way a task was declared.
    """

    CLASSIFICATION = "classification"
    PAIR_CLASSIFICATION = "pair_classification"
    MULTIPLE_CHOICE = "multiple_choice"
    EXTRACTIVE_QA = "extractive_qa"
    TAGGING = "tagging"
    RETRIEVAL = "retrieval"
    REGRESSION = "regression"


class RetrievalKind(StrEnum):
    """How a retrieval task is searched and scored (each kind's evaluation:
    :mod:`xstilts.tasktypes.retrieval`)."""

    BITEXT = "bitext"  # line i of one side translates line i of the other (Tatoeba): accuracy
    MINING = "mining"  # find the translation pairs among two sets of sentences (BUCC): F1
    POOLED = "pooled"  # rank one shared candidate pool per query (Mewsli-X, LAReQA): mAP@k


@dataclass(frozen=True)
class Example:
    """One raw example.

    ``texts`` holds one text for single-sentence tasks, two for pair tasks. ``label`` is the
    index into the task's ``labels`` (classification), a float (regression) or ``None`` when the
    split has no gold label.
    """

    id: str
    texts: tuple[str, ...]
    label: int | float | None
    language: str


@dataclass(frozen=True)
class ChoiceExample:
    """Multiple choice (XCOPA, COPA, SocialIQa, ...): one context, several candidate endings.

    ``context`` holds everything shared by the choices (e.g. XCOPA's premise plus "What was
    the cause?"); ``label`` is the index of the right choice, ``None`` when unlabeled.
    """

    id: str
    context: str
    choices: tuple[str, ...]
    label: int | None
    language: str


@dataclass(frozen=True)
class Answer:
    """A gold answer span: its text and character offset in the context."""

    text: str
    start: int


@dataclass(frozen=True)
class QAExample:
    """Extractive QA (SQuAD format). ``answers`` is ``None`` when the split is unlabeled and
    ``()`` for an unanswerable question (SQuAD 2.0)."""

    id: str
    question: str
    context: str
    answers: tuple[Answer, ...] | None
    language: str


@dataclass(frozen=True)
class TaggingExample:
    """Token tagging (UD-POS, PAN-X NER): words and one tag index per word (``None`` when
    unlabeled); tags index into the task's ``labels``."""

    id: str
    tokens: tuple[str, ...]
    tags: tuple[int, ...] | None
    language: str


@dataclass(frozen=True)
class BitextExample:
    """A sentence in ``language`` and its English translation (Tatoeba-style retrieval)."""

    id: str
    source: str
    target: str
    language: str


@dataclass(frozen=True)
class MiningSentence:
    """One sentence of a bitext-mining corpus (BUCC): ``side`` is 'source' (the other
    language) or 'target' (English); ``gold`` is the id of its translation, if any."""

    id: str
    text: str
    side: str
    language: str
    gold: str | None


AnyExample = (
    Example | ChoiceExample | QAExample | TaggingExample | BitextExample | MiningSentence
)


class Reader(Protocol):
    """Reads one split of one language. Every reader takes ``skip_bad_rows`` (readers of
    generated data, which has no bad rows, accept and ignore it), so :meth:`Task.load` passes
    it on without asking."""

    def __call__(self, split: str, language: str, data_dir: Path | None, *,
                 skip_bad_rows: bool = False) -> list: ...


# A locator names the file that holds (split, language) under data_dir.
Locator = Callable[[str, str, Path], Path]


@dataclass(frozen=True, eq=False)
class Translation:
    """Where a task's machine-translated files lie, for one translate setting (XTREME's
    translate-train / translate-test; :mod:`xstilts.tasks.translations` reads them).

    ``locate`` names the file of (split, language) like a task's own locator; ``read`` is a
    file format (:data:`xstilts.tasks.files.FileFormat`), None for the task's own. Example ids
    follow the task's own template, so a translated test example keeps its original's id.
    """

    locate: Locator
    read: Callable[..., list] | None = None
    needs_data_dir: bool = True


@dataclass(frozen=True)
class Task:
    """A task definition: everything the engine needs except the data itself.

    ``train_split``/``dev_split``/``test_split`` name the splits used for phase training,
    model selection and zero-shot evaluation. ``needs_data_dir`` is False for built-in tasks
    whose data ships inside installed packages.
    """

    name: str
    type: str  # a TaskType member or the name a registered handler declares
    languages: tuple[str, ...]
    reader: Reader = field(repr=False)
    labels: tuple[str, ...] = ()
    metric: str = "accuracy"
    train_language: str = "en"
    train_split: str = "train"
    dev_split: str = "dev"
    test_split: str = "test"
    description: str = ""
    data_hint: str = ""
    needs_data_dir: bool = True
    locate: Locator | None = field(default=None, repr=False)
    splits: tuple[str, ...] = ("train", "dev", "test")
    # For tasks whose label set lives with the data (CCG supertags: ``ccg/tags.txt``): reads
    # the labels from the data folder; ``labels`` stays empty until :meth:`with_data_labels`.
    label_inventory: Callable[[Path], tuple[str, ...]] | None = field(default=None, repr=False)
    # Files every language of a split reads besides its own (Mewsli-X: the candidate pool),
    # so that a missing one is found before any training, like a missing per-language file.
    shared_files: Callable[[str, Path], tuple[Path, ...]] | None = field(default=None,
                                                                         repr=False)
    # Extractive QA with unanswerable questions (SQuAD 2.0): decoding may answer "" (no
    # answer) and scoring follows evaluate-v2.0.py. False keeps SQuAD v1.1 behaviour: every
    # question has an answer, so a span is always predicted.
    has_unanswerable: bool = False
    # Retrieval tasks (type RETRIEVAL) only: how they are searched and scored.
    retrieval_kind: RetrievalKind | None = None
    # The split scored when none is named: the test split, unless its gold is withheld (BUCC
    # ships test without gold: the dev split is the one that can be scored).
    test_gold_withheld: bool = False
    # Whether one language's examples are read from every language's file (LAReQA's candidate
    # pool is the sentences of all its languages), so all must be present to evaluate any.
    reads_every_language: bool = False
    # Machine-translated files per setting ("translate-train", "translate-test"), if any.
    translations: Mapping[str, Translation] = field(default_factory=dict, repr=False,
                                                   compare=False)
    # Pair tasks whose published protocol fixes how a pair is encoded (STS 2017 as in SBERT:
    # "siamese"): what ``pair_encoding: auto`` (the default) trains with, and a study that sets
    # another encoding is told so before it runs. None: no rule (auto is a cross-encoder).
    protocol_pair_encoding: str | None = None

    def concrete_pair_encoding(self, option: str) -> str:
        """The pair encoding a run of this task trains with under ``training.pair_encoding:
        option``: ``auto`` follows the task's published protocol (STS 2017: siamese, as its
        reference numbers come from bi-encoders) and is a cross-encoder elsewhere."""
        if option != "auto":
            return option
        return self.protocol_pair_encoding or "cross"

    @property
    def num_labels(self) -> int:
        return len(self.labels)

    def with_data_labels(self, data_dir: Path | None) -> Task:
        """This task with its labels read from ``data_dir`` where the data defines them.

        Why: heads are sized from ``labels``, so a task whose inventory ships with its data
        (``label_inventory``) cannot be trained until the labels are read. Tasks with fixed
        labels are returned unchanged. A missing folder or inventory file is a clear error
        naming what to provide.
        """
        if self.label_inventory is None:
            return self
        from dataclasses import replace

        from xstilts.errors import XstiltsError

        if data_dir is None:
            raise XstiltsError(
                f"task {self.name!r} reads its label inventory from the data folder: pass "
                f"--data-dir. {self.data_hint}"
            )
        labels = self.label_inventory(Path(data_dir))
        if not labels:
            raise XstiltsError(f"task {self.name!r}: the label inventory in {data_dir} is empty")
        return replace(self, labels=tuple(labels))

    def load(
        self, split: str, language: str, data_dir: Path | None = None, *,
        skip_bad_rows: bool = False,
    ) -> list:
        """Read one split of one language; raises a clear error for unknown splits/languages.

        ``skip_bad_rows`` asks the reader to drop malformed rows (logging how many and why)
        instead of raising; every reader takes it.
        """
        from xstilts.errors import DataDirRequiredError

        check_split_language(self.name, self.splits, self.languages, split, language)
        if self.needs_data_dir and data_dir is None:
            # The file it would read, named relative to the data folder.
            where = self.locate(split, language, Path()) if self.locate is not None else None
            raise DataDirRequiredError(self.name, where, self.data_hint)
        folder = Path(data_dir) if data_dir is not None else None
        return self.reader(split, language, folder, skip_bad_rows=skip_bad_rows)

    def data_path(self, split: str, language: str, data_dir: Path) -> Path | None:
        """The file a file-based task reads for (split, language); None for built-in data.
        A task whose files lie without the data folder (``needs_data_dir`` False: a user
        task's files next to its task file) ignores ``data_dir``."""
        if self.locate is None:
            return None
        return self.locate(split, language, Path(data_dir))

    def has_data(self, split: str, language: str, data_dir: Path | None) -> bool:
        if not self.needs_data_dir:
            return True
        if data_dir is None:
            return False
        path = self.data_path(split, language, Path(data_dir))
        return path is not None and path.is_file() and not self.missing_shared_files(
            split, Path(data_dir))

    def missing_shared_files(self, split: str, data_dir: Path) -> list[Path]:
        """The shared files of ``split`` (see ``shared_files``) that are not in ``data_dir``."""
        if self.shared_files is None:
            return []
        return [f for f in self.shared_files(split, Path(data_dir)) if not f.is_file()]

    def data_found(self, data_dir: Path | None) -> bool:
        """Whether the evaluation data of at least one language is present."""
        return any(self.has_data(self.test_split, lang, data_dir) for lang in self.languages)

    def splits_found(self, data_dir: Path | None) -> tuple[str, ...]:
        """The splits with data for at least one language: a folder with only a task's dev
        files (the X-STILTs samples, XTREME's PAN-X dev) is not a folder without the task."""
        return tuple(split for split in self.splits
                     if any(self.has_data(split, lang, data_dir) for lang in self.languages))


def check_split_language(task: str, splits: tuple[str, ...], languages: tuple[str, ...],
                         split: str, language: str) -> None:
    """Refuse a split or language the task does not have, naming those it has."""
    from xstilts.errors import XstiltsError

    if split not in splits:
        raise XstiltsError(f"task {task!r} has no split {split!r}; it has {', '.join(splits)}")
    if language not in languages:
        raise XstiltsError(
            f"task {task!r} has no language {language!r}; it has {', '.join(languages)}"
        )
