"""Issue #15 goal 5: would two runs at once, one thread each, beat one run on every core?

The one whole-study lever on a small CPU that changes no FLOPs. Times bare training steps of
the bundled encoder (frozen word embeddings, fp32, batch 32, fixed length) three ways, each in
its own process: all threads, one thread alone, and two one-thread processes side by side.
Prints one JSON line per length with the median step times and the throughput ratio of the
two 1-thread processes to the all-threads one, then the machine line.

    python benchmarks/thread_split.py [--lengths 32,128] [--steps 14]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

from machine import machine_facts


def _steps(threads: int, length: int, steps: int) -> None:
    """Child: print the median of ``steps`` training steps (the first two left out)."""
    import torch

    torch.set_num_threads(threads)
    from xstilts.models.encoders import load_encoder

    encoder, _ = load_encoder("bundled:multilingual-e5-small")
    encoder.train()
    encoder.get_input_embeddings().weight.requires_grad_(False)
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(5, 1000, (32, length), generator=generator)
    mask = torch.ones_like(ids)
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        hidden = encoder(input_ids=ids, attention_mask=mask).last_hidden_state
        hidden.float().mean().backward()
        times.append(time.perf_counter() - start)
    print(statistics.median(times[2:]))


def _child(threads: int, length: int, steps: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, __file__, "--child", str(threads), str(length),
                             str(steps)], stdout=subprocess.PIPE, text=True)


def _median(process: subprocess.Popen) -> float:
    out, _ = process.communicate()
    if process.returncode:
        raise SystemExit(f"child failed with exit code {process.returncode}")
    return float(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", default="32,128")
    parser.add_argument("--steps", type=int, default=14)
    parser.add_argument("--child", nargs=3, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _steps(*args.child)
        return
    import torch

    every = torch.get_num_threads()
    for length in (int(x) for x in args.lengths.split(",")):
        all_threads = _median(_child(every, length, args.steps))
        alone = _median(_child(1, length, args.steps))
        pair = [_child(1, length, args.steps) for _ in range(2)]
        side_by_side = [_median(p) for p in pair]
        # two steps per max(side_by_side) seconds against one step per all_threads seconds
        ratio = 2 * all_threads / max(side_by_side)
        print(json.dumps({"benchmark": "thread_split", "batch": 32, "length": length,
                          "threads": every, "step_s_all_threads": round(all_threads, 4),
                          "step_s_one_thread_alone": round(alone, 4),
                          "step_s_one_thread_side_by_side": [round(t, 4) for t in side_by_side],
                          "throughput_ratio_two_runs_vs_one": round(ratio, 3)}))
    print(json.dumps(machine_facts()))


if __name__ == "__main__":
    main()
