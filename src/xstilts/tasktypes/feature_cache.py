"""Featurised examples kept on disk, so a second run or study over the same data re-tokenises
nothing.

Why not ``datasets.map``'s cache: features here are a handler's rows (several per example for
QA windows, nested offsets, meta), made from examples read by xstilts' own readers, and the
cache must be invalidated by exactly what decides them, and nothing else:

* the examples themselves (a digest of every example, so an edited data file is a miss);
* the tokenizer's content (its ``tokenizers`` JSON: a trimmed vocabulary is another tokenizer),
  the handler class, the task's labels and type, the :class:`FeatureOptions`, training or not;
* the code that featurises: a digest of the ``tasktypes`` and ``data`` packages' source and of
  the files defining the handler's classes, so a changed featurisation is never served stale.

Only handlers whose featurisation is a pure function of those (``CACHEABLE_FEATURES``) are
cached: not MLM, whose masking draws random numbers. Entries are JSON (never pickle), written
atomically; an entry that does not read back identical to what was built is not written (rows
holding tuples, say). ``XSTILTS_FEATURE_CACHE``: a folder, or ``0`` to turn the cache off;
default ``<xstilts cache>/features``.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import inspect
import json
import logging
import os
import tempfile
import time
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from transformers import PreTrainedTokenizerBase

from xstilts import faults
from xstilts.data.feature_options import FeatureOptions
from xstilts.models.bundled import cache_root
from xstilts.tasks.base import Task
from xstilts.tasktypes.base import Features, TaskTypeHandler

logger = logging.getLogger(__name__)

CACHE_ENV = "XSTILTS_FEATURE_CACHE"
FORMAT_VERSION = 1
_OFF = {"0", "off", "false", "no"}
_TOKENIZER_DIGESTS: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()


def feature_cache_dir() -> Path | None:
    """Where entries go; None when ``XSTILTS_FEATURE_CACHE`` turns the cache off."""
    setting = os.environ.get(CACHE_ENV, "").strip()
    if setting.lower() in _OFF:
        return None
    return Path(setting).expanduser() if setting else cache_root() / "features"


def _entries(folder: Path) -> list[Path]:
    """The cache's files: entries (``xx/<key>.json``) and leftovers of interrupted writes."""
    return [p for p in folder.glob("??/*") if p.is_file() and p.suffix in (".json", ".tmp")]


def cache_usage(folder: Path) -> dict[str, Any]:
    """How much the feature cache holds: entries, bytes, and when the oldest and newest were
    written (UTC ISO times; None when empty). Nothing bounds it on its own: see
    :func:`clear_features`."""
    infos = [p.stat() for p in _entries(folder)] if folder.is_dir() else []
    written = sorted(i.st_mtime for i in infos)
    iso = [time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime(t)) for t in written[:1] + written[-1:]]
    return {"folder": str(folder), "entries": len(infos),
            "bytes": sum(i.st_size for i in infos),
            "oldest": iso[0] if iso else None, "newest": iso[-1] if iso else None}


def clear_features(folder: Path, older_than_days: float | None = None) -> tuple[int, int]:
    """Delete the cache's entries (those written more than ``older_than_days`` ago, or all);
    return (files, bytes) removed. Safe while studies run: a removed entry is a cache miss,
    featurised again (a read racing the removal is logged and rebuilt)."""
    if not folder.is_dir():
        return 0, 0
    cutoff = None if older_than_days is None else time.time() - older_than_days * 86_400
    removed = freed = 0
    for path in _entries(folder):
        try:
            info = path.stat()
            if cutoff is None or info.st_mtime < cutoff:
                path.unlink()
                removed, freed = removed + 1, freed + info.st_size
        except FileNotFoundError:  # another process removed or replaced it meanwhile
            continue
    for sub in folder.glob("??"):
        if sub.is_dir() and not any(sub.iterdir()):
            sub.rmdir()
    return removed, freed


def cached_featurize(handler: TaskTypeHandler, task: Task, examples: Sequence[Any],
                     tokenizer: PreTrainedTokenizerBase, options: FeatureOptions, *,
                     training: bool) -> Features:
    """``handler.featurize(...)``, read from the cache when the same featurisation was done
    before (by any run or study on this machine), else computed and stored."""
    faults.point("tokenize")
    folder = feature_cache_dir()
    tokenizer_digest = _tokenizer_digest(tokenizer)
    if folder is None or tokenizer_digest is None or not handler.CACHEABLE_FEATURES:
        return handler.featurize(task, examples, tokenizer, options, training=training)
    key = _key(handler, task, examples, tokenizer_digest, options, training)
    path = folder / key[:2] / f"{key}.json"
    if path.is_file():
        try:
            return Features(**json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError) as err:  # a damaged entry is rebuilt
            logger.warning("feature cache entry %s unreadable (%s); rebuilding", path, err)
    features = handler.featurize(task, examples, tokenizer, options, training=training)
    _store(path, features)
    return features


def _key(handler: TaskTypeHandler, task: Task, examples: Sequence[Any],
         tokenizer_digest: str, options: FeatureOptions, training: bool) -> str:
    examples_digest = hashlib.sha256()
    for example in examples:  # frozen dataclasses of str/int/float/tuple: a stable repr
        examples_digest.update(repr(example).encode("utf-8"))
    cls = type(handler)
    fields = {
        "format": FORMAT_VERSION, "code": _code_digest(cls),
        "handler": f"{cls.__module__}.{cls.__qualname__}", "task": task.name,
        "type": str(task.type), "labels": list(task.labels),
        "has_unanswerable": task.has_unanswerable, "options": dataclasses.asdict(options),
        "training": training, "tokenizer": tokenizer_digest,
        "examples": examples_digest.hexdigest(), "n": len(examples),
    }
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode("utf-8")).hexdigest()


def _store(path: Path, features: Features) -> None:
    record = dataclasses.asdict(features)
    try:
        text = json.dumps(record)
    except (TypeError, ValueError):
        return  # rows that JSON cannot hold: not cached
    if json.loads(text) != record:  # tuples would come back as lists: not cached
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(tmp, path)
    except OSError as err:  # a full or read-only disk costs speed, never the run
        logger.warning("feature cache: cannot write %s (%s)", path, err)


def _tokenizer_digest(tokenizer: PreTrainedTokenizerBase) -> str | None:
    """A digest of the fast tokenizer's full definition; None for a slow tokenizer."""
    try:
        known = _TOKENIZER_DIGESTS.get(tokenizer)
    except TypeError:  # not weak-referenceable
        known = None
    if known is not None:
        return known
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        return None
    digest = hashlib.sha256(backend.to_str().encode("utf-8"))
    digest.update(type(tokenizer).__name__.encode("utf-8"))
    value = digest.hexdigest()
    try:
        _TOKENIZER_DIGESTS[tokenizer] = value
    except TypeError:
        pass
    return value


@functools.cache
def _code_digest(handler_class: type) -> str:
    """The source of the featurising code: the ``tasktypes`` and ``data`` packages, and every
    file defining one of the handler's classes (a handler may live outside ``tasktypes``)."""
    here = Path(__file__).resolve().parent
    files = set(here.glob("*.py")) | set((here.parent / "data").glob("*.py"))
    for cls in handler_class.__mro__:
        try:
            files.add(Path(inspect.getfile(cls)).resolve())
        except (TypeError, OSError):
            continue  # builtins
    digest = hashlib.sha256()
    for file in sorted(files):
        if file.suffix == ".py" and file.is_file():
            digest.update(file.read_bytes())
    return digest.hexdigest()
