"""The in-process executor: runs the study DAG in dependency order, safely resumable.

Each run writes into a hidden work folder (``runs/.work-<id>``) that is renamed to
``runs/<id>`` only when all its outputs exist, and only then is it marked done in the store;
an interrupted run resumes from the training state saved in its work folder. A rerun
therefore skips done runs, adopts a finished folder whose 'done' mark was lost, and resumes or
redoes anything else; a failed run keeps its log and does not block runs that do not depend
on it.

Launched on several processes (``accelerate launch -m xstilts.cli run ...`` or ``torchrun``),
every process trains each run together (DDP); the main process alone decides what to run,
writes the store and the run folders, and evaluates, while the others wait for it.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from xstilts import distributed
from xstilts.results import Score
from xstilts.studies.planner import (
    IntermediateRun,
    PlannedRun,
    StudyPlan,
    check_study,
    plan_study,
)
from xstilts.studies.spec import StudySpec
from xstilts.studies.store import ResultStore
from xstilts.tasks.user import save_definitions
from xstilts.training.run_folder import TARGET_MODEL_DIR, RunFolder, runs_dir
from xstilts.training.vocabulary import trimmed_encoder

Log = Callable[[str], None]


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
                  study_path: Path | None) -> tuple[StudyPlan, ResultStore]:
    """Validate, plan, record the study and its runs; shared by every executor."""
    check_study(spec, study_path, data_dir)
    plan = plan_study(spec)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "studies").mkdir(exist_ok=True)
    (out_dir / "studies" / f"{spec.name}.json").write_text(spec.model_dump_json(indent=2))
    save_definitions(out_dir, (task for run in plan.runs for task in run.user_tasks))
    prepare_vocabularies(plan, data_dir)
    store = ResultStore(out_dir)
    store.register(spec.name, plan.runs)
    _clean_leftovers(runs_dir(out_dir))
    return plan, store


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
    outcome = StudyOutcome(plan)
    try:
        for index, run in enumerate(plan.runs, start=1):
            tag = run_tag(run, index, len(plan.runs))
            handled = triage(run, tag, out_dir, store, outcome, log)
            distributed.broadcast(not handled)
            if handled:
                continue
            log(f"{tag}: running")
            store.mark_running(run.id)
            try:
                metrics, info = execute_run(run, out_dir, data_dir)
            except RunFailed as failure:
                record_failure(run, tag, str(failure), store, outcome, log)
            else:
                record_success(run, tag, metrics, info, store, outcome, log)
    finally:
        store.close()
    return outcome


def _follow_study(spec: StudySpec, out_dir: Path, data_dir: Path | None) -> StudyOutcome:
    """A non-main process of a multi-process launch: train each run the main process runs.

    It writes nothing: the trainer, the phases and :func:`execute_run` leave every file to the
    main process. Its outcome lists the runs it took part in as done (the store has the truth).
    """
    distributed.broadcast(None)
    plan = plan_study(spec)
    outcome = StudyOutcome(plan)
    for run in plan.runs:
        if not distributed.broadcast(None):
            continue
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
    """Handle runs that need no work (done, finished folder, failed parent); True if handled."""
    final = RunFolder.of(out_dir, run.id)
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


def execute_run(run: PlannedRun, out_dir: Path,
                data_dir: Path | None) -> tuple[list[Score], dict]:
    """Do one run's work on the filesystem only (no store access), so any worker can do it.

    Outputs go to the run's work folder, renamed to ``runs/<id>`` when complete. On failure
    the work folder becomes ``runs/<id>.failed`` with ``error.txt`` and :class:`RunFailed`
    is raised.
    """
    final = RunFolder.of(out_dir, run.id)
    if not distributed.is_main_process():
        return _follow_run(run, out_dir, data_dir, final)
    work = _work_dir(final)
    distributed.barrier()  # the work folder (and any resumable state in it) is settled
    start = time.perf_counter()
    try:
        try:
            metrics, info = _run_phase(run, out_dir, data_dir, work.path)
        finally:
            distributed.barrier()  # the followers are done with this run
        info["wall_seconds"] = round(time.perf_counter() - start, 2)
        record = {"id": run.id, "kind": run.kind, "parent": run.parent,
                  "settings": run.settings, "info": info,
                  "metrics": [m.to_dict() for m in metrics]}
        work.record.write_text(json.dumps(record, indent=2))
        work.complete_marker.write_text("ok\n")
        if final.path.exists():
            shutil.rmtree(final.path)
        os.replace(work.path, final.path)
        return metrics, info
    except Exception as err:  # a failed run must not stop unrelated runs
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
    log(f"{tag}: done in {info['wall_seconds']:.0f} s")


def record_failure(run: PlannedRun, tag: str, message: str, store: ResultStore,
                   outcome: StudyOutcome, log: Log) -> None:
    store.mark_failed(run.id, message)
    outcome.failed[run.id] = message
    log(f"{tag}: FAILED: {message}")


def _run_phase(run: PlannedRun, out_dir: Path, data_dir: Path | None,
               work_dir: Path) -> tuple[list[Score], dict]:
    # Imported here so that planning and `--dry-run` never pay for torch/transformers imports.
    from xstilts.training.phases import run_intermediate, run_target

    contract = run.run
    source, vocabulary = contract.encoder, {}
    if contract.vocabulary is not None:  # the study's trimmed encoder (cached), recorded
        trimmed = trimmed_encoder(contract.encoder, contract.vocabulary, data_dir)
        source, vocabulary = str(trimmed.folder), {"vocabulary": trimmed.report}
    if isinstance(contract, IntermediateRun):
        return [], {**run_intermediate(contract, data_dir, work_dir, encoder_source=source),
                    **vocabulary}
    if contract.parent:  # a phase-2 checkpoint: trimmed already when the study is
        source = str(RunFolder.of(out_dir, contract.parent).encoder)
    metrics, info = run_target(contract, source, data_dir, work_dir,
                               keep_checkpoint=run.keep_checkpoint)
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
    """
    work = final.work()
    if work.path.exists() and not (work.resume / "state.json").is_file():
        shutil.rmtree(work.path)
    work.path.mkdir(parents=True, exist_ok=True)
    return work


def _clean_leftovers(runs_dir: Path) -> None:
    """Remove half-written temporary folders (not the resumable work folders)."""
    if runs_dir.is_dir():
        for leftover in runs_dir.glob(".tmp-*"):
            shutil.rmtree(leftover, ignore_errors=True)
