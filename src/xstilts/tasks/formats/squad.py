"""SQuAD-style JSON (SQuAD v1.1/v2.0, XQuAD, MLQA, TyDiQA-GoldP): one QAExample per question.

Answer spans are checked: ``context[answer_start:answer_start+len(text)]`` must equal the
answer text, else the file is wrong (or was re-encoded, shifting offsets) and training on it
would teach the model wrong spans. None of the real XQuAD, MLQA or TyDiQA-GoldP files has such
a span, so there is no silent repair: an off-by-N start is an error naming file and question
id (use ``skip_bad_rows`` to drop such questions with a warning). Questions whose ``answers``
key is absent are unlabeled (``answers=None``); SQuAD 2.0's ``is_impossible`` questions get
``answers=()``. XTREME's download script (``utils_preprocess.py``,
``remove_qa_test_annotations``) withholds the XQuAD, MLQA test and TyDiQA-GoldP dev answers by
replacing them with the placeholder ``[{"answer_start": 0, "text": ""}]``: such questions are
read as unlabeled too (one INFO line per file counts them), never as an empty gold answer.
Question ids need not be unique (the TyDiQA-GoldP train files in the shared data reuse small
integers): a repeated id gets a ``#n`` suffix so example ids stay unique.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from xstilts.errors import DataFormatError
from xstilts.tasks.base import Answer, QAExample
from xstilts.tasks.readers import (
    RowProblems,
    logger,
    parse_json,
    read_text,
    require_examples,
)

# XTREME's stand-in for a withheld answer (``remove_qa_test_annotations``).
PLACEHOLDER_ANSWER = {"answer_start": 0, "text": ""}


def read_squad(
    path: Path,
    *,
    language: str,
    hint: str,
    skip_bad_rows: bool = False,
) -> list[QAExample]:
    """Read every question of a SQuAD-format file; see the module docstring for the checks."""
    document = _load_json(path, hint)
    problems = RowProblems(path, skip_bad_rows)
    examples: list[QAExample] = []
    seen: dict[str, int] = {}
    placeholders: list[str] = []
    for a, article in enumerate(_list_field(path, document, "data", "the document")):
        where = f"data[{a}]"
        paragraphs = _guard(
            problems, lambda art=article, w=where: _list_field(path, art, "paragraphs", w)
        )
        for p, paragraph in enumerate(paragraphs or ()):
            examples.extend(_read_paragraph(
                path, paragraph, f"{where}.paragraphs[{p}]", language, problems, seen,
                placeholders,
            ))
    if placeholders:
        logger.info("%s: %d question(s) carry XTREME's placeholder answer %s (labels "
                    "withheld); read as unlabeled", path, len(placeholders), PLACEHOLDER_ANSWER)
    return require_examples(path, examples, problems)


def _load_json(path: Path, hint: str) -> Any:
    return parse_json(read_text(path, hint), path)


def _guard(problems: RowProblems, parse: Any) -> Any:
    """Run one parse step; a DataFormatError goes to ``problems`` (raised or skipped)."""
    try:
        return parse()
    except DataFormatError as err:
        problems.add(err)
        return None


def _list_field(path: Path, obj: Any, key: str, where: str) -> list:
    if not isinstance(obj, dict):
        raise DataFormatError(path, None, f"{where}: expected a JSON object")
    value = obj.get(key)
    if not isinstance(value, list):
        raise DataFormatError(path, None, f"{where}: {key!r} must be a list")
    return value


def _str_field(path: Path, obj: dict, key: str, where: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str):
        raise DataFormatError(path, None, f"{where}: {key!r} must be a string")
    return value


def _read_paragraph(
    path: Path, paragraph: Any, where: str, language: str, problems: RowProblems,
    seen: dict[str, int], placeholders: list[str],
) -> list[QAExample]:
    def parse_header() -> tuple[str, list]:
        qas = _list_field(path, paragraph, "qas", where)
        return _str_field(path, paragraph, "context", where), qas

    header = _guard(problems, parse_header)
    if header is None:
        return []
    context, qas = header
    examples: list[QAExample] = []
    for q, qa in enumerate(qas):
        example = _guard(
            problems, lambda qa=qa, q=q: _read_question(path, qa, f"{where}.qas[{q}]", context,
                                                        language, placeholders)
        )
        if example is None:
            continue
        count = seen.get(example.id, 0)
        seen[example.id] = count + 1
        if count:
            example = QAExample(example.id + f"#{count}", example.question, example.context,
                                example.answers, example.language)
        examples.append(example)
    return examples


def _read_question(path: Path, qa: Any, where: str, context: str, language: str,
                   placeholders: list[str]) -> QAExample:
    if not isinstance(qa, dict):
        raise DataFormatError(path, None, f"{where}: expected a JSON object")
    raw_id = qa.get("id")
    if not isinstance(raw_id, str | int) or isinstance(raw_id, bool):
        raise DataFormatError(path, None, f"{where}: 'id' must be a string")
    qid = str(raw_id)
    question = _str_field(path, qa, "question", f"{where} (question id {qid})")
    answers: tuple[Answer, ...] | None
    if qa.get("is_impossible") is True:
        answers = ()
    elif "answers" not in qa:
        answers = None
    elif _is_placeholder(qa["answers"]):
        answers = None
        placeholders.append(qid)
    else:
        answers = _read_answers(path, qa["answers"], qid, context)
    return QAExample(id=qid, question=question, context=context, answers=answers,
                     language=language)


def _is_placeholder(raw: Any) -> bool:
    """Whether ``answers`` is only XTREME's withheld-answer placeholder (see the module doc)."""
    return isinstance(raw, list) and bool(raw) and all(a == PLACEHOLDER_ANSWER for a in raw)


def _read_answers(path: Path, raw: Any, qid: str, context: str) -> tuple[Answer, ...]:
    if not isinstance(raw, list):
        raise DataFormatError(path, None, f"question id {qid}: 'answers' must be a list")
    answers = []
    for answer in raw:
        if not isinstance(answer, dict):
            raise DataFormatError(path, None, f"question id {qid}: an answer is not an object")
        text, start = answer.get("text"), answer.get("answer_start")
        if not isinstance(text, str) or not text or not isinstance(start, int) \
                or isinstance(start, bool):
            raise DataFormatError(
                path, None, f"question id {qid}: an answer needs a non-empty 'text' and an "
                f"integer 'answer_start', got {answer!r:.120}"
            )
        if start < 0 or context[start:start + len(text)] != text:
            found = context[max(start, 0):max(start, 0) + len(text)]
            raise DataFormatError(
                path, None, f"question id {qid}: answer {text!r:.80} is not in the context at "
                f"answer_start={start} (found {found!r:.80})"
            )
        answers.append(Answer(text=text, start=start))
    return tuple(answers)
