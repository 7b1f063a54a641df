"""The ``xstilts`` command: run studies, write reports, list tasks and models."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from xstilts.errors import XstiltsError

app = typer.Typer(
    help="Zero-shot cross-lingual transfer studies with intermediate-task training.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True, soft_wrap=True)
stdout = Console(soft_wrap=True)

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", envvar="XSTILTS_DATA_DIR",
                 help="Folder in the XTREME download/ layout (env: XSTILTS_DATA_DIR)."),
]


@app.callback()
def _quiet_libraries() -> None:
    """Keep the output to xstilts' own progress: no per-load bars from transformers."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()


def _fail(err: Exception) -> None:
    console.print(f"[bold red]error:[/] {err}", markup=True, highlight=False)
    raise typer.Exit(code=2)


@app.command()
def run(
    study: Annotated[Path, typer.Argument(help="Study YAML file.")],
    data_dir: DataDir = None,
    out: Annotated[Path, typer.Option("--out", help="Output folder (shared between studies).")]
    = Path("xstilts-out"),
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan, run nothing.")]
    = False,
) -> None:
    """Run a study: phase 2, phase 3 and zero-shot evaluation; then write the report."""
    from xstilts.report.summary import write_report
    from xstilts.studies.executor import run_study
    from xstilts.studies.planner import check_study, plan_study
    from xstilts.studies.spec import load_study
    from xstilts.studies.store import ResultStore

    try:
        spec = load_study(study)
        if dry_run:
            check_study(spec, study, data_dir)
            plan = plan_study(spec)
            done = set()
            if (out / "xstilts.sqlite").is_file():
                store = ResultStore(out)
                done = {r.id for r in plan.runs if store.status(r.id) == "done"}
                store.close()
            n_inter = len(plan.intermediate_runs)
            stdout.print(
                f"plan of study {spec.name}: {len(plan.runs)} runs ({n_inter} intermediate, "
                f"{len(plan.target_runs)} target); {len(done)} done, "
                f"{len(plan.runs) - len(done)} to run", highlight=False,
            )
            for r in plan.runs:
                after = f"after {r.parent}" if r.parent else f"on {r.encoder}"
                state = "done" if r.id in done else "pending"
                stdout.print(f"  {r.id}  {r.kind:<12} {r.intermediate} → {r.task}  "
                             f"seed {r.seed}  {after}  {state}", highlight=False)
            return
        outcome = run_study(spec, out, data_dir=data_dir, study_path=study,
                            log=lambda m: console.print(m, highlight=False, markup=False))
        report_dir = write_report(out, spec.name)
    except XstiltsError as err:
        _fail(err)
        return
    console.print(
        f"{len(outcome.done)} run(s) done, {len(outcome.reused)} reused, "
        f"{len(outcome.failed)} failed, {len(outcome.skipped)} skipped.", highlight=False,
    )
    stdout.print(f"Report: {report_dir / 'summary.md'} (table: {report_dir / 'results.csv'})",
                 highlight=False)
    if outcome.failed:
        raise typer.Exit(code=1)


@app.command()
def report(
    out: Annotated[Path, typer.Argument(help="Output folder of `xstilts run`.")],
    study: Annotated[str | None, typer.Option(help="Only this study.")] = None,
) -> None:
    """Write OUT/report/results.csv and OUT/report/summary.md."""
    from xstilts.report.summary import write_report

    try:
        report_dir = write_report(out, study)
    except XstiltsError as err:
        _fail(err)
        return
    stdout.print(f"Report: {report_dir / 'summary.md'} (table: {report_dir / 'results.csv'})",
                 highlight=False)


@app.command()
def status(out: Annotated[Path, typer.Argument(help="Output folder of `xstilts run`.")]) -> None:
    """Show done / running / failed / pending runs with times and errors."""
    from xstilts.report.results import run_table

    if not (out / "xstilts.sqlite").is_file():
        _fail(XstiltsError(f"{out} holds no xstilts results (no xstilts.sqlite)"))
    table = Table(title=f"runs in {out}")
    for col in ("run", "kind", "intermediate", "task", "seed", "status", "seconds", "error"):
        table.add_column(col)
    for r in run_table(out):
        table.add_row(r["id"], r["kind"], r["intermediate"], r["task"], str(r["seed"]),
                      r["status"], f"{r['wall_seconds']:.0f}" if r["wall_seconds"] else "-",
                      (r["error"] or "")[:80])
    stdout.print(table)


@app.command()
def tasks(
    data_dir: DataDir = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """List every task with its type, languages and whether its data is found."""
    from xstilts.tasks import list_tasks

    items = [{
        "name": t.name, "type": t.type.value, "languages": list(t.languages),
        "labels": list(t.labels), "metric": t.metric, "data_found": t.data_found(data_dir),
        "builtin_data": not t.needs_data_dir, "description": t.description,
    } for t in list_tasks()]
    if as_json:
        sys.stdout.write(json.dumps(items, indent=2, ensure_ascii=False) + "\n")
        return
    table = Table(title="tasks" + (f" (data: {data_dir})" if data_dir else ""))
    for col in ("name", "type", "languages", "metric", "data"):
        table.add_column(col)
    for item in items:
        data = "built in" if item["builtin_data"] else ("found" if item["data_found"] else "-")
        langs = item["languages"]
        shown = " ".join(langs) if len(langs) <= 12 else " ".join(langs[:12]) + f" … ({len(langs)})"
        table.add_row(item["name"], item["type"], shown, item["metric"], data)
    stdout.print(table)


@app.command()
def models(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """List the bundled encoders (and how to use any Hugging Face encoder)."""
    from xstilts.models import describe_models

    items = describe_models()
    if as_json:
        sys.stdout.write(json.dumps(items, indent=2) + "\n")
        return
    table = Table(title="bundled encoders")
    for col in ("name", "description", "converted", "path"):
        table.add_column(col)
    for item in items:
        table.add_row(item["name"], item["description"], "yes" if item["cached"] else "no",
                      str(item["path"] or "-"))
    stdout.print(table)
    stdout.print("Any Hugging Face encoder works too: a hub id (e.g. xlm-roberta-large) or a "
                 "local folder path.", highlight=False)


def main() -> None:  # pragma: no cover - console entry point alias
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    app()
