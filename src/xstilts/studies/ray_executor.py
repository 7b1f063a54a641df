"""The Ray executor: the same study on a Ray cluster, one run a Ray task.

Each run becomes a Ray task with its declared CPU/GPU needs; a target run receives its
intermediate run's result as an argument, so Ray starts it only once that parent has
finished (the DAG's edges are task dependencies). Workers only touch the filesystem
(``execute_run``), which must be storage every worker sees; the driver alone writes the
results store, so SQLite never has concurrent writers. A run carries the definitions of the
user tasks it names (a task file's folder, hence its data, must be visible to the workers).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from xstilts.errors import XstiltsError
from xstilts.studies.executor import (
    Log,
    RunFailed,
    StudyOutcome,
    execute_run,
    prepare_study,
    record_failure,
    record_success,
    run_tag,
    triage,
)
from xstilts.studies.planner import PlannedRun
from xstilts.studies.spec import StudySpec


def _import_ray() -> Any:
    try:
        import ray
    except ImportError as err:
        raise XstiltsError("the Ray executor needs Ray: pip install 'xstilts[ray]' "
                           "(or pip install ray)") from err
    return ray


def _run_remote(run: PlannedRun, out_dir: str, data_dir: str | None, threads: int,
                _parent: Any = None) -> tuple[str, Any, Any]:
    """Body of one Ray task. ``_parent`` is the parent's result: Ray waits for it.

    A worker is a fresh process that never read the study: the user tasks the run names
    travel with it (``run.user_tasks``) and are registered here before anything looks them up.
    """
    import torch

    from xstilts.tasks.user import register_definitions

    if _parent is not None and _parent[0] != "done":
        return ("skipped", f"parent run {run.parent} did not finish", None)
    torch.set_num_threads(threads)
    try:
        register_definitions(run.user_tasks)
    except XstiltsError as err:
        return ("failed", f"{type(err).__name__}: {err}", None)
    try:
        metrics, info = execute_run(run, Path(out_dir), Path(data_dir) if data_dir else None)
    except RunFailed as failure:
        return ("failed", str(failure), None)
    return ("done", metrics, info)


def run_study_ray(spec: StudySpec, out_dir: Path, *, data_dir: Path | None = None,
                  study_path: Path | None = None, address: str | None = None,
                  log: Log = print) -> StudyOutcome:
    """Validate, plan and execute a study as Ray tasks; results equal the in-process ones."""
    ray = _import_ray()
    plan, store = prepare_study(spec, out_dir, data_dir, study_path)
    outcome = StudyOutcome(plan)
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=address, include_dashboard=False, log_to_driver=False,
                 ignore_reinit_error=True)
    resources = spec.resources
    remote = ray.remote(num_cpus=resources.cpus_per_run,
                        num_gpus=resources.gpus_per_run)(_run_remote)
    try:
        refs: dict[str, Any] = {}
        tags: dict[str, str] = {}
        for index, run in enumerate(plan.runs, start=1):
            tag = run_tag(run, index, len(plan.runs))
            if triage(run, tag, out_dir, store, outcome, log):
                continue
            store.mark_running(run.id)
            tags[run.id] = tag
            parent_ref = refs.get(run.parent) if run.parent else None
            refs[run.id] = remote.remote(run, str(out_dir.resolve()),
                                         str(data_dir.resolve()) if data_dir else None,
                                         max(1, int(resources.cpus_per_run)), parent_ref)
            log(f"{tag}: submitted to Ray")
        by_ref = {ref: run_id for run_id, ref in refs.items()}
        pending = list(refs.values())
        runs = {r.id: r for r in plan.runs}
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            run_id = by_ref[ready[0]]
            status, payload, info = ray.get(ready[0])
            run, tag = runs[run_id], tags[run_id]
            if status == "done":
                record_success(run, tag, payload, info, store, outcome, log)
            elif status == "failed":
                record_failure(run, tag, payload, store, outcome, log)
            else:
                outcome.skipped[run_id] = payload
                store.mark_skipped(run_id, payload)
                log(f"{tag}: skipped ({payload})")
    finally:
        store.close()
        if started_here:
            ray.shutdown()
    return outcome
