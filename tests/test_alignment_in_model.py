"""Tatoeba-fitted projections applied inside a siamese model at evaluation time."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from xstilts.alignment.in_model import (
    evaluate_aligned,
    fit_tatoeba_projections,
    text_languages,
)
from xstilts.alignment.projections import METHODS, Projection
from xstilts.errors import StudyConfigError, XstiltsError
from xstilts.models import load_encoder
from xstilts.models.heads import TaskModel
from xstilts.models.pooling import encode_pooled
from xstilts.report.summary import write_report
from xstilts.studies.executor import run_study
from xstilts.studies.planner import check_study
from xstilts.studies.spec import AlignOptions, StudySpec, load_study
from xstilts.tasks import get_task
from xstilts.tasktypes import FeatureOptions, handler_for
from xstilts.tasktypes.zero_shot import EvaluationSettings, evaluate_languages

STS17 = get_task("sts17")
LANGS = ["ar-en", "en-en"]
FOPTS = FeatureOptions(max_seq_length=32)


@pytest.fixture(scope="module")
def sts_model() -> tuple:
    encoder, tokenizer = load_encoder("tiny:random")
    torch.manual_seed(0)
    model = TaskModel(encoder)
    model.add_head(STS17.name, handler_for(STS17, "siamese").build_head(
        STS17, model.hidden_size, "mean"))
    return model, tokenizer


def _predictions(folder: Path, language: str) -> list[float]:
    lines = (folder / f"{language}.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["prediction"] for line in lines]


def _run(sts_model: tuple, data_dir: Path, out: Path, projections=None) -> list:
    model, tokenizer = sts_model
    how = EvaluationSettings(FOPTS, handler=handler_for(STS17, "siamese"), max_examples=8,
                             bootstrap_resamples=20)
    if projections is None:
        return evaluate_languages(model, tokenizer, STS17, LANGS, "test", data_dir, out, how)
    return evaluate_aligned(model, tokenizer, STS17, LANGS, "test", data_dir, out, projections,
                            how)


def test_projection_changes_the_projected_side_only(sts_model: tuple, shared_data: Path,
                                                     tmp_path: Path) -> None:
    model, tokenizer = sts_model
    projections, info = fit_tatoeba_projections(model.encoder, tokenizer, LANGS, shared_data,
                                                n_train=24, max_length=32)
    assert set(projections) == {"ar"} and info["skipped"] == ["en"]
    assert info["fitted"] == {"ar": {"n_train": 24}}
    plain_rows = _run(sts_model, shared_data, tmp_path / "plain")
    rows = _run(sts_model, shared_data, tmp_path / "align", projections)
    assert {(r.language, r.split) for r in rows} == {(lang, "test+align") for lang in LANGS}
    assert len(rows) == len(plain_rows)
    plain, aligned = tmp_path / "plain", tmp_path / "align"
    assert _predictions(aligned, "en-en") == _predictions(plain, "en-en")
    assert not np.allclose(_predictions(aligned, "ar-en"), _predictions(plain, "ar-en"))

    # By hand: only the first (Arabic) text is projected; the cosine head compares directions.
    example = STS17.load("test", "ar-en", shared_data)[0]
    model.eval()  # no dropout, as in prediction
    with torch.no_grad():
        u, v = (encode_pooled(model.encoder, torch.tensor([ids]), torch.ones(1, len(ids),
                                                                             dtype=torch.long),
                              "mean").numpy()
                for ids in (tokenizer(t, truncation=True, max_length=32)["input_ids"]
                            for t in example.texts))
    u, v = projections["ar"].apply(u / np.linalg.norm(u))[0], v[0]
    expected = 5 * float(u @ v / (np.linalg.norm(u) * np.linalg.norm(v)))
    assert _predictions(aligned, "ar-en")[0] == pytest.approx(expected, abs=1e-4)


def test_identity_projection_changes_nothing(sts_model: tuple, shared_data: Path,
                                             tmp_path: Path) -> None:
    size = sts_model[0].hidden_size
    identity = Projection("procrustes", np.eye(size))
    _run(sts_model, shared_data, tmp_path / "plain")
    _run(sts_model, shared_data, tmp_path / "align", {"ar": identity, "en": identity})
    for lang in LANGS:
        np.testing.assert_allclose(_predictions(tmp_path / "align", lang),
                                   _predictions(tmp_path / "plain", lang), atol=1e-5)


def test_cross_encoders_are_refused(shared_data: Path) -> None:
    model, tokenizer = load_encoder("tiny:random")
    with pytest.raises(XstiltsError, match="cross-encoder"):
        evaluate_aligned(TaskModel(model), tokenizer, STS17, LANGS, "test", shared_data,
                         Path("unused"), {}, EvaluationSettings(FOPTS, handler=handler_for(STS17)))
    cross = {"task": "sts17", "training": {"pair_encoding": "cross"}}
    spec = StudySpec.model_validate({"name": "s", "targets": [cross],
                                     "evaluation": {"align": {}}})
    with pytest.raises(StudyConfigError, match="pair_encoding: siamese"):
        check_study(spec, None, shared_data)
    # the default (auto) is STS 2017's protocol, the bi-encoder, which alignment can project
    check_study(StudySpec.model_validate({"name": "s", "targets": [{"task": "sts17"}],
                                          "evaluation": {"align": {}}}), None, shared_data)


def test_spec_methods_match_the_fitting_code() -> None:
    assert AlignOptions.model_fields["method"].annotation.__args__ == METHODS
    assert text_languages("es-en-wmt") == ("es", "en") and text_languages("de") == ("de", "de")


STUDY = """
name: tiny-xlt
encoder: tiny:random
targets:
  - task: xnli
    languages: [en, de]
    train_split: dev
training: {epochs: 1, batch_size: 8, max_seq_length: 24, max_train_examples: 16,
           max_dev_examples: 8, pair_encoding: siamese, freeze_embeddings: true}
evaluation: {max_examples: 6, bootstrap_resamples: 20, generalized: [en, de],
             align: {n_train: 16}}
"""


def test_study_writes_matrix_and_aligned_rows(shared_data: Path, tmp_path: Path) -> None:
    path = tmp_path / "study.yaml"
    path.write_text(STUDY, encoding="utf-8")
    out = tmp_path / "out"
    outcome = run_study(load_study(path), out, data_dir=shared_data, study_path=path,
                        log=lambda _: None)
    assert not outcome.failed and len(outcome.done) == 1
    with (write_report(out) / "results.csv").open() as f:
        rows = [(r["language"], r["split"], r["n"]) for r in csv.DictReader(f)]
    assert sorted(rows) == sorted(
        [(lang, "test", "6") for lang in ("en", "de")]
        + [(lang, "test+align", "6") for lang in ("en", "de")]
        + [(f"{a}-{b}", "test+generalized", "6") for a in ("en", "de") for b in ("en", "de")])
    [run] = (out / "runs").iterdir()
    assert (run / "predictions" / "generalized" / "de-en.jsonl").is_file()
    assert (run / "predictions" / "align" / "de.jsonl").is_file()
