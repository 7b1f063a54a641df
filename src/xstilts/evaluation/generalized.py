"""Generalized cross-lingual evaluation (Robust-XLT, Huang et al. 2021): mixed-language pairs.

Ordinary zero-shot evaluation keeps both texts of a pair in one language. Here the first text
is in language A and the second in language B, for every ordered pair (A, B) of a chosen
language set, which tests whether the model compares meanings rather than surface forms. It
needs test sets that are parallel across languages (XNLI, PAWS-X): row i of every language's
file is a translation of the same example, with the same label.

Conventions (so a report can tell these rows from the ordinary ones):

* a score's ``language`` is ``"A-B"`` (first text's language, then the second's), the code
  style the report already names for language pairs;
* its ``split`` is ``"<split>+generalized"``, so the report puts the matrix in a block of
  its own instead of averaging its cells with the per-language scores;
* example ids are ``"<A's id>@A-B"``; predictions go to ``predictions_dir/A-B.jsonl``.

The evaluation itself is the ordinary loop run on a view of the task
(:func:`xstilts.tasktypes.zero_shot.evaluate_generalized`). The diagonal (A-A) holds exactly
the ordinary evaluation of A on the same examples. Rows that some language left untranslated
(PAWS-X's "NS" placeholders) are dropped in every language first.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

from xstilts.errors import XstiltsError
from xstilts.results import Score
from xstilts.tasks import Task
from xstilts.tasks.base import Example

SPLIT_SUFFIX = "+generalized"


def pair_code(first: str, second: str) -> str:
    return f"{first}-{second}"


UNTRANSLATED = "NS"


def drop_untranslated(by_language: dict[str, list[Example]]) -> tuple[dict[str, list[Example]],
                                                                       int]:
    """Drop rows that some language left untranslated, in every language alike.

    PAWS-X's translated files mark sentences the translators did not translate with the text
    "NS" (and label 0), so those rows are not parallel; removing them keeps row i the same
    example in every language. Files of different lengths are left for the parallel check.
    """
    counts = {len(examples) for examples in by_language.values()}
    if len(counts) != 1:
        return by_language, 0
    n = counts.pop()
    keep = [i for i in range(n) if not any(
        UNTRANSLATED in (t.strip() for t in examples[i].texts)
        for examples in by_language.values())]
    if len(keep) == n:
        return by_language, 0
    return ({lang: [examples[i] for i in keep] for lang, examples in by_language.items()},
            n - len(keep))


def check_parallel(task: Task, split: str, by_language: dict[str, list[Example]]) -> None:
    """Refuse files that are not parallel: a different row count or any differing label means
    row i is not the same example in every language, so a mixed pair would be meaningless."""
    (base, reference), *others = by_language.items()
    for language, examples in others:
        if len(examples) != len(reference):
            raise XstiltsError(
                f"generalized evaluation: {task.name}/{split} is not parallel across languages: "
                f"{base} has {len(reference)} examples, {language} has {len(examples)}")
        for i, (a, b) in enumerate(zip(reference, examples, strict=True)):
            if len(a.texts) != 2 or len(b.texts) != 2:
                raise XstiltsError(f"generalized evaluation needs two texts per example; "
                                   f"{task.name} row {i} has {len(a.texts)}")
            if a.label != b.label:
                raise XstiltsError(
                    f"generalized evaluation: {task.name}/{split} is not parallel across "
                    f"languages: row {i} has label {a.label!r} in {base} but {b.label!r} in "
                    f"{language} ({a.id} vs {b.id})")


def mixed_pairs(first: Sequence[Example], second: Sequence[Example], code: str) -> list[Example]:
    """Row-aligned pairs: the first text of ``first``, the second text of ``second``."""
    return [Example(f"{a.id}@{code}", (a.texts[0], b.texts[1]), a.label, code)
            for a, b in zip(first, second, strict=True)]


def generalized_task(task: Task, split: str, languages: Sequence[str], data_dir: Path | None,
                     *, skip_bad_rows: bool = False) -> tuple[Task, list[str]]:
    """A view of ``task`` whose "languages" are the A-B codes and whose reader serves the mixed
    pairs, so the ordinary evaluation loop (featurise, predict, write, score) runs unchanged.

    With ``skip_bad_rows`` a language's malformed rows are dropped as it is read; the files
    must still be parallel afterwards (:func:`check_parallel` says where they are not)."""
    if len(set(languages)) != len(languages) or not languages:
        raise XstiltsError(f"generalized evaluation: give distinct languages, got {languages}")
    missing = [lang for lang in languages if lang not in task.languages]
    if missing:
        raise XstiltsError(f"generalized evaluation: task {task.name!r} has no language(s) "
                           f"{', '.join(missing)}")
    by_language, _ = drop_untranslated(
        {lang: task.load(split, lang, data_dir, skip_bad_rows=skip_bad_rows)
         for lang in languages})
    check_parallel(task, split, by_language)
    pairs = {pair_code(a, b): mixed_pairs(by_language[a], by_language[b], pair_code(a, b))
             for a in languages for b in languages}

    def reader(split_: str, language: str, folder: Path | None, *,
               skip_bad_rows: bool = False) -> list[Example]:
        return pairs[language]  # already read (and bad rows skipped) above

    view = dataclasses.replace(task, languages=tuple(pairs), reader=reader,
                               splits=(split,), needs_data_dir=False)
    return view, list(pairs)


def matrix_table(rows: Sequence[Score], metric: str | None = None) -> str:
    """A Markdown A×B table (rows: first text's language, columns: second's), values in %.

    ``metric`` defaults to the first metric among ``rows``; rows whose language is not an
    ``A-B`` code are ignored.
    """
    metric = metric or (rows[0].metric if rows else None)
    cells = {tuple(r.language.split("-", 1)): r.value for r in rows
             if r.metric == metric and "-" in r.language}
    firsts = list(dict.fromkeys(a for a, _ in cells))
    seconds = list(dict.fromkeys(b for _, b in cells))
    lines = [f"| {metric} (first \\ second) | " + " | ".join(seconds) + " |",
             "|---" * (len(seconds) + 1) + "|"]
    for a in firsts:
        values = [f"{100 * cells[a, b]:.1f}" if (a, b) in cells else "–" for b in seconds]
        lines.append(f"| {a} | " + " | ".join(values) + " |")
    return "\n".join(lines)
