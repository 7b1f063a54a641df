"""Extractive question answering (SQuAD v1.1/v2.0, XQuAD, MLQA, TyDiQA-GoldP).

The question and the context are encoded together (question first). A context longer than
``max_seq_length`` is cut into overlapping windows, each its own feature row, so no answer
is lost to truncation; ``doc_stride`` is the *overlap* between consecutive windows (the
Hugging Face tokenizer's ``stride``), reduced to half a window when it would not leave the
windows room to advance. Every row keeps the character offsets of its context tokens, which
is what lets a predicted token span be mapped back to the exact substring of the original
context: the predicted answer is always copied from the context, never detokenised.

Training follows the SQuAD convention (Google's and Hugging Face's ``run_squad``): the gold
span is the first answer, labelled with the token positions of its first and last token in
every window that contains it whole, and with position 0 (the CLS/``<s>`` token) in windows
that do not -- and in every window of an unanswerable question (SQuAD 2.0, ``answers == ()``).

Decoding picks, per question, the best span (start + end logit) over all its windows. Only for
a task with unanswerable questions (``Task.has_unanswerable``: ``squad2``) it may instead
answer ``""`` (no answer), as ``run_squad`` does with ``version_2_with_negative``: the null
score of a window is ``start_logit[0] + end_logit[0]``, the question's null score is the
*lowest* over its windows (a window without the answer is trained to point at CLS, so only the
window most sure there is an answer speaks for the question), and ``""`` wins when the null
score minus the best span score exceeds ``null_score_diff_threshold`` (0.0 by default, the
reference default). SQuAD v1.1-style tasks (squad, xquad, mlqa, tydiqa) always get a span.
Scoring follows ``evaluate-v2.0.py`` for such tasks (see ``qa_metrics``), SQuAD v1.1/MLQA rules
for the others, which refuse unanswerable questions.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn
from transformers import PreTrainedTokenizerBase

from xstilts.errors import XstiltsError
from xstilts.evaluation.metrics import Score, bootstrap_interval
from xstilts.evaluation.qa_metrics import (
    qa_example_scores,
    score_squad2,
    squad2_example_scores,
)
from xstilts.tasks.base import QAExample, Task, TaskType
from xstilts.tasktypes.base import (
    FeatureOptions,
    Features,
    TaskTypeHandler,
    collate_token_rows,
)
from xstilts.tasktypes.per_example import ExampleStatistics, mean_statistics
from xstilts.tasktypes.registry import register_handler

QA_F1, QA_EM = "f1", "exact_match"  # the names score() gives its overall Scores
MAX_ANSWER_TOKENS = 30
"""Longest answer span considered when decoding, in tokens (the SQuAD/XTREME default)."""

NULL_SCORE_DIFF_THRESHOLD = 0.0
"""Answer "no answer" when the null score beats the best span by more than this
(``run_squad``'s ``null_score_diff_threshold`` default)."""

MIN_CONTEXT_TOKENS = 8
"""Fewer context tokens per window than this means max_seq_length is set far too small."""

CharSpan = tuple[int, int]


class SpanHead(nn.Module):
    """A linear layer over every token state giving a start and an end logit.

    Padding positions get a very low logit, so they can never win a softmax or a decode.
    """

    def __init__(self, hidden_size: int):
        super().__init__()
        self.out = nn.Linear(hidden_size, 2)

    def forward(self, encoder: nn.Module, batch: dict[str, torch.Tensor]
                ) -> tuple[torch.Tensor | None, torch.Tensor]:
        mask = batch["attention_mask"]
        hidden = encoder(input_ids=batch["input_ids"], attention_mask=mask).last_hidden_state
        logits = self.out(hidden).float()
        logits = logits.masked_fill(mask.unsqueeze(-1) == 0, -1e4)
        loss = None
        if "start_positions" in batch:
            loss = (nn.functional.cross_entropy(logits[..., 0], batch["start_positions"])
                    + nn.functional.cross_entropy(logits[..., 1], batch["end_positions"])) / 2
        return loss, logits


def truncate_question(question: str, tokenizer: PreTrainedTokenizerBase,
                      max_query_length: int) -> str:
    """The question cut (on a token boundary) to at most ``max_query_length`` tokens.

    Done on the text because ``truncation='only_second'`` never shortens the question and the
    tokenizer fails outright when the question alone overflows the window.
    """
    encoded = tokenizer(question, add_special_tokens=False, return_offsets_mapping=True,
                        verbose=False)
    offsets = encoded["offset_mapping"]
    if len(offsets) <= max_query_length:
        return question
    return question[: offsets[max_query_length - 1][1]]


def token_span_of_answer(context_offsets: Sequence[CharSpan | None], answer_start: int,
                         answer_end: int) -> tuple[int, int]:
    """Token positions (first, last) of the character span [answer_start, answer_end) in one
    window, or (0, 0) — the CLS position — when the window does not hold the whole answer.

    ``context_offsets`` has one entry per token of the row: the token's character span in the
    context, or None for question/special tokens.
    """
    spans = [(i, span) for i, span in enumerate(context_offsets) if span is not None]
    if not spans or spans[0][1][0] > answer_start or spans[-1][1][1] < answer_end:
        return 0, 0
    start = next(i for i, (_, stop) in spans if stop > answer_start)
    end = next(i for i, (begin, _) in reversed(spans) if begin < answer_end)
    return start, max(start, end)


def best_span(start_logits: np.ndarray, end_logits: np.ndarray,
              context_positions: Sequence[int],
              max_answer_tokens: int = MAX_ANSWER_TOKENS) -> tuple[float, int, int] | None:
    """The highest-scoring (start + end logit) span with start <= end, at most
    ``max_answer_tokens`` long, both ends on context tokens; None without context tokens.

    Exhaustive over the window (a masked score matrix): exact, and cheap for a few hundred
    tokens.
    """
    if len(context_positions) == 0:
        return None
    pos = np.asarray(context_positions)
    scores = start_logits[pos][:, None] + end_logits[pos][None, :]
    gap = pos[None, :] - pos[:, None]  # token distance end - start
    scores = np.where((gap >= 0) & (gap < max_answer_tokens), scores, -np.inf)
    i, j = np.unravel_index(int(np.argmax(scores)), scores.shape)
    return float(scores[i, j]), int(pos[i]), int(pos[j])


def null_score(start_logits: np.ndarray, end_logits: np.ndarray) -> float:
    """The score of "no answer" in one window: start and end both on position 0 (CLS)."""
    return float(start_logits[0] + end_logits[0])


def no_answer_wins(null: float, span: float | None,
                   threshold: float = NULL_SCORE_DIFF_THRESHOLD) -> bool:
    """Whether a question with unanswerable questions allowed gets ``""``: its (lowest) null
    score minus its best span score is above ``threshold``, or there is no span at all."""
    return span is None or null - span > threshold


def span_text(context: str, offsets: Sequence[CharSpan | None], start: int, end: int) -> str:
    """The original context text covered by tokens start..end, without surrounding spaces
    (sentencepiece tokens carry their leading space in their offsets)."""
    first, last = offsets[start], offsets[end]
    assert first is not None and last is not None
    return context[first[0]: last[1]].strip()


_OVERFLOW_CHECKED: set[int] = set()
PROBE_CONTEXT = " ".join(f"Sentence {i} mentions item{i}." for i in range(40))


def check_overflow_windows(tokenizer: PreTrainedTokenizerBase) -> None:
    """Refuse a tokenizer whose overflowing windows stop before the end of the context.

    tokenizers 0.23.1 and 0.23.2 stop tokenizing at ``max_length`` when truncating, so the
    overflow holds one short window instead of all of them (huggingface/tokenizers#2091):
    every answer past the second window would silently vanish from training and evaluation.
    Checked once per tokenizer on a probe context.
    """
    if id(tokenizer) in _OVERFLOW_CHECKED:
        return
    encoded = tokenizer("Which item?", PROBE_CONTEXT, truncation="only_second", max_length=32,
                        stride=4, return_overflowing_tokens=True, return_offsets_mapping=True)
    last = len(encoded["input_ids"]) - 1
    reached = max(span[1] for span, seq in zip(encoded["offset_mapping"][last],
                                                 encoded.sequence_ids(last), strict=True)
                  if seq == 1)
    full = tokenizer(PROBE_CONTEXT, add_special_tokens=False, return_offsets_mapping=True)
    if reached < full["offset_mapping"][-1][1]:
        import tokenizers

        raise XstiltsError(
            f"this tokenizer's overflowing windows cover only the first {reached} of "
            f"{len(PROBE_CONTEXT)} context characters (tokenizers {tokenizers.__version__}: "
            "0.23.1 and 0.23.2 drop windows, huggingface/tokenizers#2091); long QA contexts "
            "would lose their answers. pip install 'tokenizers>=0.23.3'")
    _OVERFLOW_CHECKED.add(id(tokenizer))


def _windows(example: QAExample, tokenizer: PreTrainedTokenizerBase,
             options: FeatureOptions) -> list[dict[str, Any]]:
    """The feature rows (windows) of one question: ids and context offsets per token."""
    check_overflow_windows(tokenizer)
    question = truncate_question(example.question, tokenizer, options.max_query_length)
    question_tokens = len(tokenizer(question, add_special_tokens=False, verbose=False)[
        "input_ids"])
    room = options.max_seq_length - question_tokens - tokenizer.num_special_tokens_to_add(
        pair=True)
    if room < MIN_CONTEXT_TOKENS:
        raise XstiltsError(
            f"max_seq_length {options.max_seq_length} leaves {room} context tokens after a "
            f"{question_tokens}-token question; raise max_seq_length or lower max_query_length")
    overlap = min(options.doc_stride, room // 2)
    encoded = tokenizer(question, example.context, truncation="only_second",
                        max_length=options.max_seq_length, stride=overlap,
                        return_overflowing_tokens=True, return_offsets_mapping=True,
                        return_attention_mask=False, return_token_type_ids=False)
    rows = []
    for w, ids in enumerate(encoded["input_ids"]):
        sequence_ids = encoded.sequence_ids(w)
        offsets = [tuple(span) if seq == 1 else None
                   for span, seq in zip(encoded["offset_mapping"][w], sequence_ids, strict=True)]
        rows.append({"input_ids": list(ids), "offsets": offsets})
    return rows


def _label_window(row: dict[str, Any], example: QAExample) -> None:
    """Adds the training target (first gold answer; CLS when absent) to a window row."""
    if not example.answers:
        row["start"], row["end"] = 0, 0
        return
    answer = example.answers[0]
    row["start"], row["end"] = token_span_of_answer(row["offsets"], answer.start,
                                                    answer.start + len(answer.text))


class ExtractiveQAHandler(TaskTypeHandler):
    types = (TaskType.EXTRACTIVE_QA,)
    CACHEABLE_FEATURES = True
    CATEGORY = "question answering"

    def __init__(self, null_score_diff_threshold: float = NULL_SCORE_DIFF_THRESHOLD) -> None:
        self.null_score_diff_threshold = null_score_diff_threshold

    def primary_metric(self, task: Task) -> str:
        return QA_F1  # first of score()'s list, SQuAD v1.1 / MLQA and v2.0 rules alike

    def official_metric(self, task: Task) -> str:
        """XTREME's "f1" (its headline averages exact_match and f1; both are stored)."""
        return QA_F1

    def example_statistics(self, task: Task, metric: str, language: str,
                           records: Sequence[dict[str, Any]]) -> ExampleStatistics | None:
        """Per-question F1 / EM under the rules :meth:`score` used (MLQA: the language's own
        normalisation; unanswerable questions: SQuAD v2.0); the overall means are their means.
        The has_ans_* / no_ans_* subset means get none."""
        if metric not in (QA_F1, QA_EM) or not records:
            return None
        golds = [r.get("gold") for r in records]
        predictions = [r.get("prediction") for r in records]
        if any(g is None for g in golds) or not all(isinstance(p, str) for p in predictions):
            return None
        try:
            if task.has_unanswerable:
                per = squad2_example_scores(predictions, golds)
            else:
                per = qa_example_scores(predictions, golds, lang=answer_rules(task, language))
        except (XstiltsError, ValueError, TypeError):
            return None  # a question without gold answers, a language without MLQA rules
        return mean_statistics(metric, records, per[metric])

    def build_head(self, task: Task, hidden_size: int, pooling: str) -> nn.Module:
        return SpanHead(hidden_size)

    def featurize(self, task: Task, examples: Sequence[QAExample],
                  tokenizer: PreTrainedTokenizerBase, options: FeatureOptions,
                  *, training: bool) -> Features:
        rows: list[dict[str, Any]] = []
        example_index: list[int] = []
        for k, example in enumerate(examples):
            for row in _windows(example, tokenizer, options):
                if training and example.answers is not None:
                    _label_window(row, example)
                rows.append(row)
                example_index.append(k)
        return Features(rows, example_index, [len(r["input_ids"]) for r in rows])

    def collate(self, features: Features, indices: Sequence[int],
                pad_id: int) -> dict[str, torch.Tensor]:
        rows, batch = collate_token_rows(features, indices, pad_id)
        if all("start" in r for r in rows):
            batch["start_positions"] = torch.tensor([r["start"] for r in rows], dtype=torch.long)
            batch["end_positions"] = torch.tensor([r["end"] for r in rows], dtype=torch.long)
        return batch

    def decode(self, task: Task, examples: Sequence[QAExample], features: Features,
               outputs: list[np.ndarray]) -> list[str]:
        """Per question, the best span over all its windows, as the exact context text; for
        a task with unanswerable questions ``""`` when the null score wins (module docstring).
        """
        best: dict[int, tuple[float, str]] = {}
        null: dict[int, float] = {}
        for row, k, out in zip(features.rows, features.example_index, outputs, strict=True):
            n = len(row["input_ids"])
            if task.has_unanswerable:
                null[k] = min(null.get(k, np.inf), null_score(out[:n, 0], out[:n, 1]))
            positions = [i for i, span in enumerate(row["offsets"]) if span is not None]
            found = best_span(out[:n, 0], out[:n, 1], positions)
            if found is None:
                continue
            score, start, end = found
            if k not in best or score > best[k][0]:
                best[k] = (score, span_text(examples[k].context, row["offsets"], start, end))
        predictions = []
        for k in range(len(examples)):
            score, text = best.get(k, (None, ""))
            if k in null and no_answer_wins(null[k], score, self.null_score_diff_threshold):
                text = ""
            predictions.append(text)
        return predictions

    def gold(self, task: Task, example: QAExample) -> Any:
        return None if example.answers is None else [a.text for a in example.answers]

    def score(self, task: Task, examples: Sequence[QAExample], predictions: Sequence[Any], *,
              resamples: int, confidence: float, seed: int) -> list[Score]:
        """F1 (primary) and exact match; MLQA uses its per-language normalisation, a task with
        unanswerable questions SQuAD v2.0's rules plus the has_ans_*/no_ans_* breakdown."""
        if task.has_unanswerable:
            return score_squad2(predictions, [self.gold(task, ex) for ex in examples],
                                resamples=resamples, confidence=confidence, seed=seed)
        impossible = next((ex.id for ex in examples if ex.answers == ()), None)
        if impossible is not None:
            raise XstiltsError(
                f"{task.name}: question {impossible!r} is unanswerable (answers=(), SQuAD 2.0 "
                "style) but the task is scored as SQuAD v1.1, where every question has an "
                "answer; declare the task with has_unanswerable=True (like squad2)")
        per_example = _per_example_scores(task, examples, predictions)
        out = []
        for name in ("f1", "exact_match"):
            values = per_example[name]
            low, high = bootstrap_interval(values, resamples=resamples, confidence=confidence,
                                           seed=seed)
            out.append(Score(name, float(values.mean()), low, high, int(values.size)))
        return out


def answer_language(task: Task, example: QAExample) -> str | None:
    """The language whose normalisation rules score this answer: MLQA's own rules for
    ``mlqa``, the SQuAD v1.1 rules (None) for every other QA task, as XTREME does."""
    return answer_rules(task, example.language)


def answer_rules(task: Task, language: str) -> str | None:
    """:func:`answer_language` for a question in ``language``."""
    return language if task.name == "mlqa" else None


def _per_example_scores(task: Task, examples: Sequence[QAExample],
                        predictions: Sequence[str]) -> dict[str, np.ndarray]:
    """EM/F1 per question in input order, each scored with its own language's rules."""
    groups: dict[str | None, list[int]] = defaultdict(list)
    for i, ex in enumerate(examples):
        groups[answer_language(task, ex)].append(i)
    out = {name: np.zeros(len(examples)) for name in ("f1", "exact_match")}
    for lang, indices in groups.items():
        scores = qa_example_scores([predictions[i] for i in indices],
                                   [[a.text for a in examples[i].answers or ()] for i in indices],
                                   lang=lang)
        for name in out:
            out[name][indices] = scores[name]
    return out


HANDLER = register_handler(ExtractiveQAHandler())
