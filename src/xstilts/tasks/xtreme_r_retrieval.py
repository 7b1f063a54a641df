"""XTREME-R's retrieval tasks scored by mAP@20: Mewsli-X and LAReQA, in their public layouts.

Both are "many relevant candidates in a shared pool" retrieval, which the Tatoeba/BUCC example
types cannot express, so this module has its own item type: a :class:`RetrievalItem` is either
a query (``side='query'``, ``gold`` = ids of its relevant candidates, ``None`` if unlabeled) or
a candidate (``side='candidate'``, ``gold=None``). A split of one language returns that
language's queries followed by the whole candidate pool.

Mewsli-X (Botha et al. 2020; XTREME-R), as google-research/xtreme's ``download_data.sh`` lays
it out under ``mewslix/`` (it moves these files out of google-research's
``dense_representations_for_entity_retrieval/mel`` output):
``candidate_set_entities.jsonl`` (one Entity per line: ``entity_id``, ``title``,
``description``, ...), ``wikinews_mentions-{dev,test}.jsonl`` (one ContextualMention per line:
``context`` {``language``, ``text``, ...} and ``mention`` {``example_id``, ``mention_span``
{``start``, ``end``, ``text``}, ``entity_id``}) and ``wikipedia_pairs-{train,dev}.jsonl``
(MentionEntityPair: ``contextual_mention`` + ``entity``). A query's text is its context with
the mention span checked against ``context.text[start:end]``; ``dev`` reads the WikiNews dev
mentions, ``train`` the Wikipedia pairs.

LAReQA (Roy et al. 2020) uses XQuAD-R: ``lareqa/xquad-r/{lang}.json``, SQuAD JSON whose
paragraphs add ``sentences`` and ``sentence_breaks`` ([start, end] character spans). The
candidate pool is every sentence of all 11 languages; the relevant candidates of a question are
the answer-bearing sentences of the question with the same id in every language (XQuAD is
11-way parallel, ids shared). One ``test`` split.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xstilts.errors import DataFormatError
from xstilts.languages import BENCHMARK_LANGUAGES
from xstilts.tasks.base import RetrievalKind, TaskType
from xstilts.tasks.files import FileLayout, FileRequest, file_task
from xstilts.tasks.formats.squad import read_squad
from xstilts.tasks.readers import (
    RowProblems,
    iter_json_rows,
    parse_json,
    read_text,
    require_examples,
    unique_ids,
)
from xstilts.tasks.registry import register_task

_HINT = (
    "Get the data with google-research/xtreme's download script (XTREME-R: "
    "scripts/download_data.sh writes download/mewslix/ and download/lareqa/)."
)


@dataclass(frozen=True)
class RetrievalItem:
    """A query or a candidate of a pooled retrieval task (see the module docstring)."""

    id: str
    text: str
    side: str
    language: str
    gold: tuple[str, ...] | None = None


# --- Mewsli-X -------------------------------------------------------------------------------

MEWSLIX_FILES = {"train": "wikipedia_pairs-train.jsonl", "dev": "wikinews_mentions-dev.jsonl",
                 "test": "wikinews_mentions-test.jsonl"}
mewslix_path = FileLayout("mewslix/{split_file}", split_files=MEWSLIX_FILES)


def mewslix_pool(split: str, data_dir: Path) -> tuple[Path, ...]:
    """The candidate entities every split's queries are ranked against."""
    return (data_dir / "mewslix" / "candidate_set_entities.jsonl",)


def _field(obj: Any, key: str, kind: type, where: str) -> Any:
    value = obj.get(key) if isinstance(obj, dict) else None
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ValueError(f"{where}{key!r} must be a {kind.__name__}")
    return value


def _mention_query(row: dict[str, Any]) -> RetrievalItem:
    """One ContextualMention as a query; the span must match the context text."""
    row = row.get("contextual_mention", row)  # wikipedia_pairs nest it
    context = _field(row, "context", dict, "")
    mention = _field(row, "mention", dict, "")
    text = _field(context, "text", str, "context.")
    span = _field(mention, "mention_span", dict, "mention.")
    start, end = _field(span, "start", int, "mention_span."), _field(span, "end", int,
                                                                     "mention_span.")
    if text[start:end] != _field(span, "text", str, "mention_span."):
        raise ValueError(f"mention_span text {span['text']!r:.60} is not context.text"
                         f"[{start}:{end}] ({text[start:end]!r:.60})")
    entity = mention.get("entity_id")
    return RetrievalItem(
        id=str(_field(mention, "example_id", str, "mention.")), text=text, side="query",
        language=str(_field(context, "language", str, "context.")),
        gold=(entity,) if isinstance(entity, str) else None,
    )


def read_mewslix_mentions(path: Path, *, language: str, hint: str,
                          skip_bad_rows: bool = False) -> list[RetrievalItem]:
    """The queries of ``language`` in a Mewsli-X mentions (or Wikipedia pairs) JSONL file."""
    problems = RowProblems(path, skip_bad_rows)
    numbered: list[tuple[int, RetrievalItem]] = []
    for number, row in iter_json_rows(path, hint, problems):
        try:
            query = _mention_query(row)
        except ValueError as err:
            problems.bad(number, str(err))
            continue
        if query.language == language:
            numbered.append((number, query))
    return require_examples(path, unique_ids(numbered, problems), problems)


def read_mewslix_candidates(path: Path, *, hint: str,
                            skip_bad_rows: bool = False) -> list[RetrievalItem]:
    """Mewsli-X's candidate entities; text = ``title`` + ``description`` (English pages)."""
    problems = RowProblems(path, skip_bad_rows)
    candidates: list[tuple[int, RetrievalItem]] = []
    for number, row in iter_json_rows(path, hint, problems):
        try:
            entity_id = _field(row, "entity_id", str, "")
            text = f"{_field(row, 'title', str, '')} {_field(row, 'description', str, '')}"
        except ValueError as err:
            problems.bad(number, str(err))
            continue
        candidates.append((number, RetrievalItem(
            id=entity_id, text=text.strip(), side="candidate",
            language=str(row.get("description_language", "en")),
        )))
    return require_examples(path, unique_ids(candidates, problems), problems)


def read_mewslix(request: FileRequest) -> list[RetrievalItem]:
    """Code, not a format: the language's queries (the layout's mentions file) followed by the
    candidate pool every language shares."""
    (pool,) = mewslix_pool(request.split, request.data_dir)
    hint = (f"{request.task}: {request.split}/{request.language} reads {request.path} and "
            f"{pool}. {request.data_hint}")
    queries = read_mewslix_mentions(request.path, language=request.language, hint=hint,
                                    skip_bad_rows=request.skip_bad_rows)
    return queries + read_mewslix_candidates(pool, hint=hint,
                                             skip_bad_rows=request.skip_bad_rows)


MEWSLI_X = register_task(file_task(
    "mewsli-x", TaskType.RETRIEVAL, BENCHMARK_LANGUAGES["mewsli-x"], layout=mewslix_path,
    read=read_mewslix, shared_files=mewslix_pool, metric="map@20",
    train_language="en", retrieval_kind=RetrievalKind.POOLED,
    description="Mewsli-X (XTREME-R): entity retrieval from WikiNews mentions in 11 languages "
    "against ~1M English Wikidata entities; mAP@20. Train = Wikipedia mention-entity pairs.",
    data_hint=_HINT,
))


# --- LAReQA (XQuAD-R) ------------------------------------------------------------------------

lareqa_path = FileLayout("lareqa/xquad-r/{language}.json")


def _paragraphs(path: Path, hint: str) -> list[tuple[str, dict[str, Any]]]:
    """(where, paragraph) for each paragraph of an XQuAD-R file; shape errors are file-level."""
    document = parse_json(read_text(path, hint), path)
    found = []
    articles = document.get("data", []) if isinstance(document, dict) else []
    for a, article in enumerate(articles if isinstance(articles, list) else []):
        paragraphs = article.get("paragraphs", []) if isinstance(article, dict) else None
        if not isinstance(paragraphs, list):
            raise DataFormatError(path, None, f"data[{a}]: expected an object with a "
                                  "'paragraphs' list")
        for p, paragraph in enumerate(paragraphs):
            where = f"data[{a}].paragraphs[{p}]"
            if not isinstance(paragraph, dict) or not isinstance(paragraph.get("context"), str) \
                    or not isinstance(paragraph.get("qas", []), list):
                raise DataFormatError(path, None, f"{where}: expected an object with a "
                                      "'context' string and a 'qas' list")
            found.append((where, paragraph))
    if not found:
        raise DataFormatError(path, None, "expected SQuAD JSON with data[].paragraphs[]")
    return found


def _sentence_spans(path: Path, where: str, paragraph: dict[str, Any]) -> list[tuple[int, int]]:
    breaks = paragraph.get("sentence_breaks")
    context = paragraph.get("context", "")
    if not isinstance(breaks, list) or not breaks or not all(
        isinstance(b, list) and len(b) == 2 and all(isinstance(x, int) for x in b)
        and 0 <= b[0] < b[1] <= len(context) for b in breaks
    ):
        raise DataFormatError(path, None, f"{where}: 'sentence_breaks' must be a non-empty list "
                              "of [start, end] spans inside the context (XQuAD-R format)")
    return [(b[0], b[1]) for b in breaks]


def read_xquad_r(path: Path, *, language: str, hint: str
                 ) -> tuple[list[RetrievalItem], dict[str, list[str]]]:
    """One XQuAD-R file: its sentences as candidates, and question id -> answer sentence ids.

    Question texts and ids are read (and their answer spans checked) by the SQuAD reader; the
    answer sentence is the one whose span holds ``answer_start``.
    """
    candidates: list[RetrievalItem] = []
    answers: dict[str, list[str]] = {}
    for where, paragraph in _paragraphs(path, hint):
        spans = _sentence_spans(path, where, paragraph)
        ids = [f"{language}:{where}:{i}" for i in range(len(spans))]
        context = paragraph["context"]
        candidates += [RetrievalItem(id=sid, text=context[s:e].strip(), side="candidate",
                                     language=language) for sid, (s, e) in zip(ids, spans,
                                                                                strict=True)]
        for qa in paragraph.get("qas", []):
            raw = qa.get("answers", []) if isinstance(qa, dict) else None
            if not isinstance(raw, list) or not all(isinstance(a, dict) for a in raw):
                raise DataFormatError(path, None, f"{where}: each of 'qas' must be an object "
                                      "whose 'answers' is a list of objects")
            for answer in raw:
                start = answer.get("answer_start", -1)
                if not isinstance(start, int) or isinstance(start, bool):
                    raise DataFormatError(path, None, f"{where}: question {qa.get('id')!r:.40}: "
                                          f"answer_start {start!r:.40} is not an integer")
                hit = [sid for sid, (s, e) in zip(ids, spans, strict=True) if s <= start < e]
                if not hit:
                    raise DataFormatError(path, None, f"{where}: question {qa.get('id')}: "
                                          f"answer_start {start} is in no sentence_breaks span")
                answers.setdefault(str(qa.get("id")), []).append(hit[0])
    return candidates, answers


def read_lareqa(request: FileRequest) -> list[RetrievalItem]:
    """Code, not a format: the language's queries + the pool of every language's sentences
    (all 11 files), each query's gold being its answer sentences in every language."""
    pool: list[RetrievalItem] = []
    gold: dict[str, list[str]] = {}
    for lang in BENCHMARK_LANGUAGES["lareqa"]:
        path = lareqa_path(request.split, lang, request.data_dir)
        sentences, answers = read_xquad_r(path, language=lang, hint=request.reading(path).hint)
        pool += sentences
        for qid, sids in answers.items():
            gold.setdefault(qid, []).extend(sids)
    language = request.language
    questions = read_squad(request.path, language=language, hint=request.hint,
                           skip_bad_rows=request.skip_bad_rows)
    queries = [RetrievalItem(id=f"{language}:{q.id}", text=q.question, side="query",
                             language=language, gold=tuple(dict.fromkeys(gold.get(q.id, []))))
               for q in questions]
    return queries + pool


LAREQA = register_task(file_task(
    "lareqa", TaskType.RETRIEVAL, BENCHMARK_LANGUAGES["lareqa"], layout=lareqa_path,
    read=read_lareqa, metric="map@20", splits=("test",),
    train_split="test", dev_split="test", test_split="test",
    retrieval_kind=RetrievalKind.POOLED, reads_every_language=True,
    description="LAReQA on XQuAD-R (XTREME-R): language-agnostic answer-sentence retrieval "
    "from the pooled sentences of 11 languages; mAP@20. XTREME-R trains on SQuAD v1.1.",
    data_hint=_HINT,
))
