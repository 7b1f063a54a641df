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

# Same as xstilts.evaluation.generalized.SPLIT_SUFFIX; not imported from there because that
# module pulls in torch, which a report does not otherwise need.
GENERALIZED_SUFFIX = "+generalized"


def is_generalized(row: dict[str, Any]) -> bool:
    return str(row["split"]).endswith(GENERALIZED_SUFFIX) and "-" in str(row["language"])


def matrix_key(matrix: dict[str, Any]) -> str:
    """Name of the figure of one (model, task, split): its configurations side by side."""
    return f"generalized:{matrix['model']}:{matrix['task']}:{matrix['split']}"


def _order(codes: list[str]) -> list[str]:
    return list(dict.fromkeys(codes))  # first appearance: the study's language order


def generalized_matrices(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (model, task, split, configuration): the primary metric's A×B matrix in points.

    A cell is the mean over seeds; ``diagonal`` and ``off_diagonal`` are the means of the
    same-language and mixed-language cells (their difference is the cost of mixing languages).
    """
    first_metric: dict[tuple, str] = {}
    cells: dict[tuple, dict[tuple[str, str], list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        if not is_generalized(r):
            continue
        head = (r["model"], r["target_task"], r["split"])
        if first_metric.setdefault(head, r["metric"]) != r["metric"]:
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
    seed means (imported lazily: only studies with generalized rows pay for torch)."""
    from xstilts.evaluation.generalized import matrix_table
    from xstilts.studies.store import MetricRow

    rows = [MetricRow(matrix["task"], f"{a}-{b}", matrix["split"], matrix["metric"], v / 100,
                      None, None, 0)
            for a, values in zip(matrix["first"], matrix["values"], strict=True)
            for b, v in zip(matrix["second"], values, strict=True) if v is not None]
    return matrix_table(rows, matrix["metric"])
