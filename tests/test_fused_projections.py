"""``qkv_projection: fused``: self-attention's query, key and value projections as one matmul
in training — the same forward numbers and parameters, gradients equal up to rounding, chosen
by ``auto`` for bf16 on a CPU only, and part of a run's id only when fused."""

from __future__ import annotations

import copy

import pytest
import torch
from test_trainer import OPTIONS, fresh, run, weights
from torch import nn

from xstilts.errors import TrainingError
from xstilts.training import precision
from xstilts.training.fused_projections import FusedQueryLinear, use_qkv_projection
from xstilts.training.options import TrainingOptions
from xstilts.training.runs import concrete_training, training_identity, training_settings

FUSED = OPTIONS.model_copy(update={"qkv_projection": "fused"})


def _attention_linears(model: nn.Module) -> list[tuple[nn.Linear, nn.Linear, nn.Linear]]:
    return [(m.query, m.key, m.value) for m in model.modules()
            if all(isinstance(getattr(m, n, None), nn.Linear) for n in ("query", "key", "value"))]


def _forward_backward(model: nn.Module, ids: torch.Tensor, mask: torch.Tensor,
                      autocast: bool) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    model.train()
    model.zero_grad(set_to_none=True)
    torch.manual_seed(3)  # the same dropout masks on both sides
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        hidden = model.encoder(input_ids=ids, attention_mask=mask).last_hidden_state
    hidden.float().pow(2).mean().backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    return hidden.detach(), grads


@pytest.mark.parametrize("autocast", [False, True], ids=["fp32", "bf16-autocast"])
def test_fused_training_forward_is_the_separate_one_and_gradients_agree(autocast: bool) -> None:
    separate, _, _ = fresh()
    fused = copy.deepcopy(separate)
    assert use_qkv_projection(fused, "fused") == len(_attention_linears(fused)) > 0
    torch.manual_seed(0)
    ids = torch.randint(5, 200, (4, 11))
    mask = torch.ones_like(ids)
    mask[1, 6:] = 0
    expected, expected_grads = _forward_backward(separate, ids, mask, autocast)
    got, grads = _forward_backward(fused, ids, mask, autocast)
    assert torch.equal(got, expected)
    assert grads.keys() == expected_grads.keys()
    # The weights' own gradients are the same products; the hidden states' gradient is one
    # product over the concatenated columns instead of three added (rounding differs).
    tolerance = 2e-2 if autocast else 1e-5
    for name, grad in grads.items():
        scale = expected_grads[name].abs().max().clamp_min(1e-12)
        assert (grad - expected_grads[name]).abs().max() / scale <= tolerance, name


def test_switching_keeps_parameters_state_dict_and_evaluation() -> None:
    model, _, _ = fresh()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.eval()
    ids = torch.randint(5, 200, (2, 9))
    with torch.no_grad():
        expected = model.encoder(input_ids=ids).last_hidden_state
    count = use_qkv_projection(model, "fused")
    assert count > 0
    assert sum(type(m) is FusedQueryLinear for m in model.modules()) == count
    assert len(list(model.parameters())) == len(before)  # partners are not submodules
    with torch.no_grad():  # evaluation runs the separate projections
        assert torch.equal(model.encoder(input_ids=ids).last_hidden_state, expected)
    assert use_qkv_projection(model, "separate") == count
    assert all(type(linear) is nn.Linear for group in _attention_linears(model)
               for linear in group)
    after = model.state_dict()
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)
    with pytest.raises(ValueError, match="'packed'"):
        use_qkv_projection(model, "packed")


def test_key_and_value_of_another_input_are_their_own_projections() -> None:
    """A key or value module called on another tensor than the query's (cross-attention), or
    on the same tensor changed in place, computes its own projection."""
    torch.manual_seed(0)
    holder = nn.Module()
    holder.query, holder.key, holder.value = (nn.Linear(6, 6) for _ in range(3))
    use_qkv_projection(holder, "fused")
    holder.train()
    x, other = torch.randn(2, 3, 6), torch.randn(2, 3, 6)
    holder.query(x)
    assert torch.equal(holder.key(other), nn.functional.linear(other, holder.key.weight,
                                                               holder.key.bias))
    holder.query(x)
    x.mul_(2)  # in place: what the query saw is gone
    assert torch.equal(holder.value(x), nn.functional.linear(x, holder.value.weight,
                                                             holder.value.bias))
    holder.query(x)
    assert torch.equal(holder.key(x), nn.functional.linear(x, holder.key.weight, holder.key.bias))


def test_fused_training_is_reproducible_and_not_the_separate_computation() -> None:
    separate_model, separate_result = run(OPTIONS)
    model, result = run(FUSED)
    again, again_result = run(FUSED)
    assert all(torch.equal(a, b) for a, b in zip(weights(model).values(),
                                                 weights(again).values(), strict=True))
    assert result.final_loss == again_result.final_loss
    assert any(type(m) is FusedQueryLinear for m in model.modules())
    # Rounding-level differences, not another training.
    assert result.final_loss != separate_result.final_loss
    assert abs(result.final_loss - separate_result.final_loss) < 1e-3 * separate_result.final_loss


@pytest.fixture
def auto_qkv(monkeypatch: pytest.MonkeyPatch):
    """Resolve ``qkv_projection: auto`` as on a machine with or without a CUDA GPU."""

    def pretend(gpu: bool) -> None:
        monkeypatch.delenv(precision.AUTO_QKV_OVERRIDE_ENV, raising=False)  # conftest
        monkeypatch.setattr(torch.cuda, "is_available", lambda: gpu)
        monkeypatch.setattr(torch.cuda, "is_bf16_supported",
                            lambda including_emulation=True: True)
        precision._auto_qkv_projection.cache_clear()

    yield pretend
    precision._auto_qkv_projection.cache_clear()


def test_auto_is_fused_for_bf16_on_a_cpu_only(auto_qkv, monkeypatch) -> None:
    auto_qkv(gpu=False)
    assert precision.resolve_qkv_projection("auto", "bf16") == "fused"
    assert precision.resolve_qkv_projection("auto", "no") == "separate"  # no gain in fp32
    auto_qkv(gpu=True)
    assert precision.resolve_qkv_projection("auto", "bf16") == "separate"
    assert [precision.resolve_qkv_projection(k, "no") for k in ("separate", "fused")] == [
        "separate", "fused"]
    with pytest.raises(TrainingError, match="qkv_projection: 'packed'"):
        precision.resolve_qkv_projection("packed", "no")
    monkeypatch.setenv(precision.AUTO_QKV_OVERRIDE_ENV, "joint")
    precision._auto_qkv_projection.cache_clear()
    with pytest.raises(TrainingError, match="XSTILTS_AUTO_QKV_PROJECTION='joint'"):
        precision.resolve_qkv_projection("auto", "no")


def test_separate_projections_keep_the_ids_of_runs_from_before_the_option(auto_qkv) -> None:
    """fp32 runs and GPU runs hash and store what they did before ``qkv_projection`` existed;
    fused projections (bf16 on a CPU) are another computation, hence another id."""
    before = {k: v for k, v in TrainingOptions(precision="no").model_dump().items()
              if k != "qkv_projection"}
    auto_qkv(gpu=False)
    fp32 = concrete_training(TrainingOptions(precision="no"))
    assert fp32.qkv_projection == "separate"
    assert training_identity(fp32.model_dump()) == training_identity(
        {**before, "dropout_masks": fp32.dropout_masks})
    assert "qkv_projection" not in training_settings(fp32)
    bf16 = concrete_training(TrainingOptions(precision="bf16"))
    assert bf16.qkv_projection == "fused"
    assert training_identity(bf16.model_dump())["qkv_projection"] == "fused"
    assert training_settings(bf16)["qkv_projection"] == "fused"
