"""Generalized cross-lingual evaluation: mixed-language pairs over parallel test sets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from xstilts.errors import StudyConfigError, XstiltsError
from xstilts.evaluation.generalized import check_parallel, matrix_table
from xstilts.models import load_encoder
from xstilts.models.heads import TaskModel
from xstilts.results import Score
from xstilts.studies.planner import check_study, plan_study
from xstilts.studies.spec import StudySpec
from xstilts.tasks import get_task
from xstilts.tasks.base import Example
from xstilts.tasktypes import FeatureOptions, handler_for
from xstilts.tasktypes.zero_shot import (
    EvaluationSettings,
    evaluate_generalized,
    evaluate_languages,
)

XNLI = get_task("xnli")
CAP = 6


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def xnli_model() -> tuple:
    encoder, tokenizer = load_encoder("tiny:random")
    torch.manual_seed(0)
    model = TaskModel(encoder)
    model.add_head(XNLI.name, handler_for(XNLI).build_head(XNLI, model.hidden_size, "mean"))
    return model, tokenizer


def _evaluate(evaluate, model_tok, languages, out: Path, data_dir: Path) -> list[Score]:
    model, tokenizer = model_tok
    return evaluate(model, tokenizer, XNLI, languages, "test", data_dir, out,
                    EvaluationSettings(FeatureOptions(max_seq_length=32), max_examples=CAP,
                                       bootstrap_resamples=20))


def test_matrix_has_every_ordered_pair_and_its_diagonal_is_the_plain_evaluation(
        xnli_model: tuple, shared_data: Path, tmp_path: Path) -> None:
    rows = _evaluate(evaluate_generalized, xnli_model, ["de", "fr"], tmp_path / "g", shared_data)
    assert {(r.language, r.split, r.n) for r in rows} == {
        (code, "test+generalized", CAP) for code in ("de-de", "de-fr", "fr-de", "fr-fr")}
    mixed = _read(tmp_path / "g" / "de-fr.jsonl")
    assert [r["id"] for r in mixed] == [f"xnli-test-de-{i}@de-fr" for i in range(CAP)]

    plain = _evaluate(evaluate_languages, xnli_model, ["de", "fr"], tmp_path / "p", shared_data)
    for lang in ("de", "fr"):
        diagonal = _read(tmp_path / "g" / f"{lang}-{lang}.jsonl")
        ordinary = _read(tmp_path / "p" / f"{lang}.jsonl")
        assert [r["prediction"] for r in diagonal] == [r["prediction"] for r in ordinary]
        assert [r["gold"] for r in diagonal] == [r["gold"] for r in ordinary]
        [cell] = [r.value for r in rows if r.language == f"{lang}-{lang}"]
        [score] = [r.value for r in plain if r.language == lang]
        assert cell == score

    table = matrix_table(rows)
    assert table.splitlines()[0] == "| accuracy (first \\ second) | de | fr |"
    assert len(table.splitlines()) == 4


def _ex(i: int, label: int, language: str) -> Example:
    return Example(f"{language}-{i}", (f"a{i}", f"b{i}"), label, language)


def test_non_parallel_files_are_refused() -> None:
    de = [_ex(0, 1, "de"), _ex(1, 0, "de")]
    with pytest.raises(XstiltsError, match="de has 2 examples, fr has 1"):
        check_parallel(XNLI, "test", {"de": de, "fr": [_ex(0, 1, "fr")]})
    with pytest.raises(XstiltsError, match="row 1 has label 0 in de but 2 in fr"):
        check_parallel(XNLI, "test", {"de": de, "fr": [_ex(0, 1, "fr"), _ex(1, 2, "fr")]})
    check_parallel(XNLI, "test", {"de": de, "fr": [_ex(0, 1, "fr"), _ex(1, 0, "fr")]})


def _spec(**evaluation) -> StudySpec:
    return StudySpec.model_validate({"name": "s", "encoder": "tiny:random",
                                     "targets": [{"task": "xnli", "languages": ["de"]}],
                                     "evaluation": evaluation})


def test_unset_options_keep_run_ids_and_set_ones_change_them() -> None:
    base = plan_study(_spec()).target_runs[0]
    assert set(base.settings["evaluation"]) == {"batch_size", "max_examples",
                                                "bootstrap_resamples", "confidence"}
    matrix = plan_study(_spec(generalized=["de", "en"])).target_runs[0]
    assert matrix.settings["evaluation"]["generalized"] == ["de", "en"]
    assert matrix.id != base.id


def test_study_check_refuses_a_matrix_on_a_non_pair_task(shared_data: Path) -> None:
    spec = StudySpec.model_validate({"name": "s", "targets": [{"task": "sts17"}],
                                     "evaluation": {"generalized": ["en-en"]}})
    with pytest.raises(StudyConfigError, match="generalized needs a pair task"):
        check_study(spec, None, shared_data)
    with pytest.raises(StudyConfigError, match="has no language"):
        check_study(_spec(generalized=["de", "xx"]), None, shared_data)


def test_pawsx_untranslated_rows_are_dropped_in_every_language(shared_data) -> None:
    """PAWS-X marks untranslated sentences 'NS' (label 0): those rows are removed everywhere,
    after which the dev files are parallel (same labels row by row)."""
    from xstilts.evaluation.generalized import generalized_task
    from xstilts.tasks import get_task

    view, codes = generalized_task(get_task("pawsx"), "dev", ["en", "de", "zh"], shared_data)
    rows = {code: view.load("dev", code, None) for code in codes}
    sizes = {len(r) for r in rows.values()}
    assert len(sizes) == 1 and 1900 < sizes.pop() < 2000
    assert all("NS" not in ex.texts for r in rows.values() for ex in r)
    assert [e.label for e in rows["en-de"]] == [e.label for e in rows["zh-zh"]]
