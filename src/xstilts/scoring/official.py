"""The per-task table of the XTREME / XTREME-R leaderboard scorer and its metric definitions.

Facts from google-research/xtreme ``evaluate.py`` (newest version, with ``--xtreme_version``)
and its ``third_party`` scripts, re-implemented on this package's own metric functions:

=========  ======  =================================================  ======================
task       file    metric (points, 0-100)                             headline ("metric")
=========  ======  =================================================  ======================
xnli       .tsv    accuracy                                           accuracy
pawsx      .tsv    accuracy                                           accuracy
tatoeba    .tsv    accuracy (predicted == gold index, as strings)     accuracy
xcopa      .jsonl  accuracy (``label`` values compared as JSON)       accuracy
udpos      .tsv    seqeval 1.x default-mode f1/precision/recall       f1
panx       .tsv    seqeval 1.x default-mode f1/precision/recall       f1
xquad      .json   SQuAD v1.1 exact_match / f1                        mean(exact_match, f1)
tydiqa     .json   SQuAD v1.1 exact_match / f1                        mean(exact_match, f1)
mlqa       .json   MLQA exact_match / f1 (the file's language rules)  mean(exact_match, f1)
bucc2018   .tsv    f1/precision/recall of the set of mined pairs      f1
mewslix    .json   map@20 (= MRR@20 against the first gold entity)    map@20 (*)
lareqa     .json   map@20 (AP@20 over all relevant candidates)        map@20 (*)
=========  ======  =================================================  ======================

Every average is the plain mean over languages. Line-based files must have as many entries
as the gold file (the official script asserts; here it is an error naming both files). QA,
Mewsli-X and LAReQA are keyed by id and, as officially, not count-checked: a gold id without
a prediction scores 0 and a prediction without gold is ignored (both are reported as notes).
BUCC compares sets, so duplicates and order do not matter.

(*) Deviations: the official script sets no headline for mewslix (its ``avg_metric`` only
covers f1 / accuracy tasks) and leaves LAReQA unscored (no languages, no reader); here both
get map@20, LAReQA with AP@20 as ``third_party/utils_lareqa.py`` defines it (the sum of
precision at each first hit of a relevant candidate in the top 20, divided by
min(#relevant, 20)) on the XQuAD-R languages.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from xstilts.errors import DataFormatError, XstiltsError
from xstilts.scoring import layout

MAP_K = 20

# TASK2LANGS of evaluate.py, in its order ("xtreme" and "xtreme-r"); LAReQA: XQuAD-R.
XTREME_LANGUAGES: dict[str, tuple[str, ...]] = {
    "pawsx": tuple("de,en,es,fr,ja,ko,zh".split(",")),
    "xnli": tuple("ar,bg,de,el,en,es,fr,hi,ru,sw,th,tr,ur,vi,zh".split(",")),
    "panx": tuple("ar,he,vi,id,jv,ms,tl,eu,ml,ta,te,af,nl,en,de,el,bn,hi,mr,ur,fa,fr,it,pt,es,"
                  "bg,ru,ja,ka,ko,th,sw,yo,my,zh,kk,tr,et,fi,hu".split(",")),
    "udpos": tuple("af,ar,bg,de,el,en,es,et,eu,fa,fi,fr,he,hi,hu,id,it,ja,kk,ko,mr,nl,pt,ru,ta,"
                   "te,th,tl,tr,ur,vi,yo,zh".split(",")),
    "bucc2018": tuple("de,fr,ru,zh".split(",")),
    "tatoeba": tuple("ar,he,vi,id,jv,tl,eu,ml,ta,te,af,nl,de,el,bn,hi,mr,ur,fa,fr,it,pt,es,bg,"
                     "ru,ja,ka,ko,th,sw,zh,kk,tr,et,fi,hu".split(",")),
    "xquad": tuple("en,es,de,el,ru,tr,ar,vi,th,zh,hi".split(",")),
    "mlqa": tuple("en,es,de,ar,hi,vi,zh".split(",")),
    "tydiqa": tuple("en,ar,bn,fi,id,ko,ru,sw,te".split(",")),
}
XTREME_R_LANGUAGES: dict[str, tuple[str, ...]] = {
    "xnli": XTREME_LANGUAGES["xnli"],
    "panx": XTREME_LANGUAGES["panx"] + tuple("qu,pl,uk,az,lt,pa,gu,ro".split(",")),
    "udpos": XTREME_LANGUAGES["udpos"] + tuple("lt,pl,uk,wo,ro".split(",")),
    "tatoeba": XTREME_LANGUAGES["tatoeba"] + tuple("az,lt,pl,uk,ro".split(",")),
    "xcopa": tuple("et,ht,id,it,qu,sw,ta,th,tr,vi,zh".split(",")),
    "lareqa": tuple("ar,de,el,en,es,hi,ru,th,tr,vi,zh".split(",")),
    "mewslix": tuple("ar,de,en,es,fa,ja,pl,ro,ta,tr,uk".split(",")),
    "xquad": XTREME_LANGUAGES["xquad"] + ("ro",),
    "mlqa": XTREME_LANGUAGES["mlqa"],
    "tydiqa": XTREME_LANGUAGES["tydiqa"],
}


@dataclass
class LanguageScore:
    """One language's metrics in points, and notes worth showing (missing ids, ...)."""

    metrics: dict[str, float]
    notes: list[str] = field(default_factory=list)


Scorer = Callable[[Path, Path, str], LanguageScore]


@dataclass(frozen=True)
class OfficialTask:
    """A leaderboard task: its folder name, file suffix, scorer and benchmark languages."""

    name: str
    suffix: str
    scorer: Scorer
    headline: str  # "qa" = mean(exact_match, f1), else the metric averaged as the headline

    @property
    def languages(self) -> tuple[str, ...]:
        """Union of its XTREME and XTREME-R languages, XTREME-R order first."""
        r = XTREME_R_LANGUAGES.get(self.name, ())
        return r + tuple(x for x in XTREME_LANGUAGES.get(self.name, ()) if x not in r)


def _count_error(pred: Path, gold: Path, n_pred: int, n_gold: int, unit: str) -> XstiltsError:
    return XstiltsError(f"{pred} has {n_pred} {unit} but the gold file {gold} has {n_gold}; "
                        f"a prediction file needs exactly one entry per gold {unit[:-1]}")


def _accuracy(predicted: Sequence[object], gold: Sequence[object], pred_path: Path,
              gold_path: Path) -> LanguageScore:
    # A one-line mean: the shared score_accuracy also bootstraps, which is not needed here.
    if len(predicted) != len(gold):
        raise _count_error(pred_path, gold_path, len(predicted), len(gold), "lines")
    if not gold:
        raise DataFormatError(gold_path, None, "no examples")
    correct = sum(p == g for p, g in zip(predicted, gold, strict=True))
    return LanguageScore({"accuracy": 100.0 * correct / len(gold)})


def score_labels(pred: Path, gold: Path, lang: str) -> LanguageScore:
    """xnli, pawsx, tatoeba: one label (or index) per line, accuracy."""
    return _accuracy(layout.read_labels(pred), layout.read_labels(gold), pred, gold)


def score_xcopa(pred: Path, gold: Path, lang: str) -> LanguageScore:
    """xcopa: ``{"label": ...}`` per line, accuracy."""
    return _accuracy(layout.read_jsonl_labels(pred), layout.read_jsonl_labels(gold), pred, gold)


def score_tagging(pred: Path, gold: Path, lang: str) -> LanguageScore:
    """udpos, panx: seqeval (1.x, default mode) precision / recall / F1 over all sentences.

    XTREME applies seqeval to the raw UPOS tags too, so udpos "F1" is seqeval's chunk F1 of
    those tags (not token accuracy).
    """
    from xstilts.evaluation.tagging_metrics import seqeval_prf

    predicted, golds = layout.read_tag_sentences(pred), layout.read_tag_sentences(gold)
    if len(predicted) != len(golds):
        raise _count_error(pred, gold, len(predicted), len(golds), "sentences")
    for p, g in zip(predicted, golds, strict=True):
        if len(p.tags) != len(g.tags):
            raise DataFormatError(pred, p.line, f"this sentence has {len(p.tags)} tags but its "
                                  f"gold sentence ({gold}:{g.line}) has {len(g.tags)}")
    precision, recall, f1 = seqeval_prf([g.tags for g in golds], [p.tags for p in predicted])
    return LanguageScore({"f1": 100.0 * f1, "precision": 100.0 * precision,
                          "recall": 100.0 * recall})


def _id_notes(pred: Path, missing: int, extra: int) -> list[str]:
    notes = []
    if missing:
        notes.append(f"{pred}: {missing} gold id(s) have no prediction and score 0")
    if extra:
        notes.append(f"{pred}: {extra} predicted id(s) are not in the gold file (ignored)")
    return notes


def _score_qa(pred: Path, gold: Path, lang: str | None) -> LanguageScore:
    from xstilts.evaluation.qa_metrics import qa_example_scores

    answers, golds = layout.read_answer_map(pred), layout.read_squad_gold(gold)
    if not golds:
        raise DataFormatError(gold, None, "no questions")
    answered = [qid for qid in golds if qid in answers]
    em = f1 = 0.0
    if answered:
        try:
            per = qa_example_scores([answers[q] for q in answered],
                                    [golds[q] for q in answered], lang=lang)
        except ValueError as err:  # e.g. MLQA rules for a language MLQA does not have
            raise XstiltsError(f"{pred}: {err}") from err
        em, f1 = float(per["exact_match"].sum()), float(per["f1"].sum())
    notes = _id_notes(pred, len(golds) - len(answered), len(set(answers) - set(golds)))
    # Unanswered questions count in the denominator with score 0, as in the SQuAD script.
    return LanguageScore({"exact_match": 100.0 * em / len(golds),
                          "f1": 100.0 * f1 / len(golds)}, notes)


def score_squad(pred: Path, gold: Path, lang: str) -> LanguageScore:
    """xquad, tydiqa: SQuAD v1.1 rules whatever the language, as XTREME does."""
    return _score_qa(pred, gold, None)


def score_mlqa(pred: Path, gold: Path, lang: str) -> LanguageScore:
    """mlqa: MLQA's normalisation for the file's language."""
    return _score_qa(pred, gold, lang)


def score_bucc(pred: Path, gold: Path, lang: str) -> LanguageScore:
    """bucc2018: precision / recall / F1 of the predicted pair set against the gold set."""
    from xstilts.evaluation.retrieval_metrics import bucc_f1

    gold_pairs = set(layout.read_pairs(gold))
    if not gold_pairs:
        raise DataFormatError(gold, None, "no gold pairs")
    found = bucc_f1([(s, t, 1.0) for s, t in set(layout.read_pairs(pred))], gold_pairs,
                    threshold=1.0)
    return LanguageScore({"f1": 100.0 * found.f1, "precision": 100.0 * found.precision,
                          "recall": 100.0 * found.recall})


def average_precision_at_k(ranked: Sequence[str], relevant: set[str], k: int = MAP_K) -> float:
    """AP@k of one ranked list, computed by the package's ``ap_at_k_per_query``.

    That function takes a score matrix, so the list becomes one row with strictly decreasing
    scores: the first k ranked positions (a repeated id is a column without credit, as the
    official loop gives it none), filler up to k, then the relevant ids not retrieved, which
    therefore fall outside the top k but still count in min(#relevant, k).
    """
    from xstilts.evaluation.retrieval_metrics import ap_at_k_per_query

    top = list(ranked[:k])
    hits, seen = [], set()
    for i, candidate in enumerate(top):
        if candidate in relevant and candidate not in seen:
            hits.append(i)
        seen.add(candidate)
    not_retrieved = len(relevant - seen)
    scores = -np.arange(k + not_retrieved, dtype=np.float64)[None, :]
    return float(ap_at_k_per_query(scores, [hits + list(range(k, k + not_retrieved))], k)[0])


def _score_ranked(pred: Path, gold: Path, *, first_gold_only: bool) -> LanguageScore:
    ranked = layout.read_ranked_map(pred, what="ranked candidate ids")
    golds = layout.read_ranked_map(gold, what="gold candidate ids")
    if not golds:
        raise DataFormatError(gold, None, "no queries")
    total = 0.0
    for qid, relevant in golds.items():
        if not relevant:
            raise DataFormatError(gold, None, f"query {qid!r} has no gold candidate")
        wanted = {relevant[0].strip()} if first_gold_only else set(relevant)
        total += average_precision_at_k(ranked.get(qid, []), wanted)
    notes = _id_notes(pred, len(set(golds) - set(ranked)), len(set(ranked) - set(golds)))
    return LanguageScore({f"map@{MAP_K}": 100.0 * total / len(golds)}, notes)


def score_mewslix(pred: Path, gold: Path, lang: str) -> LanguageScore:
    """mewslix: each mention has one gold entity (the official scorer uses the first)."""
    return _score_ranked(pred, gold, first_gold_only=True)


def score_lareqa(pred: Path, gold: Path, lang: str) -> LanguageScore:
    """lareqa: every listed candidate is relevant."""
    return _score_ranked(pred, gold, first_gold_only=False)


_TABLE = (
    OfficialTask("xnli", "tsv", score_labels, "accuracy"),
    OfficialTask("pawsx", "tsv", score_labels, "accuracy"),
    OfficialTask("xcopa", "jsonl", score_xcopa, "accuracy"),
    OfficialTask("udpos", "tsv", score_tagging, "f1"),
    OfficialTask("panx", "tsv", score_tagging, "f1"),
    OfficialTask("xquad", "json", score_squad, "qa"),
    OfficialTask("mlqa", "json", score_mlqa, "qa"),
    OfficialTask("tydiqa", "json", score_squad, "qa"),
    OfficialTask("bucc2018", "tsv", score_bucc, "f1"),
    OfficialTask("tatoeba", "tsv", score_labels, "accuracy"),
    OfficialTask("mewslix", "json", score_mewslix, f"map@{MAP_K}"),
    OfficialTask("lareqa", "json", score_lareqa, f"map@{MAP_K}"),
)
OFFICIAL_TASKS: dict[str, OfficialTask] = {t.name: t for t in _TABLE}

# This package's task names -> leaderboard folder names (only Mewsli-X is spelled differently).
STUDY_TASK_TO_FOLDER: dict[str, str] = {**{t: t for t in OFFICIAL_TASKS if t != "mewslix"},
                                        "mewsli-x": "mewslix"}


def headline(task: OfficialTask, average: dict[str, float]) -> float:
    """The task's single number (evaluate.py's ``avg_metric``; see the deviation note)."""
    if task.headline == "qa":
        return (average["exact_match"] + average["f1"]) / 2
    return average[task.headline]
