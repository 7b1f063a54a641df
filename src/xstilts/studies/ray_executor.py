"""The Ray executor: the same study on a Ray cluster, one run a Ray task.

Each run becomes a Ray task with its declared CPU/GPU needs; a target run receives its
intermediate run's result as an argument, so Ray starts it only once that parent has
finished (the DAG's edges are task dependencies). Workers only touch the filesystem
(``execute_run``), which must be storage every worker sees; the driver alone writes the
results store, so SQLite never has concurrent writers. A run carries the definitions of the
user tasks it names (a task file's folder, hence its data, must be visible to the workers).

Results equal the in-process executor's: a run computes with its ``threads`` setting, or else
with the driver's default thread count, never with the CPUs Ray reserves for it
(:mod:`xstilts.training.threads`). A worker that dies (killed, out of memory) is retried by
Ray up to :data:`MAX_RETRIES` times, resuming from the run's saved training state; after that
the run is recorded as failed with the reason, its dependants as skipped, and the rest of the
study goes on. A killed driver leaves finished runs in the store and their folders: the rerun
reuses them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from xstilts.errors import XstiltsError
from xstilts.studies.advice import study_notes
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
from xstilts.training.threads import adopt_default, process_default, run_threads

# Ray's own default for tasks whose worker process dies; stated here because the docs say it.
MAX_RETRIES = 3


def _import_ray() -> Any:
    try:
        import ray
    except ImportError as err:
        raise XstiltsError("the Ray executor needs Ray: pip install 'xstilts[ray]' "
                           "(or pip install ray)") from err
    return ray


def _run_remote(run: PlannedRun, out_dir: str, data_dir: str | None, driver_threads: int,
                _parent: Any = None) -> tuple[str, Any, Any]:
    """Body of one Ray task. ``_parent`` is the parent's result: Ray waits for it.

    A worker is a fresh process that never read the study: the user tasks the run names
    travel with it (``run.user_tasks``) and are registered here before anything looks them up.
    It computes with the driver's default thread count (unless the run sets ``threads``), not
    with the ``OMP_NUM_THREADS`` Ray started it with.
    """
    from xstilts.tasks.user import register_definitions

    if _parent is not None and _parent[0] != "done":
        return ("skipped", f"parent run {run.parent} did not finish", None)
    adopt_default(driver_threads)
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
    for note in study_notes(plan):
        log(f"note: {note}")
    outcome = StudyOutcome(plan)
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=address, include_dashboard=False, log_to_driver=False,
                 ignore_reinit_error=True)
    resources = spec.resources
    remote = ray.remote(num_cpus=resources.cpus_per_run, num_gpus=resources.gpus_per_run,
                        max_retries=MAX_RETRIES)(_run_remote)
    driver_threads = process_default()
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
                                         driver_threads, parent_ref)
            log(f"{tag}: submitted to Ray")
        _note_threads(plan.runs, refs, resources.cpus_per_run, log)
        by_ref = {ref: run_id for run_id, ref in refs.items()}
        pending = list(refs.values())
        runs = {r.id: r for r in plan.runs}
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            run_id = by_ref[ready[0]]
            run, tag = runs[run_id], tags[run_id]
            try:
                status, payload, info = ray.get(ready[0])
            except ray.exceptions.RayError as err:  # the worker died, or Ray itself failed
                (status, payload), info = _lost(ray, run, refs, outcome, err), None
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


def _lost(ray: Any, run: PlannedRun, refs: dict[str, Any], outcome: StudyOutcome,
          err: Exception) -> tuple[str, str]:
    """Status and reason of a run whose task raised in Ray instead of returning: skipped if
    its parent did not finish (Ray passes the parent's error on), else failed."""
    if run.parent is not None and (run.parent in outcome.failed or run.parent in outcome.skipped
                                   or _unfinished(ray, refs.get(run.parent))):
        return "skipped", f"parent run {run.parent} did not finish"
    summary = str(err).strip().splitlines()[0] if str(err).strip() else ""
    if isinstance(err, ray.exceptions.RayTaskError):  # raised in the task, not retried
        return "failed", f"the Ray task raised: {type(err).__name__}: {summary}"
    return "failed", (f"the Ray worker running it died or was lost ({MAX_RETRIES} retries "
                      f"allowed): {type(err).__name__}: {summary}")


def _unfinished(ray: Any, ref: Any) -> bool:
    """Whether a (ready) parent task did not finish its run; None: done before this study."""
    if ref is None:
        return False
    try:
        return ray.get(ref)[0] != "done"
    except ray.exceptions.RayError:
        return True


def _note_threads(runs: list[PlannedRun], refs: dict[str, Any], cpus_per_run: float,
                  log: Log) -> None:
    """Say so when submitted runs will compute with more threads than Ray reserves CPUs."""
    counts = {run_threads(run.run.training) for run in runs if run.id in refs}
    if counts and max(counts) > cpus_per_run:
        log(f"note: runs compute with {max(counts)} thread(s) (the runs' 'threads' setting, "
            f"else this process's default, so that results equal the in-process executor's) "
            f"but Ray reserves {cpus_per_run:g} CPU(s) per run; set resources.cpus_per_run to "
            f"match, or training: {{threads: N}} (a result-changing setting: new run ids)")
