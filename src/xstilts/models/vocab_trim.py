"""Vocabulary trimming: keep only the tokens a study's data uses (arXiv 2204.06487).

The word-embedding matrix is 82 % of the bundled encoder's parameters, yet one study's languages
use a small share of XLM-R's 250k pieces. :func:`trim_encoder` writes a plain Hugging Face folder
whose vocabulary holds the pieces the study's texts use, every special token, and the
lowest-scoring piece (so the Unigram model's unknown-token penalty, ``min_score - 10``, stays the
same). Removing pieces that are not in a text's best Unigram segmentation only removes
candidate paths: the best one is still there, every other scored no higher and ties are met in
the same order, so the trimmed tokenizer segments every study text exactly as before, with ids
remapped, and the trimmed model computes the same hidden states. This is checked on every text
after writing, not assumed: a mismatch raises. Texts outside the study's data may segment
differently or map to ``<unk>``; see docs/vocab-trimming.md.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import transformers
from tokenizers import Tokenizer
from transformers import AutoConfig, AutoModel, AutoTokenizer, PreTrainedModel

from xstilts.errors import XstiltsError
from xstilts.models.encoders import resolve_encoder_dir

TRIM_FILE = "trim.json"
SUPPORTED_MODELS = ("Unigram",)
_CHUNK = 4096
# Tokenizer files copied next to the rewritten tokenizer.json; slow-tokenizer files
# (sentencepiece.bpe.model, vocab.txt) are left out since their ids would be stale.
_COPIED = ("tokenizer_config.json", "special_tokens_map.json")


class VocabTrimError(XstiltsError):
    """An encoder cannot be trimmed (unsupported tokenizer, missing file, bad output folder)."""


@dataclass(frozen=True)
class TrimReport:
    """What a trim kept; ``kept_ids_sha256`` hashes the source ids in their new order."""

    source: str
    out_dir: Path
    original_vocab_size: int
    tokenizer_vocab_size: int
    kept: int
    kept_ids_sha256: str
    texts: int
    unk_tokens: int

    def as_json(self) -> dict[str, Any]:
        return {"source": self.source, "original_vocab_size": self.original_vocab_size,
                "tokenizer_vocab_size": self.tokenizer_vocab_size, "kept": self.kept,
                "kept_ids_sha256": self.kept_ids_sha256, "texts": self.texts,
                "unk_tokens": self.unk_tokens}


def _source_folder(source: str | Path) -> Path:
    """A local folder or a bundled name; hub ids must be downloaded first."""
    if isinstance(source, Path) and not source.is_dir():
        raise VocabTrimError(f"encoder folder not found: {source}")
    folder = source if isinstance(source, Path) else resolve_encoder_dir(source)
    if folder is None:
        raise VocabTrimError(f"cannot trim {str(source)!r}: vocabulary trimming needs a local "
                             "encoder folder or a bundled encoder (bundled:<name>)")
    if not (folder / "tokenizer.json").is_file():
        raise VocabTrimError(f"{folder}: no tokenizer.json; trimming edits the fast tokenizer's "
                             "vocabulary, so the folder needs one")
    if not (folder / "config.json").is_file():
        raise VocabTrimError(f"{folder}: no config.json; not a Hugging Face model folder")
    return folder


def _read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def _check_supported(tokenizer_json: dict[str, Any], path: Path) -> None:
    kind = tokenizer_json.get("model", {}).get("type")
    if kind not in SUPPORTED_MODELS:
        raise VocabTrimError(
            f"{path}: tokenizer model type {kind!r} cannot be trimmed; supported: "
            f"{', '.join(SUPPORTED_MODELS)} (sentencepiece/XLM-R style). BPE merges would need "
            "every intermediate piece, which trimming by use does not keep")
    if tokenizer_json["model"].get("unk_id") is None:
        raise VocabTrimError(f"{path}: Unigram tokenizer without unk_id; a trimmed vocabulary "
                             "needs an unknown token for pieces it no longer holds")


def _encode_flat(backend: Tokenizer, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """All texts' ids (no special tokens) as one flat array plus per-text lengths."""
    ids: list[np.ndarray] = []
    lengths: list[int] = []
    for start in range(0, len(texts), _CHUNK):
        for enc in backend.encode_batch(list(texts[start:start + _CHUNK]),
                                        add_special_tokens=False):
            ids.append(np.asarray(enc.ids, dtype=np.int64))
            lengths.append(len(enc.ids))
    flat = np.concatenate(ids) if ids else np.zeros(0, dtype=np.int64)
    return flat, np.asarray(lengths, dtype=np.int64)


def _config_token_ids(config: dict[str, Any]) -> dict[str, int]:
    """``*_token_id`` fields of the model config (pad, bos, eos, ...) that hold one id."""
    return {k: v for k, v in config.items()
            if k.endswith("_token_id") and isinstance(v, int) and not isinstance(v, bool)}


def kept_token_ids(tokenizer_json: dict[str, Any], config: dict[str, Any],
                   used: Iterable[int], keep_ids: Iterable[int] = ()) -> list[int]:
    """Source ids to keep, ascending: used ids, added/special tokens, config token ids, unk,
    the lowest-scoring piece (keeps the unknown penalty), and ``keep_ids``."""
    vocab = tokenizer_json["model"]["vocab"]
    size = len(vocab)
    keep = {int(i) for i in used} | {int(i) for i in keep_ids}
    keep |= {t["id"] for t in tokenizer_json.get("added_tokens", [])}
    keep.add(int(tokenizer_json["model"]["unk_id"]))
    keep.add(min(range(size), key=lambda i: vocab[i][1]))
    for field, value in _config_token_ids(config).items():
        if value >= size:
            raise VocabTrimError(f"config.json {field}={value} is outside the tokenizer's "
                                 f"{size} pieces; cannot remap it")
        keep.add(value)
    bad = sorted(i for i in keep if not 0 <= i < size)
    if bad:
        raise VocabTrimError(f"keep_ids {bad[:5]} are outside the tokenizer's {size} pieces")
    return sorted(keep)


def _remap_post_processor(node: dict[str, Any] | None, new_id: dict[int, int]) -> None:
    """Rewrite the special-token ids the post-processor inserts (in place)."""
    if node is None:
        return
    kind = node.get("type")
    if kind == "TemplateProcessing":
        for token in node["special_tokens"].values():
            token["ids"] = [new_id[i] for i in token["ids"]]
    elif kind in ("RobertaProcessing", "BertProcessing"):
        for key in ("sep", "cls"):
            node[key] = [node[key][0], new_id[node[key][1]]]
    elif kind == "Sequence":
        for child in node["processors"]:
            _remap_post_processor(child, new_id)
    elif kind != "ByteLevel":
        raise VocabTrimError(f"tokenizer.json post_processor type {kind!r} is not supported "
                             "for trimming (its special-token ids cannot be remapped)")


def trimmed_tokenizer_json(tokenizer_json: dict[str, Any], kept: Sequence[int]) -> dict[str, Any]:
    """A copy of ``tokenizer.json`` holding only ``kept`` pieces, every id remapped."""
    new_id = {old: new for new, old in enumerate(kept)}
    out = copy.deepcopy(tokenizer_json)
    model = out["model"]
    model["vocab"] = [tokenizer_json["model"]["vocab"][i] for i in kept]
    model["unk_id"] = new_id[tokenizer_json["model"]["unk_id"]]
    for token in out.get("added_tokens", []):
        token["id"] = new_id[token["id"]]
    _remap_post_processor(out.get("post_processor"), new_id)
    if isinstance(out.get("padding"), dict) and "pad_id" in out["padding"]:
        out["padding"]["pad_id"] = new_id[out["padding"]["pad_id"]]
    return out


def _write_tokenizer(source: Path, kept: Sequence[int], tokenizer_json: dict[str, Any],
                     out: Path) -> None:
    new_json = trimmed_tokenizer_json(tokenizer_json, kept)
    Tokenizer.from_str(json.dumps(new_json))  # fails here, not at load time, if inconsistent
    (out / "tokenizer.json").write_text(json.dumps(new_json, ensure_ascii=False),
                                        encoding="utf-8")
    new_id = {old: new for new, old in enumerate(kept)}
    for name in _COPIED:
        if not (source / name).is_file():
            continue
        data = _read_json(source / name)
        if name == "tokenizer_config.json" and "added_tokens_decoder" in data:
            data["added_tokens_decoder"] = {str(new_id[int(k)]): v for k, v
                                            in data["added_tokens_decoder"].items()}
        (out / name).write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n",
                                encoding="utf-8")


def _model_class(config: transformers.PretrainedConfig) -> type[PreTrainedModel]:
    """The checkpoint's own class (keeps an MLM head), else AutoModel's choice."""
    for name in config.architectures or []:
        found = getattr(transformers, name, None)
        if isinstance(found, type) and issubclass(found, PreTrainedModel):
            return found
    return AutoModel


def _write_model(source: Path, kept: Sequence[int], out: Path) -> None:
    """Slice every vocabulary-indexed tensor (embeddings, MLM decoder and bias) to ``kept``.

    Which tensors are vocabulary-indexed is decided by the model class itself: those whose shape
    changes when the class is built with the smaller ``vocab_size``.
    """
    config = AutoConfig.from_pretrained(source, local_files_only=True)
    model_class = _model_class(config)
    model = model_class.from_pretrained(source, local_files_only=True, trust_remote_code=False,
                                        dtype="auto")
    new_config = copy.deepcopy(model.config)
    old_rows = new_config.vocab_size
    new_config.vocab_size = len(kept)
    new_id = {old: new for new, old in enumerate(kept)}
    for field, value in _config_token_ids(new_config.to_dict()).items():
        setattr(new_config, field, new_id[value])
    new_model = model_class(new_config).to(model.dtype)
    index = torch.as_tensor(list(kept), dtype=torch.long)
    expected = new_model.state_dict()
    state = {}
    for name, tensor in model.state_dict().items():
        want = expected.get(name)
        if want is not None and want.shape != tensor.shape:
            if tensor.shape[0] != old_rows or want.shape[1:] != tensor.shape[1:]:
                raise VocabTrimError(f"{source}: tensor {name} {tuple(tensor.shape)} changes "
                                     "shape with vocab_size but is not indexed by token id")
            tensor = tensor.index_select(0, index)
        state[name] = tensor
    new_model.load_state_dict(state, strict=True)
    new_model.save_pretrained(out)


def _check_same_ids(out: Path, texts: Sequence[str], flat: np.ndarray, lengths: np.ndarray,
                    kept: Sequence[int]) -> None:
    """Re-tokenise every text with the trimmed tokenizer as transformers loads it."""
    remap = np.full(max(kept) + 1, -1, dtype=np.int64)
    remap[np.asarray(kept)] = np.arange(len(kept))
    backend = AutoTokenizer.from_pretrained(out, local_files_only=True).backend_tokenizer
    new_flat, new_lengths = _encode_flat(backend, texts)
    expected = remap[flat]
    if np.array_equal(new_lengths, lengths) and np.array_equal(new_flat, expected):
        return
    if not np.array_equal(new_lengths, lengths):
        first = int(np.flatnonzero(new_lengths != lengths)[0])
    else:
        position = int(np.flatnonzero(new_flat != expected)[0])
        first = int(np.searchsorted(np.cumsum(lengths), position, side="right"))
    raise VocabTrimError(f"the trimmed tokenizer in {out} does not reproduce the original "
                         f"segmentation of text {first} ({texts[first]!r}); not trimming")


def _make_readable(folder: Path) -> None:
    """mkdtemp and safetensors create owner-only modes; a cache may be shared between users."""
    folder.chmod(0o755)
    for item in folder.iterdir():
        item.chmod(0o644)


def _prepare_out_dir(out_dir: Path) -> Path:
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise VocabTrimError(f"output folder {out_dir} already exists and is not empty; "
                             "trimming writes a new folder")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))


def trim_encoder(source: str | Path, texts: Iterable[str], out_dir: Path, *,
                 keep_ids: Iterable[int] = ()) -> TrimReport:
    """Write to ``out_dir`` the encoder ``source`` with only the pieces ``texts`` use.

    ``source`` is a local folder or a bundled name (``bundled:multilingual-e5-small``). Pass every
    text field a study tokenises on its own (premise and hypothesis separately; for pre-split
    words each word). The folder is written atomically and loads with ``AutoModel`` /
    ``AutoTokenizer`` / :func:`xstilts.models.load_encoder` without custom code.
    """
    folder = _source_folder(source)
    tokenizer_json = _read_json(folder / "tokenizer.json")
    _check_supported(tokenizer_json, folder / "tokenizer.json")
    config = _read_json(folder / "config.json")
    unique = list(dict.fromkeys(texts))
    backend = AutoTokenizer.from_pretrained(folder, local_files_only=True).backend_tokenizer
    flat, lengths = _encode_flat(backend, unique)
    kept = kept_token_ids(tokenizer_json, config, np.unique(flat).tolist(), keep_ids)
    out_dir = Path(out_dir)
    tmp = _prepare_out_dir(out_dir)
    try:
        _write_tokenizer(folder, kept, tokenizer_json, tmp)
        _write_model(folder, kept, tmp)
        _check_same_ids(tmp, unique, flat, lengths, kept)
        report = TrimReport(
            source=str(source), out_dir=out_dir, original_vocab_size=int(config["vocab_size"]),
            tokenizer_vocab_size=len(tokenizer_json["model"]["vocab"]), kept=len(kept),
            kept_ids_sha256=hashlib.sha256(json.dumps(kept).encode()).hexdigest(),
            texts=len(unique),
            unk_tokens=int(np.count_nonzero(flat == tokenizer_json["model"]["unk_id"])))
        (tmp / TRIM_FILE).write_text(json.dumps(report.as_json(), indent=2) + "\n",
                                     encoding="utf-8")
        _make_readable(tmp)
        if out_dir.exists():
            out_dir.rmdir()  # empty (checked above); rename needs the name free
        os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return report
