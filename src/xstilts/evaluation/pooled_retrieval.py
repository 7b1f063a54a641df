"""mAP@20 retrieval from a shared candidate pool: XTREME-R's Mewsli-X and LAReQA.

Each query of a language is ranked against the *whole* candidate pool by cosine similarity
(L2-normalised vectors) and scored by AP@k (k = 20, :mod:`retrieval_metrics`); the result is
the mean over queries with a percentile bootstrap interval over queries. The pool is the same
for every language of a task and split (Mewsli-X: the candidate entities; LAReQA: the
sentences of all 11 XQuAD-R languages), so it is embedded once per call and reused.

Protocol difference from XTREME-R: XTREME-R first fine-tunes a dual encoder (on English
Wikipedia mention-entity pairs for Mewsli-X, on SQuAD v1.1 for LAReQA) and then retrieves.
Here the encoder (pretrained, or phase-2 intermediate-trained) is pooled as it is, under the
same :class:`~xstilts.evaluation.retrieval.Protocol` rules as Tatoeba (layer, pooling, prefix,
128 tokens), so scores are zero-shot-from-the-encoder numbers, lower than XTREME-R's.

Results use ``direction = "query2pool"`` (a query searches the pool; there is no xx/en
side). Queries whose gold is ``None`` make the split unlabeled and are refused; a query with an
empty gold tuple (possible only with defective data: XTREME-R gives every query >= 1 relevant
candidate) is left out, counted in ``n_skipped`` and logged, never scored as 0.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from xstilts.errors import UnlabeledSplitError, XstiltsError
from xstilts.evaluation.metrics import bootstrap_interval
from xstilts.evaluation.retrieval import (
    Protocol,
    embed_with_protocol,
    load_model,
    resolve_protocol,
)
from xstilts.evaluation.retrieval_metrics import ap_at_k_per_query, cosine_similarity
from xstilts.evaluation.retrieval_protocols import POOL_DIRECTION
from xstilts.prediction_files import language_file
from xstilts.tasks import get_task, list_tasks
from xstilts.tasks.base import RetrievalKind, Task
from xstilts.tasks.xtreme_r_retrieval import RetrievalItem

if TYPE_CHECKING:
    from xstilts.evaluation.retrieval import EncoderLike

DIRECTION = POOL_DIRECTION
MAP_K = 20
logger = logging.getLogger(__name__)


def _block_top(sim: np.ndarray, k: int) -> np.ndarray:
    """Column indices of each row's k best entries (unordered); a tie at the cut keeps the
    highest indices, as the ranking of :func:`ap_at_k_per_query` (XTREME-R's) would."""
    kk = min(k, sim.shape[1])
    if kk == sim.shape[1]:
        return np.tile(np.arange(kk), (sim.shape[0], 1))
    idx = np.argpartition(-sim, kk - 1, axis=1)[:, :kk]
    cut = np.take_along_axis(sim, idx, axis=1).min(axis=1)
    for row in np.flatnonzero((sim >= cut[:, None]).sum(axis=1) > kk):
        idx[row] = np.argsort(sim[row], kind="stable")[::-1][:kk]
    return idx


def top_k_candidates(queries: np.ndarray, pool: np.ndarray, k: int = MAP_K, *,
                     query_chunk: int = 1024, pool_block: int = 8192) -> np.ndarray:
    """Per query, the pool indices of its k most similar candidates, best first (equal
    scores: the higher index first, the ranking of :func:`ap_at_k_per_query` and XTREME-R).

    Similarities exist only ``query_chunk`` x ``pool_block`` at a time, so memory does not grow
    with the pool (Mewsli-X has ~1M candidates); a running top-k is merged block by block.
    """
    if k < 1:
        raise ValueError("k must be at least 1")
    width = min(k, len(pool))
    out = np.empty((len(queries), width), dtype=np.int64)
    for start in range(0, len(queries), query_chunk):
        chunk = queries[start:start + query_chunk]
        best = np.empty((len(chunk), 0), dtype=np.int64)
        best_sim = np.empty((len(chunk), 0))
        for offset in range(0, len(pool), pool_block):
            sim = cosine_similarity(chunk, pool[offset:offset + pool_block])
            idx = _block_top(sim, width)
            best = np.concatenate([best, idx + offset], axis=1)
            best_sim = np.concatenate([best_sim, np.take_along_axis(sim, idx, axis=1)], axis=1)
            order = np.lexsort((-best, -best_sim), axis=-1)[:, :width]
            best = np.take_along_axis(best, order, axis=1)
            best_sim = np.take_along_axis(best_sim, order, axis=1)
        out[start:start + len(chunk)] = best
    return out


def ap_from_top_k(top: np.ndarray, relevant: Sequence[Collection[int]],
                  k: int = MAP_K) -> np.ndarray:
    """Per-query AP@k from each query's ranked top-k pool indices and its relevant indices.

    AP@k depends only on the top-k ranking and on how many items are relevant, so the metric
    of :func:`ap_at_k_per_query` is applied to a stand-in score row: the top-k with strictly
    decreasing scores, then each relevant item outside the top-k, scored below them.
    """
    sets = [set(rel) for rel in relevant]
    n, width = top.shape
    hits = [[j for j, c in enumerate(row) if c in rel] for row, rel in zip(top.tolist(), sets,
                                                                            strict=True)]
    missed = [len(rel) - len(h) for h, rel in zip(hits, sets, strict=True)]
    scores = np.zeros((n, width + max(missed, default=0)))
    scores[:, :width] = np.arange(width, 0, -1)
    positions = [h + list(range(width, width + m)) for h, m in zip(hits, missed, strict=True)]
    return ap_at_k_per_query(scores, positions, k)


def _pool_index(candidates: Sequence[RetrievalItem], where: str) -> dict[str, int]:
    index: dict[str, int] = {}
    for i, c in enumerate(candidates):
        if c.id in index:
            raise XstiltsError(f"{where}: candidate id {c.id!r} appears twice in the pool")
        index[c.id] = i
    return index


def labeled_queries(queries: Sequence[RetrievalItem], index: dict[str, int], where: str
                    ) -> tuple[list[RetrievalItem], list[set[int]], int]:
    """The scorable queries, their relevant pool indices, and how many had none (skipped)."""
    unlabeled = sum(q.gold is None for q in queries)
    if unlabeled:
        raise UnlabeledSplitError(
            f"{where}: {unlabeled} of {len(queries)} queries have no gold candidates (the "
            "split is unlabeled), so mAP cannot be computed; evaluate a labeled split")
    missing = [(q.id, g) for q in queries for g in q.gold or () if g not in index]
    if missing:
        raise XstiltsError(f"{where}: {len(missing)} relevant id(s) are not in the candidate "
                           f"pool (e.g. query {missing[0][0]!r} -> {missing[0][1]!r}); AP@k "
                           "would count them as unretrievable, so the data is refused")
    kept = [q for q in queries if q.gold]
    skipped = len(queries) - len(kept)
    if not kept:
        raise UnlabeledSplitError(f"{where}: no query has a relevant candidate (unlabeled "
                                  "data?), so mAP cannot be computed")
    if skipped:
        logger.warning("%s: %d queries without any relevant candidate are left out", where,
                       skipped)
    return kept, [{index[g] for g in q.gold or ()} for q in kept], skipped


def write_pooled_predictions(path: Path, queries: Sequence[RetrievalItem],
                             candidates: Sequence[RetrievalItem], top: np.ndarray) -> None:
    """Per query: gold ids and the ranked top-k candidate ids, enough to re-compute AP@k."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        for query, row in zip(queries, top.tolist(), strict=True):
            out.write(json.dumps({"id": query.id, "gold": list(query.gold or ()),
                                  "prediction": [candidates[j].id for j in row]},
                                 ensure_ascii=False) + "\n")


def pooled_task_names() -> tuple[str, ...]:
    """The registered pooled retrieval tasks (Mewsli-X, LAReQA), for messages."""
    return tuple(t.name for t in list_tasks() if t.retrieval_kind == RetrievalKind.POOLED)


def evaluate_pooled_retrieval(
    model: EncoderLike, task_name: str | Task, languages: Sequence[str],
    data_dir: Path | str | None,
    *, split: str = "test", layer: int | None = None, pooling: str | None = None,
    prefix: str | None = None, batch_size: int = 64, autocast_bf16: bool = False,
    resamples: int = 1000, seed: int = 0, protocol: Protocol | None = None,
    predictions_dir: Path | None = None, k: int = MAP_K, max_queries: int | None = None,
    preset: str = "auto",
) -> list[dict]:
    """mAP@k per language of a pooled task (``mewsli-x`` or ``lareqa``), each with a CI.

    ``protocol`` wins over ``preset`` and ``layer``/``pooling``/``prefix`` (the preset's
    direction does not apply: a query searches one pool). Each row carries ``protocol``.
    ``max_queries`` keeps each
    language's first N queries but never shrinks the pool, so a capped score estimates the
    full one (unlike Tatoeba's ``max_pairs``). With ``predictions_dir``, ``LANG.jsonl`` holds
    each query's gold ids and ranked top-k candidate ids.
    """
    task = get_task(task_name) if isinstance(task_name, str) else task_name
    if task.retrieval_kind != RetrievalKind.POOLED:
        raise ValueError(f"pooled mAP retrieval supports {', '.join(pooled_task_names())}, "
                         f"not {task.name!r}")
    task_name = task.name
    name, encoder, tokenizer = load_model(model)
    if protocol is None:
        protocol = resolve_protocol(name, encoder, preset=preset, layer=layer, pooling=pooling,
                                    prefix=prefix)
    protocol = replace(protocol, direction=DIRECTION)
    recorded = {**protocol.to_dict(), "rank_cutoff": k}
    del recorded["k"]
    folder = Path(data_dir) if data_dir else None
    cached: tuple[tuple[str, ...], np.ndarray] | None = None  # (pool ids, pool vectors)
    results = []
    for language in languages:
        where = f"{task_name} {split}/{language}"
        items = task.load(split, language, folder)
        candidates = [i for i in items if i.side == "candidate"]
        queries = [i for i in items if i.side == "query"][:max_queries or None]
        kept, relevant, skipped = labeled_queries(queries, _pool_index(candidates, where), where)
        ids = tuple(c.id for c in candidates)
        if cached is None or cached[0] != ids:
            cached = (ids, embed_with_protocol(encoder, tokenizer, [c.text for c in candidates],
                                               protocol, f"{task_name} pool", batch_size,
                                               autocast_bf16))
        vectors = embed_with_protocol(encoder, tokenizer, [q.text for q in kept], protocol,
                                      f"{task_name} {language}", batch_size, autocast_bf16)
        top = top_k_candidates(vectors, cached[1], k)
        ap = ap_from_top_k(top, relevant, k)
        if predictions_dir is not None:
            write_pooled_predictions(language_file(predictions_dir, language), kept, candidates,
                                     top)
        low, high = bootstrap_interval(ap, resamples=resamples, seed=seed)
        results.append({"language": language, "direction": DIRECTION, "metric": f"map@{k}",
                        "value": float(ap.mean()), "ci_low": low, "ci_high": high,
                        "n": int(ap.size), "n_candidates": len(candidates),
                        "n_skipped": skipped, "split": split, "protocol": recorded})
    return results
