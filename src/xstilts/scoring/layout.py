"""Readers for the XTREME / XTREME-R leaderboard file formats, one per kind of file.

The layout (google-research/xtreme ``mock_test_data/``): ``<task>/test-<lang>.<suffix>``, the
same for predictions and gold labels.

- ``.tsv``, one label per line: xnli, pawsx (label strings), tatoeba (index of the retrieved
  English sentence);
- ``.tsv``, one tag per line, a blank line after each sentence: udpos, panx;
- ``.tsv``, ``source<TAB>target`` per line: bucc2018 (the mined pairs);
- ``.jsonl``, ``{"label": ...}`` per line: xcopa;
- ``.json``: QA predictions ``{id: answer}``, QA gold in SQuAD v1.1 format (``{"data": [...]}``
  or the bare article list); Mewsli-X / LAReQA ``{id: [candidate ids]}`` (ranked for
  predictions, the relevant ones for gold).

The official script reads these leniently (a stray empty line becomes an empty label, a
``token<TAB>tag`` line becomes a tag that never matches); these readers refuse such lines
with the file and line number instead, because a silently mis-scored submission costs more
than a clear error.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xstilts.errors import DataFormatError


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """(1-based line number, line without surrounding whitespace) of a UTF-8 text file.

    Lines end at \\n, \\r\\n or \\r only, as Python's text files (and so the official
    readers) split them; ``str.splitlines`` would also split at U+2028 and friends.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise DataFormatError(path, None, f"not UTF-8 text ({err.reason} at byte "
                                          f"{err.start})") from err
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    for number, line in enumerate(lines, start=1):
        yield number, line.strip()


def read_labels(path: Path) -> list[str]:
    """One label per line (classification labels, Tatoeba indices)."""
    labels = []
    for number, line in _lines(path):
        if not line:
            raise DataFormatError(path, number, "empty line; expected one label per line "
                                  "(no blank lines, also not at the end)")
        labels.append(line)
    return labels


@dataclass(frozen=True)
class Sentence:
    """One sentence of a tagging file: its tags and the line its first tag is on."""

    line: int
    tags: list[str]


def read_tag_sentences(path: Path) -> list[Sentence]:
    """One tag per line, each sentence closed by a blank line (the last one may not be).

    As in the official reader, every blank line closes a sentence, so two blank lines in a
    row make an empty sentence.
    """
    sentences: list[Sentence] = []
    tags: list[str] = []
    start = 1
    for number, line in _lines(path):
        if not line:
            sentences.append(Sentence(start, tags))
            tags, start = [], number + 1
            continue
        if len(line.split()) != 1:
            raise DataFormatError(path, number, f"expected one tag per line, got {line!r} "
                                  "(the leaderboard format has tags only, no tokens)")
        tags.append(line)
    if tags:
        sentences.append(Sentence(start, tags))
    return sentences


def read_pairs(path: Path) -> list[tuple[str, str]]:
    """BUCC mined pairs: ``source_id<TAB>target_id`` per line."""
    pairs = []
    for number, line in _lines(path):
        fields = line.split("\t")
        if len(fields) != 2 or not all(f.strip() for f in fields):
            raise DataFormatError(path, number, f"expected 'source_id<TAB>target_id', got "
                                  f"{line!r}")
        pairs.append((fields[0].strip(), fields[1].strip()))
    return pairs


def read_jsonl_labels(path: Path) -> list[Any]:
    """XCOPA: one JSON object with a ``label`` per line; the label values as JSON has them."""
    labels = []
    for number, line in _lines(path):
        if not line:
            raise DataFormatError(path, number, "empty line; expected one JSON object per line")
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise DataFormatError(path, number, f"not JSON: {err.msg}") from err
        if not isinstance(row, dict) or "label" not in row:
            raise DataFormatError(path, number, 'expected an object with a "label" field, '
                                  f"got {line[:80]!r}")
        labels.append(row["label"])
    return labels


def read_json(path: Path) -> Any:
    """A whole JSON file; a syntax error names its line."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise DataFormatError(path, err.lineno, f"not JSON: {err.msg} (column {err.colno})") \
            from err
    except UnicodeDecodeError as err:
        raise DataFormatError(path, None, f"not UTF-8 text ({err.reason})") from err


def read_answer_map(path: Path) -> dict[str, str]:
    """QA predictions: ``{question id: answer text}``."""
    data = read_json(path)
    if not isinstance(data, dict):
        raise DataFormatError(path, None, "expected a JSON object {question id: answer text}")
    for key, value in data.items():
        if not isinstance(value, str):
            raise DataFormatError(path, None, f"question {key!r}: expected the answer as a "
                                  f"string, got {type(value).__name__}")
    return data


def read_squad_gold(path: Path) -> dict[str, list[str]]:
    """QA gold in SQuAD v1.1 format: question id -> its gold answer texts, in file order."""
    data = read_json(path)
    articles = data.get("data") if isinstance(data, dict) else data
    if not isinstance(articles, list):
        raise DataFormatError(path, None, 'expected SQuAD format: {"data": [articles]} or a '
                              "list of articles")
    gold: dict[str, list[str]] = {}
    for a, article in enumerate(articles):
        paragraphs = article.get("paragraphs") if isinstance(article, dict) else None
        if not isinstance(paragraphs, list):
            raise DataFormatError(path, None, f"data[{a}]: expected a 'paragraphs' list")
        for p, paragraph in enumerate(paragraphs):
            qas = paragraph.get("qas") if isinstance(paragraph, dict) else None
            if not isinstance(qas, list):
                raise DataFormatError(path, None, f"data[{a}].paragraphs[{p}]: expected a "
                                      "'qas' list")
            for q, qa in enumerate(qas):
                where = f"data[{a}].paragraphs[{p}].qas[{q}]"
                gold_id, answers = _question(path, where, qa)
                if gold_id in gold:
                    raise DataFormatError(path, None, f"{where}: question id {gold_id!r} "
                                          "appears twice")
                gold[gold_id] = answers
    return gold


def _question(path: Path, where: str, qa: Any) -> tuple[str, list[str]]:
    if not isinstance(qa, dict) or not isinstance(qa.get("id"), str | int):
        raise DataFormatError(path, None, f"{where}: expected an object with an 'id'")
    answers = qa.get("answers")
    if not isinstance(answers, list) or not answers or not all(
            isinstance(x, dict) and isinstance(x.get("text"), str) for x in answers):
        raise DataFormatError(path, None, f"{where} (id {qa['id']!r}): expected a non-empty "
                              "'answers' list of {\"text\": ...} objects")
    return str(qa["id"]), [x["text"] for x in answers]


def read_ranked_map(path: Path, *, what: str) -> dict[str, list[str]]:
    """Mewsli-X / LAReQA: ``{query id: [candidate ids]}`` (``what`` names them in errors)."""
    data = read_json(path)
    if not isinstance(data, dict):
        raise DataFormatError(path, None, f"expected a JSON object {{query id: [{what}]}}")
    for key, value in data.items():
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise DataFormatError(path, None, f"query {key!r}: expected a list of {what} "
                                  "(strings)")
    return data
