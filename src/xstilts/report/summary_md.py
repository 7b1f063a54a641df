"""The analysis part of ``summary.md``: headline, significance statements, family table.

Why Markdown too: it pastes into a README or a paper draft; the numbers are the same records
as in the HTML page and ``summary.json``.
"""

from __future__ import annotations

from typing import Any

from xstilts.report.analysis import CORRECTION_NAMES
from xstilts.report.headline import p_text, signed
from xstilts.report.language_info import display_name


def _ci(d: dict[str, Any]) -> str:
    return "–" if d["ci_low"] is None else f"[{signed(d['ci_low'])}, {signed(d['ci_high'])}]"


def _p(d: dict[str, Any]) -> str:
    return "–" if d["p_adj"] is None else p_text(d["p_adj"]).lstrip("= ")


def _statements(analysis: dict[str, Any]) -> list[str]:
    correction = CORRECTION_NAMES[analysis["correction"]]
    lines = []
    for d in analysis["deltas"]:
        if d["scope"] != "zero-shot avg" or d["delta"] is None:
            continue
        verdict = ("no test" if d["significant"] is None
                   else "significant" if d["significant"] else "not significant")
        lines.append(f"- {d['task']}: `{d['config']}` vs `{d['versus']}`: "
                     f"{signed(d['delta'])} points zero-shot avg, 95 % CI {_ci(d)}, "
                     f"p {p_text(d['p_adj'])} ({correction}) — {verdict}.")
    return lines


def _family_rows(analysis: dict[str, Any]) -> list[str]:
    rows = ["| task | family | languages | intermediate | Δ vs baseline | 95 % CI | p (adj.) |",
            "|---|---|---|---|---|---|---|"]
    for d in analysis["deltas"]:
        if d.get("attribute") == "family":
            names = ", ".join(display_name(g) for g in d["languages"])
            rows.append(f"| {d['task']} | {d['group']} | {names} | `{d['config']}` | "
                        f"{signed(d['delta'])} | {_ci(d)} | {_p(d)} |")
    return rows if len(rows) > 2 else []


def _gap_rows(analysis: dict[str, Any]) -> list[str]:
    rows = ["| task | intermediate | English | zero-shot avg | transfer gap |",
            "|---|---|---|---|---|"]
    for a in analysis["averages"]:
        if a["transfer_gap"] is not None:
            rows.append(f"| {a['task']} | `{a['config']}` | {a['english']:.1f} | "
                        f"{a['zero_shot_avg']:.1f} | {a['transfer_gap']:.1f} |")
    return rows if len(rows) > 2 else []


def analysis_markdown(analysis: dict[str, Any]) -> str:
    """Markdown sections appended to ``summary.md``."""
    correction = CORRECTION_NAMES[analysis["correction"]]
    out = ["## Answer", ""] + [f"**{h['text']}**" for h in analysis["headlines"]] + [""]
    statements = _statements(analysis)
    if statements:
        out += ["## Significance (zero-shot average)", "",
                f"Paired sign-flip test on per-example differences (seeds averaged); 95 % "
                f"intervals from a bootstrap over seeds and examples; p-values {correction}-"
                f"corrected within each comparison family, significant at α = "
                f"{analysis['alpha']}.", ""] + statements + [""]
    family = _family_rows(analysis)
    if family:
        out += ["## Per language family (zero-shot languages, macro average; points)", ""]
        out += family + [""]
    gap = _gap_rows(analysis)
    if gap:
        out += ["## Transfer gap (English minus zero-shot average; points)", ""] + gap + [""]
    return "\n".join(out) + "\n"
