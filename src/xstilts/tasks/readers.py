"""Readers for the public file formats, with errors that name the file, line and problem.

Readers are plain functions over a path; task definitions bind them to a folder layout.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

from xstilts.errors import DataFormatError, MissingDataError
from xstilts.tasks.base import Example


def iter_lines(path: Path, hint: str) -> Iterator[tuple[int, str]]:
    """Yield (1-based line number, line without newline); refuse missing, empty or non-UTF-8."""
    if not path.is_file():
        raise MissingDataError(path, hint)
    raw = path.read_bytes()
    if not raw.strip():
        raise DataFormatError(path, None, "file is empty")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise DataFormatError(
            path, line, f"not valid UTF-8 (byte {err.start}); re-encode the file as UTF-8"
        ) from err
    for number, line in enumerate(text.splitlines(), start=1):
        yield number, line.rstrip("\r")


def read_tsv_pairs(
    path: Path,
    *,
    language: str,
    label_map: Mapping[str, int],
    hint: str,
    header_first_field: str | None = None,
    id_prefix: str = "",
) -> list[Example]:
    """Read ``text_a<TAB>text_b[<TAB>label]`` lines (the XTREME XNLI / PAWS-X layout).

    Rows with two fields are unlabeled (XTREME strips test labels) and get ``label=None``;
    a file may not mix labeled and unlabeled rows.
    """
    examples: list[Example] = []
    labeled: bool | None = None
    for number, line in iter_lines(path, hint):
        if not line.strip():
            continue
        fields = line.split("\t")
        if number == 1 and header_first_field and fields[0].strip() == header_first_field:
            continue
        if len(fields) not in (2, 3):
            raise DataFormatError(
                path, number, f"expected 2 or 3 tab-separated fields (text_a, text_b[, label]), "
                f"found {len(fields)}"
            )
        row_labeled = len(fields) == 3
        if labeled is None:
            labeled = row_labeled
        elif labeled != row_labeled:
            raise DataFormatError(
                path, number, "file mixes labeled (3 fields) and unlabeled (2 fields) rows"
            )
        label: int | None = None
        if row_labeled:
            raw_label = fields[2].strip()
            if raw_label not in label_map:
                raise DataFormatError(
                    path, number,
                    f"unknown label {raw_label!r}; expected one of {sorted(label_map)}",
                )
            label = label_map[raw_label]
        examples.append(
            Example(
                id=f"{id_prefix}{len(examples)}",
                texts=(fields[0], fields[1]),
                label=label,
                language=language,
            )
        )
    if not examples:
        raise DataFormatError(path, None, "file has no examples")
    return examples
