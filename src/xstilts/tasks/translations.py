"""Translate-train and translate-test: a task's machine-translated files, read as its data.

XTREME reports zero-shot transfer next to three settings that use machine translation:

* ``translate-train``: fine-tune on the English training set translated into the target
  language L, evaluate L;
* ``translate-train-all``: fine-tune on English plus every translation at once, evaluate all;
* ``translate-test``: fine-tune on English, evaluate each language on its test set translated
  into English.

A task declares where its translated files lie (:class:`~xstilts.tasks.base.Translation`, the
``translations`` field of a :class:`~xstilts.tasks.base.Task`); this module reads them with the
task's own file machinery (:class:`~xstilts.tasks.files.FileReader`: missing-file errors that
name the path, ``skip_bad_rows``) and builds the *view* of a task a run of a setting trains and
evaluates on. Why a view: the training and evaluation loops stay the zero-shot ones, and
translated test examples keep the ids of the examples they translate (same id template), so
the report pairs a translate-test prediction with the zero-shot prediction of the same example.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from xstilts.errors import XstiltsError
from xstilts.tasks.base import Example, Task, Translation, check_split_language
from xstilts.tasks.files import FileReader, FileRequest
from xstilts.tasks.readers import RowProblems, iter_lines, require_examples

ZERO_SHOT = "zero-shot"
TRANSLATE_TRAIN = "translate-train"
TRANSLATE_TRAIN_ALL = "translate-train-all"
TRANSLATE_TEST = "translate-test"
SETTINGS = (ZERO_SHOT, TRANSLATE_TRAIN, TRANSLATE_TRAIN_ALL, TRANSLATE_TEST)

# The translated files a setting reads (translate-train-all reads translate-train's).
_FILES = {TRANSLATE_TRAIN: TRANSLATE_TRAIN, TRANSLATE_TRAIN_ALL: TRANSLATE_TRAIN,
          TRANSLATE_TEST: TRANSLATE_TEST}


def files_of(setting: str) -> str | None:
    """The kind of translated files ``setting`` reads (None for zero-shot)."""
    return _FILES.get(setting)


def has_translations(task: Task, setting: str) -> bool:
    kind = files_of(setting)
    return kind is None or kind in task.translations


def translation_file(task: Task, setting: str, split: str, language: str,
                     data_dir: Path | None) -> Path:
    """The translated file ``setting`` reads for (split, language); ``split`` is the training
    split for the translate-train settings, the evaluated split for translate-test."""
    source = _source(task, setting)
    return source.locate(split, language, Path(data_dir) if data_dir is not None else Path())


def read_translation(task: Task, setting: str, split: str, language: str,
                     data_dir: Path | None, *, skip_bad_rows: bool = False) -> list:
    """The examples of one translated file, read like the task's own files; ids follow the
    task's own template (``xcopa-test-ht-7`` for the English translation of ``ht``'s 7)."""
    source = _source(task, setting)
    own = task.reader if isinstance(task.reader, FileReader) else None
    read = source.read or (own.read if own is not None else None)
    if read is None:
        raise XstiltsError(f"task {task.name!r}: its {files_of(setting)} files name no format "
                           "and the task has no file format of its own to read them with")
    reader = FileReader(
        task=task.name, splits=task.splits, languages=task.languages, labels=task.labels,
        label_inventory=task.label_inventory, layout=source.locate, read=read,
        data_hint=f"{files_of(setting)} file of {task.name}. {task.data_hint}",
        id_prefix=own.id_prefix if own is not None else "{task}-{split}-{language}-",
        needs_data_dir=source.needs_data_dir)
    return reader(split, language, data_dir, skip_bad_rows=skip_bad_rows)


def _source(task: Task, setting: str) -> Translation:
    kind = files_of(setting)
    if kind is None or kind not in task.translations:
        raise XstiltsError(f"task {task.name!r} has no {kind or setting} files (it has: "
                           f"{', '.join(sorted(task.translations)) or 'none'})")
    return task.translations[kind]


@dataclass(frozen=True)
class TranslatedReader:
    """The reader of a setting's view of a task: the reads the setting replaces come from the
    translated files, every other read (English dev, the original test sets) from the task.

    * translate-train: (``train_split``, L != the task's training language) reads L's
      translated training set;
    * translate-train-all: (``train_split``, the training language) reads the English set
      followed by the translated sets of ``languages``;
    * translate-test: (``eval_split``, L != the training language) reads L's test set
      translated into English.
    """

    task: Task
    setting: str
    train_split: str
    eval_split: str
    languages: tuple[str, ...]

    def __call__(self, split: str, language: str, data_dir: Path | None, *,
                 skip_bad_rows: bool = False) -> list:
        task, english = self.task, self.task.train_language
        if self.setting == TRANSLATE_TRAIN and split == self.train_split and language != english:
            return read_translation(task, self.setting, split, language, data_dir,
                                    skip_bad_rows=skip_bad_rows)
        if self.setting == TRANSLATE_TRAIN_ALL and split == self.train_split \
                and language == english:
            examples = task.load(split, language, data_dir, skip_bad_rows=skip_bad_rows)
            for other in self.languages:
                if other != english:
                    examples += read_translation(task, self.setting, split, other, data_dir,
                                                 skip_bad_rows=skip_bad_rows)
            return _distinct_ids(examples)
        if self.setting == TRANSLATE_TEST and split == self.eval_split and language != english:
            return read_translation(task, self.setting, split, language, data_dir,
                                    skip_bad_rows=skip_bad_rows)
        return task.load(split, language, data_dir, skip_bad_rows=skip_bad_rows)


def translated_view(task: Task, setting: str, *, train_split: str, eval_split: str,
                    languages: Sequence[str]) -> Task:
    """The task as a run of ``setting`` reads it (the task itself for zero-shot)."""
    if setting == ZERO_SHOT:
        return task
    _source(task, setting)  # refuse a task without the setting's files at once
    check_split_language(task.name, task.splits, task.languages, train_split, task.train_language)
    reader = TranslatedReader(task, setting, train_split, eval_split, tuple(languages))
    return dataclasses.replace(task, reader=reader)


def _distinct_ids(examples: list) -> list:
    """Translate-train-all concatenates sets whose formats keep the file's own ids (SQuAD's
    question ids are the same in every translation): a repeated id gets its language."""
    seen: set[str] = set()
    out = []
    for ex in examples:
        if ex.id in seen:
            ex = dataclasses.replace(ex, id=f"{ex.id}@{ex.language}")
        seen.add(ex.id)
        out.append(ex)
    return out


# --- XTREME's translated TSV ----------------------------------------------------------------

def translated_pair_tsv(request: FileRequest, *,
                        aliases: Mapping[str, str] | None = None) -> list[Example]:
    """XTREME's translated pair files (``xnli/translate-train/en-L-translated.tsv``,
    ``pawsx/translate-train/...``, ``xnli/translate-test/test-L-en-translated.tsv``): no
    header, unquoted, five tab-separated fields ``source_a source_b translated_a translated_b
    label``; the translated texts are read. XNLI-MT's own ``multinli.train.L.tsv`` (header
    ``premise hypo label``) and any three-field file read as ``text_a text_b label``."""
    label_map = {label: i for i, label in enumerate(request.labels)}
    label_map.update({alias: label_map[name] for alias, name in (aliases or {}).items()
                      if name in label_map})
    problems = RowProblems(request.path, request.skip_bad_rows)
    examples: list[Example] = []
    for number, line in iter_lines(request.path, request.hint, problems):
        if not line.strip():
            continue
        fields = line.split("\t")
        if number == 1 and fields[0].strip() == "premise":
            continue  # XNLI-MT's header
        if len(fields) == 5:
            texts, raw = (fields[2], fields[3]), fields[4].strip()
        elif len(fields) == 3:
            texts, raw = (fields[0], fields[1]), fields[2].strip()
        else:
            problems.bad(number, "expected 5 tab-separated fields (text_a, text_b, "
                         "translated_a, translated_b, label) or 3 (text_a, text_b, label), "
                         f"found {len(fields)}")
            continue
        if raw not in label_map:
            problems.bad(number, f"unknown label {raw!r}; expected one of {sorted(label_map)}")
            continue
        examples.append(Example(id=f"{request.id_prefix}{len(examples)}", texts=texts,
                                label=label_map[raw], language=request.language))
    return require_examples(request.path, examples, problems)
