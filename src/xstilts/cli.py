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
    executor: Annotated[str, typer.Option(
        "--executor", help="inprocess (default) or ray (one Ray task per run).")] = "inprocess",
    address: Annotated[str | None, typer.Option(
        "--address", help="Ray cluster address (default: start a local Ray).")] = None,
    track: Annotated[str | None, typer.Option(
        "--track", help="Experiment trackers each run logs to, added to the study's "
        "'tracking' (comma-separated: tensorboard,mlflow,wandb; pip install "
        "'xstilts[tracking]').")] = None,
) -> None:
    """Run a study: phase 2, phase 3 and zero-shot evaluation; then write the report."""
    from xstilts.report.summary import write_report
    from xstilts.studies.executor import run_study
    from xstilts.studies.planner import check_study, plan_study
    from xstilts.studies.spec import load_study

    try:
        spec = load_study(study)
        if track is not None:
            from xstilts.training.tracking import with_track_option

            spec = spec.model_copy(update={"tracking": with_track_option(spec.tracking, track)})
        if dry_run:
            check_study(spec, study, data_dir)
            from xstilts.studies.dryrun import describe_plan

            for line in describe_plan(plan_study(spec), out, data_dir):
                stdout.print(line, highlight=False, markup=False)
            return
        log = lambda m: console.print(m, highlight=False, markup=False)  # noqa: E731
        if executor == "ray":
            from xstilts.studies.ray_executor import run_study_ray

            outcome = run_study_ray(spec, out, data_dir=data_dir, study_path=study,
                                    address=address, log=log)
        elif executor == "inprocess":
            from xstilts.distributed import is_main_process

            if not is_main_process():  # a DDP follower: trains, the main process reports
                run_study(spec, out, data_dir=data_dir, study_path=study)
                return
            outcome = run_study(spec, out, data_dir=data_dir, study_path=study, log=log)
        else:
            raise XstiltsError(f"--executor must be 'inprocess' or 'ray', got {executor!r}")
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
    format: Annotated[str, typer.Option(  # noqa: A002 - the option is --format
        "--format", help="Comma-separated: html,md,csv,json (csv also writes Parquet).",
    )] = "html,md,csv,json",
    correction: Annotated[str, typer.Option(
        help="Multiple-comparison correction within each family: holm or bh "
             "(Benjamini-Hochberg).")] = "holm",
    resamples: Annotated[int, typer.Option(
        min=10, help="Bootstrap resamples of each interval.")] = 1000,
    permutations: Annotated[int, typer.Option(
        min=100, help="Random permutations of a test whose p is not exact (smallest "
                      "reachable p = 1/(N+1)).")] = 100_000,
) -> None:
    """Write OUT/report: index.html, summary.md, results.csv/.parquet, summary.json."""
    from xstilts.report.summary import write_report

    formats = [f.strip().lower() for f in format.split(",") if f.strip()]
    if correction not in ("holm", "bh"):
        _fail(XstiltsError(f"--correction must be 'holm' or 'bh', got {correction!r}"))
        return
    try:
        report_dir = write_report(out, study, formats, correction=correction,
                                  resamples=resamples, permutations=permutations)
    except XstiltsError as err:
        _fail(err)
        return
    written = {"html": "index.html", "md": "summary.md", "csv": "results.csv",
               "json": "summary.json"}
    files = ", ".join(str(report_dir / written[f]) for f in formats)
    stdout.print(f"Report: {files}", highlight=False)


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
    """List every task with its type, languages and which of its splits have data."""
    from xstilts.tasks import list_tasks

    items = [{
        "name": t.name, "type": t.type, "languages": list(t.languages),
        "labels": list(t.labels), "metric": t.metric, "data_found": t.data_found(data_dir),
        "splits_found": list(t.splits_found(data_dir)), "test_split": t.test_split,
        "builtin_data": not t.needs_data_dir, "description": t.description,
    } for t in list_tasks(data_dir)]
    if as_json:
        sys.stdout.write(json.dumps(items, indent=2, ensure_ascii=False) + "\n")
        return
    table = Table(title="tasks" + (f" (data: {data_dir})" if data_dir else ""))
    for col in ("name", "type", "languages", "metric", "splits with data"):
        table.add_column(col)
    for item in items:
        data = "built in" if item["builtin_data"] else (", ".join(item["splits_found"]) or "-")
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


@app.command()
def cache(
    clear_features: Annotated[bool, typer.Option(
        "--clear-features", help="Delete tokenised-example entries (all, or with "
        "--older-than those written more than DAYS ago); they are rebuilt when needed.")] = False,
    older_than: Annotated[float | None, typer.Option(
        "--older-than", min=0, help="With --clear-features: only entries older than DAYS.",
        metavar="DAYS")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Show (or clear) the feature cache: tokenised examples kept between runs and studies."""
    from xstilts.tasktypes.feature_cache import cache_usage, feature_cache_dir
    from xstilts.tasktypes.feature_cache import clear_features as clear

    folder = feature_cache_dir()
    if folder is None:
        _fail(XstiltsError("the feature cache is off (XSTILTS_FEATURE_CACHE=0): nothing to "
                           "show or clear"))
        return
    if older_than is not None and not clear_features:
        _fail(XstiltsError("--older-than needs --clear-features"))
        return
    if clear_features:
        removed, freed = clear(folder, older_than)
        result = {**cache_usage(folder), "removed": removed, "removed_bytes": freed}
    else:
        result = cache_usage(folder)
    if as_json:
        sys.stdout.write(json.dumps(result, indent=2) + "\n")
        return
    if clear_features:
        stdout.print(f"removed {result['removed']} entries ({result['removed_bytes'] / 1e6:.1f} "
                     "MB)", highlight=False)
    span = f", written {result['oldest']} to {result['newest']}" if result["entries"] else ""
    stdout.print(f"feature cache {result['folder']}: {result['entries']} entries, "
                 f"{result['bytes'] / 1e6:.1f} MB{span}", highlight=False)


@app.command()
def languages(
    codes: Annotated[list[str] | None, typer.Argument(
        help="ISO 639 codes, BCP 47 tags or English names; none: the built-in table.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Show what xstilts knows of languages: name, family, genus, script, resource level, and
    where each came from ("unclassified" where no source says)."""
    from xstilts.languages import all_languages
    from xstilts.report.language_info import describe

    try:
        items = [describe(c) for c in (codes or [lang.code for lang in all_languages()])]
    except XstiltsError as err:
        _fail(err)
    if as_json:
        sys.stdout.write(json.dumps(items, indent=2, ensure_ascii=False) + "\n")
        return
    table = Table(title="languages")
    attrs = ("name", "family", "genus", "script", "resource_level")
    for col in ("code", *attrs):
        table.add_column(col.replace("_", " "))
    for item in items:
        table.add_row(item["code"], *(str(item[a]) for a in attrs))
    stdout.print(table)
    if codes:  # the sources are long: listed under the table, one line per attribute
        for item in items:
            stdout.print(f"{item['code']} ({item['input']}): " + "; ".join(
                f"{a}: {item['sources'].get(a, '-')}" for a in attrs), highlight=False)


def _print_json(payload: dict) -> None:
    sys.stdout.write(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")


def _pct(value: float) -> str:
    return f"{100 * value:.1f}"


Langs = Annotated[str, typer.Option("--langs", help="Comma-separated languages, e.g. de,fr,sw.")]
MaxPairs = Annotated[
    int | None,
    typer.Option("--max-pairs", min=1, help="Quick runs: keep the first N pairs (BUCC: N "
                 "sentences per side) per language. Fewer candidates make retrieval easier, "
                 "so capped scores are not comparable with full ones."),
]


@app.command()
def retrieve(
    model: Annotated[str, typer.Option("--model", help="Encoder name, hub id or folder.")],
    task: Annotated[str, typer.Option(
        "--task", help="tatoeba, bucc2018, mewsli-x or lareqa (the last two: mAP@20 of each "
        "query against a shared candidate pool; --max-pairs caps queries only).")] = "tatoeba",
    langs: Langs = "de,fr",
    protocol: Annotated[str, typer.Option(
        "--protocol", help="Preset: xtreme (English queries search the non-English side, "
        "en2xx; XTREME's middle layer for XLM-R / mBERT), mteb (xx2en, last layer), or auto "
        "(xtreme for XLM-R / mBERT, mteb for sentence-embedding models). --direction, "
        "--layer, --pooling and --prefix override it.")] = "auto",
    layer: Annotated[int | None, typer.Option(
        "--layer", help="Hidden state to pool (0 = embeddings, -1 = last). Default: the "
        "preset's layer rule.")] = None,
    layer_from: Annotated[str | None, typer.Option(
        "--layer-from", help="Base encoder whose layer rule applies (for a phase-2 "
        "checkpoint folder, e.g. xlm-roberta-large).")] = None,
    pooling: Annotated[str | None, typer.Option("--pooling", help="mean or cls.")] = None,
    direction: Annotated[str | None, typer.Option(
        "--direction", help="xx2en, en2xx or both (Tatoeba). Default: the preset's.")] = None,
    prefix: Annotated[str | None, typer.Option("--prefix", help="Text put before every "
                                               "sentence (e.g. 'query: ' for e5).")] = None,
    data_dir: DataDir = None,
    max_pairs: MaxPairs = None,
    split: Annotated[str | None, typer.Option(
        "--split", help="Split to score. Default: the task's test split (BUCC: dev, as its "
        "test gold is withheld). Tatoeba and LAReQA have test only; Mewsli-X dev and "
        "test.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Sentence retrieval without training: Tatoeba accuracy, BUCC mining F1, or Mewsli-X /
    LAReQA mAP@20."""
    from xstilts.tasktypes.retrieval import retrieve as run_retrieval

    try:
        payload = run_retrieval(model, task, langs.split(","), data_dir, layer=layer,
                                pooling=pooling, direction=direction, prefix=prefix,
                                max_pairs=max_pairs, split=split, preset=protocol,
                                layer_from=layer_from)
    except (XstiltsError, ValueError) as err:
        _fail(err)
        return
    if as_json:
        _print_json(payload)
        return
    proto = payload["protocol"]
    table = Table(title=f"{task} {payload['split']} · {model} · protocol {proto['preset']}: "
                  f"{proto['direction']}, layer {proto['layer']}, {proto['pooling']} pooling, "
                  f"prefix {proto['prefix']!r}")
    for col in ("language", "direction", "metric", "value %", "95% CI", "n"):
        table.add_column(col)
    for r in payload["results"]:
        ci = f"{_pct(r['ci_low'])}–{_pct(r['ci_high'])}" if "ci_low" in r else "-"
        table.add_row(r["language"], r["direction"], r["metric"], _pct(r["value"]), ci,
                      str(r["n"]))
    stdout.print(table)
    notes = {r["note"] for r in payload["results"] if "note" in r}
    for note in notes:
        stdout.print(f"note: {note}", highlight=False)


@app.command()
def align(
    model: Annotated[str, typer.Option("--model", help="Encoder name, hub id or folder.")],
    task: Annotated[str, typer.Option("--task", help="Only tatoeba for now.")] = "tatoeba",
    langs: Langs = "de,fr",
    method: Annotated[str, typer.Option(
        "--method", help="lstsq, procrustes, linear-gd or all.")] = "all",
    train_fraction: Annotated[float, typer.Option(
        "--train-fraction", help="Share of each language's pairs used to fit W.")] = 0.6,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the split and of GD.")] = 0,
    layer: Annotated[int | None, typer.Option("--layer", help="As in retrieve.")] = None,
    data_dir: DataDir = None,
    max_pairs: MaxPairs = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Learn a projection onto English from parallel pairs; held-out accuracy before/after."""
    from xstilts.alignment import METHODS, align_and_evaluate

    try:
        methods = METHODS if method == "all" else (method,)
        payload = align_and_evaluate(model, langs.split(","), data_dir, methods=methods,
                                     train_fraction=train_fraction, seed=seed, layer=layer,
                                     max_pairs=max_pairs, task=task)
    except (XstiltsError, ValueError) as err:
        _fail(err)
        return
    payload["model"] = model
    if as_json:
        _print_json(payload)
        return
    table = Table(title=f"alignment · {model} · held-out xx→en accuracy %")
    for col in ("language", "method", "before", "after", "Δ", "p", "n_train", "n_test"):
        table.add_column(col)
    for r in payload["results"]:
        table.add_row(r["language"], r["method"], _pct(r["before"]), _pct(r["after"]),
                      f"{100 * r['delta']:+.1f}", f"{r['p_value']:.3f}", str(r["n_train"]),
                      str(r["n_test"]))
    stdout.print(table)


@app.command()
def score(
    predictions: Annotated[Path, typer.Argument(
        help="Folder of the XTREME / XTREME-R leaderboard layout: <task>/test-<lang>.<ext>.")],
    labels: Annotated[Path, typer.Option("--labels", help="Gold files, same layout.")],
    tasks: Annotated[str | None, typer.Option(
        "--tasks", help="Comma-separated task folders (default: all in both folders).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Score predictions with the official XTREME / XTREME-R metrics (points, 0-100)."""
    from xstilts.scoring.score import score_submission

    try:
        chosen = [t.strip() for t in tasks.split(",") if t.strip()] if tasks else None
        result = score_submission(predictions, labels, chosen)
    except XstiltsError as err:
        _fail(err)
        return
    for note in result.notes:
        console.print(f"note: {note}", highlight=False, markup=False)
    if as_json:
        _print_json(result.as_json())
        return
    for task, scores in result.tasks.items():
        metrics = [m for m in scores["average"] if m != "metric"]
        table = Table(title=f"{task} · metric (headline) {scores['average']['metric']:.2f}")
        for col in ("language", *metrics):
            table.add_column(col)
        for lang, values in scores["languages"].items():
            table.add_row(lang, *(f"{values[m]:.2f}" for m in metrics))
        table.add_row("average", *(f"{scores['average'][m]:.2f}" for m in metrics))
        stdout.print(table)


@app.command("export-predictions")
def export_predictions(
    out: Annotated[Path, typer.Argument(help="Output folder of `xstilts run`.")],
    dest: Annotated[Path, typer.Argument(
        help="New folder: gets predictions/, labels/ (leaderboard layout) and export.json.")],
    study: Annotated[str, typer.Option("--study", help="Study name.")],
    encoder: Annotated[str | None, typer.Option(
        "--encoder", help="Which encoder's runs (when the study has several).")] = None,
    intermediate: Annotated[str | None, typer.Option(
        "--intermediate", help="Which intermediate configuration (e.g. none).")] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Which seed.")] = None,
) -> None:
    """Write one system of a study (encoder x intermediate x seed) in the leaderboard layout,
    with its gold, so `xstilts score DEST/predictions --labels DEST/labels` re-scores it."""
    from xstilts.scoring.export import export_study

    try:
        summary = export_study(out, study, dest, encoder=encoder, intermediate=intermediate,
                               seed=seed)
    except XstiltsError as err:
        _fail(err)
        return
    for note in summary.notes:
        console.print(f"note: {note}", highlight=False, markup=False)
    for run in summary.runs:
        stdout.print(f"{run['folder']}: {len(run['languages'])} language(s) from run "
                     f"{run['run_id']} ({run['split']} split)", highlight=False)
    stdout.print(f"Score with: xstilts score {dest / 'predictions'} --labels {dest / 'labels'}",
                 highlight=False)


@app.command("export-model")
def export_model(
    out: Annotated[Path, typer.Argument(help="Output folder of `xstilts run`.")],
    run_id: Annotated[str, typer.Argument(help="A finished run: a target run with a kept "
                                          "model, or a phase-2 (intermediate) run.")],
    dest: Annotated[Path, typer.Argument(help="New folder for the Hugging Face model.")],
    force: Annotated[bool, typer.Option("--force", help="Replace DEST's contents.")] = False,
    push_to_hub: Annotated[str | None, typer.Option(
        "--push-to-hub", help="Also upload DEST to this Hub repo (needs network).")] = None,
    license: Annotated[str, typer.Option(
        "--license", help="License id for the model card (default: other).")] = "other",
) -> None:
    """Write a kept model as a Hugging Face folder (transformers loads it) with a model card."""
    from xstilts.export import export_model as write_export

    try:
        result = write_export(out, run_id, dest, force=force, push_to_hub=push_to_hub,
                              license=license)
    except XstiltsError as err:
        _fail(err)
        return
    stdout.print(f"{dest}: run {result.run_id} as {result.auto_class} (card: "
                 f"{dest / 'README.md'})", highlight=False, markup=False)
    if result.pushed:
        stdout.print(f"pushed: {result.pushed}", highlight=False, markup=False)


OutDirs = Annotated[list[Path], typer.Argument(help="Output folders of `xstilts run`.")]
AsJson = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
TOO_FEW_EXIT = 1  # too few runs to learn from: an answer, not an error (exit 2) or a crash


def _figure(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _too_few(result: dict, as_json: bool) -> None:
    """Print the result and exit TOO_FEW_EXIT when its runs are too few to learn from."""
    if result["too_few_runs"] is None:
        return
    if as_json:
        _print_json(result)
    else:
        console.print(result["too_few_runs"], highlight=False, markup=False)
    raise typer.Exit(code=TOO_FEW_EXIT)


@app.command()
def predict(out: OutDirs, as_json: AsJson = False) -> None:
    """Fit a model of the zero-shot gain of each intermediate configuration over the baseline
    on the finished runs in OUT, and print its held-out quality (leave one language out, leave
    one target task out) next to two baselines."""
    from xstilts.transfer_prediction.commands import predict as run_predict

    try:
        result = run_predict(out)
    except XstiltsError as err:
        _fail(err)
        return
    _too_few(result, as_json)
    if as_json:
        _print_json(result)
        return
    stdout.print(f"{result['n_gains']} gains from {result['n_runs']} runs: "
                 f"{len(result['configurations'])} intermediate configurations × "
                 f"{len(result['targets'])} target tasks × {len(result['languages'])} zero-shot "
                 "languages", highlight=False)
    evaluation = result["evaluation"]
    rankers = {"model": evaluation, **{k.replace("_", " "): v
                                       for k, v in evaluation["baselines"].items()}}
    for protocol in ("leave_one_language_out", "leave_one_target_task_out"):
        held = protocol.removeprefix("leave_one_").removesuffix("_out").replace("_", " ")
        table = Table(title=f"held out: one {held} at a time (means over queries)")
        for col in ("ranker", "Spearman", "NDCG@3", "Regret@1", "queries", "coverage"):
            table.add_column(col, no_wrap=True)
        for name, protocols in rankers.items():
            figures = protocols[protocol]
            if figures is None:
                table.add_row(name, "-", "-", "-", "0", "-")
                continue
            table.add_row(name, _figure(figures["spearman"]), _figure(figures["ndcg@3"]),
                          _figure(figures["regret@1"], 2), str(figures["queries"]),
                          _figure(figures.get("interval_coverage"), 2))
        stdout.print(table)
    stdout.print("Regret@1 in points. Baselines: best on average = the configuration with "
                 "the highest mean gain in training; nearest language = its gains on the "
                 "typologically nearest seen language. Coverage: share of held-out gains "
                 "inside the model's interval (nominal 80 %).", highlight=False)
    for note in result["notes"]:
        console.print(f"note: {note}", highlight=False, markup=False)


@app.command()
def recommend(
    out: OutDirs,
    target: Annotated[str, typer.Option("--target", help="Target task, e.g. udpos.")],
    language: Annotated[str, typer.Option("--language", help="Language code, e.g. sw.")],
    top: Annotated[int, typer.Option("--top", min=1, help="How many configurations.")] = 3,
    as_json: AsJson = False,
) -> None:
    """Rank the intermediate configurations in OUT for TARGET in LANGUAGE (typically one with
    no results yet) by predicted zero-shot gain over the baseline, with an interval."""
    from xstilts.transfer_prediction.commands import recommend as run_recommend

    try:
        result = run_recommend(out, target, language, top)
    except XstiltsError as err:
        _fail(err)
        return
    _too_few(result, as_json)
    if as_json:
        _print_json(result)
        return
    table = Table(title=f"intermediate configurations for {target} in {language} "
                        f"(predicted gain, points; interval: {result['interval']})")
    for col in ("rank", "intermediate", "predicted gain", "low", "high"):
        table.add_column(col)
    for rank, rec in enumerate(result["recommendations"], 1):
        table.add_row(str(rank), rec["intermediate"], f"{rec['predicted_gain']:+.2f}",
                      f"{rec['low']:+.2f}", f"{rec['high']:+.2f}")
    stdout.print(table)
    if not result["uses_baseline_score"]:
        stdout.print(f"{language} has no baseline result on {target}: the model is fitted "
                     "without the baseline score.", highlight=False)


def main() -> None:  # pragma: no cover - console entry point alias
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    app()


if __name__ == "__main__":  # `python -m xstilts.cli`
    main()
