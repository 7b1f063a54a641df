"""X-STILTs intermediate tasks (Phang et al. 2020) beyond SQuAD/COPA/SIQA, in their release layouts.

Why these files and columns: the readers follow the files exactly as each project distributes
them, so a user can unpack a download under ``--data-dir`` and run.

- MNLI, QQP (GLUE): tab-separated with a header row; columns are found by *name*
  (``sentence1``/``sentence2``/``gold_label``; ``question1``/``question2``/``is_duplicate``),
  because MNLI's train and dev files have different numbers of annotator-label columns. Rows
  are split on tabs, never with the ``csv`` module: the sentences contain unbalanced quotes.
  GLUE's test files have no label column and read as unlabeled. QQP rows with too few fields
  (records broken by a line break in GLUE's original ``QQP.zip``) are dropped with a warning.
- ANLI v1.0: ``anli_v1.0/R1``-``R3``/``{train,dev,test}.jsonl``; the premise is ``context``
  (``premise`` in converted copies), ``label`` is ``e``/``n``/``c``; test is labeled.
- SNLI 1.0: ``snli_1.0/snli_1.0_{split}.jsonl``; ``gold_label`` ``-`` (no annotator majority)
  rows are skipped and counted in an INFO log line, as every SNLI user does; not errors.
- HellaSwag: ``hellaswag_{train,val,test}.jsonl``; ``ctx`` and four ``endings``, int ``label``
  (absent in test).
- Cosmos QA: ``train.csv``/``valid.csv`` (CSV with a header, quoted fields) and ``test.jsonl``
  (no label), columns ``id, context, question, answer0..answer3, label``.
- CommonsenseQA: ``{train,dev}_rand_split.jsonl``, ``test_rand_split_no_answers.jsonl``;
  ``question.stem``, ``question.choices[{label, text}]`` (A-E), ``answerKey``.
- CCG supertagging: CCGbank is LDC-licensed, so there is no public copy; the reader takes the
  simplest derived layout, the token-per-line ``token<TAB>supertag`` file with blank lines
  between sentences (as for UD-POS), plus ``tags.txt`` naming the supertag inventory (one per
  line), since inventories differ between extractions (jiant's has 1,363 tags). The task's
  ``labels`` are read from it by ``resolve_task("ccg", data_dir)`` (``label_inventory``).

NLI labels use XNLI's order ("contradiction", "entailment", "neutral") so that an NLI head
trained here transfers to XNLI unchanged. ``anli-plus`` is X-STILTs' ANLI+: one NLI head
trained on ANLI (R1-R3) + MNLI + SNLI; its dev/test are ANLI's.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from xstilts.errors import DataFormatError
from xstilts.tasks.base import ChoiceExample, Example, TaggingExample, Task, TaskType
from xstilts.tasks.formats.choice import iter_json_rows
from xstilts.tasks.formats.tagging import read_tagging
from xstilts.tasks.readers import (
    RowProblems,
    first_existing,
    iter_lines,
    logger,
    read_text,
    require_examples,
)
from xstilts.tasks.registry import register_task

EN = ("en",)
NLI_LABELS = ("contradiction", "entailment", "neutral")
NLI_INDEX = {label: i for i, label in enumerate(NLI_LABELS)}
ANLI_LABELS = {"c": NLI_INDEX["contradiction"], "e": NLI_INDEX["entailment"],
               "n": NLI_INDEX["neutral"]}
QQP_LABELS = {"0": 0, "1": 1}
ANLI_ROUNDS = ("R1", "R2", "R3")
# SNLI/MNLI's marker for "no majority among the five annotators": skipped, never an error.
NO_CONSENSUS = "-"


# --- generic row readers ---------------------------------------------------------------------

def iter_header_tsv(
    path: Path, hint: str, problems: RowProblems, required: Sequence[str],
    short_rows: list[int] | None = None,
) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield (line number, {column: value}) of a TSV whose first line names the columns.

    Why by name: GLUE's MNLI train/dev/test files differ in their label columns, and a column
    index would silently read the wrong field. A row with a different field count is bad;
    with ``short_rows`` given, the line numbers of rows with too *few* fields are collected
    there instead (the caller logs them), for files known to contain such rows (QQP).
    """
    header: list[str] | None = None
    for number, line in iter_lines(path, hint, problems):
        if not line.strip():
            continue
        fields = line.split("\t")
        if header is None:
            header = [f.strip() for f in fields]
            missing = [c for c in required if c not in header]
            if missing:
                problems.bad(number, f"header lacks column(s) {missing}; found {header}")
                return
            continue
        if short_rows is not None and len(fields) < len(header):
            short_rows.append(number)
            continue
        if len(fields) != len(header):
            problems.bad(number, f"expected {len(header)} tab-separated fields (as the header "
                         f"has), found {len(fields)}")
            continue
        yield number, dict(zip(header, fields, strict=True))


def _lookup_label(raw: Any, label_map: Mapping[str, int]) -> int:
    key = str(raw).strip()
    if key not in label_map:
        raise ValueError(f"unknown label {key!r:.40}; expected one of {sorted(label_map)}")
    return label_map[key]


def _nonempty(row: Mapping[str, Any], key: str) -> str:
    value = row.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"field {key!r} must be a non-empty string")
    return value.strip()


def _pair_rows(
    path: Path,
    rows: Iterator[tuple[int, Mapping[str, Any]]] | list[tuple[int, dict[str, Any]]],
    problems: RowProblems,
    *,
    keys: tuple[str, str, str],
    label_map: Mapping[str, int],
    id_key: str | None,
    id_prefix: str,
) -> list[Example]:
    """Turn parsed rows into pair examples; ``-`` labels are skipped and counted.

    ``keys`` names (text_a, text_b, label); a row without the label key is unlabeled (GLUE
    test files), and a file may not mix labeled and unlabeled rows.
    """
    first, second, label_key = keys
    examples: list[Example] = []
    no_consensus = 0
    for number, row in rows:
        raw_label = row.get(label_key)
        if isinstance(raw_label, str) and raw_label.strip() == NO_CONSENSUS:
            no_consensus += 1
            continue
        try:
            label = None if raw_label is None else _lookup_label(raw_label, label_map)
            texts = (_nonempty(row, first), _nonempty(row, second))
        except ValueError as err:
            problems.bad(number, str(err))
            continue
        raw_id = row.get(id_key) if id_key else None
        examples.append(Example(id=f"{id_prefix}{raw_id if raw_id is not None else number - 1}",
                                texts=texts, label=label, language="en"))
    if no_consensus:
        logger.info("%s: skipped %d row(s) with gold label %r (no annotator consensus)",
                    path, no_consensus, NO_CONSENSUS)
    require_examples(path, examples, problems)
    _check_consistent_labels(path, [e.label for e in examples])
    return examples


def _check_consistent_labels(path: Path, labels: Sequence[object]) -> None:
    labeled = [label is not None for label in labels]
    if any(labeled) and not all(labeled):
        raise DataFormatError(path, None, f"file mixes labeled and unlabeled rows "
                              f"({sum(labeled)} of {len(labeled)} have a label)")


# --- format readers (one public format each) -------------------------------------------------

def read_mnli(path: Path, *, hint: str, id_prefix: str = "",
              skip_bad_rows: bool = False) -> list[Example]:
    """GLUE MNLI TSV: ``sentence1``, ``sentence2``, ``gold_label`` (absent in test files)."""
    problems = RowProblems(path, skip_bad_rows)
    rows = iter_header_tsv(path, hint, problems, ("sentence1", "sentence2"))
    return _pair_rows(path, rows, problems, keys=("sentence1", "sentence2", "gold_label"),
                      label_map=NLI_INDEX, id_key="pairID", id_prefix=id_prefix)


def read_qqp(path: Path, *, hint: str, id_prefix: str = "",
             skip_bad_rows: bool = False) -> list[Example]:
    """GLUE QQP TSV: ``id qid1 qid2 question1 question2 is_duplicate`` (test: id q1 q2).

    GLUE's first QQP release (``QQP.zip``) has a few records broken in two by a line break
    inside a question: both halves have too few fields. They are dropped and counted in one
    WARNING, as transformers' and HF datasets' GLUE readers drop them; ``QQP-clean.zip`` (the
    current GLUE download) has none. Rows with too *many* fields are still format errors.
    """
    problems = RowProblems(path, skip_bad_rows)
    short: list[int] = []
    rows = list(iter_header_tsv(path, hint, problems, ("question1", "question2"), short))
    if short:
        shown = ", ".join(str(n) for n in short[:5]) + (" ..." if len(short) > 5 else "")
        logger.warning("%s: skipped %d row(s) with too few tab-separated fields (lines %s): "
                       "records broken by a line break inside a question, as in GLUE's "
                       "original QQP.zip (QQP-clean.zip has none)", path, len(short), shown)
    return _pair_rows(path, rows, problems, keys=("question1", "question2", "is_duplicate"),
                      label_map=QQP_LABELS, id_key="id", id_prefix=id_prefix)


def read_anli(path: Path, *, hint: str, id_prefix: str = "",
              skip_bad_rows: bool = False) -> list[Example]:
    """ANLI v1.0 JSONL: ``uid``, ``context`` (the premise), ``hypothesis``, ``label`` e/n/c.

    The release names the premise ``context``; copies converted to the ANLI repo's "standard
    format" (or exported from HF datasets) call it ``premise``, which is read as well.
    """
    problems = RowProblems(path, skip_bad_rows)
    rows = [(number, row if "context" in row or "premise" not in row
             else {**row, "context": row["premise"]})
            for number, row in iter_json_rows(path, hint, problems)]
    return _pair_rows(path, rows, problems, keys=("context", "hypothesis", "label"),
                      label_map=ANLI_LABELS, id_key="uid", id_prefix=id_prefix)


def read_snli(path: Path, *, hint: str, id_prefix: str = "",
              skip_bad_rows: bool = False) -> list[Example]:
    """SNLI 1.0 JSONL: ``sentence1``, ``sentence2``, ``gold_label`` (``-`` rows skipped)."""
    problems = RowProblems(path, skip_bad_rows)
    rows = iter_json_rows(path, hint, problems)
    return _pair_rows(path, rows, problems, keys=("sentence1", "sentence2", "gold_label"),
                      label_map=NLI_INDEX, id_key="pairID", id_prefix=id_prefix)


def _choice_label(raw: Any, n_choices: int) -> int | None:
    """An int label in range, or None where the row has none (test files)."""
    if raw is None:
        return None
    if isinstance(raw, str) and raw.strip().lstrip("-").isdigit():
        raw = int(raw)
    if not isinstance(raw, int) or isinstance(raw, bool) or not 0 <= raw < n_choices:
        raise ValueError(f"label must be an integer 0-{n_choices - 1}, got {raw!r:.40}")
    return raw


def _choice_rows(
    path: Path, rows: Iterator[tuple[int, Any]] | list[tuple[int, dict[str, Any]]],
    problems: RowProblems, parse: Callable[[dict[str, Any], int], ChoiceExample],
) -> list[ChoiceExample]:
    """Apply ``parse`` to each row; a ValueError makes the row bad (file + line)."""
    examples: list[ChoiceExample] = []
    for number, row in rows:
        try:
            examples.append(parse(row, number))
        except ValueError as err:
            problems.bad(number, str(err))
    require_examples(path, examples, problems)
    _check_consistent_labels(path, [e.label for e in examples])
    return examples


def read_hellaswag(path: Path, *, hint: str, id_prefix: str = "",
                   skip_bad_rows: bool = False) -> list[ChoiceExample]:
    """HellaSwag JSONL: context ``ctx``, four ``endings``, ``label`` (none in test)."""
    problems = RowProblems(path, skip_bad_rows)

    def parse(row: dict[str, Any], number: int) -> ChoiceExample:
        endings = row.get("endings")
        if not isinstance(endings, list) or len(endings) != 4 \
                or not all(isinstance(e, str) and e.strip() for e in endings):
            raise ValueError("'endings' must be a list of 4 non-empty strings")
        return ChoiceExample(
            id=f"{id_prefix}{row.get('ind', number - 1)}", context=_nonempty(row, "ctx"),
            choices=tuple(e.strip() for e in endings), label=_choice_label(row.get("label"), 4),
            language="en",
        )

    return _choice_rows(path, iter_json_rows(path, hint, problems), problems, parse)


COSMOS_ANSWERS = ("answer0", "answer1", "answer2", "answer3")


def _cosmos_example(row: Mapping[str, Any], number: int, id_prefix: str) -> ChoiceExample:
    label = row.get("label")
    if isinstance(label, str) and not label.strip():
        label = None
    return ChoiceExample(
        id=f"{id_prefix}{row.get('id') or number - 1}",
        context=f"{_nonempty(row, 'context')} {_nonempty(row, 'question')}",
        choices=tuple(_nonempty(row, key) for key in COSMOS_ANSWERS),
        label=_choice_label(label, 4), language="en",
    )


def _iter_csv_rows(
    path: Path, hint: str, problems: RowProblems, required: Sequence[str]
) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield (line number, row) of a quoted CSV with a header (Cosmos QA's train/valid).

    Why the csv module here (unlike GLUE): Cosmos QA quotes fields and its contexts contain
    commas and newlines. The line number is where the record ends.
    """
    reader = csv.DictReader(io.StringIO(read_text(path, hint), newline=""))
    missing = [c for c in required if c not in (reader.fieldnames or [])]
    if missing:
        raise DataFormatError(path, 1, f"header lacks column(s) {missing}; "
                              f"found {reader.fieldnames}")
    try:
        for row in reader:
            if None in row or any(v is None for v in row.values()):
                problems.bad(reader.line_num, f"expected {len(reader.fieldnames or [])} "
                             "comma-separated fields (as the header has)")
                continue
            yield reader.line_num, row
    except csv.Error as err:
        raise DataFormatError(path, reader.line_num, f"broken CSV: {err}") from err


def read_cosmosqa(path: Path, *, hint: str, id_prefix: str = "",
                  skip_bad_rows: bool = False) -> list[ChoiceExample]:
    """Cosmos QA: ``.csv`` (train/valid) or ``.jsonl`` (test); context = context + question."""
    problems = RowProblems(path, skip_bad_rows)
    if path.suffix == ".csv":
        rows: Any = _iter_csv_rows(path, hint, problems, ("context", "question", *COSMOS_ANSWERS))
    else:
        rows = iter_json_rows(path, hint, problems)
    return _choice_rows(path, rows, problems,
                        lambda row, number: _cosmos_example(row, number, id_prefix))


CSQA_KEYS = ("A", "B", "C", "D", "E")


def _csqa_example(row: dict[str, Any], number: int, id_prefix: str) -> ChoiceExample:
    question = row.get("question")
    if not isinstance(question, dict):
        raise ValueError("'question' must be an object with 'stem' and 'choices'")
    choices = question.get("choices")
    if not isinstance(choices, list) or [c.get("label") if isinstance(c, dict) else None
                                         for c in choices] != list(CSQA_KEYS):
        raise ValueError("'question.choices' must be 5 objects labelled A-E in order")
    answer = row.get("answerKey")
    label = None if answer is None else _lookup_label(answer, {k: i for i, k in
                                                               enumerate(CSQA_KEYS)})
    return ChoiceExample(
        id=f"{id_prefix}{row.get('id', number - 1)}", context=_nonempty(question, "stem"),
        choices=tuple(_nonempty(c, "text") for c in choices), label=label, language="en",
    )


def read_commonsenseqa(path: Path, *, hint: str, id_prefix: str = "",
                       skip_bad_rows: bool = False) -> list[ChoiceExample]:
    """CommonsenseQA JSONL: ``question.stem``, ``question.choices`` A-E, ``answerKey``."""
    problems = RowProblems(path, skip_bad_rows)
    return _choice_rows(path, iter_json_rows(path, hint, problems), problems,
                        lambda row, number: _csqa_example(row, number, id_prefix))


def read_tag_inventory(path: Path, hint: str) -> tuple[str, ...]:
    """One tag per line (``ccg/tags.txt``); duplicates are an error (indices would shift)."""
    tags: list[str] = []
    for number, line in iter_lines(path, hint):
        tag = line.strip()
        if not tag:
            continue
        if tag in tags:
            raise DataFormatError(path, number, f"duplicate tag {tag!r}")
        tags.append(tag)
    return tuple(tags)


# --- layouts and registration ----------------------------------------------------------------

_HINT = "See docs/tasks.md, 'X-STILTs intermediate tasks', for where to download it."
Reader = Callable[..., list]


def _file_task(
    name: str, type_: TaskType, locate: Callable[[str, str, Path], Path], read: Reader,
    *, labels: tuple[str, ...], description: str, test_split: str = "test",
    splits: tuple[str, ...] = ("train", "dev", "test"),
) -> Task:
    """A one-file-per-split English task: locator + format reader, hint naming the path."""

    def reader(split: str, language: str, data_dir: Path | None, *,
               skip_bad_rows: bool = False) -> list:
        assert data_dir is not None
        path = locate(split, language, data_dir)
        return read(path, hint=f"{name}: expected {path}. {_HINT}",
                    id_prefix=f"{name}-{split}-", skip_bad_rows=skip_bad_rows)

    return Task(name=name, type=type_, languages=EN, reader=reader, locate=locate,
                labels=labels, metric="accuracy", test_split=test_split, splits=splits,
                description=description, data_hint=_HINT)


_MNLI_FILES = {"train": "train.tsv", "dev": "dev_matched.tsv", "test": "test_matched.tsv"}


def mnli_path(split: str, language: str, data_dir: Path) -> Path:
    name = _MNLI_FILES.get(split, f"{split}.tsv")
    return first_existing(data_dir / "mnli" / name, data_dir / "MNLI" / name)


def qqp_path(split: str, language: str, data_dir: Path) -> Path:
    return first_existing(data_dir / "qqp" / f"{split}.tsv", data_dir / "QQP" / f"{split}.tsv")


def anli_path(split: str, language: str, data_dir: Path, round_: str = "R1") -> Path:
    return first_existing(data_dir / "anli" / round_ / f"{split}.jsonl",
                          data_dir / "anli" / "anli_v1.0" / round_ / f"{split}.jsonl",
                          data_dir / "anli_v1.0" / round_ / f"{split}.jsonl")


def snli_path(split: str, language: str, data_dir: Path) -> Path:
    name = f"snli_1.0_{split}.jsonl"
    return first_existing(data_dir / "snli" / name, data_dir / "snli" / "snli_1.0" / name,
                          data_dir / "snli_1.0" / name)


_HELLASWAG_SPLIT = {"train": "train", "dev": "val", "test": "test"}


def hellaswag_path(split: str, language: str, data_dir: Path) -> Path:
    return data_dir / "hellaswag" / f"hellaswag_{_HELLASWAG_SPLIT.get(split, split)}.jsonl"


_COSMOS_FILES = {"train": "train.csv", "dev": "valid.csv", "test": "test.jsonl"}


def cosmosqa_path(split: str, language: str, data_dir: Path) -> Path:
    return data_dir / "cosmosqa" / _COSMOS_FILES.get(split, f"{split}.csv")


_CSQA_FILES = {"train": "train_rand_split.jsonl", "dev": "dev_rand_split.jsonl",
               "test": "test_rand_split_no_answers.jsonl"}


def commonsenseqa_path(split: str, language: str, data_dir: Path) -> Path:
    return data_dir / "commonsenseqa" / _CSQA_FILES.get(split, f"{split}.jsonl")


def ccg_path(split: str, language: str, data_dir: Path) -> Path:
    return data_dir / "ccg" / f"{split}.tsv"


def _anli_reader(split: str, data_dir: Path, skip_bad_rows: bool) -> list[Example]:
    """All three rounds of one split, concatenated (X-STILTs trains on R1-R3 together)."""
    examples: list[Example] = []
    for round_ in ANLI_ROUNDS:
        path = anli_path(split, "en", data_dir, round_)
        examples += read_anli(path, hint=f"anli: expected {path}. {_HINT}",
                              id_prefix=f"anli-{round_}-", skip_bad_rows=skip_bad_rows)
    return examples


def _anli_task_reader(split: str, language: str, data_dir: Path | None, *,
                      skip_bad_rows: bool = False) -> list[Example]:
    assert data_dir is not None
    return _anli_reader(split, data_dir, skip_bad_rows)


def _anli_plus_reader(split: str, language: str, data_dir: Path | None, *,
                      skip_bad_rows: bool = False) -> list[Example]:
    """ANLI+ train = ANLI R1-R3 + MNLI + SNLI (one NLI head); dev/test are ANLI's."""
    assert data_dir is not None
    examples = _anli_reader(split, data_dir, skip_bad_rows)
    if split != "train":
        return examples
    mnli, snli = mnli_path(split, "en", data_dir), snli_path(split, "en", data_dir)
    examples += read_mnli(mnli, hint=f"anli-plus: expected {mnli}. {_HINT}",
                          id_prefix="mnli-train-", skip_bad_rows=skip_bad_rows)
    examples += read_snli(snli, hint=f"anli-plus: expected {snli}. {_HINT}",
                          id_prefix="snli-train-", skip_bad_rows=skip_bad_rows)
    return examples


def ccg_tags_path(data_dir: Path) -> Path:
    return data_dir / "ccg" / "tags.txt"


def ccg_labels(data_dir: Path) -> tuple[str, ...]:
    """The supertag inventory of the user's CCGbank extraction (``ccg/tags.txt``): the one
    place ccg's labels come from, for the reader and for ``Task.with_data_labels`` alike."""
    path = ccg_tags_path(data_dir)
    return read_tag_inventory(path, f"ccg: expected the supertag inventory {path} (one tag "
                              f"per line). {_HINT}")


def _ccg_reader(split: str, language: str, data_dir: Path | None, *,
                skip_bad_rows: bool = False) -> list[TaggingExample]:
    """Tags index into ``ccg/tags.txt`` (the inventory of the user's CCGbank extraction)."""
    assert data_dir is not None
    path = ccg_path(split, language, data_dir)
    hint = f"ccg: expected {path} and {ccg_tags_path(data_dir)}. {_HINT}"
    labels = ccg_labels(data_dir)
    return read_tagging(path, language="en", labels=labels, hint=hint,
                        id_prefix=f"ccg-{split}-", skip_bad_rows=skip_bad_rows)


MNLI = register_task(_file_task(
    "mnli", TaskType.PAIR_CLASSIFICATION, mnli_path, read_mnli, labels=NLI_LABELS,
    test_split="dev", description="MultiNLI (Williams et al. 2018), GLUE copy: 393k train, "
    "dev = dev_matched (9,815); GLUE test is unlabeled, so test_split is dev. XNLI label order.",
))
QQP = register_task(_file_task(
    "qqp", TaskType.PAIR_CLASSIFICATION, qqp_path, read_qqp,
    labels=("not_duplicate", "duplicate"), test_split="dev",
    description="Quora Question Pairs (GLUE): paraphrase detection, 364k train / 40k dev; "
    "test is unlabeled, so test_split is dev.",
))
ANLI = register_task(Task(
    name="anli", type=TaskType.PAIR_CLASSIFICATION, languages=EN, reader=_anli_task_reader,
    locate=lambda split, language, data_dir: anli_path(split, language, data_dir, "R1"),
    labels=NLI_LABELS, metric="accuracy",
    description="Adversarial NLI v1.0 (Nie et al. 2020), rounds R1-R3 concatenated "
    "(163k train, 3.2k dev, 3.2k test). XNLI label order.", data_hint=_HINT,
))
ANLI_PLUS = register_task(Task(
    name="anli-plus", type=TaskType.PAIR_CLASSIFICATION, languages=EN,
    reader=_anli_plus_reader,
    locate=lambda split, language, data_dir: anli_path(split, language, data_dir, "R1"),
    labels=NLI_LABELS, metric="accuracy",
    description="X-STILTs' ANLI+: train = ANLI R1-R3 + MNLI + SNLI with one NLI head "
    "(SNLI '-' rows skipped); dev/test = ANLI's.", data_hint=_HINT,
))
HELLASWAG = register_task(_file_task(
    "hellaswag", TaskType.MULTIPLE_CHOICE, hellaswag_path, read_hellaswag,
    labels=("ending0", "ending1", "ending2", "ending3"), test_split="dev",
    description="HellaSwag (Zellers et al. 2019): pick the ending of ctx, 4 choices; 39.9k "
    "train / 10k val; test labels are withheld, so test_split is dev.",
))
COSMOSQA = register_task(_file_task(
    "cosmosqa", TaskType.MULTIPLE_CHOICE, cosmosqa_path, read_cosmosqa,
    labels=COSMOS_ANSWERS, test_split="dev",
    description="Cosmos QA (Huang et al. 2019): commonsense reading comprehension, 4 "
    "answers; context = passage + question. 25k train / 3k valid; test unlabeled.",
))
COMMONSENSEQA = register_task(_file_task(
    "commonsenseqa", TaskType.MULTIPLE_CHOICE, commonsenseqa_path, read_commonsenseqa,
    labels=CSQA_KEYS, test_split="dev",
    description="CommonsenseQA (Talmor et al. 2019), random split: 5 choices, 9.7k train / "
    "1.2k dev; test answers withheld, so test_split is dev.",
))
CCG = register_task(Task(
    name="ccg", type=TaskType.TAGGING, languages=EN, reader=_ccg_reader, locate=ccg_path,
    metric="accuracy", label_inventory=ccg_labels,
    description="CCG supertagging (CCGbank, Hockenmaier & Steedman 2007; LDC licence): "
    "token<TAB>supertag files; the supertag inventory is read from ccg/tags.txt under "
    "--data-dir (see docs/tasks.md).", data_hint=_HINT,
))
