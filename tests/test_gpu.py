"""The GPU path: training in fp32 / bf16 / fp16 on one GPU, exact resume there (the GPU's own
dropout generator and fp16's loss scaler are part of the saved state), evaluation of a model
that lives on the GPU, and a whole study. Skipped on machines without CUDA (CI has none); the
rest of the suite also runs on the GPU when one is present, since accelerate picks it."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from test_trainer import OPTIONS, fresh, interrupt_at_update, run, weights
from tiny_study import tiny_study
from transformers import AutoConfig, AutoModel

from xstilts.evaluation.embeddings import embed_sentences
from xstilts.models import load_encoder
from xstilts.models.bundled import bundled_model_dir
from xstilts.tasks import get_task
from xstilts.tasktypes import FeatureOptions
from xstilts.tasktypes.zero_shot import EvaluationSettings, evaluate_languages
from xstilts.training.trainer import train_model

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

PRECISIONS = ["no", "bf16", "fp16"]


def _losses(log: Path) -> list[float]:
    return [r["loss"] for r in map(json.loads, log.read_text().splitlines()) if "loss" in r]


@pytest.mark.parametrize("precision", PRECISIONS)
def test_training_on_the_gpu_learns_in_every_precision(precision: str, tmp_path: Path) -> None:
    log = tmp_path / "log.jsonl"
    model, result = run(OPTIONS.model_copy(update={"precision": precision}), log_path=log)
    assert next(model.parameters()).device.type == "cuda"
    losses = _losses(log)
    assert len(losses) == result.steps > 0
    assert all(np.isfinite(losses))
    assert sum(losses[-3:]) < sum(losses[:3])


@pytest.mark.parametrize("precision", PRECISIONS)
def test_interrupted_gpu_training_resumes_exactly(precision: str, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Dropout on the GPU draws from the GPU generator; without it in the saved state the
    resumed run drops other units and ends with other weights."""
    options = OPTIONS.model_copy(update={"precision": precision, "checkpoint_every_steps": 2})
    model_ref, result_ref = run(options)
    interrupt_at_update(options, tmp_path / "resume", monkeypatch)
    saved = torch.load(tmp_path / "resume" / "optimizer.pt", weights_only=True)
    assert "cuda" in saved["rng"][0]
    assert ("scaler" in saved) == (precision == "fp16")
    resumed, result = run(options, resume_dir=tmp_path / "resume")
    assert result.resumed_from_step == 6
    assert result.final_loss == result_ref.final_loss
    assert all(torch.equal(a, b) for a, b in zip(weights(model_ref).values(),
                                                 weights(resumed).values(), strict=True))


def test_a_model_trained_on_the_gpu_is_evaluated_there(tmp_path: Path) -> None:
    model, tokenizer, stream = fresh()
    train_model(model, [stream], OPTIONS, seed=0, pad_id=tokenizer.pad_token_id)
    task = get_task("cldr-continents")
    settings = EvaluationSettings(FeatureOptions(max_seq_length=24), max_examples=40,
                                  bootstrap_resamples=20)
    rows = evaluate_languages(model, tokenizer, task, ["en", "de"], "test", None,
                              tmp_path / "predictions", settings)
    assert {r.language for r in rows} == {"en", "de"}
    assert len((tmp_path / "predictions" / "de.jsonl").read_text().splitlines()) == 40


def test_an_e5_sized_encoder_embeds_on_the_gpu_as_on_the_cpu() -> None:
    """Random weights in the bundled encoder's shape (12 layers, 384 dims): the GPU kernels
    (fp32 and bf16 autocast) must give the CPU's sentence vectors."""
    texts = ["The cat sits on the mat.", "Die Katze sitzt auf der Matte.", "猫はマットの上に座る。",
             "القطة تجلس على الحصيرة", "Paka ameketi juu ya mkeka."] * 4
    _, tokenizer = load_encoder("tiny:random")
    torch.manual_seed(0)
    encoder = AutoModel.from_config(
        AutoConfig.from_pretrained(bundled_model_dir("multilingual-e5-small"))).eval()
    on_cpu = embed_sentences(encoder, tokenizer, texts, progress=False)
    encoder.to("cuda")
    on_gpu = embed_sentences(encoder, tokenizer, texts, progress=False)
    in_bf16 = embed_sentences(encoder, tokenizer, texts, autocast_bf16=True, progress=False)

    def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)

    assert cosines(on_cpu, on_gpu).min() > 0.9999
    assert cosines(on_cpu, in_bf16).min() > 0.99


def test_a_study_runs_end_to_end_on_the_gpu(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from xstilts.cli import app

    (tmp_path / "study.yaml").write_text(tiny_study("gpu"), encoding="utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", str(tmp_path / "study.yaml"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    with (out / "report" / "results.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert {r["language"] for r in rows} == {"en", "de"}
    assert all(0.0 <= float(r["value"]) <= 1.0 for r in rows)
    trained = [json.loads(p.read_text())["info"]["training"]
               for p in (out / "runs").glob("*/run.json")]
    assert len(trained) == 3 and {t["device"] for t in trained} == {"cuda"}
    environment = json.loads((out / "report" / "summary.json").read_text())["environment"]
    assert environment["gpu"] == torch.cuda.get_device_name(0)
