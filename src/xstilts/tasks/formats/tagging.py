"""Token-per-line tagging files (XTREME ``udpos`` and ``panx``): ``token<TAB>tag``.

Sentences are separated by blank lines. XTREME's test files carry tokens only (labels
stripped): such a file is read as unlabeled (``tags=None``). The raw WikiANN/PAN-X files
prefix every token with its language (``en:Paris``); XTREME's preprocessing strips the prefix,
and so does this reader when the first token of the file has it, so both copies read the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from xstilts.tasks.base import TaggingExample
from xstilts.tasks.readers import RowProblems, iter_lines, require_examples


class _Sentence:
    """The sentence being read: tokens, tags, and whether a bad line spoiled it."""

    def __init__(self) -> None:
        self.tokens: list[str] = []
        self.tags: list[int] = []
        self.broken = False


def read_tagging(
    path: Path,
    *,
    language: str,
    labels: Sequence[str],
    hint: str,
    id_prefix: str = "",
    skip_bad_rows: bool = False,
) -> list[TaggingExample]:
    """Read one tagging file into sentences; tags are indices into ``labels``.

    With ``skip_bad_rows`` a bad line drops its whole sentence (a sentence with a missing tag
    would misalign every later tag).
    """
    problems = RowProblems(path, skip_bad_rows)
    label_index = {label: i for i, label in enumerate(labels)}
    prefix = f"{language}:"
    state: dict[str, bool | None] = {"labeled": None, "prefixed": None}
    examples: list[TaggingExample] = []
    sentence = _Sentence()

    def flush() -> None:
        nonlocal sentence
        if sentence.tokens and not sentence.broken:
            tags = tuple(sentence.tags) if state["labeled"] else None
            examples.append(TaggingExample(
                id=f"{id_prefix}{len(examples)}", tokens=tuple(sentence.tokens), tags=tags,
                language=language,
            ))
        sentence = _Sentence()

    for number, line in iter_lines(path, hint, problems):
        if not line.strip():
            flush()
            continue
        problem = _add_token(line, sentence, state, label_index, prefix)
        if problem is not None:
            sentence.broken = True
            problems.bad(number, problem)
    flush()
    return require_examples(path, examples, problems)


def _add_token(
    line: str, sentence: _Sentence, state: dict[str, bool | None],
    label_index: dict[str, int], prefix: str,
) -> str | None:
    """Parse one ``token[<TAB>tag]`` line into ``sentence``; return a problem or None."""
    fields = line.split("\t")
    if len(fields) > 2:
        return f"expected token<TAB>tag (2 tab-separated fields), found {len(fields)}"
    labeled = len(fields) == 2
    if state["labeled"] is None:
        state["labeled"] = labeled
    elif state["labeled"] != labeled:
        return "file mixes tagged (token<TAB>tag) and untagged (token only) lines"
    token = fields[0]
    if state["prefixed"] is None:
        state["prefixed"] = token.startswith(prefix)
    if state["prefixed"]:
        if not token.startswith(prefix):
            return f"token {token!r} lacks the {prefix!r} prefix the rest of the file has"
        token = token[len(prefix):]
    if not token.strip():
        return "empty token"
    if labeled:
        tag = fields[1].strip()
        if tag not in label_index:
            return f"unknown tag {tag!r}; expected one of {sorted(label_index)}"
        sentence.tags.append(label_index[tag])
    sentence.tokens.append(token)
    return None
