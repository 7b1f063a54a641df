"""Figures of an analysis, as PNG bytes (embedded into the HTML page as data URIs).

Why these choices: Agg renders without a display (servers, CI); the Okabe-Ito palette and the
PuOr diverging map stay distinguishable under the common colour-vision deficiencies; every axis
says its unit (points = metric × 100) and every figure has a legend or annotated cells, so a
figure pasted alone into slides still reads.
"""

from __future__ import annotations

import base64
import io
from collections import defaultdict
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from xstilts.report.analysis import several_models  # noqa: E402
from xstilts.report.matrix import matrix_key  # noqa: E402

OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442",
             "#000000")
DIVERGING = "PuOr"
SEQUENTIAL = "cividis"


def _png(fig: Any) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _series(rec: dict[str, Any], multi: bool, field: str = "config") -> str:
    """A row/bar/line label: the configuration (or task), prefixed by the model when a study
    compares several encoders (their values must not overwrite each other)."""
    return f"{rec['model']} · {rec[field]}" if multi else str(rec[field])


def _zero_shot_deltas(analysis: dict[str, Any]) -> list[dict[str, Any]]:
    return [d for d in analysis["deltas"] if d["versus"] == analysis["baseline"]
            and d["scope"] == "zero-shot avg" and d["delta"] is not None]


def heatmap(analysis: dict[str, Any]) -> bytes | None:
    """Intermediate configuration × target task, cells = zero-shot avg delta vs baseline."""
    deltas = _zero_shot_deltas(analysis)
    if not deltas:
        return None
    multi = several_models(analysis)
    configs = sorted({_series(d, multi) for d in deltas})
    tasks = sorted({d["task"] for d in deltas})
    grid = np.full((len(configs), len(tasks)), np.nan)
    marks = np.full(grid.shape, "", dtype=object)
    for d in deltas:
        i, j = configs.index(_series(d, multi)), tasks.index(d["task"])
        grid[i, j] = d["delta"]
        marks[i, j] = "*" if d["significant"] else ""
    limit = max(1.0, float(np.nanmax(np.abs(grid))))
    fig, ax = plt.subplots(figsize=(2.2 + 1.6 * len(tasks), 1.2 + 0.55 * len(configs)))
    image = _annotated_grid(ax, grid, marks, DIVERGING, (-limit, limit), "{:+.1f}")
    ax.set_xticks(range(len(tasks)), tasks, rotation=20, ha="right")
    ax.set_yticks(range(len(configs)), configs)
    ax.set_xlabel("target task")
    ax.set_ylabel("intermediate configuration")
    ax.set_title("Zero-shot gain over the baseline (points; * = significant after correction)")
    fig.colorbar(image, ax=ax, label="Δ zero-shot avg (points)")
    return _png(fig)


def _annotated_grid(ax: Any, grid: np.ndarray, marks: np.ndarray, cmap: str,
                    limits: tuple[float, float], fmt: str, fontsize: float | None = None) -> Any:
    """Colour the cells and write each value in a colour that stays legible on it."""
    image = ax.imshow(grid, cmap=cmap, vmin=limits[0], vmax=limits[1], aspect="auto")
    low, high = limits
    for (i, j), value in np.ndenumerate(grid):
        if np.isnan(value):
            continue
        dark = (abs(value) > 0.6 * high if low == -high
                else (value - low) < 0.45 * (high - low))
        ax.text(j, i, fmt.format(value) + marks[i, j], ha="center", va="center",
                color="white" if dark else "black", fontsize=fontsize)
    return image


def generalized_heatmaps(analysis: dict[str, Any]) -> dict[str, bytes]:
    """Per (model, task, split): one A×B panel per configuration on one colour scale.

    Scores, not gains, so a sequential map (cividis: readable under colour-vision
    deficiencies) instead of the diverging one of the gain heatmap.
    """
    out = {}
    matrices = analysis.get("generalized", [])
    for key in dict.fromkeys(matrix_key(m) for m in matrices):
        group = [m for m in matrices if matrix_key(m) == key]
        grids = [np.array(m["values"], dtype=float) for m in group]
        limits = (float(min(np.nanmin(g) for g in grids)),
                  float(max(np.nanmax(g) for g in grids)) + 1e-9)
        size = max(max(g.shape) for g in grids)
        fig, axes = plt.subplots(1, len(group), squeeze=False, layout="constrained",
                                 figsize=(1 + len(group) * (1.6 + 0.55 * size), 1.6 + 0.5 * size))
        for ax, m, grid in zip(axes[0], group, grids, strict=True):
            image = _annotated_grid(ax, grid, np.full(grid.shape, "", dtype=object),
                                    SEQUENTIAL, limits, "{:.1f}", fontsize=8)
            ax.set_xticks(range(len(m["second"])), m["second"])
            ax.set_yticks(range(len(m["first"])), m["first"])
            ax.set_xlabel("language of the second text (B)")
            if ax is axes[0, 0]:
                ax.set_ylabel("language of the first text (A)")
            ax.set_title(f"{m['task']} · {m['config']}", fontsize=9)
        fig.colorbar(image, ax=axes[0].tolist(), label=f"{group[0]['metric']} (points)")
        out[key] = _png(fig)
    return out


def family_bars(analysis: dict[str, Any], attribute: str = "family") -> bytes | None:
    """Per target task: gain over the baseline per language group, with CI error bars."""
    groups = [d for d in analysis["deltas"] if d.get("attribute") == attribute
              and d["delta"] is not None]
    if not groups:
        return None
    multi = several_models(analysis)
    tasks = sorted({d["task"] for d in groups})
    fig, axes = plt.subplots(len(tasks), 1, figsize=(10, 3.8 * len(tasks)), squeeze=False)
    for ax, task in zip(axes[:, 0], tasks, strict=True):
        rows = [d for d in groups if d["task"] == task]
        names = sorted({d["group"] for d in rows})
        configs = sorted({_series(d, multi) for d in rows})
        width = 0.8 / len(configs)
        for k, config in enumerate(configs):
            by_group = {d["group"]: d for d in rows if _series(d, multi) == config}
            x = np.array([i for i, g in enumerate(names) if g in by_group]) + (k - (
                len(configs) - 1) / 2) * width
            ds = [by_group[g] for g in names if g in by_group]
            y = np.array([d["delta"] for d in ds])
            low = np.array([d["delta"] - d["ci_low"] if d["ci_low"] is not None else 0
                            for d in ds])
            high = np.array([d["ci_high"] - d["delta"] if d["ci_high"] is not None else 0
                             for d in ds])
            ax.bar(x, y, width, yerr=[np.maximum(low, 0), np.maximum(high, 0)], capsize=3,
                   color=OKABE_ITO[k % len(OKABE_ITO)], label=config)
        ax.axhline(0, color="black", linewidth=0.8)
        counts = {d["group"]: len(d.get("languages", [])) for d in rows}
        ax.set_xticks(range(len(names)), [f"{g}\n({counts[g]} lang.)" for g in names],
                      rotation=0, fontsize=8)
        ax.set_ylabel("Δ vs baseline (points)")
        ax.set_xlabel(f"language {attribute.replace('_', ' ')} (English excluded)")
        ax.set_title(f"{task}: gain per language {attribute} (95 % CI error bars)")
        ax.legend(title="intermediate", fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.tight_layout()
    return _png(fig)


def scaling_curve(analysis: dict[str, Any]) -> bytes | None:
    """Number of intermediate tasks against the mean zero-shot gain, per target task."""
    points = [p for p in analysis["scaling"] if p["family"] == "all languages"]
    if not points:
        return None
    multi = several_models(analysis)
    lines: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for p in points:
        lines[_series(p, multi, "task")].append((p["n_tasks"], p["mean_gain"]))
    fig, ax = plt.subplots(figsize=(7, 4))
    for k, (task, xy) in enumerate(sorted(lines.items())):
        xy = [(0, 0.0), *sorted(xy)]
        ax.plot([x for x, _ in xy], [y for _, y in xy], marker="o",
                color=OKABE_ITO[k % len(OKABE_ITO)], label=task)
    ax.axhline(0, color="grey", linewidth=0.8, linestyle="--")
    ax.set_xlabel("number of intermediate tasks (0 = baseline)")
    ax.set_ylabel("mean Δ zero-shot avg (points)")
    ax.set_xticks(sorted({0} | {p["n_tasks"] for p in points}))
    ax.set_title("Scaling: more intermediate tasks vs gain")
    ax.legend(title="target task", loc="upper left", bbox_to_anchor=(1.01, 1))
    return _png(fig)


def transfer_gap(analysis: dict[str, Any]) -> bytes | None:
    """English score minus the zero-shot average, per configuration and target task."""
    rows = [a for a in analysis["averages"] if a["transfer_gap"] is not None]
    if not rows:
        return None
    multi = several_models(analysis)
    tasks = sorted({a["task"] for a in rows})
    configs = sorted({_series(a, multi) for a in rows},
                     key=lambda c: (not c.endswith(analysis["baseline"]), c))
    width = 0.8 / len(configs)
    fig, ax = plt.subplots(figsize=(2.5 + 1.8 * len(tasks), 4))
    for k, config in enumerate(configs):
        by_task = {a["task"]: a["transfer_gap"] for a in rows if _series(a, multi) == config}
        x = [i + (k - (len(configs) - 1) / 2) * width for i, t in enumerate(tasks)
             if t in by_task]
        ax.bar(x, [by_task[t] for t in tasks if t in by_task], width,
               color=OKABE_ITO[k % len(OKABE_ITO)], label=config)
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xticks(range(len(tasks)), tasks)
    ax.set_xlabel("target task")
    ax.set_ylabel("English − zero-shot avg (points)")
    ax.set_title("Transfer gap (lower is better)")
    ax.legend(title="intermediate", fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    return _png(fig)


DISTANCE_PLOT = "gain_vs_distance"


def gain_vs_distance(analysis: dict[str, Any]) -> bytes | None:
    """One panel per URIEL distance type: each zero-shot language's gain over the baseline
    against its distance from English, one colour per (target task, configuration), ρ in the
    legend (the correlation table has the intervals and the distances to the intermediate
    task's language)."""
    from xstilts.language_distances import DISTANCE_TYPES

    records = [c for c in analysis["correlations"]
               if c["predictor"].startswith("distance_") and c["predictor"].endswith("_en")
               and any(p["value"] is not None for p in c["points"])]
    if not records:
        return None
    multi = several_models(analysis)
    series = sorted({f"{_series(c, multi, 'task')} · {c['config']}" for c in records})
    fig, axes = plt.subplots(2, 3, figsize=(13, 7.5), squeeze=False)
    for ax, kind in zip(axes.flat, DISTANCE_TYPES, strict=True):
        for c in (c for c in records if c["predictor"] == f"distance_{kind}_en"):
            name = f"{_series(c, multi, 'task')} · {c['config']}"
            pts = [p for p in c["points"] if p["value"] is not None]
            rho = "–" if c["rho"] is None else f"{c['rho']:+.2f}"
            ax.scatter([p["value"] for p in pts], [p["gain"] for p in pts], s=18,
                       color=OKABE_ITO[series.index(name) % len(OKABE_ITO)],
                       label=f"ρ {rho}, n={c['n']}")
        ax.axhline(0, color="black", linewidth=0.6)
        ax.set_title(f"{kind} distance from English")
        ax.set_xlabel(f"URIEL {kind} distance (1 − cosine)")
        ax.set_ylabel("Δ vs baseline (points)")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, loc="best", framealpha=0.6)
    handles = [plt.Line2D([], [], marker="o", linestyle="", color=OKABE_ITO[i % len(OKABE_ITO)])
               for i in range(len(series))]
    fig.legend(handles, series, title="target task · intermediate", loc="lower center",
               ncol=min(2, len(series)), fontsize=8, bbox_to_anchor=(0.5, 0))
    fig.suptitle("Per-language zero-shot gain vs URIEL distance from English (Spearman ρ)")
    fig.tight_layout(rect=(0, 0.04 + 0.03 * ((len(series) + 1) // 2), 1, 1))
    return _png(fig)


def all_plots(analysis: dict[str, Any]) -> dict[str, bytes]:
    """Every figure that has data, by name."""
    figures = {"heatmap": heatmap(analysis), "families": family_bars(analysis),
               "scaling": scaling_curve(analysis), "transfer_gap": transfer_gap(analysis),
               DISTANCE_PLOT: gain_vs_distance(analysis)}
    figures.update(generalized_heatmaps(analysis))
    return {name: png for name, png in figures.items() if png is not None}
