"""The analysis part of ``summary.md``: headline, significance statements, group tables.

Why Markdown too: it pastes into a README or a paper draft; the numbers are the same records
as in the HTML page and ``summary.json``.
"""

from __future__ import annotations

from typing import Any

from xstilts.report.analysis import CORRECTION_NAMES, group_family, several_models
from xstilts.report.baselines import BELOW_MAJORITY
from xstilts.report.headline import majority_warnings, p_text, signed
from xstilts.report.language_info import ATTRIBUTES, group_names
from xstilts.report.matrix import matrix_markdown
from xstilts.report.methods import family_lines, family_note, general_lines, protocol_lines


def _ci(d: dict[str, Any]) -> str:
    return "–" if d["ci_low"] is None else f"[{signed(d['ci_low'])}, {signed(d['ci_high'])}]"


def _p(d: dict[str, Any]) -> str:
    return "–" if d["p_adj"] is None else p_text(d["p_adj"]).lstrip("= ")


def _statements(analysis: dict[str, Any]) -> list[str]:
    correction = CORRECTION_NAMES[analysis["correction"]]
    multi = several_models(analysis)
    lines = []
    for d in analysis["deltas"]:
        if d["scope"] != "zero-shot avg" or d["delta"] is None:
            continue
        verdict = ("no test" if d["significant"] is None
                   else "significant" if d["significant"] else "not significant")
        model = f" (`{d['model']}`)" if multi else ""
        lines.append(f"- {d['task']}{model}: `{d['config']}` vs `{d['versus']}`: "
                     f"{signed(d['delta'])} points zero-shot avg, 95 % CI {_ci(d)}, "
                     f"p {p_text(d['p_adj'])} ({correction}) — {verdict}.")
    return lines


def _group_rows(analysis: dict[str, Any], attribute: str) -> list[str]:
    """One row per (model, task, group, configuration) of one grouping, e.g. family."""
    multi = several_models(analysis)
    head = ["model"] * multi + ["task", attribute.replace("_", " "), "languages",
                                "intermediate", "Δ vs baseline", "95 % CI", "p (adj.)"]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for d in analysis["deltas"]:
        if d.get("attribute") == attribute:
            names = group_names(d["languages"])
            model = [f"`{d['model']}`"] * multi
            rows.append("| " + " | ".join([*model, d["task"], d["group"], names,
                                           f"`{d['config']}`", signed(d["delta"]), _ci(d),
                                           _p(d)]) + " |")
    return rows if len(rows) > 2 else []


def _gap_rows(analysis: dict[str, Any]) -> list[str]:
    multi = several_models(analysis)
    head = ["model"] * multi + ["task", "intermediate", "English", "zero-shot avg",
                                "transfer gap"]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for a in analysis["averages"]:
        if a["transfer_gap"] is not None:
            rows.append("| " + " | ".join([*[f"`{a['model']}`"] * multi, a["task"],
                                           f"`{a['config']}`", f"{a['english']:.1f}",
                                           f"{a['zero_shot_avg']:.1f}",
                                           f"{a['transfer_gap']:.1f}"]) + " |")
    return rows if len(rows) > 2 else []


def _generalized(analysis: dict[str, Any]) -> list[str]:
    out = []
    for m in analysis.get("generalized", []):
        out += [f"### {m['task']} ({m['split']}) · `{m['config']}` · model `{m['model']}`", "",
                f"Rows: language of the first text; columns: of the second; mean over "
                f"{m['seeds']} seed(s). Same-language (diagonal) mean "
                f"{_num(m['diagonal'])}, mixed-language mean {_num(m['off_diagonal'])}.", "",
                matrix_markdown(m), ""]
    return (["## Generalized cross-lingual evaluation (first text in A, second in B)", ""]
            + out) if out else []


def _num(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


DISTANCE_PLOT_FILE = "gain_vs_distance.png"


def _distance_rows(analysis: dict[str, Any]) -> list[str]:
    """Spearman ρ of per-language gains with resource level and each URIEL distance."""
    rows = [c for c in analysis.get("correlations", []) if c["rho"] is not None]
    if not rows:
        return []
    level = round(100 * analysis["confidence"])
    out = [f"| task | intermediate | predictor | Spearman ρ | {level} % CI | p | languages |",
           "|---|---|---|---|---|---|---|"]
    for c in rows:
        ci = "–" if c["ci_low"] is None else f"[{c['ci_low']:+.2f}, {c['ci_high']:+.2f}]"
        out.append(f"| {c['task']} | {c['config']} | {c['predictor']} | {c['rho']:+.2f} | "
                   f"{ci} | {c['p']:.3f} | {c['n']} |")
    return out


def analysis_markdown(analysis: dict[str, Any]) -> str:
    """Markdown sections appended to ``summary.md``."""
    out = ["## Answer", ""] + [f"**{h['text']}**" for h in analysis["headlines"]] + [""]
    notes = [f"Metric: {note}" for note in analysis.get("metric_notes", [])]
    notes += protocol_lines(analysis)  # how each choice-leaving task was scored
    out += [f"- {note}" for note in notes] + ([""] if notes else [])
    warnings = majority_warnings(analysis)
    if warnings:
        out += [f"## Scores below the majority class ({BELOW_MAJORITY})", "",
                analysis["reference_legend"], ""] + [f"- {w}" for w in warnings] + [""]
    statements = _statements(analysis)
    if statements:
        widened = any(d.get("seed_ci") for d in analysis["deltas"])
        out += ["## Significance (zero-shot average)", "",
                f"{round(100 * analysis['confidence'])} % intervals from a bootstrap over "
                "seeds and examples" + (", widened to the t-interval over seeds where that is "
                                        "wider (see Seeds below)." if widened else "."), ""]
        for line in general_lines(analysis):
            out += [line, ""]
        out += statements + [""]
    for attribute in ATTRIBUTES:
        rows = _group_rows(analysis, attribute)
        if rows:
            note = family_note(analysis, group_family(attribute))
            out += [f"## Per language {attribute.replace('_', ' ')} (zero-shot languages, "
                    "macro average; points)", "", f"Test: {note}", ""] + rows + [""]
    gap = _gap_rows(analysis)
    if gap:
        out += ["## Transfer gap (English minus zero-shot average; points)", ""] + gap + [""]
    out += _generalized(analysis)
    distance_rows = _distance_rows(analysis)
    if distance_rows:
        out += ["## Gain vs language distance (Spearman, per-language zero-shot gains)", "",
                "Distances are URIEL's (1 − cosine of the URIEL+ vectors over the features "
                "both languages have), to English (`_en`) and to the intermediate task's "
                "language (`_intermediate`, shown when that is not English; a mix: the "
                "mean over its tasks); intervals: "
                "percentile bootstrap over languages; unclassified languages are left out of "
                "that predictor's ρ.", "", f"![gain vs distance]({DISTANCE_PLOT_FILE})", ""]
        out += distance_rows + [""]
    lines = family_lines(analysis)
    if lines:
        out += ["## Tests and correction families", ""] + [f"- {line}" for line in lines] + [""]
    return "\n".join(out) + "\n"
