"""Generalized cross-lingual rows (first text in A, second in B) as one A×B matrix per config.

Why apart from the ordinary analysis: those rows (split ``<split>+generalized``, language
``A-B``, see :mod:`xstilts.evaluation.generalized`) are not languages. Averaged with the
per-language scores they would turn into a second "zero-shot average" of the same task, join
the headline race and count twice in the category scores; grouped by family every pair would
fall into "language pair". So the analysis takes them out and shows them as a matrix: rows
are the first text's language, columns the second's, the diagonal is the ordinary evaluation.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from typing import Any

from xstilts.evaluation.generalized import SPLIT_SUFFIX as GENERALIZED_SUFFIX
from xstilts.evaluation.generalized import matrix_table
from xstilts.report.handlers import block_metric
from xstilts.results import Score


def is_generalized(row: dict[str, Any]) -> bool:
    return str(row["split"]).endswith(GENERALIZED_SUFFIX) and "-" in str(row["language"])


def matrix_key(matrix: dict[str, Any]) -> str:
    """Name of the figure of one (model, task, split): its configurations side by side."""
    return f"generalized:{matrix['model']}:{matrix['task']}:{matrix['split']}"


def _order(codes: list[str]) -> list[str]:
    return list(dict.fromkeys(codes))  # first appearance: the study's language order


def generalized_matrices(rows: list[dict[str, Any]], notes: list[str] | None = None
                         ) -> list[dict[str, Any]]:
    """Per (model, task, split, configuration): the primary metric's A×B matrix in points
    (:func:`~xstilts.report.handlers.block_metric`; ``notes`` gets its fallback notes).

    A cell is the mean over seeds; ``diagonal`` and ``off_diagonal`` are the means of the
    same-language and mixed-language cells (their difference is the cost of mixing languages).
    """
    stored: dict[tuple, list[str]] = defaultdict(list)
    for r in rows:
        metrics = stored[(r["model"], r["target_task"], r["split"])]
        if is_generalized(r) and r["metric"] not in metrics:
            metrics.append(r["metric"])
    first_metric: dict[tuple, str] = {}
    for head, metrics in stored.items():
        if metrics:
            first_metric[head], note = block_metric(head[1], metrics)
            if note is not None and notes is not None and note not in notes:
                notes.append(note)
    cells: dict[tuple, dict[tuple[str, str], list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        if not is_generalized(r):
            continue
        head = (r["model"], r["target_task"], r["split"])
        if first_metric[head] != r["metric"]:
            continue
        first, second = r["language"].split("-", 1)
        cells[(*head, r["intermediate"])][(first, second)].append(100 * r["value"])
    out = []
    for (model, task, split, config), by_pair in sorted(
            cells.items(), key=lambda kv: (kv[0][:3], kv[0][3] != "none", kv[0][3])):
        firsts = _order([a for a, _ in by_pair])
        seconds = _order([b for _, b in by_pair])
        means = {pair: statistics.fmean(v) for pair, v in by_pair.items()}
        same = [v for (a, b), v in means.items() if a == b]
        mixed = [v for (a, b), v in means.items() if a != b]
        out.append({
            "model": model, "task": task, "split": split, "config": config,
            "metric": first_metric[(model, task, split)], "first": firsts, "second": seconds,
            "values": [[means.get((a, b)) for b in seconds] for a in firsts],
            "seeds": max(len(v) for v in by_pair.values()),
            "diagonal": statistics.fmean(same) if same else None,
            "off_diagonal": statistics.fmean(mixed) if mixed else None})
    return out


def matrix_markdown(matrix: dict[str, Any]) -> str:
    """The Markdown table of :func:`xstilts.evaluation.generalized.matrix_table`, fed with the
    seed means."""
    rows = [Score(matrix["metric"], v / 100, None, None, 0, task=matrix["task"],
                  language=f"{a}-{b}", split=matrix["split"])
            for a, values in zip(matrix["first"], matrix["values"], strict=True)
            for b, v in zip(matrix["second"], values, strict=True) if v is not None]
    return matrix_table(rows, matrix["metric"])
