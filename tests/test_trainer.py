"""The training loop: determinism, exact resume, robust training, bad losses, samplers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from xstilts.errors import TrainingError
from xstilts.evaluation.correlation_scores import score_correlations
from xstilts.evaluation.metrics import Score, score_accuracy
from xstilts.evaluation.tagging_metrics import score_entity_f1
from xstilts.models import load_encoder
from xstilts.tasks import get_task
from xstilts.tasktypes import FeatureOptions, handler_for
from xstilts.training import precision
from xstilts.training import trainer as trainer_module
from xstilts.training.options import (
    AdversarialOptions,
    MixOptions,
    SmoothingOptions,
    TrainingOptions,
)
from xstilts.training.phases import _model_with_heads
from xstilts.training.substitution import load_dictionary, substitute_examples
from xstilts.training.trainer import TrainingStream, train_model

OPTIONS = TrainingOptions(epochs=2, batch_size=8, max_seq_length=24, learning_rate=1e-3,
                          warmup_ratio=0.0, log_every=1)


def make_stream(tokenizer, n: int = 48) -> TrainingStream:
    task = get_task("cldr-continents")
    handler = handler_for(task)
    train = task.load("train", "en")[:n]
    dev = task.load("dev", "en")[:16]
    fopts = FeatureOptions(max_seq_length=24)
    return TrainingStream(task, handler, handler.featurize(task, train, tokenizer, fopts,
                                                           training=True),
                          dev, handler.featurize(task, dev, tokenizer, fopts, training=False))


def fresh(seed: int = 0):
    encoder, tokenizer = load_encoder("tiny:random")
    stream = make_stream(tokenizer)
    model = _model_with_heads(encoder, [stream], "mean", seed)
    return model, tokenizer, stream


def weights(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def run(options: TrainingOptions = OPTIONS, seed: int = 0, **kwargs):
    model, tokenizer, stream = fresh(seed)
    result = train_model(model, [stream], options, seed=seed, pad_id=tokenizer.pad_token_id,
                         **kwargs)
    return model, result


def interrupt_at_update(options: TrainingOptions, resume_dir: Path,
                        monkeypatch: pytest.MonkeyPatch, at: int = 7) -> None:
    """Train until the ``at``-th update raises KeyboardInterrupt (what a kill leaves: the
    resumable state of the last checkpoint), then put the real update back."""
    real_update, calls = trainer_module._update, {"n": 0}

    def crashing_update(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == at:
            raise KeyboardInterrupt
        return real_update(*args, **kwargs)

    monkeypatch.setattr(trainer_module, "_update", crashing_update)
    with pytest.raises(KeyboardInterrupt):
        run(options, resume_dir=resume_dir)
    monkeypatch.setattr(trainer_module, "_update", real_update)


@pytest.fixture(scope="module")
def reference():
    return run()


def test_same_seed_gives_identical_weights_and_other_seeds_do_not(reference) -> None:
    model, result = reference
    again, again_result = run()
    assert all(torch.equal(a, b) for a, b in zip(weights(model).values(),
                                                 weights(again).values(), strict=True))
    assert result.final_loss == again_result.final_loss
    other, _ = run(seed=1)
    assert not all(torch.equal(a, b) for a, b in zip(weights(model).values(),
                                                     weights(other).values(), strict=True))


def test_interrupted_training_resumes_exactly(reference, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    model_ref, result_ref = reference
    options = OPTIONS.model_copy(update={"checkpoint_every_steps": 2})
    real_update = trainer_module._update
    calls = {"n": 0}

    log = tmp_path / "log.jsonl"

    def crashing_update(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 7:  # after the checkpoint at step 6, mid-epoch 1 of 2
            # What a kill -9 would leave: every step up to now is already in the log file.
            assert sum('"loss"' in line for line in log.read_text().splitlines()) == 6
            raise KeyboardInterrupt
        return real_update(*args, **kwargs)

    monkeypatch.setattr(trainer_module, "_update", crashing_update)
    with pytest.raises(KeyboardInterrupt):
        run(options, resume_dir=tmp_path / "resume", log_path=tmp_path / "log.jsonl")
    monkeypatch.setattr(trainer_module, "_update", real_update)
    assert (tmp_path / "resume" / "state.json").is_file()
    resumed, result = run(options, resume_dir=tmp_path / "resume",
                          log_path=tmp_path / "log.jsonl")
    assert result.resumed_from_step == 6
    assert all(torch.equal(a, b) for a, b in zip(weights(model_ref).values(),
                                                 weights(resumed).values(), strict=True))
    assert result.final_loss == result_ref.final_loss
    steps = [line for line in (tmp_path / "log.jsonl").read_text().splitlines()
             if '"loss"' in line]
    assert len(steps) == result.steps  # no step logged twice after the resume


def test_adversarial_training_changes_training_and_reports_its_cost(reference) -> None:
    model_ref, result_ref = reference
    for method in ("pgd", "freelb"):
        options = OPTIONS.model_copy(update={"adversarial": AdversarialOptions(
            method=method, steps=2, epsilon=0.5, step_size=0.25)})
        model, result = run(options)
        assert result.forward_passes_per_update == (4 if method == "pgd" else 2)
        assert result.final_loss != result_ref.final_loss
        assert torch.isfinite(torch.tensor(result.final_loss))
        assert not torch.equal(weights(model)["heads.cldr-continents.out.weight"],
                               weights(model_ref)["heads.cldr-continents.out.weight"])


def test_gaussian_smoothing_changes_training_but_not_evaluation(reference) -> None:
    _, result_ref = reference
    options = OPTIONS.model_copy(update={"smoothing": SmoothingOptions(noise_sigma=0.5)})
    _, result = run(options)
    assert result.final_loss != result_ref.final_loss


def test_substitution_dictionary(tmp_path: Path) -> None:
    path = tmp_path / "dict.txt"
    path.write_text("Germany\tDeutschland\nFrance Frankreich\n", encoding="utf-8")
    assert load_dictionary(path) == {"Germany": ["Deutschland"], "France": ["Frankreich"]}
    task = get_task("cldr-continents")
    examples = [e for e in task.load("train", "en") if e.texts[0] in ("Germany", "France")]
    out, counts = substitute_examples(examples, str(path), 1.0, seed=0)
    assert sorted(e.texts[0] for e in out) == ["Deutschland", "Frankreich"][: len(out)]
    assert counts["replaced"] == len(examples)
    bad = tmp_path / "bad.txt"
    bad.write_text("lonely\n", encoding="utf-8")
    with pytest.raises(Exception, match="bad.txt:1"):
        load_dictionary(bad)


def test_nan_loss_stops_with_the_step(monkeypatch: pytest.MonkeyPatch) -> None:
    def nan_update(*args, **kwargs):
        return torch.tensor(float("nan"))

    monkeypatch.setattr(trainer_module, "_update", nan_update)
    with pytest.raises(TrainingError, match="loss became nan at step 1"):
        run()


def _late_loss_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Read the losses only where one GPU must (log steps, selection, checkpoints, the end)."""
    monkeypatch.setattr(trainer_module.TrainingLoop, "_loss_check_due", lambda self: False)


def test_late_loss_checks_change_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    options = OPTIONS.model_copy(update={"log_every": 100})
    model_ref, result_ref = run(options)
    _late_loss_checks(monkeypatch)
    model, result = run(options)
    assert result.final_loss == result_ref.final_loss
    assert result.best_dev_score == result_ref.best_dev_score
    for name, tensor in weights(model_ref).items():
        assert torch.equal(tensor, weights(model)[name]), name


def test_late_loss_check_names_the_first_bad_step_and_saves_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The loss turns NaN at step 3; it is read before the step-4 checkpoint, which is then
    not written (nor is any weight it touched selected)."""
    real_update, calls = trainer_module._update, {"n": 0}

    def update_turning_nan(*args, **kwargs):
        calls["n"] += 1
        loss = real_update(*args, **kwargs)
        return loss * float("nan") if calls["n"] >= 3 else loss

    monkeypatch.setattr(trainer_module, "_update", update_turning_nan)
    _late_loss_checks(monkeypatch)
    options = OPTIONS.model_copy(update={"log_every": 100, "checkpoint_every_steps": 4})
    with pytest.raises(TrainingError, match="loss became nan at step 3 "):
        run(options, resume_dir=tmp_path / "resume")
    assert calls["n"] == 4
    assert not (tmp_path / "resume").exists()


def test_out_of_memory_names_batch_and_length(monkeypatch: pytest.MonkeyPatch) -> None:
    def oom(*args, **kwargs):
        raise torch.OutOfMemoryError("simulated")

    monkeypatch.setattr(trainer_module, "_update", oom)
    with pytest.raises(TrainingError, match="batch_size 8, max_seq_length 24"):
        run()


def test_sampler_probabilities() -> None:
    sizes = [100, 400]
    assert MixOptions(sampler="proportional").probabilities(sizes) == [0.2, 0.8]
    assert MixOptions(sampler="uniform").probabilities(sizes) == [0.5, 0.5]
    assert MixOptions(sampler="temperature", temperature=2).probabilities(sizes) == \
        pytest.approx([1 / 3, 2 / 3])
    assert MixOptions(sampler="proportional", size_cap=100).probabilities(sizes) == [0.5, 0.5]


def test_bf16_mixed_precision_trains_on_cpu(tmp_path: Path) -> None:
    """accelerate's mixed-precision path (CPU autocast in bf16): autocast really runs (the
    weights differ from an fp32 run's) and the model still learns. The fp32 side is explicit:
    the default precision, ``auto``, is itself bf16 on a CPU with native bf16."""
    log = tmp_path / "log.jsonl"
    model, result = run(OPTIONS.model_copy(update={"precision": "bf16"}), log_path=log)
    fp32_model, fp32_result = run(OPTIONS.model_copy(update={"precision": "no"}))
    losses = [r["loss"] for r in map(json.loads, log.read_text().splitlines()) if "loss" in r]
    assert result.steps == fp32_result.steps == len(losses)
    assert sum(losses[-3:]) < sum(losses[:3])
    assert not all(torch.equal(a, b) for a, b in zip(weights(model).values(),
                                                     weights(fp32_model).values(),
                                                     strict=True))


@pytest.mark.skipif(torch.cuda.is_available(), reason="CPU-only precision advice")
def test_bf16_on_a_cpu_without_bf16_instructions_warns(monkeypatch: pytest.MonkeyPatch,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(precision, "cpu_flags", lambda: frozenset({"avx2", "avx512f"}))
    precision.warn_emulated_bf16.cache_clear()
    with caplog.at_level("WARNING", logger="xstilts.training.precision"):
        precision.check_precision("no")
        assert not caplog.records
        precision.check_precision("bf16")
        precision.check_precision("bf16")  # once per process
    assert len(caplog.records) == 1 and "emulated" in caplog.records[0].getMessage()
    monkeypatch.setattr(precision, "cpu_flags", lambda: frozenset({"avx2", "avx512_bf16"}))
    precision.warn_emulated_bf16.cache_clear()
    caplog.clear()
    precision.check_precision("bf16")
    assert not caplog.records


@pytest.mark.skipif(torch.cuda.is_available(), reason="fp16 is refused on CPU-only machines")
def test_fp16_on_a_cpu_is_refused_rather_than_silently_fp32() -> None:
    with pytest.raises(TrainingError, match="precision 'fp16' needs a GPU"):
        run(OPTIONS.model_copy(update={"precision": "fp16"}))


class _StubHandler:
    """Scores in an order where the primary metric is not first; records the resamples."""

    def __init__(self, primary: str) -> None:
        self.primary, self.resamples = primary, []

    def primary_metric(self, task) -> str:
        return self.primary

    def score(self, task, examples, predictions, *, resamples, confidence, seed):
        self.resamples.append(resamples)
        return [Score("token_accuracy", 0.75, None, None, 4), Score("span_f1", 0.5, None, None, 2)]


def test_dev_selection_scores_the_primary_metric_by_name_without_a_bootstrap(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(trainer_module, "predict", lambda *args, **kwargs: [["NOUN"]])
    handler = _StubHandler("span_f1")
    stream = TrainingStream(get_task("udpos"), handler, train=None, dev_examples=[object()],
                            dev=object())
    scores = trainer_module._dev_scores(None, [stream], pad_id=0, batch_size=8,
                                        device=torch.device("cpu"), bf16=False)
    assert scores == {"udpos": 0.5}  # span_f1, not the first score (token_accuracy 0.75)
    assert handler.resamples == [0]  # selection needs point values only
    handler.primary = "entity_f1"
    with pytest.raises(TrainingError, match="primary metric 'entity_f1' is not among"):
        trainer_module._dev_scores(None, [stream], pad_id=0, batch_size=8,
                                   device=torch.device("cpu"), bf16=False)


def test_point_only_scores_have_the_values_and_no_interval() -> None:
    """resamples=0, what dev selection asks for: the point value, ci None, nothing drawn."""
    acc = score_accuracy([0, 1, 1, 0], [0, 1, 0, 0], resamples=0)
    assert (acc.value, acc.ci_low, acc.ci_high) == (0.75, None, None)  # 3 of 4 right
    # One entity of two predicted is right, one of two gold is found: P = R = F1 = 1/2.
    f1 = score_entity_f1([["B-PER", "I-PER", "O", "B-LOC"]], [["B-PER", "I-PER", "O", "B-ORG"]],
                         resamples=0)
    assert (f1.value, f1.ci_low, f1.ci_high) == (pytest.approx(0.5), None, None)
    # Ranks (1,2,3) vs (1,3,2): d² = 0+1+1 = 2, rho = 1 - 6·2 / (3·(9-1)) = 0.5.
    rho = score_correlations([1.0, 2.0, 3.0], [1.0, 3.0, 2.0], metrics=("spearman",),
                             resamples=0)[0]
    assert (rho.value, rho.ci_low, rho.ci_high) == (pytest.approx(0.5), None, None)


def test_epoch_ends_save_the_resumable_state_once_a_minute(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A short epoch is cheaper to redo than to save: by default an epoch end saves only when
    CHECKPOINT_MIN_SECONDS have passed since the last save; checkpoint_every_steps always."""
    run(resume_dir=tmp_path / "quick")  # 2 epochs of well under a minute
    assert not (tmp_path / "quick" / "state.json").exists()
    monkeypatch.setattr(trainer_module, "CHECKPOINT_MIN_SECONDS", 0.0)
    _, result = run(resume_dir=tmp_path / "due")
    saved = json.loads((tmp_path / "due" / "state.json").read_text())
    assert saved["progress"]["step"] == result.steps // 2  # the end of epoch 1 of 2
    monkeypatch.setattr(trainer_module, "CHECKPOINT_MIN_SECONDS", 3600.0)
    run(OPTIONS.model_copy(update={"checkpoint_every_steps": 3}), resume_dir=tmp_path / "steps")
    assert json.loads((tmp_path / "steps" / "state.json").read_text())["progress"]["step"] == 9


def _mapped_file(tensor: torch.Tensor) -> str | None:
    """The file whose mapping holds ``tensor``'s memory (/proc/self/maps), None if anonymous."""
    address = tensor.data_ptr()
    for line in Path("/proc/self/maps").read_text().splitlines():
        fields = line.split(maxsplit=5)
        start, end = (int(x, 16) for x in fields[0].split("-"))
        if start <= address < end:
            return fields[5] if len(fields) == 6 and fields[5].startswith("/") else None
    return None


@pytest.mark.skipif(not Path("/proc/self/maps").is_file(), reason="needs Linux /proc/self/maps")
def test_trained_parameters_leave_the_copy_on_write_file_mapping(tmp_path):
    """from_pretrained maps safetensors copy-on-write; the first write to each page would fault
    and copy it (1.3 s for the bundled encoder's word embeddings). Training gives the trained
    parameters memory of their own first and leaves frozen ones where they are."""
    encoder, tokenizer = load_encoder("tiny:random")
    encoder.save_pretrained(tmp_path / "encoder")
    tokenizer.save_pretrained(tmp_path / "encoder")
    encoder, tokenizer = load_encoder(str(tmp_path / "encoder"))
    stream = make_stream(tokenizer)
    model = _model_with_heads(encoder, [stream], "mean", 0)
    words = encoder.get_input_embeddings().weight
    query = encoder.encoder.layer[0].attention.self.query.weight
    saved = str(tmp_path / "encoder" / "model.safetensors")
    if _mapped_file(query) != saved:
        pytest.skip("this transformers version copies weights on loading: nothing to check")
    assert _mapped_file(words) == saved
    loaded = query.detach().clone()

    options = OPTIONS.model_copy(update={"max_steps": 1, "freeze_embeddings": True,
                                         "learning_rate": 0.0})
    train_model(model, [stream], options, seed=0, pad_id=tokenizer.pad_token_id)

    assert _mapped_file(query) is None
    assert torch.equal(query.detach(), loaded)  # same values (learning rate 0), new memory
    assert encoder.encoder.layer[0].attention.self.query.weight is query  # same parameter
    assert _mapped_file(words) == saved  # frozen: never written, left mapped
