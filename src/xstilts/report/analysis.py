"""From result rows to the answers a report gives: scores, deltas, groups, scaling, correlations.

Conventions (stated in every report):

* Values are fractions in the store and *points* (×100) here. A configuration is
  (model, intermediate); the baseline is the study's ``intermediate == "none"``.
* A language's score is the mean over seeds (spread: standard deviation over seeds).
* Averages over languages are macro averages (each language weighs the same). "Zero-shot" means
  every evaluated language except English (the training language), by one definition for every
  table (:func:`xstilts.report.language_info.zero_shot_languages`: ``en-en`` is English,
  ``ar-en`` is zero-shot); a task evaluated on English alone has no zero-shot average and no
  zero-shot comparisons. Group aggregates (family, genus, script, resource level) also leave
  English out, so they measure transfer only.
* Classification-type scores carry their test set's majority-class and chance rates, macro-F1
  and a flag when the accuracy is below the majority class (:mod:`xstilts.report.baselines`).
* Deltas carry a two-level bootstrap interval and a paired sign-flip test on the per-example
  differences pooled over the compared languages, also for a language group (see
  :mod:`xstilts.report.comparisons`), or for a corpus-level ratio metric (entity F1) a paired
  bootstrap and approximate-randomization test over sentences
  (:mod:`xstilts.report.ratio_metrics`); with two or more seeds a side, p is the larger of that
  test's and a t-test's over the per-seed averages (:mod:`xstilts.report.seed_test`) and the
  interval the hull of the bootstrap's and that t-interval, so seed-to-seed variation is in
  both as few seeds allow; p-values are corrected per comparison family (vs baseline on the
  zero-shot average; vs baseline per language; vs baseline per family, per genus, per script,
  per resource level; between configurations) by Holm (family-wise error) or
  Benjamini-Hochberg (false discovery rate). Each grouping is its own family: the four are
  different partitions of the same languages, i.e. different questions, and one family over
  all of them would multiply every group's p by the number of groups of all four.
* Which languages gain: per configuration, the Spearman ρ of each zero-shot language's gain
  over the baseline with its resource level and its URIEL distances to English and to the
  intermediate task's language (:mod:`xstilts.language_distances`), with a percentile
  bootstrap interval over languages (arXiv 2212.01757 relates gains to distance the same way).
* Generalized cross-lingual rows (split ``<split>+generalized``) are kept out of all of the
  above and shown as A×B matrices (:mod:`xstilts.report.matrix`).
* Benchmark category follows XTREME-R (classification incl. multiple choice, structured
  prediction, QA, retrieval; regression is its own); the overall score is the mean of the
  category means of the zero-shot averages.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import rankdata, spearmanr

from xstilts.evaluation.significance import benjamini_hochberg, holm
from xstilts.prediction_files import RecordCache
from xstilts.report.aggregate import SeedTable
from xstilts.report.baselines import (
    ACCURACY,
    LEGEND,
    References,
    below_majority,
    mean_majority,
)
from xstilts.report.comparisons import (
    ExampleScores,
    compare,
    load_example_scores,
    prediction_view,
)
from xstilts.report.handlers import block_metric, scorer
from xstilts.report.language_info import (
    ATTRIBUTES,
    ZERO_SHOT_RULE,
    attribute,
    distance_fields,
    intermediate_languages,
    is_english,
    typology_vs_english,
    zero_shot_languages,
)
from xstilts.report.matrix import generalized_matrices, is_generalized
from xstilts.report.results import collect_results
from xstilts.training.runs import NO_INTERMEDIATE, baseline_first, split_setting

BASELINE = NO_INTERMEDIATE  # the arm without phase 2, as the planner labels it
ALPHA = 0.05
CORRECTIONS = {"holm": holm, "bh": benjamini_hochberg}
CORRECTION_NAMES = {"holm": "Holm", "bh": "Benjamini-Hochberg"}


def n_intermediate_tasks(label: str) -> int:
    """0 for the baseline, k for ``mix(a+b+...)`` with k members, 1 for a single task
    (whatever translate setting the arm runs: ``none [translate-test]`` has 0)."""
    label = split_setting(label)[0]
    if label == BASELINE:
        return 0
    if label.startswith("mix(") and label.endswith(")"):
        return len([p for p in label[4:-1].split("+") if p])
    return 1


def task_category(task: str) -> str:
    """XTREME-R benchmark category of a task, from its task type's handler ("other" when
    unknown here: a user task of an OUT without OUT/tasks/, from older runs)."""
    found = scorer(task)
    return "other" if found is None else found[1].category(found[0])


def _blocks(rows: list[dict[str, Any]], notes: list[str] | None = None
            ) -> dict[tuple, list[dict[str, Any]]]:
    """One block per (model, task, split), on the task type's primary metric (or, where its
    runs did not store it, the first metric stored: ``notes`` then gets a line saying so).
    Generalized cross-lingual rows are no block: they are matrices, not languages."""
    stored: dict[tuple, list[str]] = defaultdict(list)
    blocks: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        if is_generalized(row):
            continue
        metrics = stored[(row["model"], row["target_task"], row["split"])]
        if row["metric"] not in metrics:
            metrics.append(row["metric"])
        blocks[(row["model"], row["target_task"], row["metric"], row["split"])].append(row)
    shown: dict[tuple, str] = {}
    for (model, task, split), metrics in stored.items():
        shown[(model, task, split)], note = block_metric(task, metrics)
        if note is not None and notes is not None and note not in notes:
            notes.append(note)
    return {k: v for k, v in blocks.items() if shown[(k[0], k[1], k[3])] == k[2]}


class _Block(SeedTable):
    """Seed-level values (points) of one (model, task, metric, split) and the averages built
    on them (:class:`~xstilts.report.aggregate.SeedTable`, shared with summary.md's tables)."""

    def __init__(self, key: tuple, rows: list[dict[str, Any]]):
        super().__init__()
        self.model, self.task_name, self.metric, self.split = key
        # A second evaluation of the same task (split "test+align") is reported as a task of
        # its own, "tatoeba [align]", so its tables, tests and headline stay apart.
        view = prediction_view(self.split)
        self.task = f"{self.task_name} [{view}]" if view else self.task_name
        self.n: dict[str, int] = {}
        for r in rows:
            self.add(r["intermediate"], r["language"], r["seed"], 100 * r["value"])
            self.n[r["language"]] = r["n"]
        self.languages = sorted(self.n, key=lambda c: (not is_english(c), c))
        self.configs = sorted(self.values, key=baseline_first)
        self.zero_shot = zero_shot_languages(self.languages)


def _points(value: float | None) -> float | None:
    return None if value is None else 100 * value


def _reference_fields(block: _Block, refs: References, config: str, lang: str,
                      mean: float) -> dict[str, Any]:
    """Majority class, chance, macro-F1 (points) and the below-majority flag of one score."""
    rates = refs.rates_for(block.task_name, block.split, lang)
    if rates is None:
        return {"majority": None, "chance": None, "imbalanced": None, "macro_f1": None,
                "below_majority": None}
    f1 = refs.macro_f1_mean(block.model, config, block.task_name, block.split, lang)
    accuracy = mean / 100 if block.metric == ACCURACY else None
    return {"majority": 100 * rates.majority, "chance": 100 * rates.chance,
            "imbalanced": rates.imbalanced, "macro_f1": _points(f1),
            "below_majority": below_majority(accuracy, rates)}


def _score_records(block: _Block, refs: References) -> list[dict[str, Any]]:
    out = []
    for config in block.configs:
        for lang in block.languages:
            seeds = block.values[config].get(lang, {})
            if not seeds:
                continue
            vals = list(seeds.values())
            mean = statistics.fmean(vals)
            out.append({"config": config, "language": lang, "mean": mean,
                        **distance_fields(lang, config),
                        "std": statistics.stdev(vals) if len(vals) > 1 else None,
                        "seeds": len(vals), "n": block.n[lang],
                        **_reference_fields(block, refs, config, lang, mean)})
    return out


def _rate_records(block: _Block, refs: References) -> list[dict[str, Any]]:
    """The test sets' reference rates of a block, one record per language (fractions)."""
    out = []
    for lang in block.languages:
        rates = refs.rates_for(block.task_name, block.split, lang)
        if rates is not None:
            out.append({"task": block.task, "split": block.split, "language": lang,
                        **rates.record()})
    return out


def _average_records(block: _Block, refs: References) -> list[dict[str, Any]]:
    out = []
    majority = _points(mean_majority(refs, block.task_name, block.split, block.zero_shot))
    for config in block.configs:
        zs_seeds = block.per_seed(config, block.zero_shot)
        english = [g for g in block.languages if is_english(g)]
        en, zs = block.average(config, english), block.average(config, block.zero_shot)
        out.append({"config": config, "avg": block.average(config, block.languages),
                    "zero_shot_avg": zs,
                    "zero_shot_std": block.seed_std(config, block.zero_shot),
                    "seeds": len(zs_seeds), "english": en,
                    "transfer_gap": None if en is None or zs is None or not english
                    else en - zs, "zero_shot_majority": majority,
                    "zero_shot_below_majority": None if zs is None or majority is None
                    or block.metric != ACCURACY else zs < majority - 1e-9})
    return out


def _delta(block: _Block, scores: ExampleScores, a: str, b: str, langs: list[str],
           options: dict[str, Any]) -> dict[str, Any]:
    result = compare(scores, (block.model, a), (block.model, b), block.task_name, block.metric,
                     langs,
                     seed_values=(block.per_seed(a, langs), block.per_seed(b, langs)),
                     view=prediction_view(block.split), **options)
    pts = {k: None if v is None else 100 * v for k, v in
           (("ci_low", result.ci_low), ("ci_high", result.ci_high))}
    ranges = {k: None if v is None else [100 * v[0], 100 * v[1]] for k, v in
              (("seed_ci", result.seed_ci), ("bootstrap_ci", result.bootstrap_ci))}
    return {"model": block.model, "task": block.task, "metric": block.metric, "config": a,
            "versus": b, "delta": block.delta(a, b, langs), **pts, "p": result.p_value,
            "n_examples": result.n_examples,
            "p_examples": result.p_examples, "p_seeds": result.p_seeds,
            "seed_test": result.seed_test, **ranges,
            "n_seeds": result.n_seeds, "method": result.method, "test": result.test,
            "permutations": result.permutations, "min_p": result.min_p,
            "test_name": result.test_name, "count_statistics": result.count_statistics}


def _deltas(block: _Block, scores: ExampleScores, options: dict[str, Any]) -> list[dict]:
    out: list[dict[str, Any]] = []
    others = [c for c in block.configs if c != BASELINE]
    if not block.zero_shot:  # evaluated on English only: no transfer to compare
        return out
    # A comparison is a function of (a, b, languages) within a block (seeded resampling), and
    # the same language set recurs: a one-language family is that language's own comparison,
    # STS17's "language pair" group is the same in all four attributes. Computed once each
    # (the correlation tests of an STS study are most of its report's time).
    computed: dict[tuple[str, str, tuple[str, ...]], dict[str, Any]] = {}

    def delta(a: str, b: str, langs: list[str]) -> dict[str, Any]:
        key = (a, b, tuple(langs))
        if key not in computed:
            computed[key] = _delta(block, scores, a, b, langs, options)
        return computed[key]

    if BASELINE in block.configs:
        for config in others:
            out.append({**delta(config, BASELINE, block.zero_shot),
                        "family": "vs baseline: zero-shot avg", "scope": "zero-shot avg"})
            for lang in block.zero_shot:
                out.append({**delta(config, BASELINE, [lang]),
                            "family": "vs baseline: per language", "scope": lang})
            for attr in ATTRIBUTES:
                for group, langs in _groups(block.zero_shot, attr).items():
                    out.append({**delta(config, BASELINE, langs),
                                "family": group_family(attr), "scope": f"{attr}={group}",
                                "attribute": attr, "group": group, "languages": langs})
    for i, a in enumerate(others):
        for b in others[i + 1:]:
            out.append({**delta(a, b, block.zero_shot),
                        "family": "between configurations: zero-shot avg",
                        "scope": "zero-shot avg"})
    return out


def several_models(analysis: dict[str, Any]) -> bool:
    """Whether the study compares encoders: then every table names the model of its rows."""
    return len({b["model"] for b in analysis.get("blocks", [])}) > 1


def group_family(attr: str) -> str:
    """The correction family of the comparisons per group of ``attr`` (one per grouping)."""
    return f"vs baseline: per {attr.replace('_', ' ')}"


def _groups(langs: list[str], attr: str) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for lang in langs:
        groups.setdefault(attribute(lang, attr), []).append(lang)
    return groups


def group_averages(rows: list[dict[str, Any]], attr: str = "family") -> list[dict[str, Any]]:
    """Macro average over the zero-shot languages of each group, per configuration and task."""
    out = []
    for key, block_rows in _blocks(rows).items():
        block = _Block(key, block_rows)
        for group, langs in _groups(block.zero_shot, attr).items():
            for config in block.configs:
                out.append({"model": block.model, "task": block.task, "metric": block.metric,
                            "attribute": attr, "group": group, "config": config,
                            "languages": langs, "mean": block.average(config, langs)})
    return out


def correct(deltas: list[dict[str, Any]], method: str = "holm") -> None:
    """Add ``p_adj`` and ``significant`` to each delta, correcting within each family."""
    families: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for d in deltas:
        d["p_adj"], d["significant"] = None, None
        if d["p"] is not None:
            families[d["family"]].append(d)
    for members in families.values():
        adjusted = CORRECTIONS[method]([d["p"] for d in members])
        for d, p in zip(members, adjusted, strict=True):
            d["p_adj"], d["significant"] = float(p), bool(p <= ALPHA)


def correlation_predictors(code: str, config: str) -> dict[str, float | None]:
    """What the gain of language ``code`` under ``config`` is correlated with: its resource
    level, the coarse 0-3 typological count, and the URIEL distances to English and, when
    the intermediate task is not in English only, to its language; None where unclassified."""
    coarse = typology_vs_english(code)
    fields = distance_fields(code, config)
    if all(lang == "en" for lang in intermediate_languages(config)):  # same as "_en"
        fields = {k: v for k, v in fields.items() if not k.endswith("_intermediate")}
    return {"resource_level": coarse.get("resource_level"),
            "typological_distance": coarse.get("typological_distance"), **fields}


def spearman_with_interval(x: list[float], y: list[float], *, resamples: int, confidence: float,
                           seed: int) -> dict[str, Any]:
    """Spearman ρ of ``x`` and ``y`` (one pair per language), its p, and a percentile
    bootstrap interval over languages (pairs resampled with replacement; resamples where
    either side is constant have no ρ and are left out, their count is ``degenerate``).
    None everywhere with fewer than 3 languages or a constant side."""
    out: dict[str, Any] = {"rho": None, "p": None, "ci_low": None, "ci_high": None,
                           "n": len(x), "degenerate": None}
    if len(x) < 3 or len(set(x)) < 2 or len(set(y)) < 2:
        return out
    res = spearmanr(x, y)
    out["rho"], out["p"] = float(res.statistic), float(res.pvalue)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(x), size=(resamples, len(x)))
    xs, ys = rankdata(np.asarray(x)[picks], axis=1), rankdata(np.asarray(y)[picks], axis=1)
    xs, ys = xs - xs.mean(axis=1, keepdims=True), ys - ys.mean(axis=1, keepdims=True)
    norms = np.sqrt((xs ** 2).sum(axis=1) * (ys ** 2).sum(axis=1))
    ok = norms > 0
    rhos = (xs * ys).sum(axis=1)[ok] / norms[ok]
    out["degenerate"] = int((~ok).sum())
    if rhos.size:
        tail = (1 - confidence) / 2
        out["ci_low"], out["ci_high"] = (float(v) for v in np.quantile(rhos, [tail, 1 - tail]))
    return out


def _correlations(block: _Block, options: dict[str, Any]) -> list[dict[str, Any]]:
    """Per configuration: Spearman ρ of the per-language zero-shot gain over the baseline
    (points) with each predictor of :func:`correlation_predictors`, as arXiv 2212.01757
    relates gains to language distance; languages whose predictor is unclassified are left
    out of that predictor's ρ (``n`` says how many count)."""
    out = []
    langs = block.zero_shot
    for config in [c for c in block.configs if c != BASELINE and BASELINE in block.configs]:
        gains = {g: block.score(config, g) - block.score(BASELINE, g) for g in langs
                 if block.score(config, g) is not None and block.score(BASELINE, g) is not None}
        values = {g: correlation_predictors(g, config) for g in gains}
        for predictor in next(iter(values.values()), {}):
            pairs = [(gains[g], values[g][predictor]) for g in gains]
            pairs = [(x, y) for x, y in pairs if y is not None]
            stats = spearman_with_interval(
                [x for x, _ in pairs], [float(y) for _, y in pairs],
                resamples=options["resamples"], confidence=options["confidence"],
                seed=options["seed"])
            out.append({"model": block.model, "task": block.task, "config": config,
                        "predictor": predictor, **stats,
                        "points": [{"language": g, "gain": gains[g],
                                    "value": values[g][predictor]} for g in gains]})
    return out


def _summaries(analysis: dict[str, Any]) -> None:
    """Category scores, XTREME-R overall, and the scaling view, from the block averages."""
    by_cat: dict[tuple, list[float]] = defaultdict(list)
    for avg in analysis["averages"]:
        if avg["zero_shot_avg"] is not None and avg["category"] is not None:
            by_cat[(avg["model"], avg["config"], avg["category"])].append(avg["zero_shot_avg"])
    analysis["categories"] = [{"model": m, "config": c, "category": cat,
                               "score": statistics.fmean(v)} for (m, c, cat), v in by_cat.items()]
    overall: dict[tuple, list[float]] = defaultdict(list)
    for rec in analysis["categories"]:
        overall[(rec["model"], rec["config"])].append(rec["score"])
    analysis["overall"] = [{"model": m, "config": c, "score": statistics.fmean(v),
                            "categories": len(v)} for (m, c), v in overall.items()]
    scaling: dict[tuple, list[float]] = defaultdict(list)
    for d in analysis["deltas"]:
        if d["versus"] != BASELINE or d["delta"] is None:
            continue
        if d["scope"] == "zero-shot avg":
            scaling[(d["model"], d["task"], "all languages", d["config"])].append(d["delta"])
        elif d.get("attribute") == "family":
            scaling[(d["model"], d["task"], d["group"], d["config"])].append(d["delta"])
    points: dict[tuple, list[tuple[str, float]]] = defaultdict(list)
    for (model, task, family, config), vals in scaling.items():
        points[(model, task, family, n_intermediate_tasks(config))].append((config, vals[0]))
    analysis["scaling"] = [
        {"model": m, "task": t, "family": f, "n_tasks": k,
         "mean_gain": statistics.fmean(v for _, v in cfgs), "configs": [c for c, _ in cfgs]}
        for (m, t, f, k), cfgs in sorted(points.items(), key=lambda kv: (kv[0][:3], kv[0][3]))]


def _unique(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A run shared by two studies appears once per study in the rows; count it once."""
    seen: dict[tuple, dict[str, Any]] = {}
    for r in rows:
        seen.setdefault((r["run_id"], r["target_task"], r["language"], r["split"], r["metric"]), r)
    return list(seen.values())


def analyse_rows(rows: list[dict[str, Any]], scores: ExampleScores | None = None, *,
                 references: References | None = None, correction: str = "holm",
                 resamples: int = 1000, permutations: int = 100_000,
                 confidence: float = 0.95, seed: int = 0) -> dict[str, Any]:
    """Everything the report shows, as JSON-ready lists of records (see the module doc).

    ``resamples``: bootstrap draws for the intervals; ``permutations``: random sign patterns
    of a sign-flip test whose p cannot be computed exactly, and random swaps of an
    approximate-randomization test (their smallest p is 1/(B+1)); ``references``: test-set
    rates and macro-F1 (:func:`xstilts.report.baselines.load_references`), none if omitted.
    """
    if correction not in CORRECTIONS:
        raise ValueError(f"correction must be one of {sorted(CORRECTIONS)}")
    options = {"resamples": resamples, "permutations": permutations, "confidence": confidence,
               "seed": seed}
    rows = _unique(rows)
    analysis: dict[str, Any] = {
        "baseline": BASELINE, "correction": correction, "alpha": ALPHA, "confidence": confidence,
        "resamples": resamples, "permutations": permutations, "units": "points (metric × 100)",
        "zero_shot_rule": ZERO_SHOT_RULE, "reference_legend": LEGEND,
        "blocks": [], "scores": [], "averages": [], "deltas": [], "correlations": [],
        "reference_rates": [], "metric_notes": []}
    analysis["generalized"] = generalized_matrices(rows, analysis["metric_notes"])
    refs = references or References()
    for key, block_rows in _blocks(rows, analysis["metric_notes"]).items():
        block = _Block(key, block_rows)
        head = {"model": block.model, "task": block.task, "metric": block.metric}
        # Only a task's own evaluation counts towards the XTREME-R categories and overall.
        category = None if block.task != block.task_name else task_category(block.task)
        analysis["blocks"].append({**head, "split": block.split, "category": category,
                                   "languages": block.languages, "zero_shot": block.zero_shot,
                                   "configs": block.configs, "n": block.n})
        analysis["scores"] += [{**head, **r} for r in _score_records(block, refs)]
        analysis["averages"] += [{**head, "category": category, **r}
                                 for r in _average_records(block, refs)]
        analysis["reference_rates"] += _rate_records(block, refs)
        analysis["deltas"] += _deltas(block, scores or {}, options)
        analysis["correlations"] += _correlations(block, options)
    correct(analysis["deltas"], correction)
    _summaries(analysis)
    from xstilts.report.headline import headlines

    analysis["headlines"] = [asdict(h) for h in headlines(analysis)]
    return analysis


def analyse(out_dir: Path, study: str | None = None, **options: Any) -> dict[str, Any]:
    """Analyse the finished runs in ``out_dir`` (per-example scores from the prediction files)."""
    from xstilts.report.baselines import load_references

    rows = collect_results(out_dir, study)
    read = RecordCache()  # both read the prediction files: once
    result = analyse_rows(rows, load_example_scores(out_dir, rows, read),
                          references=load_references(out_dir, rows, read), **options)
    result["study"] = study
    return result


def seed_tables(rows: list[dict[str, Any]]) -> list[SeedTable]:
    """The report's blocks of ``rows`` (one per model, target task, primary metric, split;
    values in points, ``score`` the mean over seeds), for other readers of the same gains
    (:mod:`xstilts.transfer_prediction`), so they pair configurations with the baseline as
    the report does. Each has ``model``, ``task``, ``metric``, ``languages``, ``zero_shot``
    and ``configs``."""
    return [_Block(key, block_rows) for key, block_rows in _blocks(_unique(rows)).items()]
