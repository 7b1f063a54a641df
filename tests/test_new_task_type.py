"""A new task type is one handler in ``tasktypes``: no enum to extend in ``tasks``, no branch
elsewhere. The type here is the hypothesis-only NLI baseline (Poliak et al., 2018): a pair task
classified from its second text alone, a probe of annotation artefacts."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from xstilts.report.summary import write_report
from xstilts.studies.executor import run_study
from xstilts.studies.spec import StudySpec
from xstilts.tasks import Task
from xstilts.tasks.base import Example
from xstilts.tasks.registry import get_task, register_task
from xstilts.tasktypes.base import FeatureOptions, Features
from xstilts.tasktypes.classification import ClassificationHandler
from xstilts.tasktypes.registry import handler_for, register_handler, trainable_types

HYPOTHESIS_ONLY = "hypothesis_only"
LABELS = ("entailment", "neutral", "contradiction")


class HypothesisOnlyHandler(ClassificationHandler):
    """Classification of a pair's second text only."""

    types = (HYPOTHESIS_ONLY,)

    def featurize(self, task: Task, examples: Sequence[Example], tokenizer,
                  options: FeatureOptions, *, training: bool) -> Features:
        hypotheses = [Example(ex.id, ex.texts[1:], ex.label, ex.language) for ex in examples]
        return super().featurize(task, hypotheses, tokenizer, options, training=training)


def _xnli_reader(shared: Path):
    def read(split: str, language: str, data_dir: Path | None, *,
             skip_bad_rows: bool = False) -> list[Example]:
        # Real XNLI dev pairs; "train" and "dev" are disjoint slices of the English file.
        rows = list(csv.reader((shared / "xnli" / f"dev-{language}.tsv").open(encoding="utf-8"),
                               delimiter="\t", quoting=csv.QUOTE_NONE))
        start, stop = {"train": (0, 48), "dev": (48, 64), "test": (100, 120)}[split]
        return [Example(f"{split}-{i}", (r[0], r[1]), LABELS.index(r[2]), language)
                for i, r in enumerate(rows[start:stop], start)]
    return read


@pytest.fixture
def hypothesis_only_task(shared_data: Path) -> Task:
    register_handler(HypothesisOnlyHandler())
    try:
        return get_task("xnli-hypothesis-only")
    except Exception:
        return register_task(Task(
            name="xnli-hypothesis-only", type=HYPOTHESIS_ONLY, languages=("en", "de"),
            reader=_xnli_reader(shared_data), labels=LABELS, needs_data_dir=False))


def test_the_handler_alone_makes_the_type_known(hypothesis_only_task: Task) -> None:
    handler = handler_for(hypothesis_only_task)
    assert isinstance(handler, HypothesisOnlyHandler)
    assert HYPOTHESIS_ONLY in trainable_types()
    from xstilts.models import load_encoder

    _, tokenizer = load_encoder("tiny:random")
    example = hypothesis_only_task.load("test", "de")[0]
    features = handler.featurize(hypothesis_only_task, [example], tokenizer,
                                 FeatureOptions(max_seq_length=64), training=False)
    # the premise is not in the input: exactly the tokenizer's encoding of the hypothesis
    expected = tokenizer(example.texts[1], truncation=True, max_length=64)["input_ids"]
    assert features.rows[0]["input_ids"] == expected


def test_a_study_trains_evaluates_and_reports_the_new_type(
        hypothesis_only_task: Task, tmp_path: Path) -> None:
    spec = StudySpec.model_validate({
        "name": "hypothesis-only", "encoder": "tiny:random", "seeds": [0],
        "targets": [{"task": "xnli-hypothesis-only", "languages": ["en", "de"]}],
        "training": {"epochs": 1, "batch_size": 16, "max_seq_length": 32,
                     "learning_rate": 0.001},
        "evaluation": {"bootstrap_resamples": 50}})
    outcome = run_study(spec, tmp_path / "out", log=lambda _: None)
    assert not outcome.failed and len(outcome.done) == 1

    write_report(tmp_path / "out")
    with (tmp_path / "out" / "report" / "results.csv").open() as f:
        rows = list(csv.DictReader(f))
    # 20 test pairs per language: accuracy is a multiple of 1/20
    assert {(r["language"], r["metric"]) for r in rows} >= {("en", "accuracy"),
                                                           ("de", "accuracy")}
    assert all(abs(float(r["value"]) * 20 - round(float(r["value"]) * 20)) < 1e-9
               for r in rows if r["metric"] == "accuracy")
    summary = json.loads((tmp_path / "out" / "report" / "summary.json").read_text())
    assert {b["category"] for b in summary["blocks"]} == {"classification"}
