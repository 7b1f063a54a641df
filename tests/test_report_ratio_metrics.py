"""Entity F1 and span F1 in the report: per-sentence counts, paired bootstrap and approximate
randomization."""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path

# The run fields ResultStore.register reads, without planning a study.
from types import SimpleNamespace as StoredRun

import numpy as np
import pytest
from report_fixtures import one_seed_study
from scipy.stats import t as student_t

from xstilts.evaluation.tagging_metrics import score_entity_f1, score_span_f1, token_accuracy
from xstilts.report.analysis import analyse
from xstilts.report.comparisons import compare
from xstilts.report.methods import family_lines, general_lines
from xstilts.report.ratio_metrics import TEST_NAME, randomization_test
from xstilts.results import Score
from xstilts.studies.store import ResultStore
from xstilts.tasks import get_task
from xstilts.tasktypes import handler_for
from xstilts.tasktypes.per_example import ENTITY_F1, SPAN_F1, ExampleStatistics

F1, SPAN = ENTITY_F1, SPAN_F1
TYPES = ("PER", "ORG", "LOC")


def _gold(rng: np.random.Generator, n: int) -> list[list[str]]:
    """``n`` BIO sentences of 3-12 words, about one word in four starting an entity."""
    sentences = []
    for _ in range(n):
        tags: list[str] = []
        length = rng.integers(3, 13)
        while len(tags) < length:
            if rng.random() < 0.25:
                kind = TYPES[rng.integers(len(TYPES))]
                tags += [f"B-{kind}"] + [f"I-{kind}"] * int(rng.integers(0, 3))
            else:
                tags.append("O")
        sentences.append(tags)
    return sentences


def _predict(rng: np.random.Generator, gold: list[list[str]], quality: float
             ) -> list[list[str]]:
    """A system that keeps each gold entity with probability ``quality``, else retypes or drops
    it, and tags some spurious entities, sometimes with a stray I- (lenient chunking)."""
    out = []
    for tags in gold:
        pred = list(tags)
        for i, tag in enumerate(tags):
            if tag.startswith("B-") and rng.random() > quality:
                end = i + 1
                while end < len(tags) and tags[end].startswith("I-"):
                    end += 1
                kind = TYPES[rng.integers(len(TYPES))] if rng.random() < 0.5 else None
                pred[i:end] = ([f"B-{kind}"] + [f"I-{kind}"] * (end - i - 1) if kind
                               else ["O"] * (end - i))
            elif tag == "O" and rng.random() < (1 - quality) / 4:
                pred[i] = f"{'BI'[int(rng.integers(2))]}-{TYPES[rng.integers(len(TYPES))]}"
        out.append(pred)
    return out


def _records(gold: list[list[str]], pred: list[list[str]], lang: str = "de") -> list[dict]:
    return [{"id": f"{lang}-{i}", "gold": g, "prediction": p}
            for i, (g, p) in enumerate(zip(gold, pred, strict=True))]


def _statistics(records: list[dict], form) -> ExampleStatistics | None:
    """The tagging handler's per-sentence counts of ``form`` (what the report pairs): PAN-X
    (BIO) for entity F1, UD-POS for span F1."""
    task = get_task("panx" if form is F1 else "udpos")
    return handler_for(task).example_statistics(task, form.name, "de", records)


def example_counts(records: list[dict], form) -> dict[str, np.ndarray] | None:
    stats = _statistics(records, form)
    return None if stats is None else stats.by_id()


def _counts(gold: list[list[str]], pred: list[list[str]]) -> np.ndarray:
    """Seeds (1) × sentences × counts, the layout of the comparisons."""
    return np.stack(list(example_counts(_records(gold, pred), F1).values()))[None]


def test_f1_from_summed_counts_is_the_scored_entity_f1() -> None:
    seqeval = pytest.importorskip("seqeval.metrics")
    rng = np.random.default_rng(1)
    gold = _gold(rng, 150)
    pred = _predict(rng, gold, 0.6)
    counts = example_counts(_records(gold, pred), F1)
    assert counts is not None and len(counts) == 150
    tp, n_pred, n_gold = np.sum(list(counts.values()), axis=0)
    by_hand = 2 * tp / (n_pred + n_gold)
    assert _statistics(_records(gold, pred), F1).value == pytest.approx(by_hand, abs=1e-12)
    assert by_hand == pytest.approx(score_entity_f1(gold, pred, resamples=10).value, abs=1e-12)
    assert by_hand == pytest.approx(seqeval.f1_score(gold, pred), abs=1e-9)
    assert example_counts(_records([["O", "X-1"]], [["O", "O"]]), F1) is None  # not BIO


def _compare(gold: list[list[str]], a: list[list[str]], b: list[list[str]], **options):
    scores = {("m", config, "t", "entity_f1", "de", ""): {0: _statistics(_records(gold, p), F1)}
              for config, p in (("a", a), ("none", b))}
    return compare(scores, ("m", "a"), ("m", "none"), "t", "entity_f1", ["de"],
                   seed_values=([], []), **options)


def test_bootstrap_interval_holds_the_delta_and_shrinks_with_more_sentences() -> None:
    widths = []
    for n in (100, 1600):
        rng = np.random.default_rng(n)
        gold = _gold(rng, n)
        a, b = _predict(rng, gold, 0.75), _predict(rng, gold, 0.65)
        result = _compare(gold, a, b, resamples=2000, permutations=2000)
        observed = score_entity_f1(gold, a, resamples=1).value - score_entity_f1(
            gold, b, resamples=1).value
        assert result.delta == pytest.approx(observed, abs=1e-12)
        assert result.ci_low < observed < result.ci_high
        assert result.n_examples == n and result.test_name == TEST_NAME
        widths.append(result.ci_high - result.ci_low)
    assert widths[1] < widths[0] / 2.5  # ~1/sqrt(16) of the width


def test_several_seeds_average_each_seeds_f1() -> None:
    """Two seeds: the delta is the mean over seeds of each seed's F1 (as the report's scores),
    the interval also resamples seeds, the randomization test runs on the seeds' averaged
    counts, and the seed-level test on each seed's own F1 (the larger p is the comparison's)."""
    rng = np.random.default_rng(4)
    gold = _gold(rng, 300)
    preds = {(c, s): _predict(rng, gold, q) for c, q in (("a", 0.8), ("none", 0.7))
             for s in (0, 1)}
    scores = {("m", c, "t", "entity_f1", "de", ""): {
        s: _statistics(_records(gold, preds[(c, s)]), F1) for s in (0, 1)}
        for c in ("a", "none")}
    result = compare(scores, ("m", "a"), ("m", "none"), "t", "entity_f1", ["de"],
                     seed_values=([], []), resamples=500, permutations=2000)
    per_seed = [score_entity_f1(gold, preds[("a", s)], resamples=1).value
                - score_entity_f1(gold, preds[("none", s)], resamples=1).value for s in (0, 1)]
    expected = np.mean(per_seed)
    assert result.delta == pytest.approx(expected, abs=1e-12)
    assert result.ci_low < expected < result.ci_high and result.n_seeds == 2
    assert result.p_examples < 0.01
    # t of two paired deltas: mean / (|d0 - d1| / 2), one degree of freedom
    t = expected / (abs(per_seed[0] - per_seed[1]) / 2)
    assert result.p_seeds == pytest.approx(2 * student_t.sf(abs(t), df=1), rel=1e-9)
    assert result.p_value == max(result.p_examples, result.p_seeds)


def _naive_randomization(pairs: list[tuple[np.ndarray, np.ndarray]], draws: int) -> float:
    """Swap each sentence's counts with probability ½, one permutation at a time."""
    rng = np.random.default_rng(99)
    observed = np.mean([F1.value(a[0].sum(0)) - F1.value(b[0].sum(0)) for a, b in pairs])
    hits = 0
    for _ in range(draws):
        stat = []
        for a, b in pairs:
            swap = (rng.random(a.shape[1]) < 0.5)[:, None]
            stat.append(F1.value(np.where(swap, b[0], a[0]).sum(0))
                        - F1.value(np.where(swap, a[0], b[0]).sum(0)))
        hits += abs(np.mean(stat)) >= abs(observed) - 1e-12
    return (1 + hits) / (1 + draws)


def test_randomization_p_for_a_real_gain_and_for_no_difference() -> None:
    rng = np.random.default_rng(5)
    gold = _gold(rng, 200)
    good, poor = _predict(rng, gold, 0.85), _predict(rng, gold, 0.55)
    gain = randomization_test([(_counts(gold, good), _counts(gold, poor))], F1,
                              permutations=20_000)
    assert gain.observed > 0.15 and gain.p_value < 0.001 and gain.permutations == 20_000
    same = randomization_test([(_counts(gold, _predict(rng, gold, 0.7)),
                                _counts(gold, _predict(rng, gold, 0.7)))], F1,
                              permutations=20_000)
    assert same.p_value > 0.2
    identical = _counts(gold, good)
    assert randomization_test([(identical, identical)], F1).p_value == 1.0


def test_randomization_matches_swapping_sentences_one_by_one() -> None:
    """The vectorised test (byte look-up tables, macro average over languages) against the
    definition; three languages, one of them with no differing sentence."""
    rng = np.random.default_rng(11)
    pairs = []
    for n, (qa, qb) in ((120, (0.7, 0.68)), (90, (0.8, 0.8)), (40, (0.7, 0.7))):
        gold = _gold(rng, n)
        a = _predict(rng, gold, qa)
        pairs.append((_counts(gold, a), _counts(gold, a if n == 40 else _predict(rng, gold, qb))))
    fast = randomization_test(pairs, F1, permutations=40_000, seed=3)
    slow = _naive_randomization(pairs, 4000)
    assert 0.1 < slow < 0.9  # a p in the middle, where a wrong statistic would show
    assert fast.p_value == pytest.approx(slow, abs=0.03)


def _build_out(out: Path) -> Path:
    """One-seed study with entity F1 on en, de, fr, zh: 'better' is much better in de and zh."""
    quality = {"none": 0.6, "better": 0.8}
    rng = np.random.default_rng(2)
    gold = {lang: _gold(rng, 60) for lang in ("en", "de", "fr", "zh")}

    def files(config: str, lang: str) -> tuple[list[dict], list]:
        pred = _predict(rng, gold[lang], quality[config] if lang in ("de", "zh") else 0.7)
        score = score_entity_f1(gold[lang], pred, resamples=10)
        return _records(gold[lang], pred, lang), [score.at("panx", lang, "dev")]

    return one_seed_study(out, "ner", "panx", list(quality), list(gold), files)


def test_report_gives_entity_f1_deltas_intervals_and_p_values(tmp_path: Path) -> None:
    analysis = analyse(_build_out(tmp_path / "out"), "ner", resamples=300, permutations=2000)
    deltas = analysis["deltas"]
    assert {d["family"] for d in deltas} >= {"vs baseline: zero-shot avg",
                                             "vs baseline: per language",
                                             "vs baseline: per family"}
    for d in deltas:
        assert d["metric"] == "entity_f1" and d["test_name"] == TEST_NAME
        assert d["ci_low"] <= d["delta"] <= d["ci_high"] and d["p_adj"] is not None
        assert d["permutations"] == 2000 and d["n_seeds"] == 1
    zs = next(d for d in deltas if d["scope"] == "zero-shot avg")
    assert zs["config"] == "better" and zs["n_examples"] == 3 * 60
    scores = {(s["config"], s["language"]): s["mean"] for s in analysis["scores"]}
    expected = np.mean([scores[("better", g)] - scores[("none", g)] for g in ("de", "fr", "zh")])
    assert zs["delta"] == pytest.approx(expected)
    per_language = {d["scope"]: d for d in deltas if d["family"] == "vs baseline: per language"}
    assert per_language["de"]["delta"] > 5 and per_language["de"]["p"] < 0.05
    headline = analysis["headlines"][0]["text"]
    assert "95 % CI" in headline and "p n/a" not in headline
    assert any(TEST_NAME in line for line in family_lines(analysis))
    assert any("Riezler" in line for line in general_lines(analysis))
    assert not any(line.startswith("p-values: paired sign-flip") for line in
                   general_lines(analysis))


# --- span F1 (UD-POS: seqeval over raw UPOS tags) ----------------------------------------------

POS = ("NOUN", "VERB", "DET", "ADP", "ADJ", "PRON", "PROPN", "PUNCT", "X", "SCONJ", "CCONJ")


def _pos_gold(rng: np.random.Generator, n: int) -> list[list[str]]:
    """``n`` sentences of 3-12 UPOS tags, with runs of equal tags (one seqeval span each)."""
    sentences = []
    for _ in range(n):
        tags = [POS[rng.integers(len(POS))]]
        while len(tags) < rng.integers(3, 13):
            tags.append(tags[-1] if rng.random() < 0.3 else POS[rng.integers(len(POS))])
        sentences.append(tags)
    return sentences


def _pos_predict(rng: np.random.Generator, gold: list[list[str]], quality: float
                 ) -> list[list[str]]:
    """Each tag kept with probability ``quality``, else a random tag (maybe the same one)."""
    return [[t if rng.random() < quality else POS[rng.integers(len(POS))] for t in s]
            for s in gold]


def test_span_f1_counts_from_a_predictions_file_by_hand() -> None:
    gold = [["DET", "NOUN", "NOUN", "VERB"], ["PRON", "VERB", "ADP", "DET", "NOUN"]]
    pred = [["DET", "NOUN", "ADJ", "VERB"], ["PRON", "VERB", "ADP", "DET", "PROPN"]]
    # sentence 0: gold spans DET | NOUN NOUN | VERB (3); pred DET | NOUN | ADJ | VERB (4);
    #             correct DET, VERB (2)
    # sentence 1: 5 single-tag spans each; the last differs (NOUN vs PROPN): 4 correct
    counts = example_counts(_records(gold, pred), SPAN)
    assert counts is not None
    assert {k: v.tolist() for k, v in counts.items()} == {"de-0": [2, 4, 3], "de-1": [4, 5, 5]}
    # F1 = 2 * 6 / (9 + 8) = 12/17, not the token accuracy 7/9
    assert _statistics(_records(gold, pred), SPAN).value == pytest.approx(12 / 17, abs=1e-15)
    assert token_accuracy(gold, pred) == pytest.approx(7 / 9)
    # a gold X ending sentence 0 continues into sentence 1's X (one span, counted in 0)
    crossing = example_counts(_records([["NOUN", "X"], ["X", "VERB"]],
                                       [["NOUN", "X"], ["NOUN", "VERB"]]), SPAN)
    assert {k: v.tolist() for k, v in crossing.items()} == {"de-0": [1, 1, 2],
                                                           "de-1": [1, 2, 1]}
    assert example_counts([{"id": "u", "gold": None, "prediction": ["NOUN"]}], SPAN) is None


def test_span_f1_from_summed_counts_is_the_scored_span_f1() -> None:
    seqeval = pytest.importorskip("seqeval.metrics")
    rng = np.random.default_rng(3)
    gold = _pos_gold(rng, 200)
    pred = _pos_predict(rng, gold, 0.8)
    value = _statistics(_records(gold, pred), SPAN).value
    assert value == pytest.approx(score_span_f1(gold, pred, resamples=1).value, abs=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert value == pytest.approx(seqeval.f1_score(gold, pred), abs=1e-12)
    assert abs(value - token_accuracy(gold, pred)) > 0.05  # a different number


def test_span_f1_delta_interval_and_randomization() -> None:
    rng = np.random.default_rng(8)
    gold = _pos_gold(rng, 400)
    a, b = _pos_predict(rng, gold, 0.85), _pos_predict(rng, gold, 0.75)
    scores = {("m", config, "t", "span_f1", "de", ""): {0: _statistics(_records(gold, p), SPAN)}
              for config, p in (("a", a), ("none", b))}
    result = compare(scores, ("m", "a"), ("m", "none"), "t", "span_f1", ["de"],
                     seed_values=([], []), resamples=1000, permutations=2000)
    observed = (score_span_f1(gold, a, resamples=1).value
                - score_span_f1(gold, b, resamples=1).value)
    assert result.delta == pytest.approx(observed, abs=1e-12)
    assert result.ci_low < observed < result.ci_high and result.test_name == TEST_NAME
    assert result.p_value < 0.01 and result.n_examples == 400
    same = randomization_test([(_span_counts(gold, a), _span_counts(gold, a))], SPAN)
    assert same.p_value == 1.0


def _span_counts(gold: list[list[str]], pred: list[list[str]]) -> np.ndarray:
    return np.stack(list(example_counts(_records(gold, pred), SPAN).values()))[None]


def test_udpos_report_uses_span_f1_as_primary(tmp_path: Path) -> None:
    """Rows stored as the tagging handler scores them (span_f1 first, token_accuracy second):
    the report's blocks, deltas and headline are span F1 with the sentence-level test."""
    out = tmp_path / "out"
    store = ResultStore(out)
    quality = {"none": 0.7, "better": 0.85}
    runs = [StoredRun(id=hashlib.sha1(c.encode()).hexdigest()[:16], kind="target",
                       encoder="tiny:random", intermediate=c, task="udpos", seed=0, parent=None,
                       settings={"seed": 0}) for c in quality]
    store.register("pos", runs)
    rng = np.random.default_rng(6)
    gold = {lang: _pos_gold(rng, 80) for lang in ("en", "de", "fr")}
    for run in runs:
        pred_dir = out / "runs" / run.id / "predictions"
        pred_dir.mkdir(parents=True)
        metrics = []
        for lang, sentences in gold.items():
            pred = _pos_predict(rng, sentences, quality[run.intermediate] if lang != "en"
                                else 0.9)
            (pred_dir / f"{lang}.jsonl").write_text("".join(
                json.dumps(r) + "\n" for r in _records(sentences, pred, lang)))
            score = score_span_f1(sentences, pred, resamples=10)
            metrics.append(score.at("udpos", lang, "dev"))
            accuracy = token_accuracy(sentences, pred)
            metrics.append(Score("token_accuracy", accuracy, accuracy, accuracy,
                                 sum(map(len, sentences)), task="udpos", language=lang,
                                 split="dev"))
        store.mark_running(run.id)
        store.mark_done(run.id, metrics, {"wall_seconds": 1.0})
    store.close()
    (out / "studies").mkdir()
    (out / "studies" / "pos.json").write_text(json.dumps({"name": "pos", "seeds": [0]}))
    analysis = analyse(out, "pos", resamples=300, permutations=2000)
    assert {d["metric"] for d in analysis["deltas"]} == {"span_f1"}
    assert all(d["test_name"] == TEST_NAME for d in analysis["deltas"])
    zs = next(d for d in analysis["deltas"] if d["scope"] == "zero-shot avg")
    assert zs["config"] == "better" and zs["delta"] > 0 and zs["n_examples"] == 2 * 80
    assert analysis["headlines"][0]["config"] == "better"
