"""The one sentence per target task that answers the study's question, with its uncertainty."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from xstilts.report.analysis import BASELINE, CORRECTION_NAMES
from xstilts.report.language_info import label
from xstilts.training.runs import ZERO_SHOT, split_setting


@dataclass(frozen=True)
class Headline:
    model: str
    task: str
    config: str | None
    delta: float | None
    ci_low: float | None
    ci_high: float | None
    p_adj: float | None
    significant: bool | None
    text: str


def signed(value: float | None, digits: int = 1) -> str:
    """"+1.2" / "−0.5" (a real minus sign: it reads better and does not wrap)."""
    if value is None:
        return "n/a"
    rounded = round(value, digits) + 0.0  # + 0.0 turns -0.0 into 0.0: no "−0.0"
    return f"{rounded:+.{digits}f}".replace("-", "−")


def p_text(p: float | None) -> str:
    """Two significant digits below 0.1: p = 0.046 must not read "0.05 — significant"."""
    if p is None:
        return "n/a"
    return "< 0.001" if p < 0.001 else f"= {p:.2g}" if p < 0.1 else f"= {p:.2f}"


def _interval(d: dict[str, Any], confidence: float) -> str:
    if d["ci_low"] is None:
        return "(no interval: one seed and no per-example scores)"
    return (f"[{round(100 * confidence)} % CI {signed(d['ci_low'])}, {signed(d['ci_high'])}]")


def headline_text(d: dict[str, Any], correction: str, confidence: float) -> str:
    """E.g. "Best intermediate for xnli: mix(a+b), +1.2 points zero-shot avg [95 % CI −0.5,
    +2.9], p = 0.21 (Holm) — not significant"."""
    # A translate-setting arm ("none [translate-test]") is a configuration, not an intermediate.
    noun = "intermediate" if split_setting(d["config"])[1] == ZERO_SHOT else "configuration"
    lead = f"Best {noun}" if d["delta"] > 0 else f"No {noun} beats the baseline"
    lead = f"{lead} for {d['task']}" + (":" if d["delta"] > 0 else "; best is")
    verdict = ("no test (no per-example scores)" if d["significant"] is None
               else "significant" if d["significant"] else "not significant")
    p = "p n/a" if d["p_adj"] is None else f"p {p_text(d['p_adj'])} " \
        f"({CORRECTION_NAMES[correction]})"
    return (f"{lead} {d['config']}, {signed(d['delta'])} points zero-shot avg "
            f"{_interval(d, confidence)}, {p} — {verdict}")


def headlines(analysis: dict[str, Any]) -> list[Headline]:
    """Per (model, task): the configuration with the largest zero-shot gain over the baseline."""
    best: dict[tuple[str, str], dict[str, Any]] = {}
    for d in analysis["deltas"]:
        if d["versus"] != BASELINE or d["scope"] != "zero-shot avg" or d["delta"] is None:
            continue
        key = (d["model"], d["task"])
        if key not in best or d["delta"] > best[key]["delta"]:
            best[key] = d
    out = []
    for block in analysis["blocks"]:
        d = best.get((block["model"], block["task"]))
        if d is None:
            text = (f"{block['task']}: no baseline ({BASELINE}) or no other configuration in "
                    "this study, so no gain to report.")
            if not block.get("zero_shot", True):
                text = (f"{block['task']}: evaluated on English only (no zero-shot language), "
                        "so no transfer gain to report.")
            out.append(Headline(block["model"], block["task"], None, None, None, None, None,
                                None, text))
            continue
        out.append(Headline(d["model"], d["task"], d["config"], d["delta"], d["ci_low"],
                            d["ci_high"], d["p_adj"], d["significant"],
                            headline_text(d, analysis["correction"], analysis["confidence"])))
    return out


def majority_warnings(analysis: dict[str, Any], code: str = "`") -> list[str]:
    """One sentence per score (mean over seeds) or zero-shot average below the majority-class
    rate of its test set(s): a model that always answered the most frequent label would have
    done better. ``code`` quotes configuration names (Markdown backticks; "" for HTML)."""
    multi = len({b["model"] for b in analysis.get("blocks", [])}) > 1
    out = []
    for a in analysis.get("averages", []):
        if a.get("zero_shot_below_majority"):
            model = f" ({code}{a['model']}{code})" if multi else ""
            out.append(f"{a['task']}{model}, zero-shot avg, {code}{a['config']}{code}: "
                       f"{a['zero_shot_avg']:.1f} is below the average majority-class rate "
                       f"{a['zero_shot_majority']:.1f} of its test sets")
    for s in analysis.get("scores", []):
        if not s.get("below_majority"):
            continue
        model = f" ({code}{s['model']}{code})" if multi else ""
        out.append(f"{s['task']}{model}, {label(s['language'])}, {code}{s['config']}{code}: "
                   f"accuracy {s['mean']:.1f} is below the majority-class rate "
                   f"{s['majority']:.1f} of that test set (chance {s['chance']:.1f}"
                   + (f", macro-F1 {s['macro_f1']:.1f})" if s.get("macro_f1") is not None
                      else ")"))
    return out
