"""Mined BUCC pairs on disk: what a mining run extracted, and the gold of the same split.

A mining run's predictions are a set of pairs, not per-query rows, so they get their own
files next to the other tasks' ``<lang>.jsonl``: ``<lang>.pairs.tsv`` (extracted at the
threshold behind the stored score) and ``<lang>.gold.tsv`` (the scored split's gold). Both
are the XTREME leaderboard's BUCC layout, ``<source id>\\t<target id>`` per line, sorted so
that the same run writes the same bytes. Kept free of heavy imports: the exporter
finds them here.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

MINED_SUFFIX = ".pairs.tsv"
GOLD_SUFFIX = ".gold.tsv"


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

