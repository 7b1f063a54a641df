"""Token tagging over pre-split words (UD-POS, PAN-X / WikiANN NER).

Words are tokenised into sub-tokens; only the FIRST sub-token of a word carries its tag, the
others and the special tokens are ignored by the loss (label -100), and the prediction for a
word is read at its first sub-token (first-subword labelling, as XTREME does).

Long sentences are never truncated: a sentence whose sub-tokens do not fit in
``max_seq_length`` is split, at word boundaries, into several rows (no overlap between the
pieces), and decoding stitches the pieces back, so every word of every sentence gets a
prediction and is counted by the metric. Only a single word longer than a whole row loses its
tail sub-tokens, which costs nothing because its tag is read at the first one. A word that
the tokenizer turns into no sub-token at all (rare; some control characters) cannot be read
by the model: it is predicted as the task's fallback tag (``O`` for BIO tasks, otherwise the
first label) and still scored.

Scoring: BIO label sets (every label ``O``, ``B-*`` or ``I-*``: PAN-X) get entity-level F1;
other label sets (UD-POS) get ``span_f1`` first (XTREME's "F1": seqeval span F1 over the raw
tags, see :mod:`xstilts.evaluation.tagging_metrics`), then ``token_accuracy``. The first score is
the primary metric (:meth:`TaggingHandler.primary_metric`: dev-set model selection, report
headline). Both tasks carry ``metric: f1`` in the task registry, so the label set, not that
field, decides.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn
from transformers import PreTrainedTokenizerBase

from xstilts.errors import XstiltsError
from xstilts.evaluation.metrics import Score
from xstilts.evaluation.tagging_metrics import (
    score_entity_f1,
    score_span_f1,
    score_token_accuracy,
    sentence_entity_counts,
    sentence_span_counts,
    sentence_token_counts,
)
from xstilts.tasks.base import TaggingExample, Task, TaskType
from xstilts.tasktypes.base import (
    FeatureOptions,
    Features,
    TaskTypeHandler,
    collate_token_rows,
    pad_sequences,
)
from xstilts.tasktypes.per_example import (
    ENTITY_F1,
    SPAN_F1,
    ExampleStatistics,
    mean_statistics,
    ratio_statistics,
)
from xstilts.tasktypes.registry import register_handler

IGNORE = -100
"""Label of sub-tokens the loss skips (cross_entropy's default ignore_index)."""


class TokenTaggingHead(nn.Module):
    """Dropout and a linear layer over every token state (one logit per tag)."""

    def __init__(self, hidden_size: int, num_labels: int, dropout: float = 0.1):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(hidden_size, num_labels)

    def forward(self, encoder: nn.Module, batch: dict[str, torch.Tensor]
                ) -> tuple[torch.Tensor | None, torch.Tensor]:
        hidden = encoder(input_ids=batch["input_ids"],
                         attention_mask=batch["attention_mask"]).last_hidden_state
        logits = self.out(self.dropout(hidden)).float()
        loss = None
        if "labels" in batch:
            loss = nn.functional.cross_entropy(logits.flatten(0, 1), batch["labels"].flatten(),
                                               ignore_index=IGNORE)
        return loss, logits


def is_bio(labels: Sequence[str]) -> bool:
    """Whether a label set is BIO-encoded entities (then entity F1 is the right metric)."""
    return bool(labels) and "O" in labels and all(
        tag == "O" or tag.startswith(("B-", "I-")) for tag in labels)


def fallback_tag(labels: Sequence[str]) -> int:
    """The tag given to words the model cannot see (no sub-token): 'O' when there is one."""
    return labels.index("O") if "O" in labels else 0


def split_into_pieces(subtoken_counts: Sequence[int], budget: int) -> list[tuple[int, int]]:
    """Word ranges [start, end) whose sub-tokens fit ``budget`` per piece, greedily.

    A word longer than the budget on its own gets a piece of its own (the tokenizer then
    truncates its tail). An empty sentence gives one empty piece, so it still has a row.
    """
    pieces: list[tuple[int, int]] = []
    start, used = 0, 0
    for i, count in enumerate(subtoken_counts):
        if used + count > budget and i > start:
            pieces.append((start, i))
            start, used = i, 0
        used += count
    pieces.append((start, len(subtoken_counts)))
    return pieces


def _subtoken_counts(examples: Sequence[TaggingExample],
                     tokenizer: PreTrainedTokenizerBase) -> list[list[int]]:
    """Per sentence, per word: how many sub-tokens the word becomes."""
    if not examples:
        return []
    # verbose=False: whole sentences may exceed the model's length here; they are split later.
    encoded = tokenizer([list(ex.tokens) for ex in examples], is_split_into_words=True,
                        add_special_tokens=False, return_attention_mask=False, verbose=False)
    counts = []
    for k, ex in enumerate(examples):
        per_word = [0] * len(ex.tokens)
        for w in encoded.word_ids(k):
            if w is not None:
                per_word[w] += 1
        counts.append(per_word)
    return counts


def _first_subtoken_positions(word_ids: Sequence[int | None], offset: int) -> list[int]:
    """Per token position, the sentence-level index of the word it starts, else -1."""
    out, previous = [], None
    for w in word_ids:
        out.append(w + offset if w is not None and w != previous else -1)
        previous = w
    return out


class TaggingHandler(TaskTypeHandler):
    types = (TaskType.TAGGING,)
    CACHEABLE_FEATURES = True
    CATEGORY = "structured prediction"

    def primary_metric(self, task: Task) -> str:
        return ENTITY_F1.name if is_bio(task.labels) else SPAN_F1.name

    def official_metric(self, task: Task) -> str:
        """XTREME's "f1" (seqeval, default mode) of both tagging tasks: on BIO tags our entity
        F1 equals it, on raw UPOS tags it is the span F1 (module doc of tagging_metrics)."""
        return self.primary_metric(task)

    def example_statistics(self, task: Task, metric: str, language: str,
                           records: Sequence[dict[str, Any]]) -> ExampleStatistics | None:
        """Entity / span F1: per-sentence (correct, predicted, gold) counts; token accuracy
        (over all tokens): per-sentence correct tokens weighted by n_sentences / n_tokens."""
        if metric == ENTITY_F1.name:
            return ratio_statistics(ENTITY_F1, records, sentence_entity_counts)
        if metric == SPAN_F1.name:
            return ratio_statistics(SPAN_F1, records, sentence_span_counts)
        if metric == TOKEN_ACCURACY:
            return token_weighted(records)
        return None

    def build_head(self, task: Task, hidden_size: int, pooling: str) -> nn.Module:
        return TokenTaggingHead(hidden_size, task.num_labels)

    def featurize(self, task: Task, examples: Sequence[TaggingExample],
                  tokenizer: PreTrainedTokenizerBase, options: FeatureOptions,
                  *, training: bool) -> Features:
        """One row per piece of a sentence; ``word_at`` maps each position to the word whose
        first sub-token it is (-1 elsewhere), ``labels`` holds its tag (-100 elsewhere)."""
        budget = options.max_seq_length - tokenizer.num_special_tokens_to_add(pair=False)
        if budget < 1:
            raise XstiltsError(f"max_seq_length {options.max_seq_length} is too small")
        piece_words: list[list[str]] = []
        piece_origin: list[tuple[int, int]] = []  # (example, first word of the piece)
        for k, counts in enumerate(_subtoken_counts(examples, tokenizer)):
            for start, end in split_into_pieces(counts, budget):
                piece_words.append(list(examples[k].tokens[start:end]))
                piece_origin.append((k, start))
        if not piece_words:
            return Features([], [], [], meta={"num_words": []})
        encoded = tokenizer(piece_words, is_split_into_words=True, truncation=True,
                            max_length=options.max_seq_length, return_attention_mask=False,
                            return_token_type_ids=False)
        rows = []
        for p, (k, start) in enumerate(piece_origin):
            word_at = _first_subtoken_positions(encoded.word_ids(p), start)
            tags = examples[k].tags
            labels = None if tags is None else [IGNORE if w < 0 else tags[w] for w in word_at]
            rows.append({"input_ids": list(encoded["input_ids"][p]), "word_at": word_at,
                         "labels": labels})
        return Features(rows, [k for k, _ in piece_origin], [len(r["input_ids"]) for r in rows],
                        meta={"num_words": [len(ex.tokens) for ex in examples]})

    def collate(self, features: Features, indices: Sequence[int],
                pad_id: int) -> dict[str, torch.Tensor]:
        rows, batch = collate_token_rows(features, indices, pad_id)
        if all(r["labels"] is not None for r in rows):
            batch["labels"] = pad_sequences([r["labels"] for r in rows], IGNORE,
                                            width=batch["input_ids"].shape[1])
        return batch

    def decode(self, task: Task, examples: Sequence[TaggingExample], features: Features,
               outputs: list[np.ndarray]) -> list[list[str]]:
        """Tag strings per word, stitched from all pieces of each sentence."""
        default = fallback_tag(task.labels)
        predicted = [[default] * len(ex.tokens) for ex in examples]
        for row, k, out in zip(features.rows, features.example_index, outputs, strict=True):
            for position, word in enumerate(row["word_at"]):
                if word >= 0:
                    predicted[k][word] = int(np.argmax(out[position]))
        return [[task.labels[t] for t in tags] for tags in predicted]

    def gold(self, task: Task, example: TaggingExample) -> Any:
        return None if example.tags is None else [task.labels[t] for t in example.tags]

    def score(self, task: Task, examples: Sequence[TaggingExample], predictions: Sequence[Any],
              *, resamples: int, confidence: float, seed: int) -> list[Score]:
        """BIO: [entity_f1]; otherwise [span_f1 (primary, XTREME's F1), token_accuracy]."""
        gold = [self.gold(task, ex) for ex in examples]
        scorers = ([score_entity_f1] if is_bio(task.labels)
                   else [score_span_f1, score_token_accuracy])
        return [scorer(gold, list(predictions), resamples=resamples, confidence=confidence,
                       seed=seed) for scorer in scorers]


TOKEN_ACCURACY = "token_accuracy"  # the name score_token_accuracy gives its Score


def token_weighted(records: Sequence[dict[str, Any]]) -> ExampleStatistics | None:
    """Token accuracy over all tokens (micro) as per-sentence scores: correct tokens times
    n_sentences / n_tokens, whose plain mean is the micro accuracy. The weight is fixed by the
    gold sentences, so the paired difference of two configurations is a sum over sentences and
    the sign-flip test applies unchanged (the bootstrap then resamples that linearised
    statistic)."""
    if not records:
        return None
    try:
        correct, total = sentence_token_counts([r.get("gold") for r in records],
                                               [r.get("prediction") for r in records])
    except (XstiltsError, ValueError, TypeError):
        return None  # unlabeled, or sentences of unequal lengths
    if total.sum() == 0:
        return None
    return mean_statistics(TOKEN_ACCURACY, records, len(records) / float(total.sum()) * correct)


def unseen_words(features: Features) -> int:
    """How many words of the featurised sentences have no first sub-token in any row (they
    get the fallback tag); a diagnostic for tokenizer coverage."""
    seen = sum(1 for row in features.rows for w in row["word_at"] if w >= 0)
    return sum(features.meta.get("num_words", [])) - seen


HANDLER = register_handler(TaggingHandler())
