"""Mewsli-X / LAReQA mAP@20: ranking against a shared pool, the evaluator, `retrieve`, studies."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from xstilts.cli import app
from xstilts.errors import StudyConfigError, UnlabeledSplitError, XstiltsError
from xstilts.evaluation import pooled_retrieval
from xstilts.evaluation.pooled_retrieval import (
    ap_from_top_k,
    evaluate_pooled_retrieval,
    top_k_candidates,
)
from xstilts.evaluation.retrieval_metrics import ap_at_k_per_query, cosine_similarity
from xstilts.models import load_encoder
from xstilts.report.summary import write_report
from xstilts.studies.dryrun import describe_plan
from xstilts.studies.executor import run_study
from xstilts.studies.planner import check_study, plan_study
from xstilts.studies.spec import load_study
from xstilts.tasks import get_task
from xstilts.tasktypes.retrieval import retrieve


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _ap(prediction: list[str], gold: list[str], k: int = 20) -> float:
    """AP@k written out independently of the package: precision at each relevant rank <= k,
    summed, over min(#relevant, k)."""
    hits, total = 0, 0.0
    for rank, candidate in enumerate(prediction[:k], start=1):
        if candidate in gold:
            hits += 1
            total += hits / rank
    return total / min(len(gold), k)


def _rescore(file: Path) -> float:
    rows = [json.loads(line) for line in file.read_text(encoding="utf-8").splitlines()]
    return float(np.mean([_ap(r["prediction"], r["gold"]) for r in rows]))


# --- the metric on hand-made vectors ---------------------------------------------------------

# Cosines with q1 = [1, 0]: 1, 0, .8, .6, -1 -> ranking 0, 2, 3, 1, 4.
# Cosines with q2 = [0, 1]: 0, 1, .6, .8, 0 -> ranking 1, 3, 2, 4, 0 (0 and 4 tie: the
# higher index first, as XTREME-R's argsort()[::-1]).
POOL = np.array([[1.0, 0.0], [0.0, 1.0], [0.8, 0.6], [0.6, 0.8], [-1.0, 0.0]])
QUERIES = np.array([[1.0, 0.0], [0.0, 1.0]])


def test_map_at_k_equals_hand_computed_ranks() -> None:
    top = top_k_candidates(QUERIES, POOL, 20)
    assert top.tolist() == [[0, 2, 3, 1, 4], [1, 3, 2, 4, 0]]
    # q1: relevant at ranks 2 and 4 -> (1/2 + 2/4) / 2 = 0.5; q2: ranks 1 and 4 -> (1 + 2/4) / 2.
    ap = ap_from_top_k(top, [{2, 1}, {1, 4}], 20)
    np.testing.assert_allclose(ap, [0.5, 0.75])
    assert ap.mean() == pytest.approx(0.625)
    # Cut at k = 3: q1 keeps only rank 2 -> (1/2) / 2; q2 only rank 1 -> 1 / 2.
    ap3 = ap_from_top_k(top_k_candidates(QUERIES, POOL, 3), [{2, 1}, {1, 4}], 3)
    np.testing.assert_allclose(ap3, [0.25, 0.5])
    # The tie at cosine 0 goes to the higher index: candidate 4 is q2's 4th, candidate 0 falls
    # out of the top 4, even when blocks of 2 candidates are merged one query at a time.
    top4 = top_k_candidates(QUERIES, POOL, 4, query_chunk=1, pool_block=2)
    assert top4.tolist() == [[0, 2, 3, 1], [1, 3, 2, 4]]
    np.testing.assert_allclose(ap_from_top_k(top4, [{3}, {4}], 4), [1 / 3, 1 / 4])
    np.testing.assert_allclose(ap_from_top_k(top4, [{3}, {0}], 4), [1 / 3, 0.0])


def test_chunked_top_k_matches_the_full_ranking() -> None:
    rng = np.random.default_rng(0)
    pool = rng.normal(size=(53, 8))
    pool[40:50] = pool[0]  # exact ties, some of them across block boundaries
    queries = np.vstack([rng.normal(size=(9, 8)), pool[:1]])
    # A pool of only 3 distinct vectors: every cut inside a block falls in a run of ties,
    # where np.argpartition alone would keep arbitrary members of the run.
    repeats = rng.normal(size=(3, 8))[rng.integers(0, 3, size=60)]
    for candidates in (pool, repeats):
        relevant = [set(rng.choice(len(candidates), size=int(rng.integers(1, 25)),
                                   replace=False).tolist()) for _ in range(len(queries))]
        full = cosine_similarity(queries, candidates)
        for k in (1, 5, 20):
            top = top_k_candidates(queries, candidates, k, query_chunk=3, pool_block=16)
            # XTREME-R's ranking: ascending argsort (stable), reversed.
            xtreme = np.argsort(full, axis=1, kind="stable")[:, ::-1]
            np.testing.assert_array_equal(top, xtreme[:, :k])
            np.testing.assert_allclose(ap_from_top_k(top, relevant, k),
                                       ap_at_k_per_query(full, relevant, k))


# --- tiny data in the public formats ---------------------------------------------------------

LAREQA_TEXT = {  # (sentences, question, answer) per paragraph, translated for en/de/es
    "en": [(["The Eiffel Tower is in Paris.", "It was completed in 1889."],
            "When was the Eiffel Tower completed?", "1889"),
           (["Cats are popular pets.", "They sleep about sixteen hours a day."],
            "How long do cats sleep each day?", "sixteen hours"),
           (["The Amazon is a river in South America.", "It carries more water than any "
             "other river."], "Where is the Amazon river?", "South America")],
    "de": [(["Der Eiffelturm steht in Paris.", "Er wurde 1889 fertiggestellt."],
            "Wann wurde der Eiffelturm fertiggestellt?", "1889"),
           (["Katzen sind beliebte Haustiere.", "Sie schlafen etwa sechzehn Stunden am Tag."],
            "Wie lange schlafen Katzen jeden Tag?", "sechzehn Stunden"),
           (["Der Amazonas ist ein Fluss in Südamerika.", "Er führt mehr Wasser als jeder "
             "andere Fluss."], "Wo fließt der Amazonas?", "Südamerika")],
    "es": [(["La Torre Eiffel está en París.", "Fue terminada en 1889."],
            "¿Cuándo se terminó la Torre Eiffel?", "1889"),
           (["Los gatos son mascotas populares.", "Duermen unas dieciséis horas al día."],
            "¿Cuánto tiempo duermen los gatos cada día?", "dieciséis horas"),
           (["El Amazonas es un río de Sudamérica.", "Lleva más agua que cualquier otro "
             "río."], "¿Dónde está el río Amazonas?", "Sudamérica")],
}


def _xquad_r(paragraphs: list, *, answers: bool = True) -> dict:
    """XQuAD-R JSON: SQuAD paragraphs plus ``sentences`` and ``sentence_breaks``."""
    out = []
    for i, (sentences, question, answer) in enumerate(paragraphs):
        context = " ".join(sentences)
        starts = [context.index(s) for s in sentences]
        qa: dict = {"id": f"q{i}", "question": question}
        if answers:
            qa["answers"] = [{"text": answer, "answer_start": context.index(answer)}]
        out.append({"title": f"t{i}", "paragraphs": [{
            "context": context, "sentences": sentences,
            "sentence_breaks": [[s, s + len(t)] for s, t in zip(starts, sentences, strict=True)],
            "qas": [qa]}]})
    return {"version": "1.1", "data": out}


def _lareqa(root: Path, *, answers: bool = True) -> Path:
    """All 11 XQuAD-R files; languages without a translation here repeat the English text."""
    for lang in get_task("lareqa").languages:
        text = LAREQA_TEXT.get(lang, LAREQA_TEXT["en"])
        _write(root / f"lareqa/xquad-r/{lang}.json", json.dumps(_xquad_r(text, answers=answers),
                                                                 ensure_ascii=False))
    return root


def _mention(example_id: str, language: str, text: str, span: str,
             entity: str | None) -> dict:
    start = text.index(span)
    mention = {"example_id": example_id,
               "mention_span": {"start": start, "end": start + len(span), "text": span}}
    if entity is not None:
        mention["entity_id"] = entity
    return {"context": {"document_title": "T", "document_url": "u", "document_id": "d",
                        "language": language, "text": text, "sentence_spans": []},
            "mention": mention}


def _mewslix(root: Path, *, labeled: bool = True) -> Path:
    mentions = [
        _mention("m1", "de", "Die Minister trafen sich in Berlin.", "Berlin", "Q64"),
        _mention("m2", "de", "Paris ist die Hauptstadt Frankreichs.", "Paris", "Q90"),
        _mention("m3", "es", "El presidente viajó a Berlín.", "Berlín", "Q64"),
        _mention("m4", "es", "La Torre Eiffel está en París.", "París",
                 "Q90" if labeled else None),
    ]
    entities = [("Q64", "Berlin", "capital of Germany"), ("Q90", "Paris", "capital of France"),
                ("Q1", "Universe", "everything that exists"), ("Q2", "Earth", "our planet")]
    lines = [json.dumps(m, ensure_ascii=False) for m in mentions]
    _write(root / "mewslix/wikinews_mentions-dev.jsonl", "\n".join(lines) + "\n")
    _write(root / "mewslix/candidate_set_entities.jsonl", "\n".join(json.dumps(
        {"entity_id": e, "title": t, "description": d, "description_language": "en",
         "description_url": "u", "sentence_spans": []}) for e, t, d in entities) + "\n")
    return root


@pytest.fixture(scope="module")
def tiny():
    return load_encoder("tiny:random")


def _count_pool_embeddings(monkeypatch) -> list[str]:
    calls: list[str] = []
    real = pooled_retrieval.embed_with_protocol

    def counting(encoder, tokenizer, texts, protocol, desc, *args):
        calls.append(desc)
        return real(encoder, tokenizer, texts, protocol, desc, *args)

    monkeypatch.setattr(pooled_retrieval, "embed_with_protocol", counting)
    return calls


# --- the evaluator ---------------------------------------------------------------------------

def test_lareqa_bundled_encoder_beats_random_and_predictions_rescore(tmp_path, monkeypatch):
    data = _lareqa(tmp_path / "data")
    calls = _count_pool_embeddings(monkeypatch)
    results = evaluate_pooled_retrieval("bundled:multilingual-e5-small", "lareqa",
                                        ["en", "de", "es"], data, resamples=200,
                                        predictions_dir=tmp_path / "pred")
    # The pool (11 languages x 3 paragraphs x 2 sentences) is embedded once, not per language.
    assert calls == ["lareqa pool", "lareqa en", "lareqa de", "lareqa es"]
    rng = np.random.default_rng(0)
    for r in results:
        assert (r["metric"], r["direction"], r["n"], r["n_candidates"]) == (
            "map@20", "query2pool", 3, 66)
        assert r["ci_low"] <= r["value"] <= r["ci_high"] and r["n_skipped"] == 0
        file = tmp_path / "pred" / f"{r['language']}.jsonl"
        assert _rescore(file) == pytest.approx(r["value"], abs=1e-12)
        rows = [json.loads(line) for line in file.read_text(encoding="utf-8").splitlines()]
        assert all(len(row["gold"]) == 11 and len(row["prediction"]) == 20 for row in rows)
        # Random rankings of the same pool and gold give about 0.2; e5 finds the answer
        # sentences across languages.
        pool = [f"{lang}:data[{a}].paragraphs[0]:{s}" for lang in get_task("lareqa").languages
                for a in range(3) for s in range(2)]
        chance = np.mean([_ap(list(rng.permutation(pool)), row["gold"])
                          for row in rows for _ in range(300)])
        assert chance < 0.35 and r["value"] > chance + 0.3, (r["value"], chance)


def test_mewslix_tiny_model_caps_queries_not_the_pool(tiny, tmp_path, monkeypatch):
    data = _mewslix(tmp_path)
    calls = _count_pool_embeddings(monkeypatch)
    results = evaluate_pooled_retrieval(tiny, "mewsli-x", ["de", "es"], data, split="dev",
                                        predictions_dir=tmp_path / "pred")
    assert calls == ["mewsli-x pool", "mewsli-x de", "mewsli-x es"]
    assert [(r["language"], r["n"], r["n_candidates"]) for r in results] == [("de", 2, 4),
                                                                            ("es", 2, 4)]
    for r in results:
        # One relevant entity per mention: AP is 1 / rank, at least 1/4 in a pool of 4.
        assert 0.25 <= r["value"] <= 1.0
        assert _rescore(tmp_path / "pred" / f"{r['language']}.jsonl") == pytest.approx(
            r["value"], abs=1e-12)
    (capped,) = evaluate_pooled_retrieval(tiny, "mewsli-x", ["de"], data, split="dev",
                                          max_queries=1)
    assert (capped["n"], capped["n_candidates"]) == (1, 4)


def test_unlabeled_queries_are_refused_and_empty_gold_is_skipped(tiny, tmp_path):
    with pytest.raises(UnlabeledSplitError, match="1 of 2 queries have no gold"):
        evaluate_pooled_retrieval(tiny, "mewsli-x", ["es"], _mewslix(tmp_path / "m",
                                                                     labeled=False), split="dev")
    with pytest.raises(UnlabeledSplitError, match="no query has a relevant candidate"):
        evaluate_pooled_retrieval(tiny, "lareqa", ["de"], _lareqa(tmp_path / "u",
                                                                  answers=False))
    # One question without answers in any language: left out and counted, not scored as 0.
    data = _lareqa(tmp_path / "s")
    for lang in get_task("lareqa").languages:
        file = data / f"lareqa/xquad-r/{lang}.json"
        doc = json.loads(file.read_text(encoding="utf-8"))
        del doc["data"][2]["paragraphs"][0]["qas"][0]["answers"]
        file.write_text(json.dumps(doc), encoding="utf-8")
    (r,) = evaluate_pooled_retrieval(tiny, "lareqa", ["de"], data)
    assert (r["n"], r["n_skipped"]) == (2, 1)
    # A gold entity missing from the pool could never be retrieved: refused, not scored 0.
    data = _mewslix(tmp_path / "p")
    pool = data / "mewslix/candidate_set_entities.jsonl"
    pool.write_text("".join(line + "\n" for line in pool.read_text().splitlines()
                            if '"Q90"' not in line), encoding="utf-8")
    with pytest.raises(XstiltsError, match="not in the candidate pool.*'m2' -> 'Q90'"):
        evaluate_pooled_retrieval(tiny, "mewsli-x", ["de"], data, split="dev")


# --- `retrieve`, the CLI and studies ---------------------------------------------------------

def test_retrieve_payload_and_cli_for_lareqa(tiny, tmp_path):
    data = _lareqa(tmp_path)
    payload = retrieve("tiny:random", "lareqa", ["de", "es"], data, max_pairs=2, model=tiny)
    proto = payload["protocol"]
    assert payload["task"] == "lareqa" and proto["direction"] == "query2pool"
    assert "k" not in proto and proto["rank_cutoff"] == 20 and proto["max_queries"] == 2
    assert "max_pairs" not in proto
    assert [(r["language"], r["metric"], r["n"], r["n_candidates"])
            for r in payload["results"]] == [("de", "map@20", 2, 66), ("es", "map@20", 2, 66)]
    result = CliRunner().invoke(app, ["retrieve", "--model", "tiny:random", "--task", "lareqa",
                                      "--langs", "de", "--data-dir", str(data), "--json"])
    assert result.exit_code == 0, result.output
    cli = json.loads(result.stdout)
    assert cli["results"][0]["n"] == 3 and cli["protocol"]["rank_cutoff"] == 20
    with pytest.raises(ValueError, match="retrieve supports tatoeba, bucc2018, lareqa, "
                                         "mewsli-x, not 'xnli'"):
        retrieve("tiny:random", "xnli", ["de"], data, model=tiny)


STUDY = """
name: pooled
encoder: tiny:random
targets:
  - task: lareqa
    languages: [de, en]
evaluation: {max_examples: 2, bootstrap_resamples: 50}
"""


def test_lareqa_study_target_scores_map_and_writes_predictions(tmp_path):
    data = _lareqa(tmp_path / "data")
    study = tmp_path / "study.yaml"
    study.write_text(STUDY, encoding="utf-8")
    outcome = run_study(load_study(study), tmp_path / "out", data_dir=data, study_path=study,
                        log=lambda _: None)
    assert not outcome.failed and len(outcome.done) == 1
    (run,) = outcome.plan.target_runs
    assert run.settings["eval_split"] == "test"
    folder = tmp_path / "out" / "runs" / run.id
    metrics = json.loads((folder / "metrics.json").read_text())
    assert [(m["language"], m["metric"], m["n"]) for m in metrics] == [("de", "map@20", 2),
                                                                      ("en", "map@20", 2)]
    for m in metrics:
        assert _rescore(folder / "predictions" / f"{m['language']}.jsonl") == pytest.approx(
            m["value"], abs=1e-12)
    write_report(tmp_path / "out", formats=["csv"])
    with (tmp_path / "out" / "report" / "results.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert sorted((r["language"], r["metric"], r["split"]) for r in rows) == [
        ("de", "map@20", "test"), ("en", "map@20", "test")]


def _target_plan(tmp_path: Path, target: str, max_examples: int | None):
    study = tmp_path / "plan.yaml"
    cap = f"max_examples: {max_examples}, " if max_examples else ""
    study.write_text(f"name: pooled-plan\nencoder: tiny:random\ntargets: [{target}]\n"
                     f"evaluation: {{{cap}bootstrap_resamples: 50}}\n", encoding="utf-8")
    return plan_study(load_study(study))


def test_dry_run_counts_queries_and_the_pool_once(tmp_path):
    lareqa = _lareqa(tmp_path / "l")
    target = "{task: lareqa, languages: [de, en]}"
    # 3 questions per language (capped to 2) and a pool of 11 x 6 sentences, embedded once.
    for cap, expected in ((None, 3 + 3 + 66), (2, 2 + 2 + 66)):
        lines = describe_plan(_target_plan(tmp_path, target, cap), tmp_path / "out", lareqa)
        assert f"and {expected} evaluation examples" in lines[-1], lines[-1]
    mewslix = _mewslix(tmp_path / "m")
    plan = _target_plan(tmp_path, "{task: mewsli-x, languages: [de, es], eval_split: dev}", None)
    assert "and 8 evaluation examples" in describe_plan(plan, tmp_path / "out", mewslix)[-1]


def test_check_study_needs_every_lareqa_file(tmp_path):
    data = _lareqa(tmp_path)
    study = tmp_path / "study.yaml"
    study.write_text(STUDY, encoding="utf-8")
    spec = load_study(study)
    check_study(spec, study, data)
    missing = data / "lareqa" / "xquad-r" / "th.json"
    missing.unlink()
    with pytest.raises(StudyConfigError, match=r"candidate pool data not found: .*th\.json") \
            as err:
        check_study(spec, study, data)
    assert len(err.value.problems) == 1


def test_check_study_needs_the_mewslix_candidate_pool(tmp_path):
    data = _mewslix(tmp_path)
    study = tmp_path / "study.yaml"
    study.write_text("name: m\nencoder: tiny:random\ntargets: [{task: mewsli-x, languages: "
                     "[de, es], eval_split: dev}]\n", encoding="utf-8")
    spec = load_study(study)
    check_study(spec, study, data)
    (data / "mewslix" / "candidate_set_entities.jsonl").unlink()
    with pytest.raises(StudyConfigError, match=r"evaluation data not found: .*"
                                               r"candidate_set_entities\.jsonl") as err:
        check_study(spec, study, data)
    assert len(err.value.problems) == 1  # named once, not once per language
    assert not get_task("mewsli-x").has_data("dev", "de", data)


def test_retrieve_split_option(tiny, tmp_path):
    data = _mewslix(tmp_path)  # Mewsli-X dev mentions only
    payload = retrieve("tiny:random", "mewsli-x", ["de"], data, split="dev", model=tiny)
    assert payload["split"] == "dev" and payload["results"][0]["split"] == "dev"
    result = CliRunner().invoke(app, ["retrieve", "--model", "tiny:random", "--task",
                                      "mewsli-x", "--langs", "de,es", "--split", "dev",
                                      "--data-dir", str(data), "--json"])
    assert result.exit_code == 0, result.output
    assert [r["n"] for r in json.loads(result.stdout)["results"]] == [2, 2]
    missing = CliRunner().invoke(app, ["retrieve", "--model", "tiny:random", "--task",
                                       "mewsli-x", "--langs", "de", "--data-dir", str(data)])
    assert missing.exit_code == 2 and "wikinews_mentions-test.jsonl" in missing.stderr
    wrong = CliRunner().invoke(app, ["retrieve", "--model", "tiny:random", "--task", "tatoeba",
                                     "--langs", "de", "--split", "dev", "--data-dir",
                                     str(data)])
    assert wrong.exit_code == 2
    assert "task 'tatoeba' has no split 'dev'; it has test" in wrong.stderr
