"""The layout of one run's folder under an output folder, owned in one place.

Why one object: the executor writes and moves run folders, the phases fill them and the
report and the scorer read them back; each rebuilding ``runs/<id>/predictions/<view>`` by hand
would let one of them drift from the others, and old output folders would stop reading.

    OUT/runs/<id>/              a finished run (``XSTILTS_COMPLETE`` marks it complete)
        run.json                id, kind, parent, settings, info, metrics
        metrics.json  log.jsonl
        encoder/                phase 2: the trained encoder (later phases start from it)
        model/                  phase 3 with keep_target_checkpoints: encoder + head
        resume/                 resumable training state while the run is in progress
        predictions/LANG.jsonl  predictions/<view>/…  (generalized, align, before, after)
    OUT/runs/.work-<id>/        the same layout while the run is in progress
    OUT/runs/<id>.failed/       an attempt that failed (``error.txt``)
    OUT/runs/.shared-weights/   frozen weights the checkpoints above hard-link (a cache:
                                see xstilts.training.shared_weights)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from xstilts.integrity import CorruptFileError, verify_manifest
from xstilts.prediction_files import gold_pairs_file, language_file, mined_pairs_file

RUNS_DIR = "runs"
WORK_PREFIX = ".work-"
SHARED_WEIGHTS_DIR = ".shared-weights"
FAILED_SUFFIX = ".failed"
# Written last into a finished run folder (and a saved checkpoint): its presence means complete.
COMPLETE_MARKER = "XSTILTS_COMPLETE"
# Where a target run keeps its fine-tuned model when the study asks for it.
TARGET_MODEL_DIR = "model"
# Files of a finished run folder up to this size are hashed when it is reused or reported on
# (predictions, run.json, metrics); bigger ones (weights) are checked by size, and hashed when
# a run loads them.
CHECK_HASH_BYTES = 16 << 20
# Subfolders with a manifest of their own (checkpoints), left out of the run folder's.
OWN_MANIFEST = ("encoder", TARGET_MODEL_DIR, "resume")


def split_view(split: str) -> str:
    """The evaluation view a stored row's split names beyond the plain one (the phases write
    ``<split>+<view>``): ``test+align`` → ``align``, ``test`` → ``""``."""
    return split.partition("+")[2]


def prune_shared_weights(runs: Path) -> None:
    """Remove the store's files that no checkpoint links any more (a link count of 1; every
    checkpoint holds its own link or copy, so the store is only a cache of them) and the
    temporary files of writes a kill interrupted."""
    store = runs / SHARED_WEIGHTS_DIR
    if not store.is_dir():
        return
    for leftover in store.glob(".*.tmp-*"):
        leftover.unlink(missing_ok=True)
    for shard in store.glob("*.safetensors"):
        if shard.stat().st_nlink == 1:
            shard.unlink(missing_ok=True)
            shard.with_suffix(".json").unlink(missing_ok=True)


def runs_dir(out_dir: Path) -> Path:
    """The folder that holds every run folder of an output folder."""
    return Path(out_dir) / RUNS_DIR


@dataclass(frozen=True)
class RunFolder:
    """One run folder (finished, in progress or failed: the layout inside is the same)."""

    path: Path

    @classmethod
    def of(cls, out_dir: Path, run_id: str) -> RunFolder:
        """The finished folder of run ``run_id`` in output folder ``out_dir``."""
        return cls(runs_dir(out_dir) / run_id)

    @property
    def run_id(self) -> str:
        name = self.path.name
        if name.startswith(WORK_PREFIX):
            name = name[len(WORK_PREFIX):]
        return name.removesuffix(FAILED_SUFFIX)

    def work(self) -> RunFolder:
        """Where the run is written while in progress (stable across attempts: resumable)."""
        return RunFolder(self.path.parent / f"{WORK_PREFIX}{self.run_id}")

    def failed(self) -> RunFolder:
        """Where a failed attempt is kept, with its ``error.txt``."""
        return RunFolder(self.path.parent / f"{self.run_id}{FAILED_SUFFIX}")

    @property
    def record(self) -> Path:
        """``run.json``: the run's id, settings, info and metrics."""
        return self.path / "run.json"

    @property
    def complete_marker(self) -> Path:
        return self.path / COMPLETE_MARKER

    def is_complete(self) -> bool:
        return self.complete_marker.is_file()

    def damage(self) -> CorruptFileError | None:
        """What is wrong with this finished folder, or None: every file of its manifest with
        its size, the small ones (predictions, run.json) with their hash, the checkpoints in
        it by size (hashed when loaded). A folder from before manifests has none: nothing to
        check."""
        try:
            verify_manifest(self.path, max_hash_bytes=CHECK_HASH_BYTES)
            for sub in OWN_MANIFEST:
                if (self.path / sub).is_dir():
                    verify_manifest(self.path / sub, max_hash_bytes=0)
        except CorruptFileError as err:
            return err
        return None

    @property
    def metrics(self) -> Path:
        return self.path / "metrics.json"

    @property
    def log(self) -> Path:
        return self.path / "log.jsonl"

    @property
    def error(self) -> Path:
        return self.path / "error.txt"

    @property
    def shared_weights(self) -> Path:
        """The output folder's store of frozen weights that checkpoints share."""
        return self.path.parent / SHARED_WEIGHTS_DIR

    @property
    def resume(self) -> Path:
        return self.path / "resume"

    @property
    def encoder(self) -> Path:
        """A phase-2 run's trained encoder, which its target runs start from."""
        return self.path / "encoder"

    @property
    def model(self) -> Path:
        """A target run's kept fine-tuned model (retention.keep_target_checkpoints)."""
        return self.path / TARGET_MODEL_DIR

    def predictions(self, view: str | None = None) -> Path:
        """``predictions/`` (per-language files), or a view's subfolder (``generalized``,
        ``align``, Tatoeba's ``before`` / ``after``)."""
        folder = self.path / "predictions"
        return folder / view if view else folder

    def prediction_file(self, language: str, split: str = "") -> Path:
        """The predictions behind a stored result row of ``language`` and ``split`` (a
        ``<split>+<view>`` split reads its view's subfolder)."""
        return language_file(self.predictions(split_view(split)), language)

    def mined_pairs(self, language: str) -> Path:
        """A mining run's pairs extracted for ``language`` (BUCC)."""
        return mined_pairs_file(self.predictions(), language)

    def gold_pairs(self, language: str) -> Path:
        """The gold pairs of the split a mining run scored for ``language``."""
        return gold_pairs_file(self.predictions(), language)
