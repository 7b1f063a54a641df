"""BUCC 2018 bitext mining as XTREME mines it, and the threshold protocols that score it.

Mining follows ``mine_bitext`` of google-research/xtreme ``third_party/utils_retrieve.py`` with
the arguments ``third_party/run_retrieval.py`` passes for BUCC (``scripts/run_bucc2018.sh``):
``mode='mine'``, ``retrieval='max'``, ``margin='ratio'``, ``neighborhood=4``, ``dist='cosine'``,
``threshold=0``:

1. k-nearest neighbours by cosine in both directions (each source among the targets, each
   target among the sources; k = 4, capped at the side's size);
2. ratio margin of a pair: ``cos(x, y) / ((mean_k(x) + mean_k(y)) / 2)``, the means over the
   k-NN cosines found in step 1;
3. forward candidate of a source: its best target by margin *among its k nearest*; backward
   candidate of a target: its best source among its k nearest;
4. mode ``max`` (the official one): all forward and backward candidates in one list, by
   descending margin, kept greedily when neither side is taken yet (a one-to-one set), then
   only margins > 0. Also available: ``intersect`` (forward candidates that are also the
   backward candidate of their target), ``fwd`` and ``bwd``.

Deterministic where XTREME leaves the order to faiss or to numpy's unstable quicksort: k-NN
ties go to the lower index, the best-of-k tie to the nearer neighbour, and in ``max`` equal
margins keep list order (forward candidates by source index, then backward ones by target
index). Not reproduced: XTREME first merges sentences with identical text and drops every
sentence whose text occurs twice on its side from the candidates (read_sent2id); on zh-en dev
that concerns 18 zh and 28 en lines, none of them in a gold pair.

Threshold protocols (each reports F1 of the pairs with margin >= threshold):
``best_threshold`` on dev applied to test (XTREME, when test gold exists), dev-on-dev
(optimistic), and :func:`split_half`, which tunes on one half of the dev sources and scores
the other half, then the reverse, so no score sees its own threshold.
"""

from __future__ import annotations

from collections.abc import Collection, Hashable, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from xstilts.evaluation.retrieval_metrics import MiningScore, Pair, best_threshold, bucc_f1

MINING_MODES = ("max", "intersect", "fwd", "bwd")
XTREME_MODE = "max"
Candidate = tuple[int, int, float]


def top_k_rows(similarity: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the k largest entries (capped at the row length), best first, ties to the
    lowest column; returns (values, column indices), each of shape (rows, k).

    ``np.partition`` finds each row's k-th largest value in linear time; only entries at or
    above it are sorted, so a 8.6k x 13.6k BUCC block costs no full sort.
    """
    sim = np.asarray(similarity, dtype=np.float64)
    if sim.ndim != 2 or 0 in sim.shape:
        raise ValueError(f"expected a non-empty 2-D similarity matrix, got shape {sim.shape}")
    if k < 1:
        raise ValueError("k must be at least 1")
    n_rows, n_cols = sim.shape
    kk = min(k, n_cols)
    kth = np.partition(sim, n_cols - kk, axis=1)[:, n_cols - kk]
    rows, cols = np.nonzero(sim >= kth[:, None])
    values = sim[rows, cols]
    order = np.lexsort((cols, -values, rows))
    rows, cols, values = rows[order], cols[order], values[order]
    rank = np.arange(rows.size) - np.searchsorted(rows, np.arange(n_rows))[rows]
    keep = rank < kk
    return values[keep].reshape(n_rows, kk), cols[keep].reshape(n_rows, kk)


def _unit_rows(vectors: np.ndarray, side: str) -> np.ndarray:
    v = np.asarray(vectors, dtype=np.float64)
    if v.ndim != 2 or 0 in v.shape or not np.isfinite(v).all():
        raise ValueError(f"{side}: expected a non-empty finite 2-D array, got shape {v.shape}")
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    if (norms == 0).any():
        raise ValueError(f"{side}: a zero vector has no direction, so no cosine similarity")
    return v / norms


def nearest_neighbours(queries: np.ndarray, database: np.ndarray, k: int,
                       block: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """Cosine k-NN of every query row among the database rows (see :func:`top_k_rows`),
    ``block`` queries at a time so the full similarity matrix never exists."""
    q, d = _unit_rows(queries, "queries"), _unit_rows(database, "database")
    parts = [top_k_rows(q[s:s + block] @ d.T, k) for s in range(0, len(q), block)]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def _best_of_k(values: np.ndarray, index: np.ndarray, own_mean: np.ndarray,
               other_mean: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Margin of each row's k neighbours, and the best neighbour with its margin."""
    denominator = (own_mean[:, None] + other_mean[index]) / 2.0
    if (denominator <= 0).any():
        raise ValueError("ratio margin is undefined where the neighbourhood similarity is <= 0")
    margin = values / denominator
    pick = margin.argmax(axis=1)  # first maximum: the nearer neighbour wins a tie
    rows = np.arange(len(pick))
    return index[rows, pick], margin[rows, pick]


def mine_from_neighbours(forward: tuple[np.ndarray, np.ndarray],
                         backward: tuple[np.ndarray, np.ndarray],
                         mode: str = XTREME_MODE) -> list[Candidate]:
    """Candidate (source, target, margin) triples from the k-NN of both directions:
    ``forward`` = (cosines, target indices) per source, ``backward`` = (cosines, source
    indices) per target, as :func:`nearest_neighbours` returns them."""
    if mode not in MINING_MODES:
        raise ValueError(f"mining mode must be one of {MINING_MODES}, got {mode!r}")
    (f_val, f_idx), (b_val, b_idx) = forward, backward
    f_mean, b_mean = f_val.mean(axis=1), b_val.mean(axis=1)
    fwd_best, fwd_score = _best_of_k(f_val, f_idx, f_mean, b_mean)
    bwd_best, bwd_score = _best_of_k(b_val, b_idx, b_mean, f_mean)
    fwd = [(i, int(j), float(s))
           for i, (j, s) in enumerate(zip(fwd_best, fwd_score, strict=True))]
    bwd = [(int(i), j, float(s))
           for j, (i, s) in enumerate(zip(bwd_best, bwd_score, strict=True))]
    if mode == "fwd":
        return fwd
    if mode == "bwd":
        return bwd
    if mode == "intersect":
        return [(i, j, s) for i, j, s in fwd if bwd_best[j] == i]
    return _greedy_one_to_one(fwd + bwd)


def _greedy_one_to_one(candidates: list[Candidate]) -> list[Candidate]:
    """XTREME's ``max`` merge: best margin first, a pair is kept when neither its source nor
    its target is taken; both ends count as taken even for a margin <= 0 (as there), and
    only margins > 0 are returned (XTREME's ``threshold=0`` with ``>``)."""
    order = np.argsort([-s for _, _, s in candidates], kind="stable")
    seen_src: set[int] = set()
    seen_tgt: set[int] = set()
    kept = []
    for n in order:
        i, j, s = candidates[n]
        if i in seen_src or j in seen_tgt:
            continue
        seen_src.add(i)
        seen_tgt.add(j)
        if s > 0:
            kept.append((i, j, s))
    return kept


def mine_from_similarity(similarity: np.ndarray, k: int = 4,
                         mode: str = XTREME_MODE) -> list[Candidate]:
    """Mine from a full source-by-target cosine matrix (small inputs, tests)."""
    sim = np.asarray(similarity, dtype=np.float64)
    return mine_from_neighbours(top_k_rows(sim, k), top_k_rows(sim.T, k), mode)


def mine_from_vectors(source: np.ndarray, target: np.ndarray, k: int = 4,
                      mode: str = XTREME_MODE, block: int = 1024) -> list[Candidate]:
    """Mine from sentence embeddings, block by block (BUCC sides have ~10k sentences)."""
    return mine_from_neighbours(nearest_neighbours(source, target, k, block),
                                nearest_neighbours(target, source, k, block), mode)


# --- threshold protocols -------------------------------------------------------------------


@dataclass(frozen=True)
class HalfScore:
    """One direction of the split-half protocol: the threshold tuned on one half, and the
    scores it gets on the other."""

    tuned_on: str
    scored_on: str
    threshold: float
    f1: float
    precision: float
    recall: float
    n_gold: int
    n_extracted: int
    n_correct: int
    n_source: int


@dataclass(frozen=True)
class SplitHalf:
    """Mean F1 of the two directions (A -> B, B -> A) and both halves' details."""

    f1: float
    halves: tuple[HalfScore, HalfScore]
    seed: int

    def to_dict(self) -> dict:
        return {"f1": self.f1, "seed": self.seed, "halves": [asdict(h) for h in self.halves]}


def split_sources(sources: Sequence[Hashable], gold_sources: Collection[Hashable],
                  seed: int = 0) -> tuple[set, set]:
    """Two disjoint halves of ``sources``, stratified: the sources with a gold pair and the
    others are each permuted with ``seed`` and cut in half (A gets the floor), so both
    halves hold about half of the gold pairs whatever the seed."""
    rng = np.random.default_rng(seed)
    if len(set(sources)) != len(sources):
        raise ValueError("source ids must be unique to split them")
    half_a: set = set()
    half_b: set = set()
    gold = set(gold_sources)
    for group in ([s for s in sources if s in gold], [s for s in sources if s not in gold]):
        order = rng.permutation(len(group))
        cut = len(group) // 2
        half_a.update(group[i] for i in order[:cut])
        half_b.update(group[i] for i in order[cut:])
    return half_a, half_b


def _restrict(candidates: Sequence[tuple[Hashable, Hashable, float]], gold: Collection[Pair],
              half: set) -> tuple[list, set]:
    return [c for c in candidates if c[0] in half], {g for g in gold if g[0] in half}


def score_halves(candidates: Sequence[tuple[Hashable, Hashable, float]],
                 gold: Collection[Pair], half_a: set, half_b: set, seed: int = 0) -> SplitHalf:
    """Tune the threshold on half A's candidates and gold, score half B at it, and the
    reverse; a candidate or gold pair belongs to the half of its source sentence."""
    if half_a & half_b:
        raise ValueError("the two halves share source sentences")
    scores = []
    for (tune_name, tune), (score_name, score) in ((("A", half_a), ("B", half_b)),
                                                   (("B", half_b), ("A", half_a))):
        tune_c, tune_g = _restrict(candidates, gold, tune)
        score_c, score_g = _restrict(candidates, gold, score)
        if not tune_g or not score_g:
            raise ValueError("split-half scoring needs gold pairs in both halves (at least 2 "
                             "gold pairs in all)")
        if not tune_c:
            raise ValueError(f"half {tune_name} has no candidate pair to tune a threshold on")
        tuned = best_threshold(tune_c, tune_g)
        s: MiningScore = bucc_f1(score_c, score_g, tuned.threshold)
        scores.append(HalfScore(tune_name, score_name, tuned.threshold, s.f1, s.precision,
                                s.recall, s.n_gold, s.n_extracted, s.n_correct, len(score)))
    return SplitHalf(float(np.mean([h.f1 for h in scores])), (scores[0], scores[1]), seed)


def split_half(candidates: Sequence[tuple[Hashable, Hashable, float]], gold: Collection[Pair],
               sources: Sequence[Hashable], seed: int = 0) -> SplitHalf:
    """Unbiased F1 when only dev has gold: seeded stratified halves of the dev sources
    (:func:`split_sources`), tuned on one and scored on the other, both ways
    (:func:`score_halves`). Mining itself runs on the whole split, as it would on test."""
    half_a, half_b = split_sources(sources, {g[0] for g in gold}, seed)
    return score_halves(candidates, gold, half_a, half_b, seed)
