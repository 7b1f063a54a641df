"""``xstilts export-model OUT RUN_ID DIR``: a kept model as a Hugging Face folder with a card.

A target run kept with ``retention: {keep_target_checkpoints: true}`` exports its fine-tuned
model; a phase-2 (intermediate) run exports its trained encoder. Everything that cannot be
exported is refused before anything is written, naming the run and what to change.
"""

from __future__ import annotations

import json
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from safetensors.torch import save_file

from xstilts.errors import XstiltsError
from xstilts.export.card import CardFacts, model_card
from xstilts.export.hf_layout import HFExport, to_hf
from xstilts.export.hub import check_can_push, push_folder
from xstilts.models.bundled import BUNDLED_PREFIX
from xstilts.models.tiny import TINY_NAME
from xstilts.studies.store import STORE_FILE, ResultStore
from xstilts.tasks import get_task
from xstilts.tasks.base import TaskType
from xstilts.training.run_folder import RunFolder

HEAD_FILE = "xstilts_head.safetensors"
HEAD_INFO = "xstilts_head.json"
EXPORT_INFO = "xstilts_export.json"


@dataclass
class ExportResult:
    dest: Path
    run_id: str
    auto_class: str
    pushed: str | None = None


def _run_row(store: ResultStore, out_dir: Path, run_id: str) -> dict[str, Any]:
    runs = {r["id"]: r for r in store.runs()}
    starting = [i for i in runs if i.startswith(run_id)] if len(run_id) >= 4 else []
    if run_id not in runs and len(starting) > 1:
        raise XstiltsError(f"run id prefix {run_id!r} is ambiguous in {out_dir / STORE_FILE}: "
                           f"{', '.join(sorted(starting))}")
    if run_id not in runs and len(starting) == 1:
        run_id = starting[0]  # a unique prefix, as `xstilts status` shows ids shortened
    if run_id not in runs:
        close = sorted(i for i in runs if i.startswith(run_id[:4]))[:5]
        hint = f" Similar ids: {', '.join(close)}." if close else ""
        raise XstiltsError(f"run {run_id!r} is not in {out_dir / STORE_FILE}.{hint} "
                           f"`xstilts status {out_dir}` lists the runs")
    row = runs[run_id]
    if row["status"] != "done":
        raise XstiltsError(f"run {run_id} is {row['status']!r}, not finished: only finished "
                           "runs can be exported (finish it with `xstilts run`)")
    if not RunFolder.of(out_dir, run_id).is_complete():
        raise XstiltsError(f"run {run_id} is recorded as done but its folder "
                           f"{RunFolder.of(out_dir, run_id).path} is missing or incomplete")
    return row


def _model_folder(out_dir: Path, row: dict[str, Any], settings: dict[str, Any]) -> Path:
    folder = RunFolder.of(out_dir, row["id"])
    if row["kind"] == "intermediate":
        if not folder.encoder.is_dir():
            raise XstiltsError(f"intermediate run {row['id']} has no encoder folder "
                               f"({folder.encoder})")
        return folder.encoder
    if "retrieval" in settings or _task_type(row["task"]) == TaskType.RETRIEVAL:
        parent = row.get("parent")
        which = (f"its phase-2 run: xstilts export-model {out_dir} {parent} DIR" if parent
                 else f"the encoder {settings.get('encoder')!r} itself")
        raise XstiltsError(f"run {row['id']} ({row['task']}) trains no model (a retrieval "
                           f"target pools its encoder); export {which}")
    if not folder.model.is_dir():
        raise XstiltsError(f"target run {row['id']} ({row['task']}) kept no model: target "
                           "models are kept only when the study sets `retention: "
                           "{keep_target_checkpoints: true}`; add it and run the study again "
                           "(the run is trained again to keep its model)")
    return folder.model


def _task_type(name: str) -> str | None:
    try:
        return get_task(name).type
    except XstiltsError:  # a user task not registered in this process
        return None


def _check_dest(dest: Path, force: bool) -> None:
    if dest.exists() and not dest.is_dir():
        raise XstiltsError(f"{dest} exists and is not a folder")
    if dest.is_dir() and any(dest.iterdir()) and not force:
        raise XstiltsError(f"{dest} exists and is not empty; choose a new folder or pass "
                           "--force to replace its contents")


def _base_model(encoder_name: str, config: dict[str, Any]) -> str | None:
    """The Hub model the encoder derives from, where known (bundled: its conversion source)."""
    source = config.get("xstilts_source") or {}
    if isinstance(source, dict) and source.get("base_model"):
        return str(source["base_model"])
    if encoder_name == TINY_NAME or encoder_name.startswith(BUNDLED_PREFIX):
        return None
    if Path(encoder_name).expanduser().exists() or encoder_name.startswith(("/", ".", "~")):
        return None
    return encoder_name


def _description(task: str) -> str:
    try:
        return get_task(task).description
    except XstiltsError:
        return ""


def _load(model_dir: Path, kind: str) -> tuple[Any, Any, Any, Any]:
    """(encoder, tokenizer, head or None, task or None) of a kept model folder."""
    from xstilts.models.encoders import load_encoder
    from xstilts.training.checkpoint import load_task_model

    if kind == "intermediate":
        encoder, tokenizer = load_encoder(str(model_dir))
        return encoder, tokenizer, None, None
    model, tokenizer, task = load_task_model(model_dir)
    return model.encoder, tokenizer, model.heads[task.name], task


def _without_token_types(folder: Path, input_names: list[str]) -> None:
    """Make the saved tokenizer leave out token type ids: xstilts never feeds them (every
    segment is type 0), so a tokenizer that makes them (BERT's) would give the exported model
    inputs it was not trained on. Edited in the written file: the loaded tokenizer may be
    shared by the process, and xstilts never mutates one."""
    if "token_type_ids" not in input_names:
        return
    path = folder / "tokenizer_config.json"
    config = json.loads(path.read_text(encoding="utf-8"))
    config["model_input_names"] = [n for n in input_names if n != "token_type_ids"]
    path.write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _write(hf: HFExport, tokenizer: Any, facts: CardFacts, row: dict[str, Any],
           folder: Path) -> None:
    hf.model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    _without_token_types(folder, list(tokenizer.model_input_names))
    if hf.head_tensors is not None:
        save_file(hf.head_tensors, str(folder / HEAD_FILE))
        (folder / HEAD_INFO).write_text(json.dumps({
            "head": facts.head_class, "task": facts.task, "type": facts.task_type,
            "pooling": facts.pooling, "labels": list(facts.labels),
            "max_seq_length": facts.max_seq_length, "tensors": sorted(hf.head_tensors),
            "why_not_an_auto_class": facts.head_reason}, indent=2) + "\n", encoding="utf-8")
    (folder / "README.md").write_text(model_card(facts), encoding="utf-8")
    (folder / EXPORT_INFO).write_text(json.dumps({
        "run_id": row["id"], "kind": row["kind"], "auto_class": hf.auto_class,
        "settings": facts.settings, "parent": row.get("parent"),
        "metrics": facts.metrics}, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _facts(store: ResultStore, row: dict[str, Any], settings: dict[str, Any], hf: HFExport,
           head: Any, task: Any, encoder_config: dict[str, Any], license: str) -> CardFacts:
    training = settings.get("training") or {}
    intermediate, parent_id = [], None
    if row["kind"] == "intermediate":
        intermediate = list(settings.get("tasks") or [])
    elif row.get("parent"):
        parents = {r["id"]: r for r in store.runs()}
        parent = parents.get(row["parent"])
        parent_id = row["parent"]
        if parent is not None:
            intermediate = list(json.loads(parent["settings"]).get("tasks") or [])
    metrics = [{k: r[k] for k in ("task", "language", "split", "metric", "value", "ci_low",
                                  "ci_high", "n")} for r in store.metrics([row["id"]])]
    tasks = [t["task"] for t in intermediate] + ([task.name] if task else [])
    return CardFacts(
        run_id=row["id"], kind=row["kind"], settings=settings,
        encoder=str(settings.get("encoder", row["encoder"])),
        base_model=_base_model(str(settings.get("encoder", row["encoder"])), encoder_config),
        auto_class=hf.auto_class, pooling=str(training.get("pooling", "mean")),
        max_seq_length=int(training.get("max_seq_length", 128)),
        task=task.name if task else None, task_type=task.type if task else None,
        labels=tuple(task.labels) if task else (), intermediate=intermediate,
        intermediate_run=parent_id, metrics=metrics,
        head_class=type(head).__name__ if hf.head_tensors is not None else "",
        head_reason=hf.reason, probe_max_diff=hf.probe_max_diff, license=license,
        descriptions={t: _description(t) for t in tasks})


def export_model(out_dir: Path, run_id: str, dest: Path, *, force: bool = False,
                 push_to_hub: str | None = None, license: str = "other") -> ExportResult:
    """Write run ``run_id`` of ``out_dir`` into ``dest`` as a Hugging Face model folder."""
    out_dir, dest = Path(out_dir), Path(dest)
    if not (out_dir / STORE_FILE).is_file():
        raise XstiltsError(f"{out_dir} holds no xstilts results (no {STORE_FILE})")
    if push_to_hub:
        check_can_push(push_to_hub)
    _check_dest(dest, force)
    store = ResultStore(out_dir)
    try:
        row = _run_row(store, out_dir, run_id)
        settings = json.loads(row["settings"])
        model_dir = _model_folder(out_dir, row, settings)
        encoder, tokenizer, head, task = _load(model_dir, row["kind"])
        pooling = str((settings.get("training") or {}).get("pooling", "mean"))
        hf = to_hf(encoder, head, task, pooling, tokenizer)
        facts = _facts(store, row, settings, hf, head, task, encoder.config.to_dict(), license)
    finally:
        store.close()
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.parent / f".{dest.name}.tmp-{uuid.uuid4().hex[:8]}"
    try:
        tmp.mkdir()
        _write(hf, tokenizer, facts, row, tmp)
        if dest.exists():
            shutil.rmtree(dest)
        tmp.rename(dest)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    pushed = push_folder(dest, push_to_hub) if push_to_hub else None
    return ExportResult(dest, row["id"], hf.auto_class, pushed)
