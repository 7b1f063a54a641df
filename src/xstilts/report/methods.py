"""What test produced each level's p-values, in words: one text for summary.md and the page.

Why spelled out per level: a p-value of a language family means little unless the reader knows
whether it came from the family's 2 language means (it could then never be small) or from its
examples, how it was computed (exact or Monte Carlo, and the smallest p reachable), and how
many comparisons Holm / Benjamini-Hochberg corrected it with.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Any

from xstilts.errors import XstiltsError
from xstilts.evaluation.significance import two_seed_caveat
from xstilts.report import correlation_metrics, ratio_metrics
from xstilts.report.analysis import CORRECTION_NAMES
from xstilts.report.seed_test import PAIRED
from xstilts.tasks import Task, TaskType, get_task

RATIO_TEST = ratio_metrics.TEST_NAME
CORRELATION_TEST = correlation_metrics.TEST_NAME

_POOLED = ("the per-example differences of all its zero-shot languages pooled, each language "
           "weighted equally (the statistic is the macro average)")
_UNITS = {
    "vs baseline: zero-shot avg": _POOLED,
    "between configurations: zero-shot avg": _POOLED,
    "vs baseline: per language": "that language's per-example differences",
}
_GROUP_UNITS = ("the per-example differences of the group's zero-shot languages pooled, each "
                "language weighted equally (not on its language means: a sign-flip test over "
                "1-3 means could never go below p = 0.25)")


def _corpus_units(family: str, items: str, how: str) -> str:
    """What a corpus metric's test swaps in ``family``: ``items`` (sentences' counts, or
    examples' (gold, prediction) pairs), the metric recomputed ``how``."""
    if family == "vs baseline: per language":
        return f"that language's {items} (the metric recomputed {how})"
    whose = "all its" if family in _UNITS else "the group's"
    return (f"the {items} of {whose} zero-shot languages (the metric recomputed per language "
            f"{how}, then macro-averaged)")


def _how(members: list[dict[str, Any]], draws: str = "sign patterns") -> str:
    exact = sum(d["test"] == "exact" for d in members)
    drawn = [d["permutations"] for d in members if d["test"] == "Monte Carlo"]
    untested = sum(d["test"] is None for d in members)
    parts = [f"p exact for {exact}"] if exact else []
    if drawn:
        parts.append(f"Monte Carlo for {len(drawn)} (B = {min(drawn)}"
                     + ("" if min(drawn) == max(drawn) else f"–{max(drawn)}")
                     + f" {draws}, smallest reachable p = 1/(B+1) = "
                     f"{1 / (min(drawn) + 1):.1g})")
    if untested:
        parts.append(f"no test for {untested} (no per-example scores)")
    return ", ".join(parts)


def _seed_how(members: list[dict[str, Any]]) -> str:
    """How many of a family's tests also tested the seeds (see :mod:`xstilts.report.seed_test`)."""
    tested = [d for d in members if d["p"] is not None]
    kinds = Counter(d["seed_test"] for d in tested if d.get("seed_test"))
    if not kinds:
        return "; no seed-level test (fewer than two seeds a side, or no seed variation)"
    which = ", ".join(f"{name} for {n}" for name, n in sorted(kinds.items()))
    rest = len(tested) - sum(kinds.values())
    return (f"; with it the {which}, p the larger of the two"
            + (f" (example-level test alone for {rest})" if rest else ""))


def family_lines(analysis: dict[str, Any]) -> list[str]:
    """One sentence per correction family: level, test unit, exact/Monte Carlo, size."""
    correction = CORRECTION_NAMES[analysis["correction"]]
    families: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for d in analysis["deltas"]:
        families[d["family"]].append(d)
    lines = []
    for name, members in families.items():
        tested = sum(d["p"] is not None for d in members)
        size = f"{len(members)} comparison{'s' * (len(members) != 1)}"
        corrected = (f"{correction} over the {tested} tested" if tested else
                     "nothing to correct")
        flips = [d for d in members
                 if d.get("test_name") not in (RATIO_TEST, CORRELATION_TEST)]
        tests = [f"paired sign-flip test on {_UNITS.get(name, _GROUP_UNITS)}; {_how(flips)}"
                 ] if flips else []
        for test, items, how in ((RATIO_TEST, "sentences", "from summed counts"),
                                 (CORRELATION_TEST, "(gold, prediction) pairs",
                                  "over the pairs")):
            corpus = [d for d in members if d.get("test_name") == test]
            if corpus:
                metrics = ", ".join(sorted({d["metric"] for d in corpus}))
                tests.append(f"{test} ({metrics}) on {_corpus_units(name, items, how)}; "
                             f"{_how(corpus, 'permutations')}")
        lines.append(f"{name}: {size}; {'; '.join(tests)}{_seed_how(members)}; {corrected}.")
    return lines


def _ratio_line(analysis: dict[str, Any]) -> list[str]:
    """How ratio metrics (entity F1) get intervals and p-values, when the study has any."""
    statistics = {d["metric"]: d["count_statistics"] for d in analysis["deltas"]
                  if d.get("test_name") == RATIO_TEST}
    metrics = sorted(statistics)
    if not metrics:
        return []
    counts = "; ".join(f"{m}: {', '.join(statistics[m])}" for m in metrics)
    b = analysis["permutations"]
    return [
        f"Corpus-level ratio metrics ({', '.join(metrics)}) are not means of per-example scores: "
        f"each sentence contributes counts ({counts}) and the metric is recomputed from summed "
        "counts. Interval: paired bootstrap over sentences (the same resampled sentence ids for "
        "both configurations, within each language; seeds resampled as above). p-value: "
        f"{RATIO_TEST} (Riezler & Maxwell 2005): each sentence's "
        "counts are swapped between the two configurations with probability ½ and the "
        "difference of the metrics (macro-averaged over the compared languages; seeds' counts "
        f"averaged) recomputed; {b} random permutations (fewer where one test would take over "
        f"~4 s; stated per family), p = (1 + hits)/(1 + B), so the smallest reachable p is "
        f"1/(B+1) = {1 / (b + 1):.1g}."]


def _correlation_line(analysis: dict[str, Any]) -> list[str]:
    """How correlations (STS Spearman, Pearson) get intervals and p-values, when any did."""
    metrics = sorted({d["metric"] for d in analysis["deltas"]
                      if d.get("test_name") == CORRELATION_TEST})
    if not metrics:
        return []
    b = analysis["permutations"]
    return [
        f"Correlations ({', '.join(metrics)}) are not means of per-example scores: each example "
        "contributes its (gold score, predicted score) pair and the correlation is recomputed "
        "over the pairs (Spearman re-ranked, ties sharing their mean rank). Interval: paired "
        "bootstrap over examples (the same resampled example ids for both configurations, "
        "within each language; seeds resampled as above). p-value: "
        f"{CORRELATION_TEST} (Noreen 1989): each example's predictions are swapped between the "
        "two configurations with probability ½ and the difference of the correlations "
        "(macro-averaged over the compared languages; each configuration's predictions "
        f"averaged over its seeds) recomputed; {b} random permutations (fewer where one test "
        f"would swap over {correlation_metrics.BUDGET // 1_000_000} million examples; stated per "
        "family), "
        f"p = (1 + hits)/(1 + B), so the smallest reachable p is 1/(B+1) = {1 / (b + 1):.1g}."]


def _two_seeds(tested: list[dict[str, Any]], confidence: float) -> str:
    """A warning where a paired seed-level test had two seeds: one degree of freedom."""
    if not any(d.get("seed_test") == PAIRED and d["n_seeds"] == 2 for d in tested):
        return ""
    caveat = two_seed_caveat(confidence)
    return f" {caveat[0].upper()}{caveat[1:]}."


def _seed_line(tested: list[dict[str, Any]], confidence: float) -> list[str]:
    """Why and how the seeds are tested too, when any comparison had two seeds a side."""
    if not any(d.get("seed_test") for d in tested):
        return []
    return [
        "Seeds: the tests above hold each configuration's trained models fixed (per-example "
        "scores averaged over seeds), so on many examples they find differences between two sets "
        "of models that other seeds would not reproduce. With two or more seeds on each side, a "
        "t-test over the per-seed macro averages is run as well (paired over the per-seed deltas "
        "when both ran the same seeds, else Welch's), and a comparison's p is the larger of the "
        "two (an intersection-union test): significant means the delta stands out against both "
        "the examples and the seeds. The interval is the hull of the bootstrap's and that "
        "test's t-interval: the bootstrap resamples seeds too, but with few seeds it understates "
        "their variation (a bootstrap over n seeds sees (n−1)/n of it, and its percentiles are "
        "not t quantiles: 4.30 standard errors for 3 seeds, not 1.96), so alone it could clear "
        "zero where the seeds do not. Both p-values and both intervals are in summary.json "
        "(p_examples, p_seeds, bootstrap_ci, seed_ci)." + _two_seeds(tested, confidence)]


def general_lines(analysis: dict[str, Any]) -> list[str]:
    """How the p-values (sign-flip, approximate randomization) are computed, and what the
    correction families are."""
    correction = CORRECTION_NAMES[analysis["correction"]]
    permutations = analysis.get("permutations")
    floor = "" if not permutations else (
        f" Where it cannot (many distinct differences, e.g. F1 scores, or many languages of "
        f"different sizes), {permutations} random sign patterns (fewer where one test would "
        f"take over ~2 s; stated per family), p = (1 + hits)/(1 + B), so the smallest "
        f"reachable p is 1/(B+1) = {1 / (permutations + 1):.1g}.")
    tested = [d for d in analysis["deltas"] if d["p"] is not None]
    sign_flip = [] if tested and all(d.get("test_name") in (RATIO_TEST, CORRELATION_TEST)
                                     for d in tested) else [
        "p-values: paired sign-flip (permutation) test on per-example differences, each "
        "configuration's per-example score averaged over its seeds; for several languages the "
        "differences are pooled and weighted so the statistic is the macro average over "
        "languages. The test is exact (all 2^n sign patterns, from a convolution of binomials) "
        "where the differences take few distinct values, as 0/1 scores do." + floor]
    return [
        *sign_flip,
        *_ratio_line(analysis),
        *_correlation_line(analysis),
        *_seed_line(tested, analysis.get("confidence", 0.95)),
        f"Multiple comparisons: {correction} correction within each comparison family (vs "
        "baseline on the zero-shot average; per language; per family; per genus; per script; "
        "per resource level; between configurations); significant means adjusted p ≤ "
        f"{analysis['alpha']}.",
    ]


def protocol_lines(analysis: dict[str, Any]) -> list[str]:
    """How the scores were computed where a task leaves a choice (retrieval protocol, pair
    encoding): said with the scores, whether or not there is anything to test."""
    return [*analysis.get("retrieval_protocols", []), *analysis.get("pair_encodings", [])]


def family_note(analysis: dict[str, Any], family: str) -> str:
    """The caption of a table of one correction family: its test and its correction."""
    return next((line for line in family_lines(analysis) if line.startswith(family + ":")),
                f"{family}: no comparisons.")



_DIRECTION_WORDS = {
    "en2xx": "English sentences query the non-English side (en→xx)",
    "xx2en": "non-English sentences query the English side (xx→en)",
    "both": "both directions (xx→en and en→xx rows)",
    "query2pool": "each query searches the shared candidate pool",
}
_UNRECORDED = ("not recorded (finished before xstilts recorded retrieval protocols: xx→en, mean "
               "pooling, no prefix, the XTREME layer rule applied to the evaluated model's own "
               "name, so a phase-2 checkpoint of XLM-R / mBERT was pooled at its last layer)")


def _run_protocol(run: dict[str, Any]) -> dict[str, Any] | None:
    """A finished retrieval run's protocol: as recorded in run.json (``info``), else as
    planned (``settings``); ``{}`` for a retrieval run from before protocols were recorded."""
    info = run.get("info") or {}
    info = json.loads(info) if isinstance(info, str) else info
    settings = run.get("settings") or {}
    settings = json.loads(settings) if isinstance(settings, str) else settings
    if "retrieval_protocol" in info:
        return info["retrieval_protocol"]
    if "retrieval" in settings:
        return settings["retrieval"]
    return {} if "retrieval" in info else None


def _protocol_text(p: dict[str, Any]) -> str:
    prefix = f"prefix {p['prefix']!r}" if p.get("prefix") else "no prefix"
    layer = "last layer" if p["layer"] == -1 else f"hidden layer {p['layer']}"
    direction = _DIRECTION_WORDS.get(p["direction"], p["direction"])
    rule = p.get("layer_rule", "given")
    where = rule if rule.startswith(layer) else f"{layer} ({rule})"  # "last layer (MTEB: ...)"
    return (f"preset {p.get('preset', 'custom')}: {direction}; {where}; "
            f"{p['pooling']} pooling; {prefix}; cosine of L2-normalised vectors")


def _done_targets(runs: list[dict[str, Any]], value: Callable[[dict[str, Any]], Any]
                  ) -> dict[tuple[str, str], list[Any]]:
    """``value`` of each finished target run (None: not applicable), grouped by (encoder, task)."""
    groups: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for run in runs:
        if run.get("kind") != "target" or run.get("status") != "done":
            continue
        found = value(run)
        if found is not None:
            groups[(run["encoder"], run["task"])].append(found)
    return groups


def retrieval_protocol_lines(runs: list[dict[str, Any]]) -> list[str]:
    """One sentence per (encoder, retrieval task): which protocol its finished runs used, and
    whether every arm (pretrained and intermediate-trained) was pooled at the same layer."""
    lines = []
    for (encoder, task), protocols in _done_targets(runs, _run_protocol).items():
        texts = sorted({_protocol_text(p) if p else _UNRECORDED for p in protocols})
        head = f"Retrieval protocol, {task} with {encoder} ({len(protocols)} runs): "
        if len(texts) == 1:
            lines.append(head + texts[0] + ", the same for every intermediate configuration.")
            continue
        layers = sorted({str(p["layer"]) for p in protocols if p})
        warning = (f"arms were pooled at different layers ({', '.join(layers)}), so their "
                   "scores are not comparable; " if len(layers) > 1 else "")
        lines.append(head + "MIXED: " + warning + " | ".join(texts) + ".")
    return lines


_PAIR_ENCODING_WORDS = {
    "cross": "cross-encoder (both texts of a pair in one input)",
    "siamese": "siamese bi-encoder (each text encoded alone, as SBERT)",
}
_PAIR_TYPES = (TaskType.PAIR_CLASSIFICATION, TaskType.REGRESSION)


def _pair_task(name: str) -> Task | None:
    """The task of a run if it is a pair task (its model a choice of pair encoding); None for
    other tasks and for task names this process does not know (a user task file not loaded)."""
    try:
        task = get_task(name)
    except XstiltsError:
        return None
    return task if task.type in _PAIR_TYPES else None


def _run_pair_encoding(run: dict[str, Any]) -> str | None:
    if _pair_task(run["task"]) is None:
        return None
    settings = run.get("settings") or {}
    settings = json.loads(settings) if isinstance(settings, str) else settings
    return (settings.get("training") or {}).get("pair_encoding")


def pair_encoding_lines(runs: list[dict[str, Any]]) -> list[str]:
    """One sentence per (encoder, pair task): how its finished runs encoded a pair, and where
    that is not the task's published protocol (STS 2017: siamese), that its scores are not
    comparable with published ones. The encoding is the model, so it is named with the scores."""
    lines = []
    for (encoder, task_name), used in _done_targets(runs, _run_pair_encoding).items():
        task = _pair_task(task_name)
        head = f"Pair encoding, {task_name} with {encoder} ({len(used)} runs): "
        kinds = sorted(set(used))
        text = " | ".join(_PAIR_ENCODING_WORDS.get(k, k) for k in kinds)
        protocol = task.protocol_pair_encoding if task else None
        if len(kinds) > 1:
            lines.append(head + "MIXED: " + text + "; arms trained with different pair "
                         "encodings are different models, so their scores are not comparable.")
            continue
        if protocol is None:
            note = ""
        elif kinds == [protocol]:
            note = ", the task's published protocol"
        else:
            note = (f"; the task's published protocol is the {_PAIR_ENCODING_WORDS[protocol]}, "
                    "so these scores are not comparable with published ones")
        lines.append(head + text + note + ", the same for every intermediate configuration.")
    return lines
