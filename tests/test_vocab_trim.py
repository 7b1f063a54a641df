"""Vocabulary trimming keeps a study's tokenisation and the encoder's outputs exactly.

Real XNLI and Tatoeba sentences in six scripts go through the bundled encoder before and after
trimming. The old->new id map is derived here from the token strings (original vocabulary ->
trimmed vocabulary), independently of the code under test.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from tokenizers import Tokenizer, models, pre_tokenizers, processors
from transformers import AutoModel, AutoModelForMaskedLM, AutoTokenizer

from xstilts.models import bundled_model_dir, load_encoder
from xstilts.models.tiny import build_tiny_mlm
from xstilts.models.vocab_trim import (
    TRIM_FILE,
    VocabTrimError,
    kept_token_ids,
    trim_encoder,
    trimmed_tokenizer_json,
)

E5 = "bundled:multilingual-e5-small"
XNLI_LANGS = ("en", "de", "ar", "zh", "hi", "sw")
TATOEBA = ("deu", "ara", "cmn", "hin", "swh")
PER_FILE = 30
THAI = "ฉันชอบกินข้าวผัดกับไข่ดาว"  # no Thai in the sample: its characters are not kept


@pytest.fixture(scope="module")
def pairs(shared_data: Path) -> list[tuple[str, str]]:
    """(premise, hypothesis) of the first XNLI test rows per language, as a study reads them."""
    rows = []
    for lang in XNLI_LANGS:
        lines = (shared_data / "xnli" / f"test-{lang}.tsv").read_text(encoding="utf-8")
        rows += [tuple(line.split("\t")[:2]) for line in lines.splitlines()[:PER_FILE]]
    return rows


@pytest.fixture(scope="module")
def sentences(shared_data: Path, pairs: list[tuple[str, str]]) -> list[str]:
    tatoeba = []
    for code in TATOEBA:
        path = shared_data / "tatoeba" / f"tatoeba.{code}-eng.{code}"
        tatoeba += path.read_text(encoding="utf-8").splitlines()[:PER_FILE]
    return [text for pair in pairs for text in pair] + tatoeba


@pytest.fixture(scope="module")
def trimmed(tmp_path_factory: pytest.TempPathFactory, sentences: list[str]):
    out = tmp_path_factory.mktemp("trim") / "e5-trimmed"
    return trim_encoder(E5, sentences, out), out


@pytest.fixture(scope="module")
def tokenizers_pair(trimmed):
    original = AutoTokenizer.from_pretrained(bundled_model_dir(E5), local_files_only=True)
    return original, AutoTokenizer.from_pretrained(trimmed[1], local_files_only=True)


def _remapped(original, trimmed_tok, ids: list[int]) -> list[int]:
    """Original ids -> the trimmed vocabulary's ids of the same pieces (by string)."""
    return trimmed_tok.convert_tokens_to_ids(original.convert_ids_to_tokens(ids))


def test_trimmed_ids_are_the_original_ids_remapped(tokenizers_pair, sentences, pairs):
    original, trimmed_tok = tokenizers_pair
    unk = trimmed_tok.unk_token_id
    for text in sentences:
        old = original(text)["input_ids"]
        new = trimmed_tok(text)["input_ids"]
        assert new == _remapped(original, trimmed_tok, old), text
        assert unk not in new or unk in old, text
    for premise, hypothesis in pairs:  # the pair form a pair-classification study tokenises
        old = original(premise, hypothesis, truncation=True, max_length=128)["input_ids"]
        new = trimmed_tok(premise, hypothesis, truncation=True, max_length=128)["input_ids"]
        assert new == _remapped(original, trimmed_tok, old)


def test_hidden_states_are_identical(trimmed, sentences):
    base_model, base_tok = load_encoder(E5)
    small_model, small_tok = load_encoder(str(trimmed[1]))
    batch = sentences[::PER_FILE // 2]  # a few sentences of every file, every script
    with torch.no_grad():
        before = base_model(**base_tok(batch, padding=True, return_tensors="pt"),
                            output_hidden_states=True).hidden_states
        after = small_model(**small_tok(batch, padding=True, return_tensors="pt"),
                            output_hidden_states=True).hidden_states
    assert len(before) == len(after) == base_model.config.num_hidden_layers + 1
    for layer_before, layer_after in zip(before, after, strict=True):
        assert torch.equal(layer_before, layer_after)


def test_folder_is_plain_transformers_and_smaller(trimmed, tokenizers_pair):
    report, out = trimmed
    original, trimmed_tok = tokenizers_pair
    source = bundled_model_dir(E5)
    model = AutoModel.from_pretrained(out, local_files_only=True)
    rows = model.get_input_embeddings().weight.shape[0]
    assert rows == model.config.vocab_size == len(trimmed_tok) == report.kept
    assert report.kept < report.tokenizer_vocab_size < report.original_vocab_size == 250037
    assert (out / "model.safetensors").stat().st_size < (source / "model.safetensors").stat(
    ).st_size
    # The kept ids are the original ids of the trimmed vocabulary's pieces, in the new order.
    pieces = trimmed_tok.convert_ids_to_tokens(list(range(len(trimmed_tok))))
    kept = original.convert_tokens_to_ids(pieces)
    assert kept == sorted(kept)
    record = json.loads((out / TRIM_FILE).read_text(encoding="utf-8"))
    assert record["kept"] == report.kept
    assert record["kept_ids_sha256"] == hashlib.sha256(json.dumps(kept).encode()).hexdigest()
    with safe_open(source / "model.safetensors", "pt") as f:
        name = next(k for k in f.keys() if k.endswith("word_embeddings.weight"))
        source_rows = f.get_tensor(name)[torch.tensor(kept)]
    assert torch.equal(model.get_input_embeddings().weight.detach(), source_rows)
    assert trimmed_tok.pad_token_id == model.config.pad_token_id == kept.index(
        original.pad_token_id)


def test_text_outside_the_kept_set_becomes_unknown(tokenizers_pair):
    original, trimmed_tok = tokenizers_pair
    assert original.unk_token_id not in original(THAI)["input_ids"]
    assert trimmed_tok.unk_token_id in trimmed_tok(THAI)["input_ids"]


def test_masked_lm_decoder_and_bias_are_sliced(tmp_path: Path, sentences):
    model, tokenizer = build_tiny_mlm(seed=3)
    with torch.no_grad():  # a non-zero bias, so slicing it is visible in the logits
        model.get_output_embeddings().bias.normal_()
    source = tmp_path / "tiny-mlm"
    model.save_pretrained(source)
    tokenizer.save_pretrained(source)
    out = tmp_path / "tiny-mlm-trimmed"
    report = trim_encoder(source, sentences[:40], out)
    small = AutoModelForMaskedLM.from_pretrained(out, local_files_only=True)
    small_tok = AutoTokenizer.from_pretrained(out, local_files_only=True)
    kept = tokenizer.convert_tokens_to_ids(
        small_tok.convert_ids_to_tokens(list(range(report.kept))))
    text = sentences[0]
    with torch.no_grad():
        before = model(**tokenizer(text, return_tensors="pt")).logits
        after = small(**small_tok(text, return_tensors="pt")).logits
    assert after.shape[-1] == report.kept
    assert torch.equal(after, before[..., kept])


def test_special_token_ids_move_with_the_vocabulary():
    """Special tokens after the pieces (ids 4, 5) get new ids in the post-processor too."""
    unigram = Tokenizer(models.Unigram([("a", -1.0), ("b", -2.0), ("ab", -1.5), ("<unk>", 0.0),
                                        ("<s>", 0.0), ("</s>", 0.0)], unk_id=3))
    unigram.add_special_tokens(["<unk>", "<s>", "</s>"])
    unigram.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", special_tokens=[("<s>", 4), ("</s>", 5)])
    source = json.loads(unigram.to_str())
    assert unigram.encode("a").ids == [4, 0, 5]
    kept = kept_token_ids(source, {"pad_token_id": 3}, unigram.encode("a").ids)
    assert kept == [0, 1, 3, 4, 5]  # "b" stays as the lowest-scoring piece
    small = Tokenizer.from_str(json.dumps(trimmed_tokenizer_json(source, kept)))
    assert small.encode("a").ids == [3, 0, 4]
    assert small.encode("a").tokens == ["<s>", "a", "</s>"]
    assert small.encode("ab").ids == [3, 0, 1, 4]  # "ab" is gone: a different segmentation


def _bpe_folder(folder: Path) -> Path:
    folder.mkdir()
    bpe = Tokenizer(models.BPE({"a": 0, "b": 1, "ab": 2, "<unk>": 3}, [("a", "b")],
                               unk_token="<unk>"))
    bpe.pre_tokenizer = pre_tokenizers.Whitespace()
    bpe.save(str(folder / "tokenizer.json"))
    (folder / "config.json").write_text(json.dumps({"model_type": "bert", "vocab_size": 4}))
    return folder


def test_refuses_bpe_tokenizers(tmp_path: Path):
    source = _bpe_folder(tmp_path / "bpe")
    with pytest.raises(VocabTrimError, match="'BPE' cannot be trimmed"):
        trim_encoder(source, ["ab"], tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_refuses_hub_ids_and_used_output_folders(tmp_path: Path):
    with pytest.raises(VocabTrimError, match="needs a local encoder folder"):
        trim_encoder("xlm-roberta-base", ["hello"], tmp_path / "out")
    used = tmp_path / "used"
    used.mkdir()
    (used / "keep.txt").write_text("x")
    source = tmp_path / "copy"
    shutil.copytree(bundled_model_dir(E5), source,
                    ignore=shutil.ignore_patterns("model.safetensors"))
    with pytest.raises(VocabTrimError, match="already exists and is not empty"):
        trim_encoder(source, ["hello"], used)
    assert (used / "keep.txt").read_text() == "x"
