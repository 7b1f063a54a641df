"""`xstilts run --dry-run`: the plan, what is done, what is shared, and an estimated cost.

The cost is counted in example passes (training examples × epochs, plus evaluation
examples), turned into time with the throughput measured by earlier runs in the same output
folder when there are any; with no history it says so instead of guessing.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from xstilts.studies.advice import study_notes
from xstilts.studies.planner import PhaseTask, PlannedRun, StudyPlan, TargetRun
from xstilts.studies.store import ResultStore
from xstilts.tasks import Task, TaskType, get_task
from xstilts.tasks.translations import TRANSLATE_TRAIN, translated_view
from xstilts.tasks.xtreme_r_retrieval import RetrievalItem
from xstilts.training.model_reuse import KeptModel, kept_models, run_training_key
from xstilts.training.run_folder import runs_dir


def _target_view(contract: TargetRun) -> Task:
    """The task as the run reads it (a translate setting reads translated files)."""
    return translated_view(get_task(contract.task), contract.setting,
                           train_split=contract.train_split, eval_split=contract.eval_split,
                           languages=contract.languages)


def _training_passes(run: PlannedRun, data_dir: Path | None) -> int:
    contract = run.run
    if isinstance(contract, TargetRun):
        if get_task(contract.task).type == TaskType.RETRIEVAL:
            return 0  # retrieval targets pool the encoder; there is no phase 3
        members: tuple[PhaseTask, ...] = (PhaseTask(
            contract.task, contract.train_language, contract.train_split, contract.dev_split),)
    else:
        members = contract.tasks
    training = contract.training
    total = 0
    for m in members:
        task = _target_view(contract) if isinstance(contract, TargetRun) else get_task(m.task)
        n = len(task.load(m.train_split, m.language, data_dir,
                          skip_bad_rows=contract.skip_bad_rows))
        cap = training.max_train_examples
        total += min(n, cap) if cap else n
    return total * training.epochs


def _pooled_candidate(item: object) -> bool:
    return isinstance(item, RetrievalItem) and item.side == "candidate"


def _evaluation_examples(run: PlannedRun, data_dir: Path | None) -> int:
    """Examples a target run embeds or predicts. A pooled retrieval task (Mewsli-X, LAReQA)
    returns each language's queries followed by the shared candidate pool; the run embeds the
    pool once and caps queries only, so that is what is counted."""
    contract = run.run
    if not isinstance(contract, TargetRun):
        return 0
    task = _target_view(contract)
    cap = contract.evaluation.max_examples
    counts: list[int] = []
    pool: set[str] = set()
    for lang in contract.languages:
        items = task.load(contract.eval_split, lang, data_dir,
                          skip_bad_rows=contract.skip_bad_rows)
        pool.update(i.id for i in items if _pooled_candidate(i))
        items = [i for i in items if not _pooled_candidate(i)]
        counts.append(len(items))
    return sum(min(c, cap) if cap else c for c in counts) + len(pool)


def model_reusers(pending: list[PlannedRun], runs: Path) -> dict[str, str]:
    """The pending runs that will evaluate another run's model instead of training, with
    what they say: the second of a zero-shot / translate-test pair that are both pending, and
    runs whose training a finished run in ``runs`` did and kept the model of
    (:mod:`xstilts.training.model_reuse`)."""
    ids = {r.id for r in pending}
    seen: set[str] = set()
    reusing = {}
    indexes: dict[str, dict[str, KeptModel]] = {}  # by training language: one scan each
    for r in pending:
        if r.model_twin in seen:
            reusing[r.id] = f"reuses the model of {r.model_twin}"
            continue
        if r.model_twin in ids:
            seen.add(r.id)
        task = get_task(r.task) if isinstance(r.run, TargetRun) else None
        if task is None or task.type == TaskType.RETRIEVAL or not runs.is_dir():
            continue
        english = task.train_language
        if english not in indexes:
            indexes[english] = kept_models(runs, english)
        kept = indexes[english].get(run_training_key(r.run, english))
        if kept is not None:
            reusing[r.id] = f"evaluates the kept model of {kept.run_id}"
    return reusing


def _measured_rate(store: ResultStore) -> float | None:
    rates = []
    for run in store.runs():
        if run["status"] == "done" and run["info"]:
            info = json.loads(run["info"])
            if "model_from" in info:  # the training figures of another run
                continue
            rate = info.get("training", {}).get("examples_per_second")
            if rate:
                rates.append(rate)
    return sum(rates) / len(rates) if rates else None


def _vocabulary_lines(plan: StudyPlan) -> list[str]:
    """``vocabulary: trimmed``: what each encoder is trimmed to before the first run (the
    full vocabulary, the default, is not mentioned)."""
    if plan.study.vocabulary != "trimmed":
        return []
    trimmed = dict.fromkeys((r.encoder, r.run.vocabulary) for r in plan.runs)
    return [f"vocabulary: trimmed: {encoder} to the texts of {len(sources or ())} sources "
            f"({', '.join('/'.join(s[:3]) for s in sources or ())})"
            for encoder, sources in trimmed]


def describe_plan(plan: StudyPlan, out: Path, data_dir: Path | None) -> list[str]:
    """Lines that describe the plan for a person."""
    done: set[str] = set()
    rate = None
    if (out / "xstilts.sqlite").is_file():
        store = ResultStore(out)
        done = {r.id for r in plan.runs if store.status(r.id) == "done"}
        rate = _measured_rate(store)
        store.close()
    children = Counter(r.parent for r in plan.target_runs if r.parent)
    pending = [r for r in plan.runs if r.id not in done]
    reusing = model_reusers(pending, runs_dir(out))
    passes = sum(_training_passes(r, data_dir) for r in pending if r.id not in reusing)
    evaluated = sum(_evaluation_examples(r, data_dir) for r in pending)
    lines = [
        f"plan of study {plan.study.name}: {len(plan.runs)} runs "
        f"({len(plan.intermediate_runs)} intermediate, {len(plan.target_runs)} target); "
        f"{len(done)} done, {len(pending)} to run",
    ]
    lines += _vocabulary_lines(plan)
    lines += [f"note: {note}" for note in study_notes(plan)]
    for r in plan.runs:
        after = f"after {r.parent}" if r.parent else f"on {r.encoder}"
        shared = f"  shared by {children[r.id]} target runs" if r.kind == "intermediate" else ""
        state = "done" if r.id in done else "pending"
        task = r.task
        if isinstance(r.run, TargetRun) and r.run.setting == TRANSLATE_TRAIN:
            task += f"@{r.run.train_language}"  # one translate-train run per language
        if r.id in reusing:
            shared = f"  trains nothing: {reusing[r.id]}"
        lines.append(f"  {r.id}  {r.kind:<12} {r.intermediate} → {task}  seed {r.seed}  "
                     f"{after}  {state}{shared}")
    estimate = f"estimated work: {passes:,} training example passes and {evaluated:,} " \
               "evaluation examples"
    if rate:
        # Evaluation runs about 3 times faster than training per example (no backward pass).
        minutes = (passes / rate + evaluated / (3 * rate)) / 60
        estimate += f"; about {minutes:.0f} min at the {rate:.1f} examples/s measured here"
    else:
        estimate += "; no timing history in this output folder yet to turn that into time"
    return [*lines, estimate]
