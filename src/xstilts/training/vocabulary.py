"""A study's trimmed vocabulary (``vocabulary: trimmed``): which texts, and the cached encoder.

A trimmed encoder computes exactly what the full one does, but only on the texts it was
trimmed on (docs/vocab-trimming.md). So the planner gives every run of a trimmed study the
same *text sources*: each (task, split, language) any run of the study reads, with the
retrieval protocol's prefix where one is prepended. Before the first run the encoder is
trimmed once on every text of every source and cached under the xstilts cache folder, keyed
by the encoder name and a hash of the texts; every run, and a rerun, loads that folder.

Sources are read whole: caps such as ``max_train_examples`` or ``evaluation.max_examples``
select from what was read, so a superset is exact too, and the vocabulary (and a run id)
does not depend on them. Light at import (no torch): the planner and ``--dry-run`` use it.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xstilts.errors import XstiltsError
from xstilts.models.bundled import cache_root
from xstilts.tasks import TaskType, get_task, resolve_task
from xstilts.tasks.base import RetrievalKind
from xstilts.tasks.texts import example_texts
from xstilts.training.runs import IntermediateRun, TargetRun

logger = logging.getLogger("xstilts.training")

# A source as a run holds it: (task, split, language), plus the prefix when there is one.
SourceKey = tuple[str, ...]
TRIMMED_DIR = "trimmed"
# Alignment at evaluation time fits projections on Tatoeba pairs (xstilts.alignment.in_model).
ALIGN_TASK, ALIGN_SPLIT, PIVOT = "tatoeba", "test", "en"
# The extractive-QA handler tokenises a probe to check the tokenizer's offsets
# (xstilts.tasktypes.extractive_qa); its question is this string.
QA_PROBE_QUESTION = "Which item?"


@dataclass(frozen=True, order=True)
class TextSource:
    """One split of one language that a study reads; ``prefix`` is prepended to each text
    (a retrieval protocol's, as :func:`xstilts.evaluation.embeddings` embeds them)."""

    task: str
    split: str
    language: str
    prefix: str = ""

    @property
    def key(self) -> SourceKey:
        base = (self.task, self.split, self.language)
        return (*base, self.prefix) if self.prefix else base

    @classmethod
    def of(cls, key: Sequence[str]) -> TextSource:
        return cls(*key)


def _intermediate_sources(run: IntermediateRun) -> set[TextSource]:
    found = set()
    for member in run.tasks:
        found.add(TextSource(member.task, member.train_split, member.language))
        if member.dev_split:  # read when present (phases._build_stream)
            found.add(TextSource(member.task, member.dev_split, member.language))
    return found


def _target_sources(run: TargetRun) -> set[TextSource]:
    task = get_task(run.task)
    retrieval = task.type == TaskType.RETRIEVAL
    prefix = (run.retrieval or {}).get("prefix", "") if retrieval else ""
    evaluated = list(run.languages)
    if task.reads_every_language:  # a candidate pool built from every language's file
        evaluated += list(task.languages)
    found = {TextSource(task.name, run.eval_split, lang, prefix) for lang in evaluated}
    if not retrieval:
        found.add(TextSource(task.name, run.train_split, run.train_language))
        found.add(TextSource(task.name, run.dev_split, run.dev_language))
    generalized = run.evaluation.generalized or []
    found |= {TextSource(task.name, run.eval_split, lang) for lang in generalized}
    if run.evaluation.align is not None and not (
            retrieval and task.retrieval_kind == RetrievalKind.BITEXT):
        align = get_task(ALIGN_TASK)
        for code in run.languages:
            for lang in code.split("-"):
                if lang != PIVOT and lang in align.languages:
                    found.add(TextSource(ALIGN_TASK, ALIGN_SPLIT, lang))
    return found


def study_text_sources(runs: Iterable[IntermediateRun | TargetRun]) -> tuple[SourceKey, ...]:
    """The sorted text sources of every run of a study (those of one encoder): what each of
    its runs holds in ``vocabulary`` and hashes into its id."""
    found: set[TextSource] = set()
    for run in runs:
        found |= _intermediate_sources(run) if isinstance(run, IntermediateRun) \
            else _target_sources(run)
    return tuple(s.key for s in sorted(found))


def source_texts(sources: Iterable[SourceKey], data_dir: Path | None) -> list[str]:
    """Every text field of every source, prefixed where the source says, duplicates dropped.

    A declared source whose file is absent is skipped: the runs skip it too (a dev split
    that is not there), and validation has refused the files a run cannot do without.
    Rows are read leniently: a row that is skipped is skipped by the run as well, and a
    strict run fails on it anyway.
    """
    texts: dict[str, None] = {}
    for key in sources:
        source = TextSource.of(key)
        task = resolve_task(source.task, data_dir)
        if source.split not in task.splits or not task.has_data(source.split, source.language,
                                                                 data_dir):
            continue
        for example in task.load(source.split, source.language, data_dir, skip_bad_rows=True):
            texts.update((source.prefix + t, None) for t in example_texts(example))
        if task.type == TaskType.EXTRACTIVE_QA:
            from xstilts.tasktypes.extractive_qa import PROBE_CONTEXT  # torch: only for QA

            texts.update({QA_PROBE_QUESTION: None, PROBE_CONTEXT: None})
    return list(texts)


@dataclass(frozen=True)
class TrimmedEncoder:
    """The cached trimmed encoder of a study and what its trim kept (``trim.json``)."""

    folder: Path
    report: dict[str, Any]


def trimmed_folder(encoder: str, texts: Sequence[str]) -> Path:
    """Where the trimmed ``encoder`` for ``texts`` is cached: one folder per (encoder, texts)."""
    digest = hashlib.sha256(json.dumps([encoder, sorted(texts)]).encode()).hexdigest()[:20]
    name = "".join(c if c.isalnum() or c in "-_." else "_" for c in encoder)[-60:]
    return cache_root() / TRIMMED_DIR / f"{name}-{digest}"


_MEMO: dict[tuple[str, tuple[SourceKey, ...], str], TrimmedEncoder] = {}


def trimmed_encoder(encoder: str, sources: Sequence[SourceKey],
                    data_dir: Path | None) -> TrimmedEncoder:
    """The encoder trimmed to the texts of ``sources``: trimmed on first use, then read from
    the cache (also by another process, or a rerun)."""
    memo_key = (encoder, tuple(sources), str(data_dir))
    if memo_key in _MEMO:
        return _MEMO[memo_key]
    from xstilts.models.vocab_trim import TRIM_FILE, VocabTrimError, trim_encoder  # torch

    texts = source_texts(sources, data_dir)
    folder = trimmed_folder(encoder, texts)
    if not (folder / TRIM_FILE).is_file():
        logger.info("trimming the vocabulary of %s to %d distinct texts of %d sources",
                    encoder, len(texts), len(sources))
        try:
            trim_encoder(encoder, texts, folder)
        except VocabTrimError:
            if not (folder / TRIM_FILE).is_file():  # not a concurrent trim that won the race
                raise
    report = json.loads((folder / TRIM_FILE).read_text(encoding="utf-8"))
    report.pop("source", None)
    result = TrimmedEncoder(folder, {"encoder": encoder, "folder": str(folder), **report})
    _MEMO[memo_key] = result
    return result


def trim_refusal(encoder: str) -> str | None:
    """Why ``encoder`` cannot be trimmed (trim_encoder's own message), or None if it can."""
    # trim_encoder's own checks, run before any training (they read two JSON files).
    from xstilts.models.vocab_trim import _check_supported, _read_json, _source_folder  # torch

    try:
        folder = _source_folder(encoder)
        _check_supported(_read_json(folder / "tokenizer.json"), folder / "tokenizer.json")
    except XstiltsError as err:
        return str(err)
    return None
