"""Several processes (DDP over gloo on this CPU, as `torchrun`/`accelerate launch` start them)
train like one process, and a study launched that way gives the single-process results."""

from __future__ import annotations

import csv
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from ddp_worker import N_TRAIN, OPTIONS, train
from safetensors.torch import load_file
from tiny_study import tiny_study

from xstilts.models import load_encoder
from xstilts.tasks import get_task
from xstilts.tasktypes import FeatureOptions, handler_for
from xstilts.training.phases import _model_with_heads
from xstilts.training.trainer import TrainingStream, process_shard

pytestmark = pytest.mark.skipif(not torch.distributed.is_gloo_available(),
                                reason="torch.distributed has no gloo backend here")
WORKER = Path(__file__).with_name("ddp_worker.py")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun(processes: int, *args: str, cwd: Path,
             check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node",
               str(processes), "--master_addr", "127.0.0.1", "--master_port",
               str(_free_port()), *args]
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=600)
    if check:
        assert done.returncode == 0, done.stderr[-3000:]
    return done


@pytest.mark.parametrize(("batch", "world"), [(8, 2), (4, 3), (1, 2)])
def test_weighted_slices_give_the_whole_batch_gradient(batch: int, world: int) -> None:
    """What DDP averages (each process's weighted slice gradient) is the batch's gradient,
    also for uneven splits and a process left without examples."""
    encoder, tokenizer = load_encoder("tiny:random")
    task = get_task("cldr-continents")
    handler = handler_for(task)
    features = handler.featurize(task, task.load("train", "en")[:batch], tokenizer,
                                 FeatureOptions(max_seq_length=24), training=True)
    model = _model_with_heads(encoder, [TrainingStream(task, handler, features)], "mean", 0)
    model.eval()  # no dropout: its masks depend on how the batch is split

    def gradient(indices: list[int], weight: float) -> dict[str, torch.Tensor]:
        model.zero_grad()
        loss, _ = model(task.name, handler.collate(features, indices, tokenizer.pad_token_id))
        (loss * weight).backward()
        return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}

    whole = gradient(list(range(batch)), 1.0)
    slices = [gradient(*process_shard(list(range(batch)), rank, world))
              for rank in range(world)]
    for name, expected in whole.items():
        averaged = sum(s[name] for s in slices) / world
        assert torch.allclose(averaged, expected, rtol=1e-4, atol=1e-6), name


def test_two_processes_train_like_one(tmp_path: Path) -> None:
    ddp, single = tmp_path / "ddp", tmp_path / "single"
    ddp.mkdir()
    single.mkdir()
    torchrun(2, str(WORKER), str(ddp), cwd=tmp_path)
    result = json.loads((ddp / "result.json").read_text())
    assert result["processes"] == 2
    rank0 = load_file(str(ddp / "weights-0.safetensors"))
    rank1 = load_file(str(ddp / "weights-1.safetensors"))
    assert all(torch.equal(rank0[k], rank1[k]) for k in rank0)  # DDP kept them in sync

    weights, single_result = train(single)
    steps = -(-N_TRAIN // OPTIONS.batch_size) * OPTIONS.epochs
    assert result["steps"] == single_result["steps"] == steps
    logged = [json.loads(line) for line in (ddp / "log.jsonl").read_text().splitlines()]
    expected = [json.loads(line) for line in (single / "log.jsonl").read_text().splitlines()]
    # One log line per step (only the main process writes), with the global batch's loss:
    # the first two steps match one process exactly; later ones drift by float summation
    # order, which Adam amplifies on near-zero gradients.
    assert [r.get("step") for r in logged] == [r.get("step") for r in expected]
    for mine, theirs in zip(logged[:2], expected[:2], strict=True):
        assert mine["loss"] == pytest.approx(theirs["loss"], rel=1e-5)
    assert max((rank0[k] - weights[k]).abs().max().item() for k in weights) < 0.02


def _losses(log: Path) -> list[tuple[int, float]]:
    return [(r["step"], r["loss"]) for r in map(json.loads, log.read_text().splitlines())
            if "loss" in r]


@pytest.mark.slow  # ~40 s: three two-process launches
def test_a_killed_ddp_run_with_dropout_resumes_exactly(tmp_path: Path) -> None:
    """Each process draws its dropout masks from its own generator, and the generators drift
    apart; the resumable state keeps every process's, so the resumed run repeats the
    uninterrupted run's steps bit for bit."""
    whole, broken = tmp_path / "whole", tmp_path / "broken"
    whole.mkdir()
    broken.mkdir()
    torchrun(2, str(WORKER), str(whole), "--dropout", cwd=tmp_path)
    crashed = torchrun(2, str(WORKER), str(broken), "--dropout", "--crash-at", "11",
                       cwd=tmp_path, check=False)
    assert crashed.returncode != 0 and (broken / "resume" / "state.json").is_file()
    saved = torch.load(broken / "resume" / "optimizer.pt", weights_only=True)
    assert len(saved["rng"]) == 2
    assert not torch.equal(saved["rng"][0]["cpu"], saved["rng"][1]["cpu"])
    torchrun(2, str(WORKER), str(broken), "--dropout", cwd=tmp_path)
    result = json.loads((broken / "result.json").read_text())
    assert result["resumed_from_step"] == 8  # the end of epoch 1 of 2
    # Model selection may keep epoch 1's weights, so the epoch-2 losses are what show that
    # every process drew the masks it would have drawn.
    assert result["final_loss"] == json.loads((whole / "result.json").read_text())["final_loss"]
    assert _losses(broken / "log.jsonl") == _losses(whole / "log.jsonl")
    expected = load_file(str(whole / "weights-0.safetensors"))
    resumed = load_file(str(broken / "weights-0.safetensors"))
    assert all(torch.equal(expected[k], resumed[k]) for k in expected)


STUDY = tiny_study("ddp")


def _results(out: Path) -> dict[tuple[str, ...], float]:
    with (out / "report" / "results.csv").open() as f:
        return {(r["run_id"], r["intermediate"], r["language"], r["metric"]): float(r["value"])
                for r in csv.DictReader(f)}


@pytest.mark.slow  # ~40 s: a whole study twice
def test_study_launched_on_two_processes_gives_the_single_process_results(
        tmp_path: Path) -> None:
    (tmp_path / "study.yaml").write_text(STUDY, encoding="utf-8")
    launched = torchrun(2, "-m", "xstilts.cli", "run", "study.yaml", "--out", "ddp",
                        cwd=tmp_path)
    assert launched.stderr.count("3 run(s) done") == 1  # one process reports
    assert launched.stdout.count("Report: ") == 1
    single = subprocess.run([sys.executable, "-m", "xstilts.cli", "run", "study.yaml",
                             "--out", "single"], cwd=tmp_path, capture_output=True, text=True,
                            env={**os.environ, "HF_HUB_OFFLINE": "1"}, timeout=600)
    assert single.returncode == 0, single.stderr[-3000:]
    ddp, one = _results(tmp_path / "ddp"), _results(tmp_path / "single")
    assert ddp.keys() == one.keys() and len(ddp) == 4
    assert all(abs(ddp[k] - one[k]) <= 0.1 for k in ddp)
    for run in (tmp_path / "ddp" / "runs").iterdir():
        assert (run / "XSTILTS_COMPLETE").is_file()
        lines = (run / "log.jsonl").read_text().splitlines()
        mirror = (tmp_path / "single" / "runs" / run.name / "log.jsonl").read_text()
        assert len(lines) == len(mirror.splitlines())
