"""Readers for the public file formats, with errors that name the file, line and problem.

Readers are plain functions over a path; task definitions bind them to a folder layout.
Every reader refuses a malformed row with :class:`DataFormatError` (file, line, problem). A
reader called with ``skip_bad_rows=True`` instead drops the bad rows and logs one warning with
their count and the first few problems, so that a corrupt row in a 400k-line file need not stop
a run, yet nothing is ever dropped without a trace. File-level problems (missing, empty, broken
JSON document) are never skipped: there is nothing sensible left to read.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import re
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from xstilts.errors import DataFormatError, MissingDataError
from xstilts.tasks.base import Example

logger = logging.getLogger("xstilts.tasks")

# How many skipped problems the warning quotes; the count is always complete.
_QUOTED_PROBLEMS = 5

# The csv module refuses fields over 128 KiB by default; a row here is one line already read
# into memory, so a long document in one field is data, not an attack to fend off.
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


# The counters of the active ``recording_skipped_rows`` blocks (innermost last).
_RECORDERS: ContextVar[tuple[dict[str, int], ...]] = ContextVar("skipped_row_recorders",
                                                                default=())


@contextmanager
def recording_skipped_rows() -> Iterator[dict[str, Any]]:
    """Yields a dict that, after the block, holds ``skipped_rows`` (file -> count) for the rows
    any reader skipped within it; it stays empty for clean data, so a run's info can take it
    as is (``{**info, **skipped}``) and clean runs' info is unchanged.

    A file read several times (evaluation, then the generalized matrix) skips the same rows
    each time, so the last count stands rather than a sum.
    """
    counts: dict[str, int] = {}
    token = _RECORDERS.set((*_RECORDERS.get(), counts))
    skipped: dict[str, Any] = {}
    try:
        yield skipped
    finally:
        _RECORDERS.reset(token)
        if counts:
            skipped["skipped_rows"] = counts


class RowProblems:
    """Where a reader sends bad rows: raised at once, or collected and logged when skipping.

    Why one object: every reader needs the same policy, and the log line must summarise the
    whole file (count + first problems), not one warning per row.
    """

    def __init__(self, path: Path, skip: bool) -> None:
        self.path = path
        self.skip = skip
        self.problems: list[DataFormatError] = []

    def bad(self, line: int | None, problem: str) -> None:
        """Report one bad row: raises unless skipping."""
        self.add(DataFormatError(self.path, line, problem))

    def add(self, error: DataFormatError) -> None:
        if not self.skip:
            raise error
        self.problems.append(error)

    def finish(self) -> None:
        """Log what was skipped (one warning per file), if anything, and count it for the
        active :func:`recording_skipped_rows` blocks."""
        if not self.problems:
            return
        for counts in _RECORDERS.get():
            counts[str(self.path)] = len(self.problems)
        quoted = "; ".join(
            f"line {e.line}: {e.problem}" if e.line is not None else e.problem
            for e in self.problems[:_QUOTED_PROBLEMS]
        )
        more = " ..." if len(self.problems) > _QUOTED_PROBLEMS else ""
        logger.warning(
            "%s: skipped %d bad row(s) (skip_bad_rows=True): %s%s",
            self.path, len(self.problems), quoted, more,
        )


def read_text(path: Path, hint: str) -> str:
    """The whole file as text; refuse missing, empty or non-UTF-8 files (BOM tolerated)."""
    if not path.is_file():
        raise MissingDataError(path, hint)
    raw = path.read_bytes()
    if not raw.strip():
        raise DataFormatError(path, None, "file is empty")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise _encoding_error(path, raw, err) from err


# A plain decimal number as data files write it. Why not bare float(): it also takes "1_0"
# (10.0), full-width and other Unicode digits, "nan" and "infinity", none of them a score.
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def parse_decimal(text: str) -> float:
    """The finite number a field spells (surrounding spaces allowed); ValueError otherwise."""
    stripped = text.strip()
    value = float(stripped) if _DECIMAL.fullmatch(stripped) else math.nan
    if not math.isfinite(value):
        raise ValueError(f"{stripped!r:.40} is not a finite decimal number")
    return value


def _encoding_error(path: Path, raw: bytes, err: UnicodeDecodeError) -> DataFormatError:
    line = raw[: err.start].count(b"\n") + 1
    return DataFormatError(
        path, line, f"not valid UTF-8 (byte {err.start}); re-encode the file as UTF-8"
    )


def iter_lines(
    path: Path, hint: str, problems: RowProblems | None = None
) -> Iterator[tuple[int, str]]:
    """Yield (1-based line number, line without newline); refuse missing, empty or non-UTF-8.

    Lines are split on ``\\n`` only (``\\r`` stripped): ``str.splitlines`` would also split on
    U+2028, form feeds and the like, which occur inside real sentences and would break the
    line alignment of parallel files and the line numbers in errors. With a skipping
    ``problems`` collector, lines that are not UTF-8 are reported and skipped one by one.
    """
    if not path.is_file():
        raise MissingDataError(path, hint)
    raw = path.read_bytes()
    if not raw.strip():
        raise DataFormatError(path, None, "file is empty")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        if problems is None or not problems.skip:
            raise _encoding_error(path, raw, err) from err
        yield from _iter_lines_lenient(raw, problems)
        return
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for number, line in enumerate(lines, start=1):
        yield number, line.rstrip("\r")


def _iter_lines_lenient(raw: bytes, problems: RowProblems) -> Iterator[tuple[int, str]]:
    """Decode line by line, reporting (and skipping) the lines that are not UTF-8."""
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    chunks = raw.split(b"\n")
    if chunks and chunks[-1] == b"":
        chunks.pop()
    for number, chunk in enumerate(chunks, start=1):
        try:
            yield number, chunk.decode("utf-8").rstrip("\r")
        except UnicodeDecodeError:
            problems.bad(number, "not valid UTF-8; line skipped")


def unique_ids(numbered: Iterable[tuple[int, Any]], problems: RowProblems) -> list:
    """The examples of ``(line, example)`` pairs, each id kept once: a later row with an id
    already read is a bad row naming the first one's line.

    Why: predictions, gold answers and paired tests are keyed by example id, so two rows with
    one id would silently merge (for readers that take ids from the file).
    """
    first: dict[str, int] = {}
    kept = []
    for number, example in numbered:
        if example.id in first:
            problems.bad(number, f"duplicate id {example.id!r:.60} (first on line "
                         f"{first[example.id]})")
            continue
        first[example.id] = number
        kept.append(example)
    return kept


def require_examples(path: Path, examples: list, problems: RowProblems | None = None) -> list:
    """Finish a read: log skipped rows, and refuse a file that yielded nothing."""
    if problems is not None:
        problems.finish()
    if not examples:
        raise DataFormatError(path, None, "file has no examples")
    return examples


def read_tsv_pairs(
    path: Path,
    *,
    language: str,
    label_map: Mapping[str, int],
    hint: str,
    header_first_field: str | None = None,
    id_prefix: str = "",
    skip_bad_rows: bool = False,
) -> list[Example]:
    """Read ``text_a<TAB>text_b[<TAB>label]`` lines (the XTREME XNLI / PAWS-X layout).

    Rows with two fields are unlabeled (XTREME strips test labels) and get ``label=None``;
    a file may not mix labeled and unlabeled rows (the first data row decides).
    """
    problems = RowProblems(path, skip_bad_rows)
    examples: list[Example] = []
    labeled: bool | None = None
    for number, line in iter_lines(path, hint, problems):
        if not line.strip():
            continue
        fields = line.split("\t")
        if number == 1 and header_first_field and fields[0].strip() == header_first_field:
            continue
        if len(fields) not in (2, 3):
            problems.bad(
                number, f"expected 2 or 3 tab-separated fields (text_a, text_b[, label]), "
                f"found {len(fields)}"
            )
            continue
        row_labeled = len(fields) == 3
        if labeled is None:
            labeled = row_labeled
        elif labeled != row_labeled:
            problems.bad(
                number, "file mixes labeled (3 fields) and unlabeled (2 fields) rows"
            )
            continue
        label: int | None = None
        if row_labeled:
            raw_label = fields[2].strip()
            if raw_label not in label_map:
                problems.bad(
                    number, f"unknown label {raw_label!r}; expected one of {sorted(label_map)}"
                )
                continue
            label = label_map[raw_label]
        examples.append(
            Example(
                id=f"{id_prefix}{len(examples)}",
                texts=(fields[0], fields[1]),
                label=label,
                language=language,
            )
        )
    return require_examples(path, examples, problems)


def read_tsv_sentences(
    path: Path,
    *,
    language: str,
    label_map: Mapping[str, int],
    hint: str,
    id_prefix: str = "",
    skip_bad_rows: bool = False,
) -> list[Example]:
    """Read single-sentence classification TSVs (SST-2 as GLUE and ALPS publish it).

    A header row naming ``sentence`` (and ``label``) decides the columns: GLUE's test file is
    ``index<TAB>sentence`` (unlabeled, so ``label=None``), the train/dev files are
    ``sentence<TAB>label``. Without a header the layout is ``sentence[<TAB>label]``.
    """
    problems = RowProblems(path, skip_bad_rows)
    examples: list[Example] = []
    text_col, label_col, width = 0, 1, None
    for number, line in iter_lines(path, hint, problems):
        if not line.strip():
            continue
        fields = line.split("\t")
        if number == 1 and "sentence" in fields:
            text_col = fields.index("sentence")
            label_col = fields.index("label") if "label" in fields else None
            width = len(fields)
            continue
        if width is None:
            width = len(fields) if len(fields) in (1, 2) else 2
            label_col = 1 if width == 2 else None
        if len(fields) != width:
            problems.bad(number, f"expected {width} tab-separated field(s), found {len(fields)}")
            continue
        label: int | None = None
        if label_col is not None:
            raw_label = fields[label_col].strip()
            if raw_label not in label_map:
                problems.bad(
                    number, f"unknown label {raw_label!r}; expected one of {sorted(label_map)}"
                )
                continue
            label = label_map[raw_label]
        text = fields[text_col].strip()
        if not text:
            problems.bad(number, "empty sentence")
            continue
        examples.append(
            Example(id=f"{id_prefix}{len(examples)}", texts=(text,), label=label,
                    language=language)
        )
    return require_examples(path, examples, problems)


def first_existing(*candidates: Path) -> Path:
    """The first candidate that is a file, else the first one (the layout errors will name).

    Why: a benchmark's files sit at different paths in XTREME's ``download/`` folder and in
    the upstream releases; a locator lists both and reports the preferred one when neither
    is there.
    """
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    return candidates[0]


def parse_json(text: str, path: Path, line: int | None = None) -> Any:
    """``json.loads`` whose failures are :class:`DataFormatError` naming the file and line.

    Why not bare ``json.loads``: besides broken syntax, a document nested deeper than Python's
    recursion limit raises RecursionError, which must not escape as a traceback. ``line`` is
    the line the text starts on (JSON lines); None for a whole document (the error's own).
    """
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        where = err.lineno if line is None else line
        raise DataFormatError(path, where, f"broken JSON: {err.msg} (column {err.colno})"
                              ) from err
    except RecursionError:
        raise DataFormatError(path, line, "JSON nested too deeply to read") from None


def iter_json_rows(
    path: Path, hint: str, problems: RowProblems
) -> list[tuple[int, dict[str, Any]]]:
    """Parse a JSON-lines file into (line number, object); bad lines go to ``problems``
    (which raises at once unless it skips). Blank lines are allowed."""
    rows: list[tuple[int, dict[str, Any]]] = []
    for number, line in iter_lines(path, hint, problems):
        if not line.strip():
            continue
        try:
            row = parse_json(line, path, number)
        except DataFormatError as err:
            problems.add(err)
            continue
        if not isinstance(row, dict):
            problems.bad(number, "expected one JSON object per line")
            continue
        rows.append((number, row))
    return rows


def iter_header_rows(
    path: Path, hint: str, problems: RowProblems, required: Sequence[str], *,
    delimiter: str = "\t", short_rows: list[int] | None = None,
) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield (line number, {column: value}) of a file whose first line names the columns.

    Why by name: GLUE's MNLI train/dev/test files differ in their label columns, and a column
    index would silently read the wrong field. TSV is split on tabs only (no quoting: NLI
    text is full of quotes); CSV follows RFC 4180 quoting. A header without a ``required``
    column fails the file; a row with another field count is bad, unless ``short_rows`` is
    given, which collects the rows with too *few* fields instead (the caller logs them), for
    files known to contain such rows (QQP).
    """
    header: list[str] | None = None
    for number, line in iter_lines(path, hint, problems):
        if not line.strip():
            continue
        if delimiter == "\t":
            fields = line.split("\t")
        else:
            try:
                fields = next(csv.reader([line]))
            except csv.Error as err:  # a stray carriage return or NUL inside a field
                if header is None:
                    raise DataFormatError(path, number, f"broken CSV header: {err}") from err
                problems.bad(number, f"broken CSV: {err}")
                continue
        if header is None:
            header = [f.strip() for f in fields]
            missing = [c for c in required if c not in header]
            if missing:
                raise DataFormatError(path, number, "missing column "
                                      f"{', '.join(map(repr, missing))}; the header has "
                                      f"{', '.join(header)}")
            continue
        if short_rows is not None and len(fields) < len(header):
            short_rows.append(number)
            continue
        if len(fields) != len(header):
            separator = "tab" if delimiter == "\t" else "comma"
            problems.bad(number, f"expected {len(header)} {separator}-separated fields "
                         f"(header: {', '.join(header)}), found {len(fields)}")
            continue
        yield number, dict(zip(header, fields, strict=True))
