"""Sequence-tagging metrics: seqeval span F1 (XTREME's "F1"), token accuracy, entity F1.

XTREME scores both tagging tasks with ``seqeval`` (google-research/xtreme ``evaluate.py``:
``f1_score(labels, predictions)`` on the sentences of the tag files). For UD-POS that is *not*
token accuracy: seqeval chunks the raw UPOS tags into spans, so a run of equal tags is one span
and one wrong tag inside a run spoils the whole run. :func:`seqeval_prf` reproduces seqeval 1.x
(default mode) exactly, quirks included (see its docstring); UD-POS reports it as ``span_f1``
and token accuracy as a second metric, each named for what it is.

NER (PAN-X) keeps its own per-sentence entity extraction (``entity_f1``): seqeval's default
(non-strict, conlleval-compatible) mode, where an entity is a maximal run ``B-X I-X ...`` and,
leniently, an ``I-X`` that does not continue an entity of type ``X`` (after ``O``, after another
type, or at the start of a sentence) *starts* a new entity. On BIO tags this equals
:func:`seqeval_prf` (the sentence separator ``O`` closes every BIO entity). An entity counts as
correct only if type, start and end all match. Precision, recall and F1 are micro-averaged over
the corpus, with 0 where a denominator is 0.

The bootstrap resamples *sentences* (not tokens or entities): tokens within a sentence are
not independent, and span/entity F1 is not a mean of per-sentence scores, so each resample
re-sums the per-sentence counts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from xstilts.errors import UnlabeledSplitError
from xstilts.evaluation.metrics import Score, prf_from_counts

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


def entity_prf(
    gold: Sequence[Sequence[str] | None], predicted: Sequence[Sequence[str]]
) -> tuple[float, float, float]:
    """Micro precision, recall and F1 over all entities of the corpus."""
    tp, n_pred, n_gold = sentence_entity_counts(gold, predicted).sum(axis=0)
    p, r, f = prf_from_counts(np.asarray(tp), np.asarray(n_pred), np.asarray(n_gold))
    return float(p), float(r), float(f)


# --- seqeval 1.x span chunking --------------------------------------------------------------
# Written here rather than calling seqeval because (1) the bootstrap and the report's paired
# tests need per-sentence counts, which seqeval's scores do not expose; (2) the number must not
# change with the installed seqeval: releases before chakki-works/seqeval PR #38 (2020-07)
# parse raw tags differently (docs/tasks.md), and this pins the 1.x parsing; (3) seqeval warns
# once per non-BIO tag. tests/test_tagging_metrics_seqeval.py checks it against seqeval 1.2.2.

SEPARATOR = "O"
"""What seqeval inserts after every sentence when it flattens a corpus (and once more at the
end): sentences are chunked as one sequence, so its chunk state crosses sentence boundaries."""


def _seqeval_parse(tag: str) -> tuple[str, str]:
    """(chunk tag, type) as seqeval >= 1.0 reads a tag in its default (prefix) mode: the first
    character is the chunk tag; the type is what follows the first ``-`` after it, else the rest
    of the tag, else ``_``. ``B-PER`` -> (B, PER); ``NOUN`` -> (N, OUN); ``SCONJ`` -> (S, CONJ);
    ``X`` -> (X, _); ``O`` -> (O, _)."""
    return tag[0], tag[1:].split("-", 1)[-1] or "_"


def _chunk_ends(prev_tag: str, tag: str, prev_type: str, type_: str) -> bool:
    """seqeval's ``end_of_chunk``: a chunk ended between the previous and this tag."""
    if prev_tag in ("E", "S") or (prev_tag in ("B", "I") and tag in ("B", "S", "O")):
        return True
    return prev_tag not in ("O", ".") and prev_type != type_


def _chunk_starts(prev_tag: str, tag: str, prev_type: str, type_: str) -> bool:
    """seqeval's ``start_of_chunk``: a chunk starts at this tag."""
    if tag in ("B", "S") or (prev_tag in ("E", "S", "O") and tag in ("E", "I")):
        return True
    return tag not in ("O", ".") and prev_type != type_


def seqeval_spans(sentences: Sequence[Sequence[str]]) -> list[Entity]:
    """The spans (type, start, end) seqeval 1.x finds in a corpus of tag sentences.

    Offsets index the flattened corpus: every sentence followed by ``O``, then one more ``O``
    (so sentence k starts at sum of (len + 1) of the sentences before it). Quirks kept on
    purpose, since they are what XTREME's numbers contain: a tag without a B-/I- prefix is split
    at its first character (``NOUN`` is chunk tag ``N`` of type ``OUN``; ``SCONJ``/``SYM`` start
    with ``S`` and so are always single-token spans; ``CCONJ`` and ``SCONJ`` share the type
    ``CONJ``); and ``X`` has the type ``_`` of the ``O`` separator, so an ``X`` run at the end of
    a sentence is never closed (dropped), and an ``X`` opening a later sentence continues
    whatever span began last (a span that crosses sentences, attributed to where it began).
    """
    prev_tag, prev_type, begin = SEPARATOR, "", 0
    spans: list[Entity] = []
    parsed: dict[str, tuple[str, str]] = {}  # a tag set is small: parse each tag once
    i = 0
    for k, sentence in enumerate([*sentences, []]):
        for j, chunk in enumerate([*sentence, SEPARATOR]):
            if chunk not in parsed:
                if not isinstance(chunk, str) or not chunk:
                    raise ValueError(f"sentence {k}, token {j}: tag {chunk!r} is not a "
                                     "non-empty string")
                parsed[chunk] = _seqeval_parse(chunk)
            tag, type_ = parsed[chunk]
            if _chunk_ends(prev_tag, tag, prev_type, type_):
                spans.append((prev_type, begin, i - 1))
            if _chunk_starts(prev_tag, tag, prev_type, type_):
                begin = i
            prev_tag, prev_type = tag, type_
            i += 1
    return spans


def sentence_span_counts(
    gold: Sequence[Sequence[str] | None], predicted: Sequence[Sequence[str]]
) -> np.ndarray:
    """Per sentence: (correct spans, predicted spans, gold spans) of :func:`seqeval_spans`,
    shape (n, 3). Each span counts in the sentence holding its first token, so the rows sum to
    seqeval's corpus counts exactly (also for the rare span that crosses sentences)."""
    _check_pairs(gold, predicted)
    # flattened offset of each sentence's first tag (each sentence is followed by a separator)
    starts = np.cumsum([0] + [len(p) + 1 for p in predicted])[:-1]
    gold_spans = set(seqeval_spans(gold))  # type: ignore[arg-type]  # None ruled out above
    pred_spans = set(seqeval_spans(predicted))
    counts = np.zeros((len(gold), 3), dtype=np.float64)
    for column, spans in enumerate((gold_spans & pred_spans, pred_spans, gold_spans)):
        owner = np.searchsorted(starts, [start for _, start, _ in spans], side="right") - 1
        np.add.at(counts[:, column], owner, 1.0)
    return counts


def _seqeval_from_sums(tp: float, n_pred: float, n_gold: float) -> tuple[float, float, float]:
    """P, R, F1 from corpus counts in seqeval's order of operations (F1 from P and R), so the
    value is bit-identical to seqeval's; 0 where a denominator is 0 (its zero_division)."""
    p = tp / n_pred if n_pred else 0.0
    r = tp / n_gold if n_gold else 0.0
    f = 2.0 * p * r / (p + r) if p + r else 0.0
    return float(p), float(r), float(f)


def seqeval_prf(
    gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]]
) -> tuple[float, float, float]:
    """Micro precision, recall and F1 (fractions) exactly as seqeval 1.x's default-mode
    ``precision_score`` / ``recall_score`` / ``f1_score`` give them for these sentences: XTREME's
    F1 for UD-POS (raw UPOS tags) and PAN-X (BIO tags)."""
    return _seqeval_from_sums(*sentence_span_counts(gold, predicted).sum(axis=0))


def _sentence_bootstrap(
    counts: np.ndarray, statistic: Callable[[np.ndarray], np.ndarray], *,
    resamples: int, confidence: float, seed: int,
) -> tuple[float | None, float | None]:
    """Percentile interval of ``statistic(summed counts)`` over resampled sentences; none
    (None, None) for ``resamples=0``."""
    if resamples == 0:
        return None, None
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
    value = prf_from_counts(*counts.sum(axis=0))[2]
    low, high = _sentence_bootstrap(counts, lambda s: prf_from_counts(s[:, 0], s[:, 1], s[:, 2])[2],
                                    resamples=resamples, confidence=confidence, seed=seed)
    return Score("entity_f1", float(value), low, high, int(counts.shape[0]))


def score_span_f1(
    gold: Sequence[Sequence[str] | None], predicted: Sequence[Sequence[str]], *,
    resamples: int = 1000, confidence: float = 0.95, seed: int = 0,
) -> Score:
    """``span_f1``: seqeval span F1 over raw UPOS tags, XTREME's UD-POS F1 (see
    :func:`seqeval_spans`), with a sentence-level bootstrap interval (n = number of sentences)."""
    counts = sentence_span_counts(gold, predicted)
    value = _seqeval_from_sums(*counts.sum(axis=0))[2]
    low, high = _sentence_bootstrap(counts, lambda s: prf_from_counts(s[:, 0], s[:, 1], s[:, 2])[2],
                                    resamples=resamples, confidence=confidence, seed=seed)
    return Score("span_f1", value, low, high, int(counts.shape[0]))
