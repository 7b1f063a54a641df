"""``report/index.html``: one self-contained page a person can open offline and read.

Why self-contained: reports get mailed, attached to papers' supplementary material and opened
years later; so plots are data URIs, CSS is inline, the only script is a few lines that sort
tables, and nothing is fetched from the network. Every piece of text from the store or the
study passes through :func:`html.escape` (task and config names are user input).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from html import escape
from typing import Any

from xstilts.report.analysis import group_family, several_models
from xstilts.report.baselines import BELOW_MAJORITY
from xstilts.report.headline import majority_warnings, p_text, signed
from xstilts.report.language_info import ATTRIBUTES, ZERO_SHOT_RULE, group_names, label
from xstilts.report.matrix import matrix_key
from xstilts.report.methods import family_lines, family_note, general_lines, protocol_lines
from xstilts.report.plots import data_uri

HEATMAP_CAPTION = "Heatmap: zero-shot gain over the baseline per intermediate configuration " \
                  "and target task"
GENERALIZED_CAPTION = "Generalized cross-lingual matrix (first text in A, second in B)"

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;
max-width:1200px;padding:0 1rem;color:#1a1a1a;line-height:1.45}
h1{font-size:1.7rem}h2{margin-top:2.2rem;border-bottom:1px solid #ccc;padding-bottom:.2rem}
.headline{background:#eef4fb;border-left:5px solid #0072B2;padding:.7rem 1rem;margin:.5rem 0;
font-size:1.08rem}
table{border-collapse:collapse;margin:.6rem 0;font-size:.9rem}
th,td{border:1px solid #ccc;padding:.25rem .55rem;text-align:right}
th{background:#f2f2f2;cursor:pointer;user-select:none}td.l,th.l{text-align:left}
tr:nth-child(even) td{background:#fafafa}figure{margin:1rem 0}figure img{max-width:100%}
figcaption{font-size:.9rem;color:#444}.sig{font-weight:bold}.muted{color:#666;font-size:.9rem}
.warning{background:#fdf1e6;border-left:5px solid #D55E00;padding:.5rem 1rem}
pre{background:#f6f6f6;padding:.8rem;overflow:auto;font-size:.82rem}
"""

_SORT_JS = """
document.querySelectorAll('table.sortable th').forEach(function(th){
 th.addEventListener('click',function(){
  var table=th.closest('table'),body=table.tBodies[0],i=Array.prototype.indexOf.call(
   th.parentNode.children,th),asc=th.dataset.dir!=='asc';th.dataset.dir=asc?'asc':'desc';
  var rows=Array.prototype.slice.call(body.rows);
  rows.sort(function(a,b){var x=a.cells[i].dataset.v||a.cells[i].textContent,
   y=b.cells[i].dataset.v||b.cells[i].textContent,nx=parseFloat(x),ny=parseFloat(y);
   var c=(!isNaN(nx)&&!isNaN(ny))?nx-ny:x.localeCompare(y);return asc?c:-c;});
  rows.forEach(function(r){body.appendChild(r);});});});
"""


def _num(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _cell(value: Any, *, left: bool = False, sort: float | None = None, bold: bool = False) -> str:
    attrs = ' class="l"' if left else ""
    if sort is not None:
        attrs += f' data-v="{sort:.6g}"'
    text = escape(str(value))
    return f"<td{attrs}>{'<b>' + text + '</b>' if bold else text}</td>"


def table(header: Iterable[str], rows: Iterable[str], *, table_id: str = "",
          sortable: bool = True, left: int = 1) -> str:
    """An HTML table from pre-rendered ``<td>`` rows; the first ``left`` columns align left."""
    heads = "".join(f'<th{" class=l" if i < left else ""}>{escape(h)}</th>'
                    for i, h in enumerate(header))
    cls = ' class="sortable"' if sortable else ""
    ident = f' id="{escape(table_id)}"' if table_id else ""
    body = "".join(f"<tr>{r}</tr>" for r in rows)
    return f"<table{ident}{cls}><thead><tr>{heads}</tr></thead><tbody>{body}</tbody></table>"


def _interval(d: dict[str, Any]) -> str:
    if d["ci_low"] is None:
        return "–"
    return f"[{signed(d['ci_low'])}, {signed(d['ci_high'])}]"


def _delta_cells(d: dict[str, Any] | None) -> str:
    if d is None:
        return _cell("–") * 3
    return (_cell(signed(d["delta"]), sort=d["delta"], bold=bool(d["significant"]))
            + _cell(_interval(d)) + _cell(p_text(d["p_adj"]).lstrip("= "),
                                             sort=d["p_adj"]))


def _figure(plots: dict[str, bytes], name: str, caption: str) -> str:
    if name not in plots:
        return f'<p class="muted">No data for this figure ({escape(caption)}).</p>'
    return (f'<figure><img src="{data_uri(plots[name])}" alt="{escape(caption)}">'
            f"<figcaption>{escape(caption)}</figcaption></figure>")


def _model(rec: dict[str, Any], multi: bool) -> str:
    """The model cell, present only when the study compares several encoders."""
    return _cell(rec["model"], left=True) if multi else ""


def _group_table(analysis: dict[str, Any], attribute: str) -> str:
    """Deltas per group of ``attribute`` (family, genus, script, resource level), with the
    group's score and a note on the test and correction family behind its p-values."""
    multi = several_models(analysis)
    scores = {(s["model"], s["task"], s["config"], s["language"]): s["mean"]
              for s in analysis["scores"]}
    rows = []
    for d in analysis["deltas"]:
        if d.get("attribute") != attribute:
            continue
        langs = d["languages"]
        mean = [scores.get((d["model"], d["task"], d["config"], g)) for g in langs]
        avg = sum(mean) / len(mean) if mean and None not in mean else None
        names = group_names(langs)
        rows.append(_model(d, multi) + _cell(d["task"], left=True)
                    + _cell(d["group"], left=True) + _cell(names, left=True)
                    + _cell(d["config"], left=True) + _cell(_num(avg), sort=avg)
                    + _delta_cells(d))
    header = ["model"] * multi + ["task", attribute.replace("_", " "), "languages",
                                  "intermediate", "score (pts)", "Δ vs baseline", "95 % CI",
                                  "p (adj.)"]
    return (table(header, rows, table_id=f"{attribute.replace('_', '-')}-table", left=4 + multi)
            + _note(analysis, group_family(attribute)))


def _note(analysis: dict[str, Any], family: str) -> str:
    if not any(d["family"] == family for d in analysis["deltas"]):
        return ""
    return f'<p class="muted">Test: {escape(family_note(analysis, family))}</p>'


def _other_groups(analysis: dict[str, Any]) -> str:
    return "".join(f'<h3 id="{a.replace("_", "-")}">Per {a.replace("_", " ")}</h3>'
                   + _group_table(analysis, a) for a in ATTRIBUTES if a != "family")


def _reference_cells(s: dict[str, Any]) -> str:
    """Majority class / chance of the test set and macro-F1 (imbalanced test sets only)."""
    if s.get("majority") is None:
        return _cell("–") + _cell("–")
    f1 = s["macro_f1"] if s["imbalanced"] else None
    return (_cell(f"{s['majority']:.1f} / {s['chance']:.1f}", sort=s["majority"])
            + _cell(_num(f1), sort=f1))


def _language_table(analysis: dict[str, Any]) -> str:
    multi = several_models(analysis)
    deltas = {(d["model"], d["task"], d["config"], d["scope"]): d for d in analysis["deltas"]
              if d["family"] == "vs baseline: per language"}
    rows = []
    for s in sorted(analysis["scores"],
                    key=lambda s: (s["model"], s["task"], s["language"], s["config"])):
        spread = "" if s["std"] is None else f" ± {s['std']:.1f}"
        flag = f" {BELOW_MAJORITY}" if s.get("below_majority") else ""
        rows.append(_model(s, multi) + _cell(s["task"], left=True)
                    + _cell(label(s["language"]), left=True) + _cell(s["config"], left=True)
                    + _cell(f"{s['mean']:.1f}{spread}{flag}", sort=s["mean"])
                    + _reference_cells(s) + _cell(s["seeds"])
                    + _cell(s["n"]) + _delta_cells(deltas.get((s["model"], s["task"],
                                                                 s["config"], s["language"]))))
    header = ["model"] * multi + ["task", "language", "intermediate",
                                  "score (pts, mean ± sd over seeds)",
                                  "majority class / chance (pts)", "macro-F1 (pts)", "seeds",
                                  "examples", "Δ vs baseline", "95 % CI", "p (adj.)"]
    legend = ""
    if any(s.get("majority") is not None for s in analysis["scores"]):
        legend = f'<p class="muted">{escape(analysis["reference_legend"])}</p>'
    return (table(header, rows, table_id="language-table", left=3 + multi) + legend
            + _note(analysis, "vs baseline: per language"))


def _summary_tables(analysis: dict[str, Any]) -> str:
    multi = several_models(analysis)
    avg_rows = [_model(a, multi) + _cell(a["task"], left=True) + _cell(a["config"], left=True)
                + _cell(_num(a["avg"]), sort=a["avg"])
                + _cell(_num(a["zero_shot_avg"])
                        + (f" {BELOW_MAJORITY}" if a.get("zero_shot_below_majority") else ""),
                        sort=a["zero_shot_avg"])
                + _cell(_num(a.get("zero_shot_majority")), sort=a.get("zero_shot_majority"))
                + _cell(_num(a["zero_shot_std"])) + _cell(_num(a["english"]))
                + _cell(_num(a["transfer_gap"]), sort=a["transfer_gap"])
                for a in analysis["averages"]]
    overall = [_model(o, multi) + _cell(o["config"], left=True)
               + _cell(_num(o["score"]), sort=o["score"]) + _cell(o["categories"])
               for o in analysis["overall"]]
    cats = [_model(c, multi) + _cell(c["category"], left=True) + _cell(c["config"], left=True)
            + _cell(_num(c["score"]), sort=c["score"]) for c in analysis["categories"]]
    model = ["model"] * multi
    return (table([*model, "task", "intermediate", "avg", "zero-shot avg",
                   "majority class (zero-shot avg)", "sd over seeds", "English",
                   "transfer gap"], avg_rows, table_id="averages-table",
                  left=2 + multi)
            + "<h3>Benchmark categories and XTREME-R style overall score</h3>"
            + table([*model, "category", "intermediate", "zero-shot avg (pts)"], cats,
                    left=2 + multi)
            + table([*model, "intermediate", "overall (mean of category means)", "categories"],
                    overall, left=1 + multi))


def _comparisons(analysis: dict[str, Any]) -> str:
    multi = several_models(analysis)
    rows = [_model(d, multi) + _cell(d["task"], left=True) + _cell(d["config"], left=True)
            + _cell(d["versus"], left=True) + _delta_cells(d) + _cell(d["method"], left=True)
            for d in analysis["deltas"] if d["scope"] == "zero-shot avg"]
    return (table(["model"] * multi + ["task", "configuration A", "configuration B",
                                       "Δ A − B (pts)", "95 % CI", "p (adj.)", "method"],
                  rows, left=3 + multi)
            + _note(analysis, "vs baseline: zero-shot avg")
            + _note(analysis, "between configurations: zero-shot avg"))


def _correlation_table(analysis: dict[str, Any]) -> str:
    multi = several_models(analysis)
    rows = [_model(c, multi) + _cell(c["task"], left=True) + _cell(c["config"], left=True)
            + _cell(c["predictor"].replace("_", " "), left=True)
            + _cell(_num(c["rho"], 2), sort=c["rho"])
            + _cell("–" if c.get("ci_low") is None
                    else f"[{c['ci_low']:+.2f}, {c['ci_high']:+.2f}]")
            + _cell(_num(c["p"], 3)) + _cell(c["n"])
            for c in analysis["correlations"]]
    return table(["model"] * multi + ["task", "intermediate", "predictor", "Spearman ρ",
                                      f"{analysis['confidence']:.0%} bootstrap CI",
                                      "p (uncorrected)", "languages"], rows, left=3 + multi)


def _scaling_table(analysis: dict[str, Any]) -> str:
    multi = several_models(analysis)
    rows = [_model(s, multi) + _cell(s["task"], left=True) + _cell(s["family"], left=True)
            + _cell(s["n_tasks"]) + _cell(signed(s["mean_gain"]), sort=s["mean_gain"])
            + _cell(", ".join(s["configs"]), left=True) for s in analysis["scaling"]]
    return table(["model"] * multi + ["task", "languages", "intermediate tasks",
                                      "mean Δ (pts)", "configurations"], rows, left=2 + multi)


def _matrix_table(m: dict[str, Any]) -> str:
    rows = [_cell(label(a), left=True) + "".join(_cell(_num(v), sort=v) for v in values)
            for a, values in zip(m["first"], m["values"], strict=True)]
    return table([f"{m['metric']}: first \\ second", *m["second"]], rows, sortable=False)


def _generalized(analysis: dict[str, Any], plots: dict[str, bytes]) -> str:
    """Heatmap and tables of the A×B matrices; nothing when the study has none."""
    matrices = analysis.get("generalized", [])
    if not matrices:
        return ""
    parts = ['<h2 id="generalized">Generalized cross-lingual evaluation</h2>',
             '<p class="muted">First text in language A (rows), second in B (columns), '
             "points, mean over seeds; the diagonal is the ordinary evaluation of A.</p>"]
    for key in dict.fromkeys(matrix_key(m) for m in matrices):
        group = [m for m in matrices if matrix_key(m) == key]
        head = group[0]
        parts.append(f"<h3>{escape(head['task'])} ({escape(head['split'])}), model "
                     f"{escape(head['model'])}</h3>")
        parts.append(_figure(plots, key, f"{GENERALIZED_CAPTION}: {head['task']}"))
        for m in group:
            parts.append(f"<p>{escape(m['config'])}: same-language mean {_num(m['diagonal'])}, "
                         f"mixed-language mean {_num(m['off_diagonal'])}</p>" + _matrix_table(m))
    return "".join(parts)


def _methods(analysis: dict[str, Any]) -> str:
    items = [
        f"Scores are in points (metric × 100), mean over seeds; {analysis['confidence']:.0%} "
        "intervals from a two-level bootstrap (seeds, then examples within each language, "
        f"paired across configurations; {analysis['resamples']} resamples).",
        *general_lines(analysis),
        "Bold deltas are significant after correction.",
        "Per-example scores (from each task type's handler): correctness for accuracy-type "
        "metrics, per-question F1/EM for QA (under the task's own rules), for token accuracy "
        "each sentence's correct tokens weighted by sentences / tokens; per-sentence counts for "
        "entity and span F1 (a ratio of corpus sums, recomputed from resampled or swapped "
        "sentences); each example's (gold, predicted) pair for correlations (recomputed over "
        "resampled or swapped pairs); a metric none of these reproduces gets a seed-only "
        "interval and no test.",
        *analysis.get("metric_notes", []),
        *protocol_lines(analysis),
        analysis.get("zero_shot_rule", ZERO_SHOT_RULE) + " Language groups leave English out "
        "too. Distances are URIEL's (genetic, geographic, syntactic, inventory, phonological, "
        "featural; 1 − cosine of the two languages' URIEL+ vectors over the features both "
        "have; empty when unclassified), to English and to the intermediate task's language "
        "(a mix: the mean over its tasks' languages); 'typological distance' is the coarse "
        "count of {different family, different genus, different script} (0–3). Correlation "
        "intervals: percentile bootstrap over languages.",
    ]
    families = "".join(f"<li>{escape(line)}</li>" for line in family_lines(analysis))
    return ("<ul>" + "".join(f"<li>{escape(i)}</li>" for i in items) + "</ul>"
            + (f"<h3>Tests and correction families</h3><ul>{families}</ul>" if families else ""))


def _environment(env: dict[str, Any], runs: list[dict[str, Any]]) -> str:
    rows = [_cell(k, left=True) + _cell(json.dumps(v) if isinstance(v, dict | list) else v,
                                        left=True) for k, v in env.items()]
    run_rows = [_cell(r["id"], left=True) + _cell(r["kind"], left=True)
                + _cell(r["intermediate"], left=True) + _cell(r["task"], left=True)
                + _cell(r["seed"]) + _cell(r["status"], left=True)
                + _cell(_num(r["wall_seconds"]), sort=r["wall_seconds"]) for r in runs]
    return (table(["item", "value"], rows, sortable=False)
            + "<h3>Runs</h3>" + table(["run", "kind", "intermediate", "task", "seed", "status",
                                       "seconds"], run_rows, table_id="runs-table", left=4))


def render_html(analysis: dict[str, Any], plots: dict[str, bytes], spec: dict[str, Any] | None,
                env: dict[str, Any], runs: list[dict[str, Any]], title: str) -> str:
    """The whole page as a string."""
    heads = "".join(f'<p class="headline">{escape(h["text"])}</p>'
                    for h in analysis["headlines"]) or "<p>No finished target runs yet.</p>"
    warnings = majority_warnings(analysis, code="")
    if warnings:
        heads += (f'<p class="warning">{BELOW_MAJORITY} Scores below the majority class of '
                  "their test set:</p><ul>" + "".join(f"<li>{escape(w)}</li>" for w in warnings)
                  + "</ul>")
    spec_text = json.dumps(spec, indent=2, ensure_ascii=False) if spec else "(not found)"
    about = (spec or {}).get("description", "").strip()
    parts = [
        f"<h1>{escape(title)}</h1>",
        *([f'<p class="description">{escape(about)}</p>'] if about else []),
        '<h2 id="answer">Answer</h2>', heads,
        '<h2 id="heatmap">Gains over the baseline</h2>',
        _figure(plots, "heatmap", HEATMAP_CAPTION),
        "<h2>Averages and transfer gap</h2>", _summary_tables(analysis),
        _figure(plots, "transfer_gap", "Transfer gap: English score minus zero-shot average "
                                       "(points) per configuration"),
        '<h2 id="families">Per language family</h2>', _group_table(analysis, "family"),
        _figure(plots, "families", "Gain over the baseline per language family, with 95 % "
                                   "confidence intervals"),
        '<h2 id="groups">Per genus, script and resource level</h2>', _other_groups(analysis),
        '<h2 id="languages">Per language</h2>',
        '<p class="muted">Click a column header to sort.</p>', _language_table(analysis),
        "<h2>All comparisons (zero-shot average)</h2>", _comparisons(analysis),
        _generalized(analysis, plots),
        "<h2>Scaling: number of intermediate tasks</h2>",
        _figure(plots, "scaling", "Scaling curve: number of intermediate tasks vs mean zero-shot "
                                  "gain (points)"), _scaling_table(analysis),
        '<h2 id="distances">Which languages gain? (Spearman correlations of per-language '
        "gains)</h2>",
        _figure(plots, "gain_vs_distance", "Per-language zero-shot gain over the baseline vs "
                                           "URIEL distance from English"),
        _correlation_table(analysis), "<h2>Methods</h2>", _methods(analysis),
        "<h2>Study specification</h2>", f"<pre>{escape(spec_text)}</pre>",
        "<h2>Environment</h2>", _environment(env, runs),
    ]
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1">'
            f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>"
            + "\n".join(parts) + f"<script>{_SORT_JS}</script></body></html>\n")
