"""Write a study's stored predictions in the leaderboard layout, with the matching gold.

A study's target runs keep ``runs/<id>/predictions/<lang>.jsonl`` (``id``, ``gold``,
``prediction`` per example). The export writes, for one system (one encoder x intermediate
configuration x seed):

    DIR/predictions/<task>/test-<lang>.<suffix>   the leaderboard submission files
    DIR/labels/<task>/test-<lang>.<suffix>        the gold of the same examples
    DIR/export.json                               which runs, splits and study metrics

so ``xstilts score DIR/predictions --labels DIR/labels`` re-scores the study. A study with
several encoders, intermediate configurations or seeds holds several systems: choose one
with ``encoder`` / ``intermediate`` / ``seed`` (the error lists the choices). Files are named
``test-`` whatever split the study evaluated (the leaderboard layout); ``export.json``
records the real split. Tatoeba indices refer to this package's line order of the test
pairs (not the shuffled official test files). BUCC runs keep their mined pairs and the
scored split's gold as ``<lang>.pairs.tsv`` / ``<lang>.gold.tsv``, written as they are (the
leaderboard scores the pair sets). Tasks outside XTREME / XTREME-R have no leaderboard
format: they are skipped with a note.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xstilts.errors import DataFormatError, XstiltsError
from xstilts.prediction_files import language_file, numbered_records, pairs_text
from xstilts.scoring import layout
from xstilts.scoring.official import OFFICIAL_TASKS, STUDY_TASK_TO_FOLDER
from xstilts.tasks import Task, get_task
from xstilts.tasks.base import RetrievalKind
from xstilts.training.run_folder import RunFolder

# The study's metric names -> the leaderboard's (udpos ``span_f1`` and panx ``entity_f1`` are
# seqeval's default-mode F1, XTREME's "f1"; token accuracy has no leaderboard counterpart).
STUDY_TO_OFFICIAL_METRIC = {"accuracy": "accuracy", "entity_f1": "f1", "span_f1": "f1",
                            "f1": "f1", "exact_match": "exact_match", "map@20": "map@20"}

Record = dict[str, Any]
# A leaderboard file format: (records, the file they came from) -> (predictions, gold) texts.
Writer = Callable[[list[Record], Path], tuple[str, str]]


@dataclass
class ExportSummary:
    """What was written, and the study's own numbers (points) to compare a re-score with."""

    dest: Path
    runs: list[dict[str, Any]] = field(default_factory=list)
    study_scores: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _read_records(path: Path) -> list[Record]:
    """The run's records, each with a gold label (a gold file is written from them)."""
    records = []
    for number, row in numbered_records(path):
        if row["gold"] is None:
            raise DataFormatError(path, number, f"example {row['id']!r} has no gold label, so "
                                  "no gold file can be written (unlabeled split)")
        records.append(row)
    return records


def _label_lines(task: Task) -> Writer:
    """Classification: label indices -> the label strings of the gold files."""
    labels = tuple(task.labels)

    def write(records: list[Record], source: Path) -> tuple[str, str]:
        return ("".join(f"{labels[r['prediction']]}\n" for r in records),
                "".join(f"{labels[r['gold']]}\n" for r in records))
    return write


def _index_lines(records: list[Record], source: Path) -> tuple[str, str]:
    return ("".join(f"{int(r['prediction'])}\n" for r in records),
            "".join(f"{int(r['gold'])}\n" for r in records))


def _xcopa_lines(records: list[Record], source: Path) -> tuple[str, str]:
    return ("".join(json.dumps({"label": int(r["prediction"])}) + "\n" for r in records),
            "".join(json.dumps({"label": int(r["gold"])}) + "\n" for r in records))


def _tag_blocks(records: list[Record], source: Path) -> tuple[str, str]:
    def block(key: str) -> str:
        return "\n\n".join("\n".join(r[key]) for r in records) + "\n"
    return block("prediction"), block("gold")


def _unique_ids(records: list[Record], path: Path) -> None:
    ids = [str(r["id"]) for r in records]
    if len(set(ids)) != len(ids):
        raise DataFormatError(path, None, "example ids repeat; id-keyed files need unique ids")


def _qa_json(records: list[Record], source: Path) -> tuple[str, str]:
    _unique_ids(records, source)
    predictions = {str(r["id"]): r["prediction"] for r in records}
    qas = [{"id": str(r["id"]), "answers": [{"text": t} for t in r["gold"]]} for r in records]
    gold = {"version": "1.1", "data": [{"paragraphs": [{"qas": qas}]}]}
    return (json.dumps(predictions, ensure_ascii=False, indent=1) + "\n",
            json.dumps(gold, ensure_ascii=False, indent=1) + "\n")


def _ranked_json(records: list[Record], source: Path) -> tuple[str, str]:
    _unique_ids(records, source)
    return (json.dumps({str(r["id"]): list(r["prediction"]) for r in records},
                       ensure_ascii=False) + "\n",
            json.dumps({str(r["id"]): list(r["gold"]) for r in records},
                       ensure_ascii=False) + "\n")


def _fixed(writer: Writer) -> Callable[[Task], Writer]:
    return lambda task: writer


# Each leaderboard folder's file format (id-keyed formats refuse repeated ids themselves).
_WRITERS: dict[str, Callable[[Task], Writer]] = {
    "xnli": _label_lines, "pawsx": _label_lines, "tatoeba": _fixed(_index_lines),
    "xcopa": _fixed(_xcopa_lines), "udpos": _fixed(_tag_blocks), "panx": _fixed(_tag_blocks),
    "xquad": _fixed(_qa_json), "mlqa": _fixed(_qa_json), "tydiqa": _fixed(_qa_json),
    "mewslix": _fixed(_ranked_json), "lareqa": _fixed(_ranked_json)}


def _choose_runs(runs: list[dict[str, Any]], study: str, choice: dict[str, Any]
                 ) -> list[dict[str, Any]]:
    """The done target runs matching ``choice``; exactly one per task, or an error."""
    picked = [r for r in runs if r["kind"] == "target" and r["status"] == "done"
              and all(v is None or r[k] == v for k, v in choice.items())]
    if not picked:
        raise XstiltsError(f"study {study!r} has no finished target run matching "
                           f"{ {k: v for k, v in choice.items() if v is not None} }")
    by_task: dict[str, list[dict[str, Any]]] = {}
    for run in picked:
        by_task.setdefault(run["task"], []).append(run)
    for task, candidates in by_task.items():
        if len(candidates) > 1:
            options = sorted({(r["encoder"], r["intermediate"], r["seed"]) for r in candidates})
            listing = "; ".join(f"--encoder {e} --intermediate {i} --seed {s}"
                                for e, i, s in options)
            raise XstiltsError(f"study {study!r} has {len(candidates)} finished {task} runs "
                               f"(one system per export); choose one: {listing}")
    return picked


def _prediction_file(run: RunFolder, language: str) -> Path | None:
    for direction in (None, "xx2en"):
        file = language_file(run.predictions(), language, direction)
        if file.is_file():
            return file
    return None


def _mined_texts(run: RunFolder, language: str) -> tuple[str, str] | None:
    """A mining run's (mined pairs, gold pairs) texts, re-read so a malformed file fails here
    naming itself; None when the run kept none (a run from before pairs were saved)."""
    mined, gold = run.mined_pairs(language), run.gold_pairs(language)
    if not (mined.is_file() and gold.is_file()):
        return None
    return pairs_text(layout.read_pairs(mined)), pairs_text(layout.read_pairs(gold))


def _record_texts(run: RunFolder, language: str, write: Writer) -> tuple[str, str] | None:
    source = _prediction_file(run, language)
    return None if source is None else write(_read_records(source), source)


def _export_run(run: dict[str, Any], out_dir: Path, dest: Path, summary: ExportSummary,
                metrics: list[dict[str, Any]]) -> None:
    folder = STUDY_TASK_TO_FOLDER.get(run["task"])
    task = get_task(run["task"]) if folder is not None else None
    if task is None:
        summary.notes.append(f"{run['task']} (run {run['id']}) skipped: not an XTREME / "
                             "XTREME-R leaderboard task")
        return
    settings = json.loads(run["settings"])
    split, suffix = settings["eval_split"], OFFICIAL_TASKS[folder].suffix
    mining = task.retrieval_kind == RetrievalKind.MINING
    write = None if mining else _WRITERS[folder](task)
    written = []
    for language in settings["languages"]:
        run_folder = RunFolder.of(out_dir, run["id"])
        texts = (_mined_texts(run_folder, language) if write is None
                 else _record_texts(run_folder, language, write))
        if texts is None:
            summary.notes.append(f"{run['task']}/{language}: run {run['id']} has no "
                                 "predictions file, skipped")
            continue
        prediction_text, gold_text = texts
        for kind, text in (("predictions", prediction_text), ("labels", gold_text)):
            path = dest / kind / folder / f"test-{language}.{suffix}"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        written.append(language)
    for m in metrics:
        official = STUDY_TO_OFFICIAL_METRIC.get(m["metric"])
        if m["split"] == split and official and m["language"] in written:
            summary.study_scores.setdefault(folder, {}).setdefault(m["language"], {})[
                official] = 100.0 * m["value"]
    summary.runs.append({"run_id": run["id"], "task": run["task"], "folder": folder,
                         "encoder": run["encoder"], "intermediate": run["intermediate"],
                         "seed": run["seed"], "split": split, "languages": written})


def export_study(out_dir: Path, study: str, dest: Path, *, encoder: str | None = None,
                 intermediate: str | None = None, seed: int | None = None) -> ExportSummary:
    """Export one system of ``study`` (from ``xstilts run``'s OUT) into ``dest``."""
    from xstilts.studies.store import ResultStore

    if not (out_dir / "xstilts.sqlite").is_file():
        raise XstiltsError(f"{out_dir} holds no xstilts results (no xstilts.sqlite)")
    for kind in ("predictions", "labels"):
        if (dest / kind).exists() and any((dest / kind).iterdir()):
            raise XstiltsError(f"{dest / kind} is not empty; export into a new folder so that "
                               "no stale file is scored with the new ones")
    store = ResultStore(out_dir)
    try:
        if study not in store.studies():
            raise XstiltsError(f"{out_dir} has no study named {study!r}; its studies: "
                               f"{', '.join(sorted(store.studies())) or '(none)'}")
        runs = _choose_runs(store.runs(study), study, {"encoder": encoder,
                                                       "intermediate": intermediate,
                                                       "seed": seed})
        metrics = store.metrics([r["id"] for r in runs])
    finally:
        store.close()
    summary = ExportSummary(dest)
    for run in runs:
        _export_run(run, out_dir, dest, summary,
                    [m for m in metrics if m["run_id"] == run["id"]])
    if not summary.runs:
        raise XstiltsError(f"nothing exported from study {study!r}: "
                           + "; ".join(summary.notes))
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "export.json").write_text(json.dumps(
        {"study": study, "out": str(out_dir), "runs": summary.runs,
         "study_scores": summary.study_scores, "notes": summary.notes}, indent=2) + "\n",
        encoding="utf-8")
    return summary
