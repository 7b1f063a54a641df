"""Sentence-retrieval files: line-aligned bitext (Tatoeba) and BUCC 2018 mining corpora.

Tatoeba's gold is the line alignment itself, so the two sides must have the same number of
lines; a mismatch is a file-level error (skipping cannot repair an alignment). BUCC files are
``id<TAB>sentence`` per side plus a gold file of ``source_id<TAB>english_id`` pairs.
"""

from __future__ import annotations

from pathlib import Path

from xstilts.errors import DataFormatError
from xstilts.tasks.base import BitextExample, MiningSentence
from xstilts.tasks.readers import RowProblems, iter_lines, require_examples


def read_bitext(
    source_path: Path,
    target_path: Path,
    *,
    language: str,
    hint: str,
    id_prefix: str = "",
    skip_bad_rows: bool = False,
) -> list[BitextExample]:
    """Pair line i of ``source_path`` (the other language) with line i of ``target_path``."""
    problems = RowProblems(source_path, skip_bad_rows)
    source = list(iter_lines(source_path, hint))
    target = list(iter_lines(target_path, hint))
    if len(source) != len(target):
        raise DataFormatError(
            source_path, None, f"{len(source)} lines, but {target_path} has {len(target)}: "
            "the two sides of a bitext must be line-aligned"
        )
    examples: list[BitextExample] = []
    for (number, src), (_, tgt) in zip(source, target, strict=True):
        if not src.strip() or not tgt.strip():
            problems.bad(number, f"empty sentence on line {number} of one side "
                         f"({source_path.name} / {target_path.name})")
            continue
        examples.append(BitextExample(
            id=f"{id_prefix}{number - 1}", source=src.strip(), target=tgt.strip(),
            language=language,
        ))
    return require_examples(source_path, examples, problems)


def _read_id_sentences(
    path: Path, hint: str, problems: RowProblems
) -> dict[str, tuple[int, str]]:
    sentences: dict[str, tuple[int, str]] = {}
    for number, line in iter_lines(path, hint, problems):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != 2 or not fields[0].strip() or not fields[1].strip():
            problems.bad(number, f"expected id<TAB>sentence, found {len(fields)} field(s)")
            continue
        sid = fields[0].strip()
        if sid in sentences:
            problems.bad(number, f"duplicate sentence id {sid!r} (first on line "
                         f"{sentences[sid][0]})")
            continue
        sentences[sid] = (number, fields[1].strip())
    return sentences


def _read_gold(
    path: Path, hint: str, source: dict, target: dict, problems: RowProblems
) -> dict[str, str]:
    gold: dict[str, str] = {}
    for number, line in iter_lines(path, hint, problems):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != 2:
            problems.bad(number, f"expected source_id<TAB>english_id, found {len(fields)} "
                         "field(s)")
            continue
        src, tgt = fields[0].strip(), fields[1].strip()
        if src not in source or tgt not in target:
            missing = src if src not in source else tgt
            problems.bad(number, f"gold pair names sentence id {missing!r}, which is not in "
                         "the sentence files")
            continue
        gold[src] = tgt
    return gold


def read_bucc(
    source_path: Path,
    target_path: Path,
    gold_path: Path | None,
    *,
    language: str,
    hint: str,
    skip_bad_rows: bool = False,
) -> list[MiningSentence]:
    """Read one BUCC language pair: the source sentences, then the English ones.

    ``gold`` of a sentence is the id of its translation on the other side; with no gold file
    (BUCC test) every ``gold`` is None.
    """
    source_problems = RowProblems(source_path, skip_bad_rows)
    target_problems = RowProblems(target_path, skip_bad_rows)
    source = _read_id_sentences(source_path, hint, source_problems)
    target = _read_id_sentences(target_path, hint, target_problems)
    gold: dict[str, str] = {}
    if gold_path is not None:
        gold_problems = RowProblems(gold_path, skip_bad_rows)
        gold = _read_gold(gold_path, hint, source, target, gold_problems)
        gold_problems.finish()
    reverse = {tgt: src for src, tgt in gold.items()}
    sentences = [
        MiningSentence(id=sid, text=text, side="source", language=language, gold=gold.get(sid))
        for sid, (_, text) in source.items()
    ]
    require_examples(source_path, sentences, source_problems)
    english = [
        MiningSentence(id=sid, text=text, side="target", language="en", gold=reverse.get(sid))
        for sid, (_, text) in target.items()
    ]
    require_examples(target_path, english, target_problems)
    return sentences + english
