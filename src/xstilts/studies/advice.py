"""Notes on a valid study that will not measure what its reader may assume: said before it runs.

Why not errors: each is a legitimate choice (a cross-encoder on STS 2017, two seeds), but one
whose numbers a reader would compare with published ones or test for significance; the dry
run lists them and ``xstilts run`` logs them first, so the choice is made knowingly.
"""

from __future__ import annotations

from xstilts.evaluation.significance import two_seed_caveat
from xstilts.studies.planner import StudyPlan
from xstilts.tasks import get_task


def study_notes(plan: StudyPlan) -> list[str]:
    """One line per caveat of ``plan`` (none for a study without any)."""
    notes = [two_seed_caveat()] if len(plan.study.seeds) == 2 else []
    seen: set[tuple[str, str]] = set()
    for run in plan.target_runs:
        task = get_task(run.task)
        protocol, used = task.protocol_pair_encoding, run.run.training.pair_encoding
        if protocol is None or protocol == used or (task.name, used) in seen:
            continue
        seen.add((task.name, used))
        notes.append(f"{task.name}: its published protocol encodes each pair {protocol}; this "
                     f"study trains it with pair_encoding: {used}, so its scores are not "
                     f"comparable with published ones (leave training.pair_encoding at auto, "
                     f"or set {protocol}, on that target to follow the protocol)")
    return notes
