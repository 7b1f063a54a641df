"""Saving a phase-2 encoder with frozen word embeddings: its own full copy vs the shared shard.

Run: ``python benchmarks/checkpoint_save.py [--repeats 5] [--encoder NAME]`` (default: the
bundled multilingual-e5-small).

The encoder is loaded, its word embeddings frozen and the other parameters given memory of
their own (as training leaves them); before each save one trained weight changes, as another
run's would. Each repeat saves one checkpoint each way (``save_encoder`` with and without
``shared_weights``; interleaved, the first of each untimed: the shared side writes its store
file then); then each checkpoint is verified and loaded as a target run does. Printed: one
JSON line per side (save seconds median and range, verify + load seconds median, new bytes on
disk per checkpoint), one with the ratios, one with the machine.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from machine import interleaved, machine_facts


def new_bytes(folder: Path, seen: set[tuple[int, int]]) -> int:
    """Bytes of ``folder``'s files whose inode was not counted before (hard links once)."""
    total = 0
    for path in folder.rglob("*"):
        stat = path.stat()
        if path.is_file() and (stat.st_dev, stat.st_ino) not in seen:
            seen.add((stat.st_dev, stat.st_ino))
            total += stat.st_size
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--encoder", default="bundled:multilingual-e5-small")
    args = parser.parse_args()

    import torch

    from xstilts.integrity import verify_manifest
    from xstilts.models import load_encoder
    from xstilts.models.heads import TaskModel
    from xstilts.training.checkpoint import save_encoder
    from xstilts.training.run_folder import SHARED_WEIGHTS_DIR

    encoder, tokenizer = load_encoder(args.encoder)
    encoder.get_input_embeddings().weight.requires_grad_(False)
    for param in encoder.parameters():
        if param.requires_grad:
            param.data = param.data.clone()
    model = TaskModel(encoder, pooling="mean")
    trained = next(p for p in encoder.parameters() if p.requires_grad)
    root = Path(tempfile.mkdtemp(prefix="xstilts-checkpoint-save-"))
    runs, seen = root / "runs", set()
    saved: dict[str, list[Path]] = {"own": [], "shared": []}
    loads: dict[str, list[float]] = {"own": [], "shared": []}

    def save(kind: str) -> None:
        with torch.no_grad():
            trained.add_(1e-3)
        store = runs / SHARED_WEIGHTS_DIR if kind == "shared" else None
        folder = runs / f"{kind}{len(saved[kind])}" / "encoder"
        saved[kind].append(save_encoder(model, tokenizer, folder, shared_weights=store))

    def verify_and_load(kind: str, folder: Path) -> None:
        start = time.perf_counter()
        verify_manifest(folder)
        load_encoder(str(folder))
        loads[kind].append(time.perf_counter() - start)

    try:
        own_s, _, shared_s, _ = interleaved(lambda: save("own"), lambda: save("shared"),
                                            args.repeats)
        for own, shared in zip(saved["own"], saved["shared"], strict=True):
            verify_and_load("own", own)
            verify_and_load("shared", shared)
        sizes = {kind: [new_bytes(f, seen) for f in folders] for kind, folders in saved.items()}
    finally:
        shutil.rmtree(root, ignore_errors=True)
    rows = {}
    for kind, seconds in (("own", own_s), ("shared", shared_s)):
        rows[kind] = {"side": kind, "save_s_median": round(statistics.median(seconds), 3),
                      "save_s_range": [round(min(seconds), 3), round(max(seconds), 3)],
                      "verify_load_s": round(statistics.median(loads[kind]), 3),
                      "new_mb_per_checkpoint_after_first": round(
                          statistics.median(sizes[kind][1:]) / 2**20, 1),
                      "first_checkpoint_mb": round(sizes[kind][0] / 2**20, 1)}
        print(json.dumps(rows[kind]), flush=True)
    print(json.dumps({
        "save_time_shared_over_own": round(rows["shared"]["save_s_median"]
                                           / rows["own"]["save_s_median"], 2),
        "disk_shared_over_own": round(rows["shared"]["new_mb_per_checkpoint_after_first"]
                                      / rows["own"]["new_mb_per_checkpoint_after_first"], 2),
        "repeats": args.repeats}))
    print(json.dumps(machine_facts("safetensors")))


if __name__ == "__main__":
    main()
