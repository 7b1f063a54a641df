"""load_encoder resolves every name form, and fails with a message that tells users what to do."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from xstilts.errors import ModelLoadError, XstiltsError
from xstilts.models import DEFAULT_ENCODER, bundled_model_dir, describe_models, load_encoder
from xstilts.models.bundled import cache_root
from xstilts.models.encoders import resolve_encoder_dir
from xstilts.models.tiny import build_tiny_encoder


@pytest.fixture(scope="module", autouse=True)
def use_session_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Same folder as test_bundled_encoder's session cache, so nothing is converted twice."""
    path = tmp_path_factory.getbasetemp() / "xstilts-cache"
    path.mkdir(exist_ok=True)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XSTILTS_CACHE", str(path))
        yield path


def test_cache_root_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XSTILTS_CACHE", str(tmp_path / "a"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == tmp_path / "a"
    monkeypatch.delenv("XSTILTS_CACHE")
    assert cache_root() == tmp_path / "xdg" / "xstilts"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache_root() == Path.home() / ".cache" / "xstilts"


def test_default_is_bundled() -> None:
    assert DEFAULT_ENCODER == "bundled:multilingual-e5-small"


def test_hub_failure_explains_alternatives(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(ModelLoadError) as info:
        load_encoder("some-org/does-not-exist")
    message = str(info.value)
    assert "some-org/does-not-exist" in message
    assert "bundled:multilingual-e5-small" in message
    assert "hf download some-org/does-not-exist" in message
    assert info.value.__cause__ is not None
    assert isinstance(info.value, XstiltsError)


def test_unreachable_hub_fails_at_once(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No HF_HUB_OFFLINE and no network: the clear error comes at once, not after the hub
    client's retries."""
    import time

    from xstilts.models import encoders

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # discard port: nothing listens
    encoders.hub_reachable.cache_clear()
    try:
        start = time.perf_counter()
        with pytest.raises(ModelLoadError, match="hf download some-org/does-not-exist"):
            load_encoder("some-org/does-not-exist")
        assert time.perf_counter() - start < 5
        assert not encoders.hub_reachable()
    finally:
        encoders.hub_reachable.cache_clear()


def test_explicit_local_files_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    with pytest.raises(ModelLoadError, match="local folder"):
        load_encoder("some-org/does-not-exist", local_files_only=True)


def test_missing_local_folder() -> None:
    with pytest.raises(ModelLoadError, match="folder not found"):
        load_encoder("./no/such/encoder-folder")


def test_local_folder_and_resolution() -> None:
    folder = bundled_model_dir("multilingual-e5-small-enpt")
    assert resolve_encoder_dir("bundled:multilingual-e5-small-enpt") == folder
    assert resolve_encoder_dir(str(folder)) == folder
    assert resolve_encoder_dir("some-org/some-model") is None
    assert resolve_encoder_dir("tiny:random") is None
    model, tokenizer = load_encoder(str(folder))
    assert type(model).__name__ == "BertModel"
    assert tokenizer.is_fast
    assert tokenizer("Hello")["input_ids"][0] == tokenizer.bos_token_id


def test_describe_models() -> None:
    rows = describe_models()
    names = [row["name"] for row in rows]
    assert names == [
        "bundled:multilingual-e5-small",
        "bundled:multilingual-e5-small-enpt",
        "tiny:random",
    ]
    for row in rows:
        assert set(row) == {"name", "description", "cached", "path"}
        assert isinstance(row["cached"], bool) and row["description"]


# ----------------------------------------------------------------------- tiny


@pytest.fixture(scope="module")
def tiny():
    return load_encoder("tiny:random")


def test_tiny_shape(tiny) -> None:
    model, tokenizer = tiny
    config = model.config
    assert (config.num_hidden_layers, config.hidden_size, config.num_attention_heads) == (2, 32, 2)
    assert config.intermediate_size == 64 and config.max_position_embeddings == 512
    assert model.get_input_embeddings().weight.shape == (250037, 32)
    assert tokenizer("Hello world")["input_ids"] == [0, 35378, 8999, 2]


def test_tiny_is_deterministic(tiny) -> None:
    rng_before = torch.get_rng_state()
    again, _ = build_tiny_encoder(seed=0)
    other, _ = build_tiny_encoder(seed=1)
    assert torch.equal(torch.get_rng_state(), rng_before)
    reference = tiny[0].state_dict()
    for name, value in again.state_dict().items():
        assert torch.equal(value, reference[name]), name
    weight = "encoder.layer.0.attention.self.query.weight"
    assert not torch.equal(other.state_dict()[weight], reference[weight])


def test_tiny_forward_and_backward() -> None:
    model, tokenizer = build_tiny_encoder(seed=3)
    model.train()
    batch = tokenizer(["Hello world", "Привет, мир! 你好"], padding=True, return_tensors="pt")
    hidden = model(**batch).last_hidden_state
    assert hidden.shape == (2, batch["input_ids"].shape[1], 32)
    assert torch.isfinite(hidden).all()
    hidden.pow(2).mean().backward()
    grad = model.encoder.layer[0].attention.self.query.weight.grad
    assert grad is not None and grad.abs().sum() > 0
