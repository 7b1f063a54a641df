"""The names of prediction files inside a predictions folder, for their writers (evaluation
loops, low in the layering) and their readers (:class:`~xstilts.training.run_folder.RunFolder`,
the report, the exporter) alike.

Per-query predictions are ``<lang>.jsonl`` (``<lang>.<direction>.jsonl`` where a retrieval
task searched both ways). A mining run's predictions are a set of pairs, not per-query rows,
so they get files of their own: ``<lang>.pairs.tsv`` (extracted at the threshold behind the
stored score) and ``<lang>.gold.tsv`` (the scored split's gold), both in the XTREME
leaderboard's BUCC layout, ``<source id>\\t<target id>`` per line, sorted so that the same
run writes the same bytes. Kept free of heavy imports.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from xstilts.errors import DataFormatError

PREDICTIONS_SUFFIX = ".jsonl"
MINED_SUFFIX = ".pairs.tsv"
GOLD_SUFFIX = ".gold.tsv"


def language_file(predictions_dir: Path, language: str, direction: str | None = None) -> Path:
    """The per-query predictions of ``language`` (of one search ``direction``, where a task
    searched several)."""
    stem = f"{language}.{direction}" if direction else language
    return Path(predictions_dir) / f"{stem}{PREDICTIONS_SUFFIX}"


def mined_pairs_file(predictions_dir: Path, language: str) -> Path:
    """Where a mining run keeps the pairs it extracted for ``language``."""
    return Path(predictions_dir) / f"{language}{MINED_SUFFIX}"


def gold_pairs_file(predictions_dir: Path, language: str) -> Path:
    """Where a mining run keeps the gold pairs of the split it scored for ``language``."""
    return Path(predictions_dir) / f"{language}{GOLD_SUFFIX}"


def pairs_text(pairs: Iterable[tuple[str, str]]) -> str:
    """``source\\ttarget`` lines, sorted (a set has no order of its own)."""
    return "".join(f"{src}\t{tgt}\n" for src, tgt in sorted(pairs))


def write_pairs(path: Path, pairs: Iterable[tuple[str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(pairs_text(pairs), encoding="utf-8")


def numbered_records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """A ``<lang>.jsonl`` file's records with their line numbers (blank lines skipped); a line
    that is not a JSON object with ``id``, ``gold`` and ``prediction`` is an error naming the
    file and the line."""
    with Path(path).open(encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise DataFormatError(path, number, f"not a JSON object ({err.msg}); expected "
                                      "{\"id\", \"gold\", \"prediction\"}") from err
            if not isinstance(record, dict) or not {"id", "gold", "prediction"} <= set(record):
                raise DataFormatError(path, number, "expected a JSON object with id, gold and "
                                      f"prediction, got {line.strip()[:80]!r}")
            yield number, record


def read_records(path: Path) -> list[dict[str, Any]]:
    """A ``<lang>.jsonl`` file's records (:func:`numbered_records` without the numbers)."""
    return [record for _, record in numbered_records(path)]


class RecordCache:
    """Each prediction file read once: a report's references (majority class, macro-F1) and
    its per-example statistics read the same files."""

    def __init__(self) -> None:
        self._records: dict[Path, list[dict[str, Any]]] = {}

    def __call__(self, path: Path) -> list[dict[str, Any]]:
        if path not in self._records:
            self._records[path] = read_records(path)
        return self._records[path]
