"""Sequence-tagging metrics: token accuracy (UD-POS) and entity-level F1 (WikiANN NER).

XTREME reports UD-POS as "F1", but with one tag per token and every token tagged, micro F1
equals token accuracy, which is what is computed here. NER is scored like ``seqeval`` in its
default (non-strict, conlleval-compatible) mode, which XTREME uses: an entity is a maximal
run ``B-X I-X ...`` and, leniently, an ``I-X`` that does not continue an entity of type ``X``
(after ``O``, after another type, or at the start of a sentence) *starts* a new entity. An
entity counts as correct only if type, start and end all match. Precision, recall and F1 are
micro-averaged over all entities of the corpus, with 0 where a denominator is 0.

The bootstrap resamples *sentences* (not tokens or entities): tokens within a sentence are
not independent, and entity F1 is not a mean of per-sentence scores, so each resample
re-sums the per-sentence counts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from xstilts.errors import UnlabeledSplitError
from xstilts.evaluation.metrics import Score

Entity = tuple[str, int, int]  # (type, first token, last token), inclusive


def _check_pairs(gold: Sequence[Sequence[str] | None], predicted: Sequence[Sequence[str]]) -> None:
    if any(g is None for g in gold):
        raise UnlabeledSplitError(
            "this split has no gold tags (XTREME strips test labels), so it cannot be "
            "scored; evaluate on a labeled split (e.g. dev) instead"
        )
    if len(gold) != len(predicted) or len(gold) == 0:
        raise ValueError("need as many predicted sentences as gold sentences, at least one")
    for i, (g, p) in enumerate(zip(gold, predicted, strict=True)):
        if len(g) != len(p):
            raise ValueError(f"sentence {i}: {len(g)} gold tags but {len(p)} predicted")


def _split_tag(tag: str) -> tuple[str, str]:
    """('B'|'I'|'O', type); a bare 'B'/'I' gets the placeholder type '_' as in seqeval."""
    if tag == "O":
        return "O", ""
    prefix, _, kind = tag.partition("-")
    if prefix not in ("B", "I"):
        raise ValueError(f"tag {tag!r} is not BIO (expected O, B-TYPE or I-TYPE)")
    return prefix, kind or "_"


def extract_entities(tags: Sequence[str]) -> list[Entity]:
    """Entities of one sentence of BIO tags, with seqeval's default (lenient) chunking."""
    entities: list[Entity] = []
    start, current = -1, ""  # current == "" means no open entity
    for i, tag in enumerate(tags):
        prefix, kind = _split_tag(tag)
        continues = prefix == "I" and kind == current
        if current and not continues:
            entities.append((current, start, i - 1))
            current = ""
        if prefix in ("B", "I") and not continues:
            start, current = i, kind
    if current:
        entities.append((current, start, len(tags) - 1))
    return entities


def sentence_token_counts(
    gold: Sequence[Sequence[str] | None], predicted: Sequence[Sequence[str]]
) -> tuple[np.ndarray, np.ndarray]:
    """Per sentence: (number of correctly tagged tokens, number of tokens)."""
    _check_pairs(gold, predicted)
    correct = np.array([sum(a == b for a, b in zip(g, p, strict=True))
                        for g, p in zip(gold, predicted, strict=True)], dtype=np.float64)
    total = np.array([len(g) for g in gold], dtype=np.float64)
    return correct, total


def token_accuracy(
    gold: Sequence[Sequence[str] | None], predicted: Sequence[Sequence[str]]
) -> float:
    """Fraction of tokens (over the whole corpus) whose predicted tag equals the gold tag."""
    correct, total = sentence_token_counts(gold, predicted)
    if total.sum() == 0:
        raise ValueError("no tokens to score")
    return float(correct.sum() / total.sum())


def sentence_entity_counts(
    gold: Sequence[Sequence[str] | None], predicted: Sequence[Sequence[str]]
) -> np.ndarray:
    """Per sentence: (true positives, predicted entities, gold entities), shape (n, 3)."""
    _check_pairs(gold, predicted)
    rows = []
    for g, p in zip(gold, predicted, strict=True):
        gold_set, pred_set = set(extract_entities(g)), set(extract_entities(p))
        rows.append((len(gold_set & pred_set), len(pred_set), len(gold_set)))
    return np.array(rows, dtype=np.float64).reshape(-1, 3)


def _prf(tp: np.ndarray, n_pred: np.ndarray, n_gold: np.ndarray) -> tuple[np.ndarray, ...]:
    """Precision, recall and F1 from (possibly vectors of) counts; 0 where undefined."""
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(n_pred > 0, tp / n_pred, 0.0)
        recall = np.where(n_gold > 0, tp / n_gold, 0.0)
        f1 = np.where(n_pred + n_gold > 0, 2 * tp / (n_pred + n_gold), 0.0)
    return precision, recall, f1


def entity_prf(
    gold: Sequence[Sequence[str] | None], predicted: Sequence[Sequence[str]]
) -> tuple[float, float, float]:
    """Micro precision, recall and F1 over all entities of the corpus."""
    tp, n_pred, n_gold = sentence_entity_counts(gold, predicted).sum(axis=0)
    p, r, f = _prf(np.asarray(tp), np.asarray(n_pred), np.asarray(n_gold))
    return float(p), float(r), float(f)


def _sentence_bootstrap(
    counts: np.ndarray, statistic: Callable[[np.ndarray], np.ndarray], *,
    resamples: int, confidence: float, seed: int,
) -> tuple[float, float]:
    """Percentile interval of ``statistic(summed counts)`` over resampled sentences."""
    rng = np.random.default_rng(seed)
    n = counts.shape[0]
    # Multinomial weights = how often each sentence is drawn; avoids an (R, n, k) tensor.
    weights = rng.multinomial(n, np.full(n, 1.0 / n), size=resamples).astype(np.float64)
    values = statistic(weights @ counts)
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(values, [alpha, 1.0 - alpha])
    return float(low), float(high)


def score_token_accuracy(
    gold: Sequence[Sequence[str] | None], predicted: Sequence[Sequence[str]], *,
    resamples: int = 1000, confidence: float = 0.95, seed: int = 0,
) -> Score:
    """Token accuracy with a sentence-level bootstrap interval (n = number of tokens)."""
    correct, total = sentence_token_counts(gold, predicted)
    counts = np.stack([correct, total], axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        low, high = _sentence_bootstrap(counts, lambda s: s[:, 0] / s[:, 1], resamples=resamples,
                                        confidence=confidence, seed=seed)
    return Score("token_accuracy", float(correct.sum() / total.sum()), low, high,
                 int(total.sum()))


def score_entity_f1(
    gold: Sequence[Sequence[str] | None], predicted: Sequence[Sequence[str]], *,
    resamples: int = 1000, confidence: float = 0.95, seed: int = 0,
) -> Score:
    """Entity micro F1 with a sentence-level bootstrap interval (n = number of sentences)."""
    counts = sentence_entity_counts(gold, predicted)
    value = _prf(*counts.sum(axis=0))[2]
    low, high = _sentence_bootstrap(counts, lambda s: _prf(s[:, 0], s[:, 1], s[:, 2])[2],
                                    resamples=resamples, confidence=confidence, seed=seed)
    return Score("entity_f1", float(value), low, high, int(counts.shape[0]))
