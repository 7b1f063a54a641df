"""Which SDPA kernels attention may use: without cuDNN's on a GPU, torch's choice elsewhere."""

from __future__ import annotations

import pytest
import torch

from xstilts.models.attention_kernels import ENV_SWITCH, attention_kernels

cuda_flags = torch.backends.cuda


def _enabled() -> dict[str, bool]:
    return {"cudnn": cuda_flags.cudnn_sdp_enabled(), "flash": cuda_flags.flash_sdp_enabled(),
            "efficient": cuda_flags.mem_efficient_sdp_enabled(),
            "math": cuda_flags.math_sdp_enabled()}


def test_on_a_gpu_every_kernel_but_cudnns(monkeypatch: pytest.MonkeyPatch) -> None:
    """The flags are global torch settings, so this holds without a GPU as well."""
    monkeypatch.delenv(ENV_SWITCH, raising=False)
    before = _enabled()
    with attention_kernels(torch.device("cuda")):
        assert _enabled() == {"cudnn": False, "flash": True, "efficient": True, "math": True}
    assert _enabled() == before


@pytest.mark.parametrize("device", ["cpu", "meta"])
def test_elsewhere_torchs_choice(device: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_SWITCH, raising=False)
    before = _enabled()
    with attention_kernels(device):
        assert _enabled() == before


def test_the_switch_lets_torch_choose_on_a_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_SWITCH, "1")
    before = _enabled()
    with attention_kernels("cuda"):
        assert _enabled() == before
