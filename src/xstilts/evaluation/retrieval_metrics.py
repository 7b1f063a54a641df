"""Retrieval metrics: Tatoeba accuracy, margin-based bitext mining (BUCC) and mAP@20.

- Tatoeba (XTREME): each query sentence retrieves its nearest neighbour by cosine
  similarity among all target sentences; accuracy = fraction whose neighbour is the
  translation. Ties go to the lowest candidate index (``argmax``), so a score is a pure
  function of the similarity matrix.
- BUCC (XTREME): candidates are scored with the *ratio margin* of Artetxe & Schwenk (2019,
  "Margin-based parallel corpus mining with multilingual sentence embeddings"), k = 4:
  ``margin(x, y) = cos(x, y) / (sum_{z in NN_k(x)} cos(x, z) / 2k
  + sum_{z in NN_k(y)} cos(y, z) / 2k)``, NN_k taken in the *other* language. The margin
  discounts "hub" sentences that are close to everything. How candidates are mined (forward
  and backward k-NN, XTREME's one-to-one ``max`` merge) is in :mod:`.bucc`. Pairs scoring at
  or above a threshold are extracted; :func:`best_threshold` finds the F1-optimal one.
- mAP@20 (XTREME-R, for LAReQA and Mewsli-X): for each query, the precision at every rank
  <= 20 that holds a relevant item, summed and divided by min(#relevant, 20); then the mean
  over queries. Rankings sort by descending score; equal scores rank the *higher* index first,
  as XTREME-R's ``np.squeeze(scores).argsort()[::-1]`` does (third_party/utils_lareqa.py,
  ``mean_avg_prec_at_k``) when the ascending sort keeps ties in index order.
"""

from __future__ import annotations

from collections.abc import Collection, Hashable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from xstilts.evaluation.metrics import prf_from_counts

Pair = tuple[Hashable, Hashable]


def _matrix(similarity: np.ndarray) -> np.ndarray:
    sim = np.asarray(similarity, dtype=np.float64)
    if sim.ndim != 2 or 0 in sim.shape:
        raise ValueError(f"expected a non-empty 2-D similarity matrix, got shape {sim.shape}")
    if not np.isfinite(sim).all():
        raise ValueError("similarity matrix has NaN or infinite entries")
    return sim


def cosine_similarity(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Cosine similarity between the rows of ``x`` and the rows of ``y``."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    nx, ny = np.linalg.norm(x, axis=1, keepdims=True), np.linalg.norm(y, axis=1, keepdims=True)
    if (nx == 0).any() or (ny == 0).any():
        raise ValueError("a zero vector has no direction, so no cosine similarity")
    return (x / nx) @ (y / ny).T


def nearest_neighbor_correct(
    similarity: np.ndarray, gold: Sequence[int] | None = None
) -> np.ndarray:
    """Per query (row): 1.0 if its top-1 candidate (column) is the gold one, else 0.0.

    ``gold`` defaults to the diagonal (query i's translation is candidate i), the Tatoeba
    layout. ``np.argmax`` returns the first maximum, i.e. ties go to the lowest index.
    """
    sim = _matrix(similarity)
    target = np.arange(sim.shape[0]) if gold is None else np.asarray(gold)
    if target.shape != (sim.shape[0],):
        raise ValueError("need one gold candidate index per query row")
    if gold is None and sim.shape[1] < sim.shape[0]:
        raise ValueError("diagonal gold needs at least as many candidates as queries")
    return (sim.argmax(axis=1) == target).astype(np.float64)


def tatoeba_accuracy(similarity: np.ndarray, gold: Sequence[int] | None = None) -> float:
    """Top-1 retrieval accuracy (fraction in [0, 1]) from a query-by-candidate matrix."""
    return float(nearest_neighbor_correct(similarity, gold).mean())


def _mean_top_k(sim: np.ndarray, k: int, axis: int) -> np.ndarray:
    k = min(k, sim.shape[axis])
    top = -np.partition(-sim, k - 1, axis=axis)
    top = top[:k] if axis == 0 else top[:, :k]
    return top.mean(axis=axis)


def ratio_margin(similarity: np.ndarray, k: int = 4) -> np.ndarray:
    """Ratio-margin score for every (source row, target column) pair of a cosine matrix.

    ``cos(x, y) / ((mean_k(x) + mean_k(y)) / 2)``, which is the Artetxe & Schwenk formula:
    sum/2k + sum/2k = (mean + mean)/2. ``mean_k(x)`` averages x's k most similar targets,
    ``mean_k(y)`` y's k most similar sources (k is capped at the number available).
    """
    if k < 1:
        raise ValueError("k must be at least 1")
    sim = _matrix(similarity)
    forward = _mean_top_k(sim, k, axis=1)  # per source row
    backward = _mean_top_k(sim, k, axis=0)  # per target column
    denominator = (forward[:, None] + backward[None, :]) / 2.0
    if (denominator <= 0).any():
        raise ValueError("ratio margin is undefined where the neighbourhood similarity is <= 0")
    return sim / denominator


def _unique_candidates(candidates: Iterable[tuple[Hashable, Hashable, float]]) -> dict[Pair, float]:
    table: dict[Pair, float] = {}
    for src, tgt, score in candidates:
        if (src, tgt) in table:
            raise ValueError(f"candidate pair {(src, tgt)!r} appears twice")
        table[(src, tgt)] = float(score)
    return table


@dataclass(frozen=True)
class MiningScore:
    """Precision, recall and F1 of extracted pairs at one threshold."""

    precision: float
    recall: float
    f1: float
    threshold: float
    n_extracted: int
    n_correct: int
    n_gold: int


def extracted_pairs(candidates: Iterable[tuple[Hashable, Hashable, float]],
                    threshold: float) -> set[Pair]:
    """The candidate pairs kept at ``threshold`` (score >= it): what :func:`bucc_f1` scores."""
    return {pair for pair, score in _unique_candidates(candidates).items()
            if score >= threshold}


def bucc_f1(
    candidates: Iterable[tuple[Hashable, Hashable, float]], gold: Collection[Pair],
    threshold: float,
) -> MiningScore:
    """Score the candidate pairs whose score is >= ``threshold`` against the gold pairs."""
    gold_set = set(gold)
    if not gold_set:
        raise ValueError("the gold set is empty, so recall and F1 are undefined")
    extracted = extracted_pairs(candidates, threshold)
    n_correct = len(extracted & gold_set)
    p, r, f = (float(v) for v in prf_from_counts(
        np.asarray(n_correct), np.asarray(len(extracted)), np.asarray(len(gold_set))))
    return MiningScore(p, r, f, float(threshold), len(extracted), n_correct, len(gold_set))


def best_threshold(
    candidates: Iterable[tuple[Hashable, Hashable, float]], gold: Collection[Pair]
) -> MiningScore:
    """The threshold that maximises F1 on these (dev) candidates, with its scores.

    Every cut between two distinct scores is tried, and the cut after the last candidate
    (keep them all). Tied scores are kept or dropped together, since ``>=`` cannot separate
    them. The returned threshold is the midpoint between the lowest kept score and the next
    lower score, so it generalises to test scores a little better than the kept score itself;
    it is the lowest kept score when nothing is below it, or when the midpoint rounds onto
    the lower score. On equal F1 the higher threshold (fewer pairs) wins.

    XTREME's ``bucc_optimize`` (third_party/utils_retrieve.py) differs at both edges: it
    evaluates F1 after every candidate, so it can pick a cut inside a run of equal scores
    whose midpoint then keeps the whole run (the F1 it optimised is not the one extracted),
    and a best cut after the last candidate indexes past the list (IndexError).
    """
    gold_set = set(gold)
    if not gold_set:
        raise ValueError("the gold set is empty, so recall and F1 are undefined")
    table = _unique_candidates(candidates)
    if not table:
        raise ValueError("no candidate pairs to choose a threshold from")
    pairs = list(table)
    scores = np.array([table[p] for p in pairs])
    hits = np.array([p in gold_set for p in pairs], dtype=np.int64)
    order = np.argsort(-scores, kind="stable")
    scores, hits = scores[order], hits[order]
    n_extracted = np.arange(1, len(scores) + 1)
    n_correct = np.cumsum(hits)
    # Only cut after the last of a run of equal scores.
    is_cut = np.append(scores[1:] < scores[:-1], True)
    f1 = np.where(is_cut, 2 * n_correct / (n_extracted + len(gold_set)), -1.0)
    best = int(np.argmax(f1))
    threshold = scores[best]
    if best < len(scores) - 1:
        middle = (scores[best] + scores[best + 1]) / 2
        threshold = middle if middle > scores[best + 1] else scores[best]
    return bucc_f1(table_items(table), gold_set, float(threshold))


def table_items(table: dict[Pair, float]) -> list[tuple[Hashable, Hashable, float]]:
    """(source, target, score) triples from a pair -> score table."""
    return [(src, tgt, score) for (src, tgt), score in table.items()]


def _ranking(scores: np.ndarray) -> np.ndarray:
    """Candidate indices by descending score, equal scores higher index first.

    XTREME-R ranks with ``scores.argsort()[::-1]``: ascending, then reversed, so a tie run
    comes out in descending index order. Its default quicksort does not promise an order
    for ties; a stable ascending sort does, which makes the rule exact and deterministic.
    """
    return np.argsort(scores, axis=-1, kind="stable")[..., ::-1]


def average_precision_at_k(
    scores: Sequence[float] | np.ndarray, relevant: Collection[int], k: int = 20
) -> float:
    """AP@k of one query: sum of precision@r over relevant ranks r <= k / min(|rel|, k)."""
    return float(map_at_k(np.asarray(scores, dtype=np.float64)[None, :], [relevant], k))


def map_at_k(scores: np.ndarray, relevant: Sequence[Collection[int]], k: int = 20) -> float:
    """Mean AP@k over queries (rows of ``scores``); every query needs >= 1 relevant item."""
    return float(ap_at_k_per_query(scores, relevant, k).mean())


def ap_at_k_per_query(
    scores: np.ndarray, relevant: Sequence[Collection[int]], k: int = 20
) -> np.ndarray:
    """Per-query AP@k, so mAP@k can be bootstrapped or compared per query."""
    s = _matrix(scores)
    if len(relevant) != s.shape[0]:
        raise ValueError("need one set of relevant candidate indices per query row")
    if k < 1:
        raise ValueError("k must be at least 1")
    n_queries, n_candidates = s.shape
    is_relevant = np.zeros_like(s, dtype=bool)
    for q, rel in enumerate(relevant):
        idx = np.fromiter(rel, dtype=np.int64)
        if idx.size == 0:
            raise ValueError(f"query {q} has no relevant candidate; AP is undefined")
        if idx.min() < 0 or idx.max() >= n_candidates:
            raise ValueError(f"query {q}: relevant index out of range 0..{n_candidates - 1}")
        is_relevant[q, idx] = True
    top = _ranking(s)[:, :k]
    hits = np.take_along_axis(is_relevant, top, axis=1).astype(np.float64)
    precision_at_rank = np.cumsum(hits, axis=1) / np.arange(1, top.shape[1] + 1)
    n_relevant = np.minimum(is_relevant.sum(axis=1), k)
    return (precision_at_rank * hits).sum(axis=1) / n_relevant
