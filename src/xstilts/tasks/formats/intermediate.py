"""Readers of the X-STILTs intermediate tasks' public file formats (MNLI, QQP, ANLI, SNLI,
HellaSwag, Cosmos QA, CommonsenseQA, CCG supertags), one function per format.

Where the files sit and which task reads which is in :mod:`xstilts.tasks.xstilts_intermediate`;
the format details (columns, labels, quirks of each release) are in its docstring.
"""


from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from xstilts.errors import DataFormatError
from xstilts.tasks.base import ChoiceExample, Example
from xstilts.tasks.readers import (
    RowProblems,
    iter_header_rows,
    iter_json_rows,
    iter_lines,
    logger,
    read_text,
    require_examples,
    unique_ids,
)

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
    numbered: list[tuple[int, Example]] = []
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
        numbered.append((number, Example(
            id=f"{id_prefix}{raw_id if raw_id is not None else number - 1}", texts=texts,
            label=label, language="en")))
    examples = unique_ids(numbered, problems)
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
    rows = iter_header_rows(path, hint, problems, ("sentence1", "sentence2"))
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
    rows = list(iter_header_rows(path, hint, problems, ("question1", "question2"),
                                 short_rows=short))
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
    """Apply ``parse`` to each row; a ValueError makes the row bad (file + line), and so does
    an id an earlier row has."""
    numbered: list[tuple[int, ChoiceExample]] = []
    for number, row in rows:
        try:
            numbered.append((number, parse(row, number)))
        except ValueError as err:
            problems.bad(number, str(err))
    examples: list[ChoiceExample] = unique_ids(numbered, problems)
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
