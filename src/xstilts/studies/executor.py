"""The in-process executor: runs the study DAG in dependency order, safely resumable.

Each run writes into a hidden work folder (``runs/.work-<id>``) that is renamed to
``runs/<id>`` only when all its outputs exist, and only then is it marked done in the store;
an interrupted run resumes from the training state saved in its work folder. A rerun
therefore skips done runs, adopts a finished folder whose 'done' mark was lost, and resumes or
redoes anything else; a failed run keeps its log and does not block runs that do not depend
on it.

Reliability (issue #17, docs/reliability.md): a run is worked on only under its lock
(:mod:`~xstilts.studies.run_lock`), so a second ``xstilts run`` on the same folder skips the
runs the first holds and comes back to them at the end; a finished run folder carries a
checksum manifest, verified (sizes, and hashes of its small files) whenever it is reused, and
a damaged one is set aside and redone; a full disk stops the study with the path it could
not write, keeping the interrupted run's resumable state.

Launched on several processes (``accelerate launch -m xstilts.cli run ...`` or ``torchrun``),
every process trains each run together (DDP); the main process alone decides what to run,
writes the store and the run folders, and evaluates, while the others wait for it.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from xstilts import distributed, faults
from xstilts.errors import StudyConfigError
from xstilts.integrity import (
    CorruptFileError,
    DiskFullError,
    atomic_write_text,
    disk_full_path,
    is_disk_full,
    verify_manifest,
    write_manifest,
)
from xstilts.results import Score
from xstilts.studies.advice import study_notes
from xstilts.studies.planner import (
    IntermediateRun,
    PlannedRun,
    StudyPlan,
    TargetRun,
    check_study,
    plan_study,
)
from xstilts.studies.run_lock import RunLock, holder, lock_path, try_lock, wait_lock
from xstilts.studies.spec import StudySpec, study_line
from xstilts.studies.store import STORE_FILE, ResultStore
from xstilts.tasks.user import save_definitions
from xstilts.training import model_reuse
from xstilts.training.run_folder import (
    COMPLETE_MARKER,
    OWN_MANIFEST,
    TARGET_MODEL_DIR,
    RunFolder,
    prune_shared_weights,
    runs_dir,
)
from xstilts.training.threads import apply_threads
from xstilts.training.tracking import (
    RunTracker,
    open_run_tracker,
    prepare_tracking,
    tracking_problems,
)
from xstilts.training.vocabulary import trimmed_encoder

Log = Callable[[str], None]
logger = logging.getLogger(__name__)


@dataclass
class StudyOutcome:
    plan: StudyPlan
    done: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)


def run_dir_of(out_dir: Path, run_id: str) -> Path:
    return RunFolder.of(out_dir, run_id).path


def prepare_study(spec: StudySpec, out_dir: Path, data_dir: Path | None,
                  study_path: Path | None, log: Log = print) -> tuple[StudyPlan, ResultStore]:
    """Validate, plan, record the study and its runs; shared by every executor."""
    check_study(spec, study_path, data_dir)
    plan = with_tracking(plan_study(spec), spec, study_path)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "studies").mkdir(exist_ok=True)
    atomic_write_text(out_dir / "studies" / f"{spec.name}.json", spec.model_dump_json(indent=2))
    save_definitions(out_dir, (task for run in plan.runs for task in run.user_tasks))
    if spec.tracking is not None:
        prepare_tracking(spec.tracking.for_study(spec.name), out_dir)
    prepare_vocabularies(plan, data_dir)
    store = open_store(out_dir, log)
    store.register(spec.name, plan.runs)
    _clean_leftovers(runs_dir(out_dir))
    return plan, store


def with_tracking(plan: StudyPlan, spec: StudySpec, study_path: Path | None) -> StudyPlan:
    """The plan with the study's trackers on every run (out of the ids; a Ray worker gets
    them with the run); a requested backend whose library is missing stops the study here,
    before any training."""
    if spec.tracking is None:
        return plan
    problems = tracking_problems(spec.tracking)
    if problems:
        line = study_line(study_path, ("tracking",)) if study_path else None
        where = f"line {line}, " if line else ""
        raise StudyConfigError(study_path, [f"{where}{p}" for p in problems])
    tracking = spec.tracking.for_study(spec.name)
    return StudyPlan(plan.study, [replace(run, tracking=tracking) for run in plan.runs])


def open_store(out_dir: Path, log: Log = print) -> ResultStore:
    """The output folder's store, checked; a damaged one is set aside and rebuilt.

    Rebuilding loses nothing that matters: every finished run's metrics are also in its run
    folder's run.json (under a checksum), and :func:`triage` records them again.
    """
    try:
        store = ResultStore(out_dir)
        store.check()
        return store
    except CorruptFileError as err:
        if "store" in locals():
            store.close()
        aside = out_dir / f"{STORE_FILE}.corrupt-{int(time.time())}"
        for suffix in ("", "-wal", "-shm"):
            damaged = out_dir / f"{STORE_FILE}{suffix}"
            if damaged.exists():
                os.replace(damaged, aside.with_name(aside.name + suffix))
        log(f"results store damaged: {err}; moved to {aside}, rebuilding it from the run "
            "folders")
        return ResultStore(out_dir)


def prepare_vocabularies(plan: StudyPlan, data_dir: Path | None) -> None:
    """Trim each encoder of a ``vocabulary: trimmed`` study once, before any run (cached:
    the runs, other processes and a rerun find the folder)."""
    trimmed = dict.fromkeys((r.encoder, r.run.vocabulary) for r in plan.runs
                            if r.run.vocabulary is not None)
    for encoder, sources in trimmed:
        trimmed_encoder(encoder, sources, data_dir)


def run_study(spec: StudySpec, out_dir: Path, *, data_dir: Path | None = None,
              study_path: Path | None = None, log: Log = print) -> StudyOutcome:
    """Validate, plan and execute a study in this process, in dependency order."""
    if not distributed.is_main_process():
        return _follow_study(spec, out_dir, data_dir)
    try:
        plan, store = prepare_study(spec, out_dir, data_dir, study_path)
    finally:
        distributed.broadcast(None)  # the followers plan once the main process has checked
    for note in study_notes(plan):
        log(f"note: {note}")
    outcome = StudyOutcome(plan)
    total = len(plan.runs)
    deferred: list[tuple[int, PlannedRun]] = []
    try:
        for index, run in enumerate(plan.runs, start=1):
            tag = run_tag(run, index, total)
            if any(run.parent == d.id for _, d in deferred):
                deferred.append((index, run))  # after its parent, at the end
                continue
            lock = try_lock(out_dir, run.id) if not _distributed() else wait_lock(out_dir, run.id)
            if lock is None:
                log(f"{tag}: held by {holder(lock_path(out_dir, run.id))}; skipped for now, "
                    "will wait for it after the other runs")
                deferred.append((index, run))
                continue
            _locked_run(run, tag, lock, out_dir, data_dir, store, outcome, log)
        for index, run in deferred:  # runs another process held: theirs are done by now
            tag = run_tag(run, index, total)
            path = lock_path(out_dir, run.id)
            log(f"{tag}: waiting for {holder(path)} to finish it")
            _locked_run(run, tag, wait_lock(out_dir, run.id), out_dir, data_dir, store,
                        outcome, log)
    finally:
        distributed.broadcast(None)  # the followers stop
        store.close()
        model_reuse.release()
    return outcome


def _distributed() -> bool:
    return distributed.launched_processes() > 1


def _twin_still_to_run(run: PlannedRun, out_dir: Path) -> bool:
    """Whether ``run``'s trained model should be held for its zero-shot / translate-test
    twin (:mod:`xstilts.training.model_reuse`): only in one process, and only if the twin's
    folder is not finished already."""
    return (run.model_twin is not None and not _distributed()
            and not RunFolder.of(out_dir, run.model_twin).is_complete())


def _locked_run(run: PlannedRun, tag: str, lock: RunLock, out_dir: Path,
                data_dir: Path | None, store: ResultStore, outcome: StudyOutcome,
                log: Log) -> None:
    """Triage and, if needed, execute and record one run, holding its lock."""
    try:
        if triage(run, tag, out_dir, store, outcome, log):
            return
        distributed.broadcast(run.id)
        log(f"{tag}: running")
        store.mark_running(run.id)
        try:
            metrics, info = execute_run(run, out_dir, data_dir,
                                        hold_model=_twin_still_to_run(run, out_dir))
        except RunFailed as failure:
            _record_failure_or_stop(run, tag, failure, out_dir, store, outcome, log)
        else:
            faults.point("run.renamed", RunFolder.of(out_dir, run.id).path)
            try:
                record_success(run, tag, metrics, info, store, outcome, log)
            except Exception as err:
                if is_disk_full(err):
                    raise DiskFullError(store.path, " (the run's folder is complete: the "
                                        "next xstilts run records it)") from err
                raise
    finally:
        lock.release()


def _record_failure_or_stop(run: PlannedRun, tag: str, failure: RunFailed, out_dir: Path,
                            store: ResultStore, outcome: StudyOutcome, log: Log) -> None:
    """Record a failed run; on a full disk stop the study: every later run would fail too."""
    if not is_disk_full(failure):
        record_failure(run, tag, str(failure), store, outcome, log)
        return
    path = disk_full_path(failure, RunFolder.of(out_dir, run.id).work().path)
    try:
        record_failure(run, tag, f"disk full writing {path}", store, outcome, log)
    except Exception as err:  # the store's disk is as full
        log(f"{tag}: FAILED: disk full (and the store could not record it: {err})")
    raise DiskFullError(path, f" (run {run.id}; its resumable state is kept)") from failure


def _follow_study(spec: StudySpec, out_dir: Path, data_dir: Path | None) -> StudyOutcome:
    """A non-main process of a multi-process launch: train each run the main process runs.

    It writes nothing: the trainer, the phases and :func:`execute_run` leave every file to the
    main process. Its outcome lists the runs it took part in as done (the store has the truth).
    """
    distributed.broadcast(None)
    plan = plan_study(spec)
    outcome = StudyOutcome(plan)
    by_id = {run.id: run for run in plan.runs}
    while (run_id := distributed.broadcast(None)) is not None:  # the main process's order
        run = by_id[run_id]
        try:
            execute_run(run, out_dir, data_dir)
        except RunFailed as failure:
            outcome.failed[run.id] = str(failure)
        else:
            outcome.done.append(run.id)
    return outcome


def run_tag(run: PlannedRun, index: int, total: int) -> str:
    return (f"[{index}/{total}] {run.kind} {run.intermediate} → {run.task} "
            f"(seed {run.seed}, {run.id})")


def triage(run: PlannedRun, tag: str, out_dir: Path, store: ResultStore,
           outcome: StudyOutcome, log: Log) -> bool:
    """Handle runs that need no work (done, finished folder, failed parent); True if handled.

    A finished folder is checked against its manifest first; a damaged one is set aside
    (``runs/<id>.corrupt``), said so, and the run is redone.
    """
    final = RunFolder.of(out_dir, run.id)
    if final.is_complete() and (problem := final.damage()) is not None:
        aside = final.path.with_name(final.path.name + ".corrupt")
        if aside.exists():
            shutil.rmtree(aside)
        os.replace(final.path, aside)
        log(f"{tag}: {problem}; folder moved to {aside.name}, the run is redone")
    work = final.work()
    if not final.is_complete() and work.is_complete() and work.damage() is None:
        if final.path.exists():  # killed between removing an old folder and the rename
            shutil.rmtree(final.path)
        os.replace(work.path, final.path)
        log(f"{tag}: finished work folder found, moved into place")
    if store.status(run.id) == "done" and final.is_complete():
        outcome.reused.append(run.id)
        log(f"{tag}: done before, reused{_missing_checkpoint_note(run, final)}")
        return True
    if final.is_complete():
        record = json.loads(final.record.read_text())
        store.mark_done(run.id, [Score.from_dict(m) for m in record["metrics"]], record["info"])
        outcome.reused.append(run.id)
        log(f"{tag}: finished folder found, recorded")
        return True
    if run.parent is not None and (run.parent in outcome.failed
                                   or run.parent in outcome.skipped):
        reason = f"parent run {run.parent} did not finish"
        outcome.skipped[run.id] = reason
        store.mark_skipped(run.id, reason)
        log(f"{tag}: skipped ({reason})")
        return True
    return False


class RunFailed(Exception):
    """A run raised; its message names the error and the kept log."""


def execute_run(run: PlannedRun, out_dir: Path, data_dir: Path | None, *,
                hold_model: bool = False) -> tuple[list[Score], dict]:
    """Do one run's work on the filesystem only (no store access), so any worker can do it.

    Outputs go to the run's work folder, renamed to ``runs/<id>`` when complete. On failure
    the work folder becomes ``runs/<id>.failed`` with ``error.txt`` and :class:`RunFailed`
    is raised. ``hold_model``: keep the trained model in memory for the run's twin, which
    this process runs later (:mod:`xstilts.training.model_reuse`).
    """
    final = RunFolder.of(out_dir, run.id)
    threads = apply_threads(run.run.training)  # the run's count, the same on every executor
    if not distributed.is_main_process():
        return _follow_run(run, out_dir, data_dir, final)
    work = _work_dir(final)
    distributed.barrier()  # the work folder (and any resumable state in it) is settled
    start = time.perf_counter()
    tracker = _open_tracker(run, out_dir)
    try:
        try:
            metrics, info = _run_phase(run, out_dir, data_dir, work.path, tracker,
                                       hold_model=hold_model)
        finally:
            distributed.barrier()  # the followers are done with this run
        info["wall_seconds"] = round(time.perf_counter() - start, 2)
        info["threads"] = threads
        record = {"id": run.id, "kind": run.kind, "parent": run.parent,
                  "settings": run.settings, "info": info,
                  "metrics": [m.to_dict() for m in metrics]}
        work.record.write_text(json.dumps(record, indent=2))
        write_manifest(work.path, skip=(COMPLETE_MARKER, *OWN_MANIFEST))
        atomic_write_text(work.complete_marker, "ok\n", fault="run.record")
        if final.path.exists():
            shutil.rmtree(final.path)
        faults.point("run.rename", final.path)
        os.replace(work.path, final.path)
        if tracker is not None:  # the run is complete: its final metrics, then close
            tracker.log_results(metrics, info)
            tracker.finish()
        return metrics, info
    except Exception as err:  # a failed run must not stop unrelated runs
        if tracker is not None:
            tracker.finish(failed=True)
        if is_disk_full(err):  # keep the work folder: the rerun resumes from its state
            raise RunFailed(f"{type(err).__name__}: {err}") from err
        failed = final.failed()
        work.error.write_text(traceback.format_exc())
        if failed.path.exists():
            shutil.rmtree(failed.path)
        os.replace(work.path, failed.path)
        raise RunFailed(f"{type(err).__name__}: {err} (log: {failed.error})") from err


def _follow_run(run: PlannedRun, out_dir: Path, data_dir: Path | None,
                final: RunFolder) -> tuple[list[Score], dict]:
    """A follower's part of a run: train alongside the main process, write nothing."""
    distributed.barrier()
    try:
        return _run_phase(run, out_dir, data_dir, final.work().path)
    except Exception as err:
        raise RunFailed(f"{type(err).__name__}: {err}") from err
    finally:
        distributed.barrier()


def record_success(run: PlannedRun, tag: str, metrics: list[Score], info: dict,
                   store: ResultStore, outcome: StudyOutcome, log: Log) -> None:
    store.mark_done(run.id, metrics, info)
    outcome.done.append(run.id)
    reused = f" (trained nothing: the model of run {info['model_from']})" \
        if "model_from" in info else ""
    log(f"{tag}: done in {info['wall_seconds']:.0f} s{reused}")


def record_failure(run: PlannedRun, tag: str, message: str, store: ResultStore,
                   outcome: StudyOutcome, log: Log) -> None:
    store.mark_failed(run.id, message)
    outcome.failed[run.id] = message
    log(f"{tag}: FAILED: {message}")


def _open_tracker(run: PlannedRun, out_dir: Path) -> RunTracker | None:
    """The run's experiment trackers (main process), its settings logged; None without."""
    if run.tracking is None:
        return None
    name = (f"{run.intermediate} -> {run.task} (seed {run.seed})" if run.kind == "target"
            else f"phase 2 {run.intermediate} (seed {run.seed})")
    tags = {"kind": run.kind, "task": run.task, "intermediate": run.intermediate,
            "seed": str(run.seed), "encoder": run.encoder, "parent": run.parent or ""}
    return open_run_tracker(run.tracking, out_dir, run_id=run.id, name=name, tags=tags,
                            settings=run.settings)


def _run_phase(run: PlannedRun, out_dir: Path, data_dir: Path | None,
               work_dir: Path, tracker: RunTracker | None = None, *,
               hold_model: bool = False) -> tuple[list[Score], dict]:
    # Imported here so that planning and `--dry-run` never pay for torch/transformers imports.
    from xstilts.training.phases import run_intermediate, run_target

    contract = run.run
    if not (isinstance(contract, TargetRun)
            and model_reuse.is_held(model_reuse.run_training_key(contract))):
        model_reuse.release()  # a model held for a twin that is not this run
    source, vocabulary = contract.encoder, {}
    if contract.vocabulary is not None:  # the study's trimmed encoder (cached), recorded
        trimmed = trimmed_encoder(contract.encoder, contract.vocabulary, data_dir)
        source, vocabulary = str(trimmed.folder), {"vocabulary": trimmed.report}
    if isinstance(contract, IntermediateRun):
        return [], {**run_intermediate(contract, data_dir, work_dir, encoder_source=source,
                                       tracker=tracker),
                    **vocabulary}
    if contract.parent:  # a phase-2 checkpoint: trimmed already when the study is
        parent = RunFolder.of(out_dir, contract.parent)
        encoder = parent.encoder
        try:
            verify_manifest(encoder)  # hashed: it is about to be loaded
        except CorruptFileError as err:  # set aside: the next attempt redoes the parent
            aside = parent.path.with_name(parent.path.name + ".corrupt")
            if aside.exists():
                shutil.rmtree(aside)
            os.replace(parent.path, aside)
            raise CorruptFileError(err.path, f"{err.args[0].split(': ', 1)[1]} (the phase-2 "
                                   f"encoder of run {contract.parent}: its folder is moved to "
                                   f"{aside.name}; run again to redo it)") from err
        source = str(encoder)
    metrics, info = run_target(contract, source, data_dir, work_dir,
                               keep_checkpoint=run.keep_checkpoint, tracker=tracker,
                               hold_model=hold_model)
    return metrics, {**info, **vocabulary}


def _missing_checkpoint_note(run: PlannedRun, final: RunFolder) -> str:
    """Say so when a checkpoint is asked for but the run finished before that was set."""
    if run.keep_checkpoint and not final.model.is_dir():
        return (f" (no {TARGET_MODEL_DIR}/: finished before keep_target_checkpoints was set; "
                f"delete {final.path} to redo it)")
    return ""


def _work_dir(final: RunFolder) -> RunFolder:
    """The run's working folder, stable across attempts so that training can resume.

    An interrupted attempt (Ctrl-C, kill -9, power loss) leaves it behind; if it holds a
    resumable training state the next attempt continues from it, otherwise it starts clean.
    A resumable state that fails its checksums is reported and dropped (the run starts
    clean and gives the same result), never loaded.
    """
    work = final.work()
    if work.path.exists() and (work.resume / "state.json").is_file():
        try:
            verify_manifest(work.resume)
        except CorruptFileError as err:
            logger.warning("resumable state damaged: %s; the run starts again", err)
            shutil.rmtree(work.path)
    if work.path.exists() and not (work.resume / "state.json").is_file():
        shutil.rmtree(work.path)
    if work.path.exists():  # temporary folders of writes a kill interrupted
        for leftover in work.path.glob(".*.tmp-*"):
            if leftover.is_dir():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)
    work.path.mkdir(parents=True, exist_ok=True)
    return work


def _clean_leftovers(runs_dir: Path) -> None:
    """Remove half-written temporary folders (not the resumable work folders) and shared
    weights no checkpoint uses any more."""
    if runs_dir.is_dir():
        for leftover in runs_dir.glob(".tmp-*"):
            shutil.rmtree(leftover, ignore_errors=True)
        prune_shared_weights(runs_dir)
