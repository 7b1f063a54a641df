"""SQuAD 2.0 (``squad2``): unanswerable questions train toward CLS, decode to "" when the null
score wins, score with ``evaluate-v2.0.py``'s rules, and an intermediate run finishes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from xstilts.errors import UnlabeledSplitError, XstiltsError
from xstilts.evaluation.qa_metrics import (
    score_squad2,
    squad2_exact_match,
    squad2_token_f1,
    token_f1,
)
from xstilts.models import load_encoder
from xstilts.studies.executor import run_dir_of, run_study
from xstilts.studies.planner import check_study
from xstilts.studies.spec import load_study
from xstilts.tasks import get_task
from xstilts.tasks.base import Answer, QAExample
from xstilts.tasktypes import FeatureOptions, handler_for
from xstilts.tasktypes.extractive_qa import ExtractiveQAHandler, no_answer_wins, span_text

SQUAD2 = get_task("squad2")
XQUAD = get_task("xquad")
HANDLER = handler_for(SQUAD2)
BOWL = ("Super Bowl 50 was played on February 7, 2016, at Levi's Stadium in Santa Clara, "
        "California.")
NORMANS = ("The Normans were the people who in the 10th and 11th centuries gave their name to "
           "Normandy, a region in France.")


@pytest.fixture(scope="module")
def tokenizer():
    return load_encoder("tiny:random")[1]


def qa(context: str, answers: tuple[str, ...], qid: str = "q",
       question: str = "What is asked?") -> QAExample:
    """An answerable question (answers found in the context) or, with ``()``, an
    unanswerable one."""
    return QAExample(qid, question, context,
                     tuple(Answer(a, context.index(a)) for a in answers), "en")


# -- scoring -------------------------------------------------------------------------------


def test_squad2_scores_two_answerable_two_unanswerable_by_hand() -> None:
    examples = [qa(BOWL, ("Levi's Stadium", "Stadium"), "a1"),
                qa(BOWL, ("February 7, 2016",), "a2"),
                qa(BOWL, (), "u1"), qa(BOWL, (), "u2")]
    predictions = [
        "Levi's Stadium.",  # a1: normalised "levis stadium" == gold -> EM 1, F1 1
        "February 2016",  # a2: pred {february, 2016}, gold {february, 7, 2016}: 2 shared,
        #                   P = 2/2, R = 2/3, F1 = 2*(1*2/3)/(1+2/3) = 0.8; EM 0
        "",  # u1: no answer on an unanswerable question -> EM 1, F1 1
        "Santa Clara",  # u2: an answer to an unanswerable question -> EM 0, F1 0
    ]
    scores = {s.metric: s for s in HANDLER.score(SQUAD2, examples, predictions, resamples=50,
                                                 confidence=0.9, seed=0)}
    assert list(scores) == ["f1", "exact_match", "has_ans_f1", "has_ans_exact_match",
                            "no_ans_f1", "no_ans_exact_match"]  # f1 first: the primary
    expected = {
        "f1": (1 + 0.8 + 1 + 0) / 4,  # 0.7
        "exact_match": (1 + 0 + 1 + 0) / 4,  # 0.5
        "has_ans_f1": (1 + 0.8) / 2,  # 0.9 (the script's HasAns_f1)
        "has_ans_exact_match": (1 + 0) / 2,  # 0.5
        "no_ans_f1": (1 + 0) / 2,  # 0.5 (NoAns_f1 == NoAns_exact always)
        "no_ans_exact_match": (1 + 0) / 2,
    }
    for name, value in expected.items():
        assert scores[name].value == pytest.approx(value), name
        assert scores[name].ci_low <= scores[name].value <= scores[name].ci_high
    assert [scores[n].n for n in expected] == [4, 4, 2, 2, 2, 2]
    assert HANDLER.gold(SQUAD2, examples[2]) == []  # the official file's "answers": []


def test_squad2_rules_differ_from_v11_where_the_script_does() -> None:
    # "" against an unanswerable question: v2.0 EM = F1 = 1 (both token lists empty)
    assert squad2_exact_match("", []) == 1.0 and squad2_token_f1("", []) == 1.0
    # "" against an answerable one: gold tokens {paris}, pred none -> 0 and 0
    assert squad2_exact_match("", ["Paris"]) == 0.0 and squad2_token_f1("", ["Paris"]) == 0.0
    # a prediction that normalises to nothing is "no answer" in evaluate-v2.0.py
    assert squad2_token_f1("The.", []) == 1.0
    # golds normalising to "" are dropped: ["the", "Paris"] -> ["Paris"], so "" scores 0
    assert squad2_token_f1("", ["the", "Paris"]) == 0.0
    # answerable golds score as in v1.1: {eiffel} vs {eiffel, tower}: P 1, R 1/2 -> F1 2/3
    assert squad2_token_f1("Eiffel", ["Eiffel Tower"]) == pytest.approx(2 / 3)
    assert token_f1("Eiffel", ["Eiffel Tower"]) == pytest.approx(2 / 3)
    with pytest.raises(UnlabeledSplitError):
        squad2_token_f1("Paris", None)  # type: ignore[arg-type]


def test_groups_without_questions_are_left_out() -> None:
    # Only unanswerable questions: no HasAns_* rows, as the script prints none.
    scores = score_squad2(["", "x"], [[], []], resamples=10)
    assert [s.metric for s in scores] == ["f1", "exact_match", "no_ans_f1", "no_ans_exact_match"]
    assert scores[0].value == pytest.approx(0.5)  # (1 + 0) / 2


def test_v11_tasks_still_refuse_unanswerable_questions() -> None:
    with pytest.raises(XstiltsError, match="has_unanswerable"):
        HANDLER.score(XQUAD, [qa(BOWL, (), "u")], [""], resamples=10, confidence=0.9, seed=0)
    assert SQUAD2.has_unanswerable
    assert not any(get_task(n).has_unanswerable for n in ("squad", "xquad", "mlqa", "tydiqa"))


# -- training labels -----------------------------------------------------------------------


def test_unanswerable_and_answerless_windows_train_toward_cls(tokenizer) -> None:
    long = " ".join(f"Sentence {i} mentions item{i}." for i in range(20))
    options = FeatureOptions(max_seq_length=48, doc_stride=12, max_query_length=16)
    unanswerable = HANDLER.featurize(SQUAD2, [qa(long, ())], tokenizer, options, training=True)
    assert len(unanswerable) > 2
    assert {(r["start"], r["end"]) for r in unanswerable.rows} == {(0, 0)}
    answerable = HANDLER.featurize(SQUAD2, [qa(long, ("item9",))], tokenizer, options,
                                   training=True)
    spans = [(r["start"], r["end"]) for r in answerable.rows]
    assert (0, 0) in spans and any(s > 0 for s, _ in spans)
    for row in answerable.rows:
        if row["start"] > 0:
            assert span_text(long, row["offsets"], row["start"], row["end"]) == "item9"


# -- decoding ------------------------------------------------------------------------------


def answer_position(tokenizer, context: str, answer: str) -> tuple[int, int]:
    row = HANDLER.featurize(SQUAD2, [qa(context, (answer,))], tokenizer,
                            FeatureOptions(64, 16, 16), training=True).rows[0]
    return row["start"], row["end"]


def logits(n: int, null: tuple[float, float], span: tuple[int, int, float, float]
           ) -> np.ndarray:
    """A row's (start, end) logits: CLS gets ``null``, the span (s, e) its two logits, every
    other position 0; plus padding columns with huge logits that decode must trim off."""
    out = np.zeros((n + 3, 2), dtype=np.float32)
    out[n:] = 1e6
    out[0] = null
    s, e, start_logit, end_logit = span
    out[s, 0], out[e, 1] = start_logit, end_logit
    return out


def test_null_wins_or_span_wins_by_the_threshold(tokenizer) -> None:
    s, e = answer_position(tokenizer, BOWL, "Santa Clara")
    example = qa(BOWL, ())
    features = HANDLER.featurize(SQUAD2, [example], tokenizer, FeatureOptions(64, 16, 16),
                                 training=False)
    n = len(features.rows[0]["input_ids"])

    def decode(null, span, task=SQUAD2, handler=HANDLER) -> str:
        return handler.decode(task, [example], features, [logits(n, null, (s, e, *span))])[0]

    # null 3 + 2 = 5, best span 2 + 2 = 4 (every other span sums to <= 2):
    # 5 - 4 = 1 > 0.0 -> no answer
    assert decode((3.0, 2.0), (2.0, 2.0)) == ""
    # null 5, span 3 + 3 = 6: 5 - 6 = -1, not > 0 -> the span
    assert decode((3.0, 2.0), (3.0, 3.0)) == "Santa Clara"
    # a tie (null 4, span 4: difference 0) is not "greater than 0" -> the span
    assert decode((2.0, 2.0), (2.0, 2.0)) == "Santa Clara"
    # threshold 1.5: null 5 - span 4 = 1 <= 1.5 -> the span; null 7 - span 4 = 3 > 1.5 -> ""
    lenient = ExtractiveQAHandler(null_score_diff_threshold=1.5)
    assert decode((3.0, 2.0), (2.0, 2.0), handler=lenient) == "Santa Clara"
    assert decode((4.0, 3.0), (2.0, 2.0), handler=lenient) == ""
    # a SQuAD v1.1-style task never answers "", however strong the null
    assert decode((50.0, 50.0), (2.0, 2.0), task=XQUAD) == "Santa Clara"
    assert no_answer_wins(1.0, None) and not no_answer_wins(1.0, 1.0)


def test_null_score_is_the_lowest_over_windows(tokenizer) -> None:
    """run_squad keeps the minimum null score over a question's windows: a window without
    the answer is trained to point at CLS, so its high null says nothing about the question."""
    context = " ".join(f"Sentence {i} mentions item{i}." for i in range(20))
    options = FeatureOptions(max_seq_length=48, doc_stride=12, max_query_length=16)
    labelled = HANDLER.featurize(SQUAD2, [qa(context, ("item9",))], tokenizer, options,
                                 training=True)
    target = next(r for r, row in enumerate(labelled.rows) if row["start"] > 0)
    s, e = labelled.rows[target]["start"], labelled.rows[target]["end"]
    example = qa(context, ())
    features = HANDLER.featurize(SQUAD2, [example], tokenizer, options, training=False)
    assert len(features) > 2 and features.rows[target]["offsets"] == labelled.rows[target][
        "offsets"]

    def outputs(null_elsewhere: float, null_target: float) -> list[np.ndarray]:
        out = []
        for r, row in enumerate(features.rows):
            n = len(row["input_ids"])
            if r == target:  # span 2 + 2 = 4 at the answer
                out.append(logits(n, (null_target / 2, null_target / 2), (s, e, 2.0, 2.0)))
            else:  # best span there is 0 (all other logits 0)
                out.append(logits(n, (null_elsewhere / 2, null_elsewhere / 2), (1, 1, 0, 0)))
        return out

    # nulls 10 elsewhere, 1 in the answer's window: min null 1 - best span 4 = -3 -> the span
    # (with the maximum, 10 - 4 = 6 > 0 would wrongly answer "")
    assert HANDLER.decode(SQUAD2, [example], features, outputs(10.0, 1.0)) == ["item9"]
    # nulls 6 everywhere: 6 - 4 = 2 > 0 -> no answer
    assert HANDLER.decode(SQUAD2, [example], features, outputs(6.0, 6.0)) == [""]


# -- an intermediate run on a synthetic SQuAD 2.0 file --------------------------------------


def squad2_document(paragraphs: list[tuple[str, list[tuple[str, str | None]]]]) -> str:
    """SQuAD v2.0 JSON as the official files have it: an unanswerable question has
    ``is_impossible: true``, ``answers: []`` and ``plausible_answers``."""
    data = []
    for p, (context, questions) in enumerate(paragraphs):
        qas = []
        for q, (question, answer) in enumerate(questions):
            item: dict = {"id": f"p{p}q{q}", "question": question}
            if answer is None:
                item.update(is_impossible=True, answers=[],
                            plausible_answers=[{"text": context.split()[1], "answer_start":
                                                context.index(context.split()[1])}])
            else:
                item.update(is_impossible=False, answers=[
                    {"text": answer, "answer_start": context.index(answer)}])
            qas.append(item)
        data.append({"context": context, "qas": qas})
    return json.dumps({"version": "v2.0", "data": [{"title": "T", "paragraphs": data}]})


SYNTHETIC = [
    (BOWL, [("Where was Super Bowl 50 played?", "Levi's Stadium"),
            ("When was Super Bowl 50 played?", "February 7, 2016"),
            ("Who sang the anthem at Super Bowl 50?", None)]),
    (NORMANS, [("In what country is Normandy located?", "France"),
               ("Who gave their name to Normandy?", "The Normans"),
               ("What is France a region of?", None),
               ("When did France conquer Normandy?", None)]),
]

STUDY = """
name: squad2-stilts
encoder: tiny:random
intermediate:
  - {task: squad2}
targets:
  - task: cldr-continents
    languages: [en]
training: {epochs: 2, batch_size: 4, max_seq_length: 48, doc_stride: 12, max_query_length: 16,
           max_train_examples: 8, max_dev_examples: 8, learning_rate: 0.001, log_every: 1,
           num_layers: 1}
evaluation: {max_examples: 8, bootstrap_resamples: 10}
"""


def run_intermediate(data: Path, out: Path, study_text: str = STUDY) -> list[dict]:
    """Run the study; return the intermediate run's log lines (the run must have finished)."""
    study = out.parent / f"{out.name}.yaml"
    study.write_text(study_text, encoding="utf-8")
    spec = load_study(study)
    check_study(spec, study, data)
    outcome = run_study(spec, out, data_dir=data, study_path=study, log=lambda _: None)
    assert not outcome.failed, outcome.failed
    inter = outcome.plan.intermediate_runs[0]
    assert inter.id in outcome.done
    folder = run_dir_of(out, inter.id)
    assert (folder / "encoder").is_dir()
    return [json.loads(line) for line in (folder / "log.jsonl").read_text().splitlines()]


def test_squad2_intermediate_run_trains_and_scores_dev(tmp_path: Path) -> None:
    """The bug: scoring the dev set (with unanswerable questions) after epoch 1 raised."""
    data = tmp_path / "data"
    (data / "squad").mkdir(parents=True)
    for split in ("train", "dev"):
        (data / "squad" / f"{split}-v2.0.json").write_text(squad2_document(SYNTHETIC),
                                                          encoding="utf-8")
    assert sum(ex.answers == () for ex in SQUAD2.load("dev", "en", data)) == 3
    log = run_intermediate(data, tmp_path / "out")
    dev = [row for row in log if "dev" in row]
    assert [row["epoch"] for row in dev] == [1, 2]  # dev scored after each of the 2 epochs
    assert all(set(row["dev"]) == {"squad2"} and 0.0 <= row["dev"]["squad2"] <= 1.0
               for row in dev)
    assert any("loss" in row for row in log)


def test_tiny_model_learns_to_abstain(tmp_path: Path) -> None:
    """Wiring proof that training (CLS targets) and decoding (null score at position 0) agree:
    a random tiny encoder trained on the 7 synthetic questions starts with no "" at all and
    learns to answer "" on unanswerable ones. (Measured: F1 0.07 -> 0.57, NoAns 0 -> 0.67.)"""
    import torch

    from xstilts.models.heads import TaskModel
    from xstilts.tasktypes.predict import predict
    from xstilts.training.options import TrainingOptions
    from xstilts.training.trainer import TrainingStream, train_model

    (tmp_path / "squad").mkdir()
    (tmp_path / "squad" / "train-v2.0.json").write_text(squad2_document(SYNTHETIC),
                                                         encoding="utf-8")
    examples = SQUAD2.load("train", "en", tmp_path)
    encoder, tokenizer = load_encoder("tiny:random")
    fopts = FeatureOptions(64, 16, 16)
    train = HANDLER.featurize(SQUAD2, examples, tokenizer, fopts, training=True)
    evaluation = HANDLER.featurize(SQUAD2, examples, tokenizer, fopts, training=False)
    torch.manual_seed(0)
    model = TaskModel(encoder)
    model.add_head("squad2", HANDLER.build_head(SQUAD2, model.hidden_size, "mean"))

    def scores() -> dict[str, float]:
        predictions = predict(model, SQUAD2, HANDLER, examples, evaluation,
                              pad_id=tokenizer.pad_token_id)
        return {s.metric: s.value for s in HANDLER.score(SQUAD2, examples, predictions,
                                                         resamples=10, confidence=0.9, seed=0)}

    before = scores()
    options = TrainingOptions(epochs=30, batch_size=64, learning_rate=1e-2, warmup_ratio=0.0,
                              weight_decay=0.0, max_seq_length=64, doc_stride=16, log_every=1)
    train_model(model, [TrainingStream(SQUAD2, HANDLER, train)], options, seed=0,
                pad_id=tokenizer.pad_token_id)
    after = scores()
    print(f"squad2 tiny: before {before}, after {after}")
    assert before["no_ans_f1"] == 0.0 and after["no_ans_f1"] >= 2 / 3  # >= 2 of the 3
    assert after["f1"] > before["f1"] + 0.3


# -- the real SQuAD 2.0 sample ---------------------------------------------------------------


def samples_dir(shared_data: Path) -> Path:
    folder = shared_data / "xstilts-samples"
    if not (folder / "squad" / "dev-v2.0.json").is_file():
        pytest.skip(f"SQuAD 2.0 sample not found at {folder}/squad/dev-v2.0.json")
    return folder


def test_real_squad2_sample_reads_and_scores(shared_data: Path, tokenizer) -> None:
    folder = samples_dir(shared_data)
    examples = SQUAD2.load("dev", "en", folder)
    impossible = [ex for ex in examples if ex.answers == ()]
    # MANIFEST: 626 questions, 293 answerable and 333 impossible
    assert (len(examples), len(impossible)) == (626, 333)
    golds = [HANDLER.gold(SQUAD2, ex) for ex in examples]
    always_null = {s.metric: s.value for s in HANDLER.score(
        SQUAD2, examples, [""] * 626, resamples=10, confidence=0.9, seed=0)}
    # "" everywhere: right on the 333 unanswerable only -> EM = F1 = 333/626
    assert always_null["exact_match"] == pytest.approx(333 / 626)
    assert always_null["f1"] == pytest.approx(333 / 626)
    assert always_null["has_ans_f1"] == 0.0 and always_null["no_ans_f1"] == 1.0
    oracle = [g[0] if g else "" for g in golds]
    assert all(s.value == 1.0 for s in HANDLER.score(SQUAD2, examples, oracle, resamples=10,
                                                     confidence=0.9, seed=0))
    # Training labels on real contexts: every window of an unanswerable question is CLS.
    options = FeatureOptions(max_seq_length=128, doc_stride=32, max_query_length=32)
    features = HANDLER.featurize(SQUAD2, examples[:40], tokenizer, options, training=True)
    for row, k in zip(features.rows, features.example_index, strict=True):
        if examples[k].answers == ():
            assert (row["start"], row["end"]) == (0, 0)
        elif row["start"] > 0:
            assert span_text(examples[k].context, row["offsets"], row["start"],
                             row["end"]) == examples[k].answers[0].text.strip()


def test_real_squad2_sample_as_intermediate_task(shared_data: Path, tmp_path: Path) -> None:
    """The sample (SQuAD 2.0 dev ids) stands in for train and dev through links in tmp_path."""
    sample = samples_dir(shared_data) / "squad" / "dev-v2.0.json"
    data = tmp_path / "data"
    (data / "squad").mkdir(parents=True)
    for split in ("train", "dev"):
        (data / "squad" / f"{split}-v2.0.json").symlink_to(sample)
    log = run_intermediate(data, tmp_path / "out", STUDY.replace("epochs: 2", "epochs: 1"))
    dev = [row for row in log if "dev" in row]
    assert len(dev) == 1 and 0.0 <= dev[0]["dev"]["squad2"] <= 1.0
