"""Checksums of written folders, and writes that fail loudly and leave nothing half-written.

Why: a completion marker says a folder was finished, not that its bytes are still the ones
written (a disk error, a truncating copy, a bit flip). Each folder that is loaded later (a
checkpoint, the resumable state, a finished run folder, the converted bundled encoder) gets a
``MANIFEST.sha256.json`` with the size and sha256 of every file, written atomically after the
files and before the completion marker. Loading verifies it: sizes always (free), hashes where
the caller asks (a checkpoint about to be loaded: ~0.4-1 s per 470 MB; once per process for
a file that has not changed since, see :func:`_known_sha256`), and a mismatch raises
:class:`CorruptFileError` naming the file, never loads it silently.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

from xstilts import faults
from xstilts.errors import XstiltsError

MANIFEST = "MANIFEST.sha256.json"
_DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


class CorruptFileError(XstiltsError):
    """A file does not match the checksum recorded when it was written."""

    def __init__(self, path: str | Path, problem: str):
        self.path = Path(path)
        super().__init__(f"{path}: {problem}")


class DiskFullError(XstiltsError):
    """Writing ``path`` failed for lack of space; what was finished before is intact."""

    def __init__(self, path: str | Path, what: str = ""):
        self.path = Path(path)
        super().__init__(f"disk full while writing {path}{what}: free some space and run the "
                         "same command again (finished work is kept and resumed from)")


def is_disk_full(err: BaseException) -> bool:
    """Whether ``err`` (or an error it was raised from) is a full disk or quota."""
    while err is not None:
        if isinstance(err, DiskFullError) or (isinstance(err, OSError)
                                              and err.errno in _DISK_FULL):
            return True
        if "database or disk is full" in str(err):  # sqlite3.OperationalError
            return True
        err = err.__cause__ or err.__context__
    return False


def disk_full_path(err: BaseException, default: str | Path) -> str:
    """The path a disk-full error names (its ``filename``), else ``default``."""
    while err is not None:
        if isinstance(err, DiskFullError):
            return str(err.path)
        if isinstance(err, OSError) and err.errno in _DISK_FULL and err.filename:
            return str(err.filename)
        err = err.__cause__ or err.__context__
    return str(default)


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


# The sha256 of files this process hashed, by (device, inode), with the size and modification
# and change times they had: a file written and hashed, then verified again before it is loaded
# in the same process (a phase-2 encoder: 470 MB, ~0.4 s a hash; the converted bundled encoder
# at each load) is hashed once: benchmarks/whole_study.py's two studies hashed the weights 9
# times instead of 17 (3.2 s of hashing instead of 6.6 s). Any write to a file, in place or by
# replacing it, changes its change time (ns-grained on Linux 6.13+; on older kernels a write in
# the same clock tick, a few ms, right after the hash would go unseen); a rename of its folder
# does not.
_hashed: dict[tuple[int, int], tuple[tuple[int, int, int], str]] = {}


def _stamp(stat: os.stat_result) -> tuple[int, int, int]:
    return stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns


def _known_sha256(path: Path, before: os.stat_result) -> str:
    """``sha256_file(path)``, hashed only if this process has not hashed the file since it
    last changed; ``before`` is the caller's ``path.stat()``, whose size it checked."""
    key = (before.st_dev, before.st_ino)
    known = _hashed.get(key)
    if known is not None and known[0] == _stamp(before):
        return known[1]
    sha = sha256_file(path)
    if _stamp(path.stat()) == _stamp(before):  # not written to while it was read
        _hashed[key] = (_stamp(before), sha)
    return sha


def file_sha256(path: Path) -> str:
    """``sha256_file(path)``, hashed only if this process has not hashed it since it changed."""
    return _known_sha256(path, path.stat())


def link_file(source: Path, dest: Path) -> None:
    """Hard-link ``source`` at ``dest`` (a copy where the filesystem has no hard links), and
    keep what this process knows of its hash.

    Why the memo is carried over: a new link changes the file's change time, which the memo
    reads as "written since", so every checkpoint linking a shared shard would hash it again
    (~0.3 s per 384 MB). The content did not change when the size and modification time
    did not: the entry is re-stamped only then.
    """
    before = source.stat()
    try:
        os.link(source, dest)
    except OSError as err:
        if err.errno == errno.ENOENT:
            raise
        shutil.copyfile(source, dest)  # no hard links here (EXDEV, EPERM, a FUSE mount)
        return
    key = (before.st_dev, before.st_ino)
    known = _hashed.get(key)
    after = dest.stat()
    if known is not None and known[0] == _stamp(before) and \
            (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns):
        _hashed[key] = (_stamp(after), known[1])


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, data: bytes, fault: str | None = None) -> None:
    """Write ``path`` through a temporary sibling and a rename: a reader sees the old file or
    the whole new one. A full disk raises :class:`DiskFullError` naming ``path`` and leaves
    no temporary file behind. ``fault``: the :mod:`xstilts.faults` point before the rename."""
    # mkstemp: a fresh name opened with O_EXCL, so nothing planted at a predictable name (a
    # symlink) is written through.
    tmp: Path | None = None
    try:
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.tmp-")
        tmp = Path(name)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if fault:
            faults.point(fault, path)
        os.replace(tmp, path)
    except OSError as err:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
        if err.errno in _DISK_FULL:
            raise DiskFullError(path) from err
        raise


def atomic_write_text(path: Path, text: str, fault: str | None = None) -> None:
    atomic_write_bytes(path, text.encode("utf-8"), fault)


def write_manifest(folder: Path, skip: Iterable[str] = ()) -> dict[str, dict]:
    """Record size and sha256 of every file under ``folder`` (but ``skip``: top-level names
    left out, e.g. a marker written after) in ``folder/MANIFEST.sha256.json``."""
    skipped = {MANIFEST, *skip}
    files = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if path.is_file() and rel.parts[0] not in skipped:
            stat = path.stat()
            files[rel.as_posix()] = {"size": stat.st_size, "sha256": _known_sha256(path, stat)}
    atomic_write_text(folder / MANIFEST, json.dumps({"files": files}, indent=1))
    return files


def has_manifest(folder: Path) -> bool:
    return (folder / MANIFEST).is_file()


def verify_manifest(folder: Path, *, max_hash_bytes: int | None = None) -> None:
    """Check the files of ``folder`` against its manifest; raise :class:`CorruptFileError`
    naming the first file that is missing, of another size or of another sha256.

    Sizes are always checked (free); hashes of the files up to ``max_hash_bytes`` (None: of
    all). A folder written before manifests existed has none and passes (nothing to check).
    """
    manifest = folder / MANIFEST
    if not manifest.is_file():
        return
    try:
        files = json.loads(manifest.read_text(encoding="utf-8"))["files"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise CorruptFileError(manifest, f"unreadable checksum manifest ({err})") from err
    for rel, expected in files.items():
        path = folder / rel
        if not path.is_file():
            raise CorruptFileError(path, f"missing (listed in {manifest})")
        stat = path.stat()
        size = stat.st_size
        if size != expected["size"]:
            raise CorruptFileError(path, f"{size} bytes, {expected['size']} were written "
                                         "(truncated or overwritten)")
        if (max_hash_bytes is None or size <= max_hash_bytes) and \
                _known_sha256(path, stat) != expected["sha256"]:
            raise CorruptFileError(path, "sha256 differs from the one recorded when it was "
                                         f"written ({manifest}): the file is damaged")
