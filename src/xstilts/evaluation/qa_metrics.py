"""Extractive-QA metrics: exact match and token F1, SQuAD v1.1 and MLQA flavours.

XTREME scores XQuAD and TyDiQA-GoldP with the SQuAD v1.1 evaluation script and MLQA with
MLQA's own script (facebookresearch/MLQA, ``mlqa_evaluation_v1.py``). The two differ only in
how an answer string is normalised before comparison, and a different normalisation moves
MLQA F1 by points, so both are reproduced here rule by rule (re-implemented, not copied):

SQuAD v1.1 (rajpurkar/SQuAD-explorer ``evaluate-v1.1.py``)
    lower-case -> drop ASCII punctuation (``string.punctuation``) -> replace the English
    articles a/an/the (whole words) by a space -> split on whitespace and re-join.

MLQA (``mlqa_evaluation_v1.py``), for the answer language ``lang``
    lower-case -> drop every character whose Unicode category starts with ``P`` (plus ASCII
    punctuation) -> replace that language's articles by a space -> tokenise: whitespace for
    en/es/hi/vi/de/ar; *mixed segmentation* for zh (every CJK ideograph U+4E00..U+9FA5 is
    its own token, runs of other characters are whitespace-split) -> re-join with spaces.
    Article lists, exactly as the script has them:

    - en: a, an, the
    - es: un, una, unos, unas, el, la, los, las (the script has no ``lo``)
    - de: ein, eine, einen, einem, eines, einer, der, die, das, den, dem, des
    - vi: của, là, cái, chiếc, những
    - ar: every occurrence of the definite article ``ال`` -- anywhere, also inside a word
      (the script's pattern ``'\\sال^|ال'`` reduces to that; reproduced on purpose so the
      numbers match published MLQA scores)
    - hi, zh: none

    Any other language is refused, as the script does, rather than silently scored with
    English rules.

Both scripts take the maximum over the gold answers of a question, give F1 = 0 when no token
is shared (so an empty prediction against an empty gold gets EM 1 but F1 0), and report the
mean over questions. Scores here are fractions in [0, 1]; multiply by 100 for the tables.

SQuAD v2.0 (rajpurkar/SQuAD-explorer ``evaluate-v2.0.py``), used only for tasks with
unanswerable questions (``squad2``): the same normalisation as v1.1, but
    - gold answers that normalise to the empty string are dropped, and a question left with no
      gold answer (an unanswerable one: ``answers: []``) has the single gold ``""``;
    - F1 when the prediction or the gold has no token is 1 if both have none, else 0 (v1.1
      gives 0), so the empty prediction ``""`` ("no answer") scores EM = F1 = 1 on an
      unanswerable question and 0 on an answerable one. As in the script, a prediction that
      normalises to nothing (e.g. ``"the"``) counts as "no answer" too;
    - besides the overall means, ``HasAns_*`` / ``NoAns_*`` are the means over the
      answerable / unanswerable questions (here ``has_ans_*`` / ``no_ans_*``).
"""

from __future__ import annotations

import re
import string
import sys
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from functools import cache

import numpy as np

from xstilts.errors import UnlabeledSplitError
from xstilts.evaluation.metrics import Score, bootstrap_interval

_ASCII_PUNCT = frozenset(string.punctuation)
_SQUAD_ARTICLES = re.compile(r"\b(a|an|the)\b")

_MLQA_ARTICLES: dict[str, re.Pattern[str] | None] = {
    "en": re.compile(r"\b(a|an|the)\b"),
    "es": re.compile(r"\b(un|una|unos|unas|el|la|los|las)\b"),
    "de": re.compile(r"\b(ein|eine|einen|einem|eines|einer|der|die|das|den|dem|des)\b"),
    "vi": re.compile(r"\b(của|là|cái|chiếc|những)\b"),
    "ar": re.compile("ال"),
    "hi": None,
    "zh": None,
}
MLQA_LANGUAGES: frozenset[str] = frozenset(_MLQA_ARTICLES)
_MIXED_SEGMENTATION = frozenset({"zh"})
_CJK = re.compile("([\u4e00-\u9fa5])")


@cache
def _unicode_punctuation() -> frozenset[str]:
    """All code points of a Unicode punctuation category (Pc Pd Pe Pf Pi Po Ps), plus ASCII.

    Built once, lazily: scanning the code space takes a fraction of a second.
    """
    found = {chr(i) for i in range(sys.maxunicode + 1)
             if unicodedata.category(chr(i)).startswith("P")}
    return frozenset(found | _ASCII_PUNCT)


def normalize_squad(text: str) -> str:
    """SQuAD v1.1 answer normalisation (used for XQuAD and TyDiQA-GoldP in XTREME)."""
    text = "".join(ch for ch in text.lower() if ch not in _ASCII_PUNCT)
    return " ".join(_SQUAD_ARTICLES.sub(" ", text).split())


def _mixed_segmentation(text: str) -> list[str]:
    """Each CJK ideograph is a token; the text between ideographs is split on whitespace.

    Punctuation is already gone when this runs (MLQA removes it first), so only ideographs
    act as separators here.
    """
    return [tok for piece in _CJK.split(text) for tok in piece.split()]


def normalize_mlqa(text: str, lang: str) -> str:
    """MLQA answer normalisation for answer language ``lang`` (see module docstring)."""
    if lang not in _MLQA_ARTICLES:
        raise ValueError(
            f"MLQA normalisation is defined for {sorted(MLQA_LANGUAGES)}, not {lang!r}; "
            "use normalize_squad (lang=None) for other languages"
        )
    punct = _unicode_punctuation()
    text = "".join(ch for ch in text.lower() if ch not in punct)
    articles = _MLQA_ARTICLES[lang]
    if articles is not None:
        text = articles.sub(" ", text)
    tokens = _mixed_segmentation(text) if lang in _MIXED_SEGMENTATION else text.split()
    return " ".join(tokens)


def _normalizer(lang: str | None) -> Callable[[str], str]:
    if lang is None:
        return normalize_squad
    if lang not in _MLQA_ARTICLES:
        normalize_mlqa("", lang)  # raises the explanatory error
    return lambda text: normalize_mlqa(text, lang)


def _pair_f1(pred_tokens: list[str], gold_tokens: list[str]) -> float:
    shared = sum((Counter(pred_tokens) & Counter(gold_tokens)).values())
    if shared == 0:
        return 0.0
    precision, recall = shared / len(pred_tokens), shared / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def _check_golds(gold_answers: Sequence[str] | None) -> Sequence[str]:
    if gold_answers is None or len(gold_answers) == 0:
        raise UnlabeledSplitError(
            "a question has no gold answers (XTREME strips test labels), so it cannot be "
            "scored; evaluate on a labeled split (e.g. dev) instead"
        )
    if isinstance(gold_answers, str):
        raise TypeError("gold_answers must be a list of answer strings, not one string")
    return gold_answers


def exact_match(prediction: str, gold_answers: Sequence[str], *, lang: str | None = None) -> float:
    """1.0 if the normalised prediction equals some normalised gold answer, else 0.0.

    ``lang=None`` uses SQuAD v1.1 rules; an MLQA language code uses MLQA's rules.
    """
    norm = _normalizer(lang)
    pred = norm(prediction)
    return float(any(pred == norm(g) for g in _check_golds(gold_answers)))


def token_f1(prediction: str, gold_answers: Sequence[str], *, lang: str | None = None) -> float:
    """Bag-of-tokens F1 against the best-matching gold answer (max over golds)."""
    norm = _normalizer(lang)
    pred = norm(prediction).split()
    return max(_pair_f1(pred, norm(g).split()) for g in _check_golds(gold_answers))


def qa_example_scores(
    predictions: Sequence[str], gold_answers: Sequence[Sequence[str] | None], *,
    lang: str | None = None,
) -> dict[str, np.ndarray]:
    """Per-question EM and F1 arrays, so a corpus score can be re-computed or bootstrapped."""
    if len(predictions) != len(gold_answers) or len(predictions) == 0:
        raise ValueError("need as many predictions as questions, and at least one question")
    em = np.array([exact_match(p, g, lang=lang) for p, g in zip(predictions, gold_answers,
                                                                strict=True)])
    f1 = np.array([token_f1(p, g, lang=lang) for p, g in zip(predictions, gold_answers,
                                                             strict=True)])
    return {"exact_match": em, "f1": f1}


def score_qa(
    predictions: Sequence[str], gold_answers: Sequence[Sequence[str] | None], *,
    lang: str | None = None, resamples: int = 1000, confidence: float = 0.95, seed: int = 0,
) -> dict[str, Score]:
    """Corpus EM and F1 (means over questions) with bootstrap intervals over questions."""
    out: dict[str, Score] = {}
    for name, values in qa_example_scores(predictions, gold_answers, lang=lang).items():
        low, high = bootstrap_interval(values, resamples=resamples, confidence=confidence,
                                       seed=seed)
        out[name] = Score(name, float(values.mean()), low, high, int(values.size))
    return out


def _squad2_golds(gold_answers: Sequence[str] | None) -> list[str]:
    """The gold strings ``evaluate-v2.0.py`` compares with: empty-after-normalisation golds
    dropped, ``[""]`` for an unanswerable question (``[]``); None (unlabeled) is refused."""
    if gold_answers is None:
        raise UnlabeledSplitError(
            "a question has no gold answers (answers=None: the split is unlabeled), so it "
            "cannot be scored; evaluate on a labeled split (e.g. dev) instead"
        )
    if isinstance(gold_answers, str):
        raise TypeError("gold_answers must be a list of answer strings, not one string")
    kept = [g for g in gold_answers if normalize_squad(g)]
    return kept or [""]


def _squad2_pair_f1(pred_tokens: list[str], gold_tokens: list[str]) -> float:
    if not pred_tokens or not gold_tokens:
        return float(pred_tokens == gold_tokens)  # "no answer" agrees only with "no answer"
    return _pair_f1(pred_tokens, gold_tokens)


def squad2_exact_match(prediction: str, gold_answers: Sequence[str]) -> float:
    """SQuAD v2.0 EM: ``gold_answers == []`` marks an unanswerable question, ``""`` no answer."""
    pred = normalize_squad(prediction)
    return float(any(pred == normalize_squad(g) for g in _squad2_golds(gold_answers)))


def squad2_token_f1(prediction: str, gold_answers: Sequence[str]) -> float:
    """SQuAD v2.0 F1 (max over golds); 1 for "no answer" on an unanswerable question."""
    pred = normalize_squad(prediction).split()
    return max(_squad2_pair_f1(pred, normalize_squad(g).split())
               for g in _squad2_golds(gold_answers))


def squad2_example_scores(
    predictions: Sequence[str], gold_answers: Sequence[Sequence[str] | None],
) -> dict[str, np.ndarray]:
    """Per-question SQuAD v2.0 EM and F1 arrays (``"exact_match"``, ``"f1"``), in input order."""
    if len(predictions) != len(gold_answers) or len(predictions) == 0:
        raise ValueError("need as many predictions as questions, and at least one question")
    pairs = list(zip(predictions, gold_answers, strict=True))
    return {"exact_match": np.array([squad2_exact_match(p, g) for p, g in pairs]),
            "f1": np.array([squad2_token_f1(p, g) for p, g in pairs])}


def score_squad2(
    predictions: Sequence[str], gold_answers: Sequence[Sequence[str] | None], *,
    resamples: int = 1000, confidence: float = 0.95, seed: int = 0,
) -> list[Score]:
    """SQuAD v2.0 corpus scores with bootstrap intervals: ``f1``, ``exact_match`` over all
    questions, then ``has_ans_f1``/``has_ans_exact_match`` (answerable questions, the
    script's HasAns_*) and ``no_ans_f1``/``no_ans_exact_match`` (NoAns_*), each group only
    when it has questions, as in the script. Answerable means a non-empty gold list, as the
    script's ``bool(qa['answers'])``."""
    per = squad2_example_scores(predictions, gold_answers)
    has_answer = np.array([bool(g) for g in gold_answers])
    groups = [("", np.ones(len(has_answer), dtype=bool)), ("has_ans_", has_answer),
              ("no_ans_", ~has_answer)]
    out: list[Score] = []
    for prefix, mask in groups:
        if not mask.any():
            continue
        for name in ("f1", "exact_match"):
            values = per[name][mask]
            low, high = bootstrap_interval(values, resamples=resamples, confidence=confidence,
                                           seed=seed)
            out.append(Score(prefix + name, float(values.mean()), low, high, int(values.size)))
    return out
