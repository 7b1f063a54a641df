"""Semantic textual similarity files: STS Benchmark CSVs and SemEval input + gold pairs.

STS Benchmark rows are tab-separated ``genre, file, year, id, score, sentence1, sentence2``,
and some rows carry extra license/source columns after ``sentence2`` (the readme says so; 22 of
the 1,500 dev rows do). Sentences contain double quotes that are *not* CSV quoting, so rows
are split on tabs, never parsed with the ``csv`` module (which would merge rows).

SemEval STS releases an input file (``sent1<TAB>sent2``) and a gold file (one score per line)
that align by line. The STS 2017 tr-en input has 500 lines for 250 gold scores: its first 250
lines are the scored pairs (checked by eye against the gold: "People are having a meeting." /
"İnsanlar bir toplantı yapıyor." is line 3, gold 5.0), the rest are unscored extra pairs,
as SemEval added to discourage hand labelling. ``extra_input_ok`` accepts that, with a log line.
"""

from __future__ import annotations

from pathlib import Path

from xstilts.errors import DataFormatError
from xstilts.tasks.base import Example
from xstilts.tasks.readers import (
    RowProblems,
    iter_lines,
    logger,
    parse_decimal,
    require_examples,
)

MAX_SCORE = 5.0


def parse_score(raw: str) -> float:
    """A similarity score in [0, 5]; ValueError otherwise."""
    score = parse_decimal(raw)
    if not 0.0 <= score <= MAX_SCORE:
        raise ValueError(f"score {raw.strip()!r} is outside 0-{MAX_SCORE:g}")
    return score


def read_stsb(
    path: Path,
    *,
    language: str,
    hint: str,
    id_prefix: str = "",
    skip_bad_rows: bool = False,
) -> list[Example]:
    """Read one STS Benchmark split (``sts-{train,dev,test}.csv``); labels are float scores."""
    problems = RowProblems(path, skip_bad_rows)
    examples: list[Example] = []
    for number, line in iter_lines(path, hint, problems):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) < 7:
            problems.bad(number, f"expected at least 7 tab-separated fields (genre, file, year, "
                         f"id, score, sentence1, sentence2), found {len(fields)}")
            continue
        try:
            score = parse_score(fields[4])
        except ValueError as err:
            problems.bad(number, f"bad score: {err}")
            continue
        first, second = fields[5].strip(), fields[6].strip()
        if not first or not second:
            problems.bad(number, "empty sentence")
            continue
        examples.append(Example(id=f"{id_prefix}{number - 1}", texts=(first, second),
                                label=score, language=language))
    return require_examples(path, examples, problems)


def read_sts_pairs(
    input_path: Path,
    gold_path: Path | None,
    *,
    language: str,
    hint: str,
    id_prefix: str = "",
    extra_input_ok: bool = False,
    skip_bad_rows: bool = False,
) -> list[Example]:
    """Read a SemEval STS input file and its gold scores (``None`` labels without gold)."""
    problems = RowProblems(input_path, skip_bad_rows)
    pairs = list(iter_lines(input_path, hint, problems))
    scores = _read_gold(gold_path, hint, skip_bad_rows) if gold_path is not None else None
    if scores is not None:
        pairs = _align(input_path, gold_path, pairs, len(scores), extra_input_ok)
    examples: list[Example] = []
    for number, line in pairs:
        fields = line.split("\t")
        if len(fields) != 2 or not fields[0].strip() or not fields[1].strip():
            problems.bad(number, f"expected sentence1<TAB>sentence2, found {len(fields)} "
                         "field(s) or an empty sentence")
            continue
        label = scores[number - 1] if scores is not None and number <= len(scores) else None
        if scores is not None and label is None:
            problems.bad(number, f"the gold score for this pair (line {number} of "
                         f"{gold_path}) is missing or bad")
            continue
        examples.append(Example(id=f"{id_prefix}{number - 1}",
                                texts=(fields[0].strip(), fields[1].strip()),
                                label=label, language=language))
    return require_examples(input_path, examples, problems)


def _read_gold(path: Path, hint: str, skip_bad_rows: bool) -> list[float | None]:
    """One score per line, ``None`` where the line was bad and skipping is on."""
    problems = RowProblems(path, skip_bad_rows)
    scores: list[float | None] = []
    for number, line in iter_lines(path, hint, problems):
        while len(scores) < number - 1:  # lines the lenient decoder skipped
            scores.append(None)
        try:
            scores.append(parse_score(line))
        except ValueError as err:
            problems.bad(number, f"bad gold score: {err}")
            scores.append(None)
    problems.finish()
    return scores


def _align(
    input_path: Path, gold_path: Path | None, pairs: list[tuple[int, str]], n_gold: int,
    extra_input_ok: bool,
) -> list[tuple[int, str]]:
    n_input = pairs[-1][0] if pairs else 0
    if n_input == n_gold:
        return pairs
    if n_input > n_gold and extra_input_ok:
        logger.info("%s: %d input lines, %d gold scores: lines %d-%d are unscored extra pairs "
                    "and are not loaded", input_path, n_input, n_gold, n_gold + 1, n_input)
        return [(number, line) for number, line in pairs if number <= n_gold]
    raise DataFormatError(
        input_path, None, f"{n_input} input lines but {n_gold} gold scores in {gold_path}; "
        "input and gold files must align line by line"
    )
