"""Rows of a user task (:mod:`xstilts.tasks.user`) and their conversion to examples.

Every per-row problem (wrong field count, a line that is not a JSON object, a missing or empty
field, a JSON object or list where text belongs, an unknown label, a class index out of range,
a label that is not a finite number, an id an earlier row has) goes to a
:class:`~xstilts.tasks.readers.RowProblems`: raised at once as a
:class:`~xstilts.errors.DataFormatError` naming file and line, or, with ``skip_bad_rows``,
dropped and counted in one warning per file. File-level problems (missing file, not UTF-8, a
column missing from a TSV/CSV header) are always errors: no row could be read.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from xstilts.errors import XstiltsError
from xstilts.languages import get_language
from xstilts.tasks.base import Example, TaskType
from xstilts.tasks.readers import (
    RowProblems,
    iter_header_rows,
    iter_json_rows,
    parse_decimal,
    unique_ids,
)

if TYPE_CHECKING:
    from xstilts.tasks.user import UserTaskSpec

# A row: (line number or row index, field name -> value).
Row = tuple[int, Mapping[str, Any]]
Converter = Callable[[int, Mapping[str, Any], str, str], Example]


class BadRow(ValueError):
    """One row's problem, reported through :class:`RowProblems` by :func:`examples_of`."""


def required_columns(spec: UserTaskSpec) -> list[str]:
    """Every column a row must have: texts, label, id and the language column if declared."""
    columns = spec.columns
    source = spec.files or spec.hf
    named = [columns.text_a, columns.text_b, columns.label, columns.id,
             source.language_column if source else None]
    return list(dict.fromkeys(c for c in named if c is not None))


# --------------------------------------------------------------------------------------------
# files -> rows


def parse_rows(path: Path, fmt: str, hint: str, required: list[str],
               problems: RowProblems) -> Iterator[Row]:
    if fmt == "jsonl":
        return iter(iter_json_rows(path, hint, problems))
    return iter_header_rows(path, hint, problems, required,
                            delimiter="\t" if fmt == "tsv" else ",")


def _names(columns: list[str]) -> str:
    return ", ".join(map(repr, columns))


def of_language(rows: Iterable[Row], column: str | None, language: str,
                where: str) -> Iterator[Row]:
    """Keep the rows of one language when one file holds several. A row without the column is
    kept: the conversion reports it (with its file and line) instead of dropping it unseen.
    ``where`` is part of the filter signature :mod:`xstilts.tasks.hf` calls; unused here."""
    for number, row in rows:
        if column is None or column not in row or _canonical_or_self(row[column]) == language:
            yield number, row


def _canonical_or_self(value: Any) -> str:
    return _canonical_code(str(value).strip())


@functools.lru_cache(maxsize=1024)
def _canonical_code(code: str) -> str:
    """Cached: a language column repeats a few values over many rows, and an unknown value
    costs a fuzzy "did you mean" search each time."""
    try:
        return get_language(code).code
    except XstiltsError:
        return code


# --------------------------------------------------------------------------------------------
# rows -> examples


def examples_of(rows: Iterable[Row], convert: Converter, problems: RowProblems, split: str,
                language: str) -> list[Example]:
    """Convert every row; a bad row goes to ``problems`` (raised, or skipped and logged)."""
    numbered: list[tuple[int, Example]] = []
    for number, row in rows:
        try:
            numbered.append((number, convert(number, row, split, language)))
        except BadRow as err:
            problems.bad(number, str(err))
    examples: list[Example] = unique_ids(numbered, problems)  # an id column may repeat
    problems.finish()
    return examples


def converter(spec: UserTaskSpec) -> Converter:
    """Build the row -> Example function once per task (columns and label map fixed); it
    raises :class:`BadRow` with the problem of a row it cannot convert."""
    columns = spec.columns
    required = required_columns(spec)
    label_index = {label: i for i, label in enumerate(spec.labels)}
    # Integers are class indices only when no label name is an integer: with names such as
    # '1' and '0', "1" would otherwise mean two different classes.
    indices = not any(_integer(label) is not None for label in spec.labels)
    text_columns = [columns.text_a] + ([columns.text_b] if columns.text_b else [])

    def label_of(value: Any) -> int | float | None:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None  # an unlabeled row: never scored by accident
        if spec.type is TaskType.REGRESSION:
            if isinstance(value, bool) or not isinstance(value, int | float | str):
                raise BadRow(f"label {value!r:.40} is not a number")
            try:
                return parse_decimal(str(value))
            except ValueError:
                raise BadRow(f"label {value!r:.40} is not a finite number") from None
        key = str(value).strip()
        if key in label_index:
            return label_index[key]
        index = _integer(value) if indices else None
        last = len(spec.labels) - 1
        if index is None:
            also = (f" or a class index 0-{last}" if indices
                    else " (the label names are integers, so integers are names, not indices)")
            raise BadRow(f"unknown label {key!r:.40}; expected one of "
                         f"{', '.join(spec.labels)}{also}")
        if not 0 <= index <= last:
            raise BadRow(f"label {key!r:.40} is neither a label name nor a class index 0-{last}")
        return index  # a class index: an HF ClassLabel column, a TSV of 0/1

    def convert(number: int, row: Mapping[str, Any], split: str, language: str) -> Example:
        missing = [c for c in required if c not in row]
        if missing:
            raise BadRow(f"missing column {_names(missing)}; the row has "
                         f"{', '.join(map(str, row))}")
        texts = tuple(_filled(row, c) for c in text_columns)
        label = label_of(row[columns.label]) if columns.label is not None else None
        ident = _filled(row, columns.id) if columns.id else f"{split}-{language}-{number}"
        return Example(id=ident, texts=texts, label=label, language=language)

    return convert


def _integer(value: Any) -> int | None:
    """The integer a label value spells (``1``, ``"1"``, ``" 2 "``, ``"-1"``), else None.
    Booleans and floats (``1.0``) are not class indices."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    text = str(value).strip()
    return int(text) if re.fullmatch(r"[+-]?[0-9]+", text) else None


def _filled(row: Mapping[str, Any], column: str) -> str:
    value = row[column]
    if isinstance(value, dict | list):  # JSON lines: str() would make "[...]" a "text"
        raise BadRow(f"column {column!r} holds a JSON {type(value).__name__}, expected text")
    if value is None or not str(value).strip():
        raise BadRow(f"column {column!r} is empty")
    return str(value)
