"""A tiny random-init encoder for fast end-to-end tests of the pipeline.

It is a real ``BertModel`` (2 layers, hidden 32) with the real multilingual tokenizer, so every
code path (tokenisation, label alignment, heads, training, evaluation) runs as with the real
encoder, only in milliseconds. Its predictions are meaningless.
"""

from __future__ import annotations

import json

import torch
from torch import nn
from transformers import (
    AutoTokenizer,
    BertConfig,
    BertForMaskedLM,
    BertModel,
    PreTrainedTokenizerBase,
)

from xstilts.models.bundled import bundled_model_dir

TINY_NAME = "tiny:random"
TINY_TOKENIZER_FROM = "multilingual-e5-small"


def tiny_config(vocab_size: int, pad_token_id: int) -> BertConfig:
    """Config of the tiny encoder; sizes are fixed so tests are comparable across runs."""
    return BertConfig(
        vocab_size=vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
        type_vocab_size=2,
        pad_token_id=pad_token_id,
    )


def _tiny_config_and_tokenizer() -> tuple[BertConfig, PreTrainedTokenizerBase]:
    folder = bundled_model_dir(TINY_TOKENIZER_FROM)
    tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    source = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    return tiny_config(source["vocab_size"], tokenizer.pad_token_id), tokenizer


def _seeded(seed: int, build: type[nn.Module], config: BertConfig) -> nn.Module:
    """Build a model from ``seed`` alone, leaving the global torch RNG state untouched."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = build(config)
    model.config.name_or_path = TINY_NAME
    model.eval()  # match from_pretrained, which returns models in eval mode
    return model


def build_tiny_encoder(seed: int = 0) -> tuple[BertModel, PreTrainedTokenizerBase]:
    """Random-init tiny ``BertModel`` plus the bundled multilingual tokenizer.

    Weights depend only on ``seed``; the global torch RNG state is left untouched.
    """
    config, tokenizer = _tiny_config_and_tokenizer()
    return _seeded(seed, BertModel, config), tokenizer


def build_tiny_mlm(seed: int = 0) -> tuple[BertForMaskedLM, PreTrainedTokenizerBase]:
    """The tiny encoder with a (random) masked-LM head, so MLM phases can be tested offline."""
    config, tokenizer = _tiny_config_and_tokenizer()
    return _seeded(seed, BertForMaskedLM, config), tokenizer
