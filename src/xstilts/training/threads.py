"""How many intra-op threads a run computes with: one rule that every executor applies.

Float reductions (matrix products, sums) split their work by the thread count, so one run
trained with 1 and with 2 threads differs in the last bits of its weights, and after a few
hundred steps in its metrics (issue #17: the quickstart under Ray, 1 thread per run, against
in-process, every core: 66 of 108 results differed, by up to 2 points). A run therefore
computes with its ``threads`` setting (:class:`~xstilts.training.options.TrainingOptions`) or,
when that is unset, with the default of the process that runs the study (what torch chose
at start: ``OMP_NUM_THREADS``, else the physical cores), which the Ray driver hands to its
workers (:func:`adopt_default`). The same run thus gives the same numbers in-process and on
Ray; ``run.json`` records the count under ``info.threads``.
"""

from __future__ import annotations

from xstilts.training.options import TrainingOptions

_default: int | None = None


def process_default() -> int:
    """The thread count of this process before any run changed it (read once, then kept)."""
    global _default
    if _default is None:
        import torch

        _default = torch.get_num_threads()
    return _default


def adopt_default(threads: int) -> None:
    """Make ``threads`` this process's default: a Ray worker takes its driver's, because Ray
    starts workers with ``OMP_NUM_THREADS`` set to the CPUs it reserves for them."""
    global _default
    if threads < 1:
        raise ValueError(f"a thread count must be at least 1, got {threads}")
    _default = threads


def run_threads(training: TrainingOptions) -> int:
    """The thread count a run with these options computes with (training and evaluation)."""
    return training.threads if training.threads is not None else process_default()


def apply_threads(training: TrainingOptions) -> int:
    """Set torch's intra-op thread count for a run about to start; return the count."""
    import torch

    threads = run_threads(training)
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return threads
