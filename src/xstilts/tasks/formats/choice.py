"""Multiple-choice JSONL files: COPA / XCOPA and SocialIQa.

COPA-style rows (``premise``, ``choice1``, ``choice2``, ``question`` = cause|effect, ``label``)
become a :class:`ChoiceExample` whose context is the premise plus the question written out
("What was the CAUSE of this?" / "What happened as a RESULT?"), the wording of the XTREME-R
baselines, so that one context serves both choices.

Placeholder labels: XTREME-R's ``xtreme_format`` test files keep a ``label`` field but set it
to 0 in every row (the labels are withheld). A labelled-looking file whose labels are all the
same is therefore read as unlabeled (``label=None``) when ``placeholder_labels_possible`` is set
(the task modules set it for those test files only); a real COPA set is balanced, so this
cannot hide real labels. SocialIQa gives the answer either inline (v1.4: ``"correct": "A"``)
or, in the original release, in a separate ``*-labels.lst`` file with 1/2/3 per line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from xstilts.errors import DataFormatError
from xstilts.tasks.base import ChoiceExample
from xstilts.tasks.readers import (
    RowProblems,
    iter_json_rows,
    iter_lines,
    logger,
    require_examples,
    unique_ids,
)

COPA_QUESTIONS = {
    "cause": "What was the CAUSE of this?",
    "effect": "What happened as a RESULT?",
}
SIQA_KEYS = ("answerA", "answerB", "answerC")


def _text(row: dict[str, Any], key: str) -> str:
    value = row.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"field {key!r} must be a non-empty string")
    return value.strip()


def _copa_example(row: dict[str, Any], language: str, fallback_id: str) -> ChoiceExample:
    question = row.get("question")
    if not isinstance(question, str) or question not in COPA_QUESTIONS:
        raise ValueError(f"'question' must be 'cause' or 'effect', got {question!r:.40}")
    label = row.get("label")
    # type(...) is int: not True/False, and not 1.0 (a float label is a broken file).
    if label is not None and (type(label) is not int or label not in (0, 1)):
        raise ValueError(f"unknown label {label!r:.40}; expected 0 or 1")
    raw_id = row.get("idx", fallback_id)
    return ChoiceExample(
        id=str(raw_id),
        context=f"{_text(row, 'premise')} {COPA_QUESTIONS[question]}",
        choices=(_text(row, "choice1"), _text(row, "choice2")),
        label=label,
        language=language,
    )


def read_copa(
    path: Path,
    *,
    language: str,
    hint: str,
    id_prefix: str = "",
    placeholder_labels_possible: bool = False,
    skip_bad_rows: bool = False,
) -> list[ChoiceExample]:
    """Read COPA/XCOPA JSONL; rows without ``label`` are unlabeled. See the module docstring."""
    problems = RowProblems(path, skip_bad_rows)
    numbered: list[tuple[int, ChoiceExample]] = []
    for number, row in iter_json_rows(path, hint, problems):
        try:
            example = _copa_example(row, language, str(len(numbered)))
        except ValueError as err:
            problems.bad(number, str(err))
            continue
        numbered.append((number, _with_id(example, id_prefix)))
    examples: list[ChoiceExample] = unique_ids(numbered, problems)
    require_examples(path, examples, problems)
    _check_labeled_consistently(path, examples)
    if placeholder_labels_possible and _is_placeholder(examples):
        logger.info("%s: every label is %s, XTREME-R's placeholder for withheld test labels; "
                    "read as unlabeled", path, examples[0].label)
        examples = [_relabel(e, None) for e in examples]
    return examples


def _with_id(example: ChoiceExample, prefix: str) -> ChoiceExample:
    return ChoiceExample(f"{prefix}{example.id}", example.context, example.choices,
                         example.label, example.language)


def _relabel(example: ChoiceExample, label: int | None) -> ChoiceExample:
    return ChoiceExample(example.id, example.context, example.choices, label, example.language)


def _check_labeled_consistently(path: Path, examples: list[ChoiceExample]) -> None:
    labeled = [e.label is not None for e in examples]
    if any(labeled) and not all(labeled):
        raise DataFormatError(
            path, None, f"file mixes labeled and unlabeled rows ({sum(labeled)} of "
            f"{len(labeled)} have a label)"
        )


def _is_placeholder(examples: list[ChoiceExample]) -> bool:
    labels = {e.label for e in examples}
    return len(examples) >= 20 and len(labels) == 1 and None not in labels


def read_siqa(
    path: Path,
    *,
    language: str,
    hint: str,
    labels_path: Path | None = None,
    id_prefix: str = "",
    skip_bad_rows: bool = False,
) -> list[ChoiceExample]:
    """Read SocialIQa JSONL (context, question, answerA-C; ``correct`` A/B/C if present).

    ``labels_path`` (the original release's ``*-labels.lst``, 1-based) is used when the rows
    carry no ``correct`` field; it must have one line per row.
    """
    problems = RowProblems(path, skip_bad_rows)
    rows = iter_json_rows(path, hint, problems)
    external: dict[int, int] = {}
    if labels_path is not None:
        # Labels align with the data lines of the JSONL file, skipped rows included.
        quiet = RowProblems(path, True)  # problems were already reported above
        data_lines = [n for n, line in iter_lines(path, hint, quiet) if line.strip()]
        external = dict(zip(data_lines, _read_label_list(labels_path, hint, len(data_lines)),
                            strict=True))
    examples: list[ChoiceExample] = []
    for number, row in rows:
        try:
            label = _siqa_label(row, external.get(number))
            context = f"{_text(row, 'context')} {_text(row, 'question')}"
            choices = tuple(_text(row, key) for key in SIQA_KEYS)
        except ValueError as err:
            problems.bad(number, str(err))
            continue
        examples.append(ChoiceExample(
            id=f"{id_prefix}{number - 1}", context=context, choices=choices, label=label,
            language=language,
        ))
    require_examples(path, examples, problems)
    _check_labeled_consistently(path, examples)
    return examples


def _siqa_label(row: dict[str, Any], external: int | None) -> int | None:
    if "correct" in row:
        correct = row["correct"]
        if correct not in ("A", "B", "C"):
            raise ValueError(f"unknown label {correct!r:.40}; expected 'A', 'B' or 'C'")
        return "ABC".index(correct)
    return external


def _read_label_list(path: Path, hint: str, expected: int) -> list[int]:
    values: list[int] = []
    for number, line in iter_lines(path, hint):
        if not line.strip():
            continue
        if line.strip() not in ("1", "2", "3"):
            raise DataFormatError(path, number, f"unknown label {line.strip()!r}; expected 1-3")
        values.append(int(line) - 1)
    if len(values) != expected:
        raise DataFormatError(
            path, None, f"{len(values)} labels for {expected} questions; the files must align"
        )
    return values
