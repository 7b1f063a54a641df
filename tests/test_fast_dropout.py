"""``dropout_masks: fast``: masks with torch's dropout semantics at a third of its CPU cost,
drawn from torch's generator (seeded, resumable), chosen by ``auto`` on CPUs only, and part
of a run's id only when it is not torch's (what runs trained with before the option)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from test_trainer import OPTIONS, fresh, interrupt_at_update, run, weights
from torch import nn
from transformers.integrations.sdpa_attention import sdpa_attention_forward

from xstilts.errors import TrainingError
from xstilts.training import precision
from xstilts.training.fast_dropout import (
    FastDropout,
    dropout_mask,
    fast_dropout,
    sdpa_or_fast_attention,
    use_dropout_masks,
)
from xstilts.training.options import TrainingOptions
from xstilts.training.runs import concrete_training, training_identity, training_settings

FAST = OPTIONS.model_copy(update={"dropout_masks": "fast"})


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_masks_drop_p_of_the_elements_and_scale_the_rest_to_keep_the_mean(
        dtype: torch.dtype) -> None:
    torch.manual_seed(0)
    n, p = 1 << 20, 0.1
    mask = dropout_mask((n,), p, dtype, torch.device("cpu"))
    dropped = round(p * 65536) / 65536  # 0.100006
    fraction = (mask == 0).double().mean().item()
    assert abs(fraction - dropped) < 5 * math.sqrt(dropped * (1 - dropped) / n)
    kept = mask[mask != 0]
    assert torch.all(kept == torch.tensor(1 / (1 - dropped), dtype=dtype))
    # Every one of the four int16 lanes of a random 64-bit word is used uniformly.
    lanes = (mask.view(-1, 4) == 0).double().mean(0)
    assert torch.all((lanes - dropped).abs() < 5 * math.sqrt(dropped * (1 - dropped) * 4 / n))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("p", [1e-7, 0.1, 0.5, 0.9, 0.99999])
def test_the_mask_is_the_compare_of_the_16_bit_draws_against_the_drop_rate(
        dtype: torch.dtype, p: float) -> None:
    """Each element's 16 bits, drawn from the generator as four int16 per int64 word, decide:
    kept (the scale, rounded to dtype, as torch's own CPU dropout rounds it) where the bits are
    at least the dropped count above -32768, else 0. Fixes the masks runs trained with."""
    shape = (64, 32, 48)  # 98,304 draws: an off-by-one threshold shows
    torch.manual_seed(11)
    words = torch.empty((math.prod(shape) + 3) // 4, dtype=torch.int64)
    bits = words.random_(-(1 << 63), None).view(torch.int16)[:math.prod(shape)].view(shape)
    dropped = round(p * 65536)
    scale = torch.tensor(65536 / (65536 - dropped), dtype=dtype)
    expected = torch.where(bits >= dropped - 32768, scale, torch.zeros((), dtype=dtype))
    torch.manual_seed(11)
    assert torch.equal(dropout_mask(shape, p, dtype, torch.device("cpu")), expected)


def test_the_seed_fixes_the_masks_and_the_rng_state_resumes_them() -> None:
    x = torch.randn(64, 48)
    torch.manual_seed(3)
    first = fast_dropout(x, 0.2)
    state = torch.get_rng_state()
    second = fast_dropout(x, 0.2)
    torch.manual_seed(3)
    assert torch.equal(fast_dropout(x, 0.2), first)
    torch.set_rng_state(state)
    assert torch.equal(fast_dropout(x, 0.2), second)
    assert not torch.equal(first, second)


def test_gradient_flows_through_kept_elements_only() -> None:
    torch.manual_seed(0)
    x = torch.randn(32, 40, requires_grad=True)
    out = fast_dropout(x, 0.3)
    out.sum().backward()
    kept = out != 0
    assert torch.equal(x.grad[~kept], torch.zeros_like(x.grad[~kept]))
    assert torch.allclose(x.grad[kept], torch.full_like(x.grad[kept], 65536 / (65536 - 19661)))


def test_edge_probabilities_and_evaluation_mode() -> None:
    x = torch.randn(10, 10)
    assert fast_dropout(x, 0.0) is x
    assert torch.equal(fast_dropout(x, 1.0), torch.zeros_like(x))
    module = FastDropout(0.5).eval()
    assert module(x) is x


def test_switching_keeps_parameters_and_state_dict() -> None:
    model, _, _ = fresh()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    plain = sum(type(m) is nn.Dropout for m in model.modules())
    assert plain > 0
    assert use_dropout_masks(model, "fast") == plain
    assert all(type(m) is not nn.Dropout for m in model.modules())
    assert use_dropout_masks(model, "torch") == plain
    assert sum(type(m) is nn.Dropout for m in model.modules()) == plain
    after = model.state_dict()
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)
    with pytest.raises(ValueError, match="'fastest'"):
        use_dropout_masks(model, "fastest")


class _Attention(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.dropout = FastDropout(0.1)
        self.is_causal = False


@pytest.mark.parametrize("mask_kind", ["none", "bool", "float"])
def test_fast_attention_computes_what_sdpa_computes_when_nothing_is_dropped(
        mask_kind: str) -> None:
    """A probability under 1/131072 rounds to no dropped element: the eager path must then give
    SDPA's output (same layout, padding masked)."""
    torch.manual_seed(0)
    b, h, length, d = 3, 4, 7, 8
    q, k, v = (torch.randn(b, h, length, d) for _ in range(3))
    keys = torch.ones(b, length, dtype=torch.bool)
    keys[0, 5:] = False
    keys[2, 3:] = False
    masks = {"none": None, "bool": keys[:, None, None, :].expand(b, 1, length, length),
             "float": torch.zeros(b, 1, length, length).masked_fill(
                 ~keys[:, None, None, :], torch.finfo(torch.float32).min)}
    mask = masks[mask_kind]
    module = _Attention().train()
    fast, _ = sdpa_or_fast_attention(module, q, k, v, mask, dropout=1e-7, scaling=0.3)
    expected, _ = sdpa_attention_forward(module, q, k, v, mask, dropout=0.0, scaling=0.3)
    assert fast.shape == expected.shape == (b, length, h, d)
    assert torch.allclose(fast, expected, atol=1e-5)
    # With dropout the fast path drops: the output changes, and the seed fixes it.
    torch.manual_seed(1)
    dropped, _ = sdpa_or_fast_attention(module, q, k, v, mask, dropout=0.5, scaling=0.3)
    torch.manual_seed(1)
    again, _ = sdpa_or_fast_attention(module, q, k, v, mask, dropout=0.5, scaling=0.3)
    assert torch.equal(dropped, again) and not torch.allclose(dropped, expected)


def test_modules_that_did_not_opt_in_keep_sdpa() -> None:
    torch.manual_seed(0)
    q, k, v = (torch.randn(2, 2, 5, 4) for _ in range(3))
    module = _Attention().train()
    module.dropout = nn.Dropout(0.5)
    torch.manual_seed(1)
    ours, _ = sdpa_or_fast_attention(module, q, k, v, None, dropout=0.5)
    torch.manual_seed(1)
    theirs, _ = sdpa_attention_forward(module, q, k, v, None, dropout=0.5)
    assert torch.equal(ours, theirs)


def test_fast_training_is_reproducible_and_differs_from_torch_masks() -> None:
    torch_model, torch_result = run(OPTIONS)
    model, result = run(FAST)
    again, again_result = run(FAST)
    assert all(torch.equal(a, b) for a, b in zip(weights(model).values(),
                                                 weights(again).values(), strict=True))
    assert result.final_loss == again_result.final_loss
    assert result.final_loss != torch_result.final_loss
    assert all(type(m) is not nn.Dropout for m in model.modules())


def test_interrupted_fast_training_resumes_exactly(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    options = FAST.model_copy(update={"checkpoint_every_steps": 2})
    reference, reference_result = run(options)
    interrupt_at_update(options, tmp_path / "resume", monkeypatch)  # after step 6's checkpoint
    resumed, result = run(options, resume_dir=tmp_path / "resume")
    assert result.resumed_from_step == 6
    assert all(torch.equal(a, b) for a, b in zip(weights(reference).values(),
                                                 weights(resumed).values(), strict=True))
    assert result.final_loss == reference_result.final_loss


@pytest.fixture
def auto_dropout(monkeypatch: pytest.MonkeyPatch):
    """Resolve ``dropout_masks: auto`` as on a machine with or without a CUDA GPU."""

    def pretend(gpu: bool) -> None:
        monkeypatch.delenv(precision.AUTO_DROPOUT_OVERRIDE_ENV, raising=False)  # conftest
        monkeypatch.setattr(torch.cuda, "is_available", lambda: gpu)
        monkeypatch.setattr(torch.cuda, "is_bf16_supported",
                            lambda including_emulation=True: True)
        precision._auto_dropout_masks.cache_clear()

    yield pretend
    precision._auto_dropout_masks.cache_clear()


def test_auto_is_fast_on_a_cpu_and_torch_on_a_gpu(auto_dropout) -> None:
    auto_dropout(gpu=False)
    assert precision.resolve_dropout_masks("auto") == "fast"
    auto_dropout(gpu=True)
    assert precision.resolve_dropout_masks("auto") == "torch"
    assert [precision.resolve_dropout_masks(k) for k in ("torch", "fast")] == ["torch", "fast"]
    with pytest.raises(TrainingError, match="dropout_masks: 'philox'"):
        precision.resolve_dropout_masks("philox")


def test_bad_override_is_refused(auto_dropout, monkeypatch: pytest.MonkeyPatch) -> None:
    auto_dropout(gpu=False)
    monkeypatch.setenv(precision.AUTO_DROPOUT_OVERRIDE_ENV, "bernoulli")
    with pytest.raises(TrainingError, match="XSTILTS_AUTO_DROPOUT_MASKS='bernoulli'"):
        precision.resolve_dropout_masks("auto")


def test_torch_masks_keep_the_ids_of_runs_from_before_the_option(auto_dropout) -> None:
    """A run with torch's masks hashes and stores what it did before ``dropout_masks``
    existed; fast masks (the CPU default) are another computation, hence another id."""
    before = {k: v for k, v in TrainingOptions().model_dump().items() if k != "dropout_masks"}
    auto_dropout(gpu=True)
    on_gpu = concrete_training(TrainingOptions(), ("xnli",))
    assert on_gpu.dropout_masks == "torch"
    assert training_identity(on_gpu.model_dump()) == training_identity(
        {**before, "precision": on_gpu.precision, "pair_encoding": "cross"})
    assert "dropout_masks" not in training_settings(on_gpu)
    auto_dropout(gpu=False)
    on_cpu = concrete_training(TrainingOptions(), ("xnli",))
    assert on_cpu.dropout_masks == "fast"
    assert training_identity(on_cpu.model_dump())["dropout_masks"] == "fast"
    assert training_settings(on_cpu)["dropout_masks"] == "fast"


def test_a_bool_attention_mask_changed_in_place_is_read_again():
    """The additive mask is built once per mask tensor; an in-place change (a new version of
    the same tensor) must not reuse the old one."""
    from xstilts.training.fast_dropout import _additive_mask

    keep = torch.ones(2, 1, 3, 3, dtype=torch.bool)
    first = _additive_mask(keep, torch.float32)
    assert torch.equal(first, torch.zeros(2, 1, 3, 3))
    assert _additive_mask(keep, torch.float32) is first  # built once
    keep[0, 0, 0, 2] = False
    second = _additive_mask(keep, torch.float32)
    assert second[0, 0, 0, 2] == torch.finfo(torch.float32).min
    assert second.sum() == torch.finfo(torch.float32).min
    assert _additive_mask(keep, torch.bfloat16).dtype == torch.bfloat16


def test_training_without_attention_dropout_takes_the_eager_path(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """SDPA's CPU backward is ~5x the eager one: opted-in modules in training compute attention
    eagerly even with dropout 0 (and then drop nothing); evaluation keeps SDPA."""
    from xstilts.training import fast_dropout

    torch.manual_seed(0)
    q, k, v = (torch.randn(2, 2, 5, 4) for _ in range(3))
    expected, _ = sdpa_attention_forward(_Attention().eval(), q, k, v, None, dropout=0.0)

    def refuse(*args, **kwargs):
        raise AssertionError("SDPA called in training")

    monkeypatch.setattr(fast_dropout, "sdpa_attention_forward", refuse)
    ours, _ = sdpa_or_fast_attention(_Attention().train(), q, k, v, None, dropout=0.0)
    assert torch.allclose(ours, expected, atol=1e-6)
    with pytest.raises(AssertionError, match="SDPA called"):
        sdpa_or_fast_attention(_Attention().eval(), q, k, v, None, dropout=0.0)
