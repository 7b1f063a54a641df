"""Write the report files: ``results.csv`` + ``results.parquet``, ``summary.md``,
``summary.json`` and the self-contained ``index.html`` under ``OUT/report``.

Averages are macro averages over languages (each language weighs the same); the zero-shot
average leaves out English, the training language, by the one rule of
:func:`xstilts.report.language_info.zero_shot_languages`; seeds are averaged and their spread
shown. Classification-type scores get their test set's majority-class and chance rates
(:mod:`xstilts.report.baselines`). The statistics behind the deltas are in
:mod:`xstilts.report.analysis`.
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from xstilts.errors import XstiltsError
from xstilts.integrity import atomic_write_bytes, atomic_write_text
from xstilts.prediction_files import RecordCache
from xstilts.report.aggregate import SeedTable
from xstilts.report.baselines import (
    ACCURACY,
    BELOW_MAJORITY,
    LEGEND,
    References,
    below_majority,
    load_references,
    mean_majority,
)
from xstilts.report.language_info import (
    DISTANCE_COLUMNS,
    ZERO_SHOT_RULE,
    display_name,
    distance_fields,
    is_english,
    zero_shot_languages,
)
from xstilts.report.matrix import is_generalized
from xstilts.report.results import RESULT_COLUMNS, collect_results, run_table
from xstilts.training.runs import NO_INTERMEDIATE, baseline_first

BASELINE = NO_INTERMEDIATE  # the arm without phase 2, as the planner labels it
FORMATS = ("html", "md", "csv", "json")


def write_report(out_dir: Path, study: str | None = None,
                 formats: Iterable[str] = FORMATS, *, correction: str = "holm",
                 resamples: int = 1000, permutations: int = 100_000) -> Path:
    """Write the report files in ``formats`` under ``OUT/report`` and return that folder.

    ``resamples``: bootstrap draws of each interval; ``permutations``: random sign patterns of
    a sign-flip test whose p is not computed exactly (smallest reachable p = 1/(B+1)).
    """
    formats = set(formats)
    if unknown := formats - set(FORMATS):
        raise XstiltsError(f"unknown report format(s) {', '.join(sorted(unknown))}; "
                           f"use some of {','.join(FORMATS)}")
    rows = collect_results(out_dir, study)
    runs = run_table(out_dir, study)
    report_dir = out_dir / "report"
    report_dir.mkdir(parents=True, exist_ok=True)
    if "csv" in formats:
        with_distances = _with_distances(rows)
        _write_csv(with_distances, report_dir / "results.csv")
        _write_parquet(with_distances, report_dir / "results.parquet")
    analysis = None
    references = References()
    if formats & {"html", "md", "json"}:
        from xstilts.report.analysis import analyse_rows
        from xstilts.report.comparisons import load_example_scores

        read = RecordCache()  # both read the prediction files: once
        references = load_references(out_dir, rows, read)
        analysis = analyse_rows(rows, load_example_scores(out_dir, rows, read),
                                references=references, correction=correction,
                                resamples=resamples, permutations=permutations)
        analysis["study"] = study
        from xstilts.report.methods import pair_encoding_lines, retrieval_protocol_lines

        analysis["retrieval_protocols"] = retrieval_protocol_lines(runs)
        analysis["pair_encodings"] = pair_encoding_lines(runs)
    spec = _study_spec(out_dir, study)
    figures = None
    if "html" in formats:  # drawn once: summary.md's figure file is the page's same figure
        from xstilts.report.plots import all_plots

        figures = all_plots(analysis)
    if "md" in formats:
        text = render_summary(rows, runs, (spec or {}).get("description", ""), references)
        if analysis is not None:
            from xstilts.report.summary_md import analysis_markdown

            text = text.rstrip("\n") + "\n\n" + analysis_markdown(analysis)
            _write_distance_plot(analysis, report_dir, figures)
        _atomic_write(report_dir / "summary.md", text)
    if "json" in formats or "html" in formats:
        from xstilts.report.environment import environment

        env = environment(runs)
    if "json" in formats:
        _atomic_write(report_dir / "summary.json",
                      json.dumps({**analysis, "environment": env}, indent=2, default=str))
    if "html" in formats:
        _write_html(out_dir, study, spec, analysis, env, runs, figures or {},
                    report_dir / "index.html")
    return report_dir


def _write_distance_plot(analysis: dict[str, Any], report_dir: Path,
                         figures: dict[str, bytes] | None) -> None:
    """The gain-vs-distance figure as a file next to summary.md, which links it (taken from
    the page's ``figures`` where those are drawn)."""
    from xstilts.report.plots import DISTANCE_PLOT, gain_vs_distance
    from xstilts.report.summary_md import DISTANCE_PLOT_FILE

    png = figures.get(DISTANCE_PLOT) if figures is not None else gain_vs_distance(analysis)
    if png is not None:
        atomic_write_bytes(report_dir / DISTANCE_PLOT_FILE, png, fault="report.write")


def _atomic_write(path: Path, text: str) -> None:
    """The whole file or the previous one (never half of it); a full disk names the path."""
    atomic_write_text(path, text, fault="report.write")


def _study_spec(out_dir: Path, study: str | None) -> dict[str, Any] | None:
    """The study's validated spec as written by the executor (the only study if none named)."""
    files = sorted((out_dir / "studies").glob("*.json"))
    if study:
        files = [f for f in files if f.stem == study]
    if len(files) != 1:
        return None
    return json.loads(files[0].read_text(encoding="utf-8"))


def _write_html(out_dir: Path, study: str | None, spec: dict[str, Any] | None,
                analysis: dict[str, Any], env: dict[str, Any], runs: list[dict[str, Any]],
                figures: dict[str, bytes], path: Path) -> None:
    from xstilts.report.html import render_html

    name = study or (spec or {}).get("name") or out_dir.name
    _atomic_write(path, render_html(analysis, figures, spec, env, runs,
                                    f"xstilts report: {name}"))


TABLE_COLUMNS = RESULT_COLUMNS + DISTANCE_COLUMNS


def _table_key(row: dict[str, Any]) -> tuple[Any, ...]:
    """The results table's row order: by study, model, task, split, metric, configuration,
    seed, language. Not the order runs finished in, which differs between a resumed, an
    in-process and a Ray study of the same runs: the same results give the same file."""
    return (row["study"], row["model"], row["target_task"], row["split"], row["metric"],
            *baseline_first(row["intermediate"]), row["seed"], row["language"])


def _with_distances(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each row with the URIEL distances of its language to English and to its intermediate
    task's language (empty cells: unclassified), so that the table stays flat; in
    :func:`_table_key` order."""
    return [{**r, **distance_fields(r["language"], r["intermediate"])}
            for r in sorted(rows, key=_table_key)]


def _write_parquet(rows: list[dict[str, Any]], path: Path) -> None:
    """The results table for pandas/polars/R users, with explicit column types."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    types = {"value": pa.float64(), "ci_low": pa.float64(), "ci_high": pa.float64(),
             "n": pa.int64(), "seed": pa.int64(), **dict.fromkeys(DISTANCE_COLUMNS, pa.float64())}
    schema = pa.schema([(c, types.get(c, pa.string())) for c in TABLE_COLUMNS])
    data = {c: [r[c] for r in rows] for c in TABLE_COLUMNS}
    buffer = pa.BufferOutputStream()
    pq.write_table(pa.table(data, schema=schema), buffer)
    atomic_write_bytes(path, buffer.getvalue().to_pybytes(), fault="report.write")


def _write_csv(rows: list[dict[str, Any]], path: Path) -> None:
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=TABLE_COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(path, text.getvalue(), fault="report.write")


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}"


def render_summary(rows: list[dict[str, Any]], runs: list[dict[str, Any]],
                   description: str = "", references: References | None = None) -> str:
    """Markdown: per (study, model, task, metric) a per-language table and deltas vs baseline.

    ``description`` is the study's own text (its scale, its caveats), printed first so the
    numbers below are read with it; ``references``: majority-class and chance rates and
    macro-F1 of classification-type test sets (none shown if omitted).
    """
    refs = references or References()
    lines = ["# xstilts report", ""]
    if description.strip():
        lines += [description.strip(), ""]
    if not rows:
        lines += ["No finished target runs yet.", ""]
    groups: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        if is_generalized(row):  # an A×B matrix, in the analysis part
            continue
        groups[(row["study"], row["model"], row["target_task"], row["metric"],
                row["split"])].append(row)
    for (study, model, task, metric, split), group in groups.items():
        lines += _task_section(study, model, task, metric, split, group, refs)
    lines += _runs_section(runs)
    return "\n".join(lines) + "\n"


def _task_section(study: str, model: str, task: str, metric: str, split: str,
                  group: list[dict[str, Any]], refs: References) -> list[str]:
    languages = sorted({r["language"] for r in group}, key=lambda c: (not is_english(c), c))
    configs = sorted({r["intermediate"] for r in group}, key=baseline_first)
    table = SeedTable()  # fractions; the same averages as the analysis (report.aggregate)
    for r in group:
        table.add(r["intermediate"], r["language"], r["seed"], r["value"])
    zero_shot = zero_shot_languages(languages)
    mean, avg = table.score, table.average

    def spread(config: str, langs: list[str]) -> str:
        """Average over languages, with the standard deviation of that average over seeds."""
        std = table.seed_std(config, langs)
        return _pct(avg(config, langs)) + ("" if std is None else f" ± {100 * std:.1f}")

    n_examples = {r["language"]: r["n"] for r in group}
    out = [
        f"## {task} — {metric} (%, {split} split) · study `{study}` · model `{model}`",
        "",
        "Rows: intermediate task (`none` = baseline, no phase 2). Columns: evaluation "
        "language (n examples); `avg` = macro average over all languages, `zero-shot avg` = "
        "over the zero-shot languages. Mean over seeds; ± is the standard deviation "
        "of the average over seeds. " + ZERO_SHOT_RULE,
        "",
    ]
    header = ["intermediate", "seeds"] + [
        f"{display_name(lang)} ({lang}, n={n_examples[lang]})" for lang in languages
    ] + ["avg", "zero-shot avg"]
    out += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    rated = metric == ACCURACY and any(refs.rates_for(task, split, g) for g in languages)
    for config in configs:
        cells = [f"`{config}`", str(len(table.seeds(config)))]
        cells += [_pct(mean(config, lang)) + _flag(mean(config, lang), refs, task, split, lang)
                  if rated else _pct(mean(config, lang)) for lang in languages]
        for langs in (languages, zero_shot):
            low = rated and _below(avg(config, langs), mean_majority(refs, task, split, langs))
            cells.append(spread(config, langs) + (f" {BELOW_MAJORITY}" if low else ""))
        out.append("| " + " | ".join(cells) + " |")
    if rated:
        out += _reference_rows(refs, model, task, split, languages, zero_shot, configs)
        out += ["", LEGEND]
    out.append("")
    if BASELINE in table.values and len(configs) > 1:
        out += [f"### Delta vs baseline (points; {task}, {metric})", ""]
        out += ["| " + " | ".join(["intermediate"] + languages + ["avg", "zero-shot avg"]) + " |",
                "|" + "---|" * (len(languages) + 3)]
        for config in configs[1:]:
            cells = [f"`{config}`"]
            for langs in [[lang] for lang in languages] + [languages, zero_shot]:
                delta = table.delta(config, BASELINE, langs)
                cells.append("–" if delta is None else f"{100 * delta:+.1f}")
            out.append("| " + " | ".join(cells) + " |")
        out += ["", "Per-language 95 % bootstrap intervals are in results.csv "
                "(ci_low, ci_high); a delta smaller than those intervals is not evidence.", ""]
    return out


def _below(value: float | None, reference: float | None) -> bool:
    return value is not None and reference is not None and value < reference - 1e-12


def _flag(value: float | None, refs: References, task: str, split: str, lang: str) -> str:
    return f" {BELOW_MAJORITY}" if below_majority(value, refs.rates_for(task, split, lang)) \
        else ""


def _reference_rows(refs: References, model: str, task: str, split: str, languages: list[str],
                    zero_shot: list[str], configs: list[str]) -> list[str]:
    """Macro-F1 rows (imbalanced test sets only), then majority-class and chance rows."""
    rates = {g: refs.rates_for(task, split, g) for g in languages}
    out = []
    if any(r is not None and r.imbalanced for r in rates.values()):
        for config in configs:
            cells = [f"`{config}` macro-F1", ""]
            cells += [_pct(refs.macro_f1_mean(model, config, task, split, g))
                      if rates[g] is not None and rates[g].imbalanced else "·"
                      for g in languages]
            out.append("| " + " | ".join(cells + ["", ""]) + " |")
    for name, attr in (("majority class", "majority"), ("chance (1/k)", "chance")):
        cells = [name, ""] + [_pct(None if rates[g] is None else getattr(rates[g], attr))
                              for g in languages]
        if attr == "majority":
            cells += [_pct(mean_majority(refs, task, split, langs))
                      for langs in (languages, zero_shot)]
        else:
            cells += ["", ""]
        out.append("| " + " | ".join(cells) + " |")
    return out


def _runs_section(runs: list[dict[str, Any]]) -> list[str]:
    counts: dict[str, int] = defaultdict(int)
    for run in runs:
        counts[run["status"]] += 1
    total_wall = sum(run["wall_seconds"] or 0 for run in runs)
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    lines = ["## Runs", "", f"{len(runs)} runs ({summary}); {total_wall:.0f} s of run time.", ""]
    lines += ["| run | kind | intermediate | task | seed | status | seconds |",
              "|---|---|---|---|---|---|---|"]
    for run in runs:
        seconds = f"{run['wall_seconds']:.0f}" if run["wall_seconds"] else "–"
        lines.append(f"| `{run['id']}` | {run['kind']} | {run['intermediate']} | {run['task']} "
                     f"| {run['seed']} | {run['status']} | {seconds} |")
    failed = [r for r in runs if r["status"] == "failed"]
    for run in failed:
        lines += ["", f"- `{run['id']}` failed: {run['error']}"]
    return lines + [""]
