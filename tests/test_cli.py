"""The command line: help, models, tasks, dry runs and error reporting."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from xstilts.cli import app

runner = CliRunner()
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_help_lists_the_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("run", "report", "status", "tasks", "models"):
        assert command in result.output


def test_tasks_json_has_the_documented_fields(tmp_path: Path) -> None:
    result = runner.invoke(app, ["tasks", "--json", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    items = {item["name"]: item for item in json.loads(result.output)}
    for item in items.values():
        assert {"name", "type", "languages", "data_found"} <= set(item)
    assert items["cldr-continents"]["data_found"] is True  # ships in babel
    assert items["xnli"]["data_found"] is False  # empty data dir
    assert "sw" in items["xnli"]["languages"]


def test_tasks_sees_the_shared_data(shared_data: Path) -> None:
    result = runner.invoke(app, ["tasks", "--json", "--data-dir", str(shared_data)])
    items = {item["name"]: item for item in json.loads(result.output)}
    assert items["xnli"]["data_found"] and items["pawsx"]["data_found"]
    assert items["xnli"]["splits_found"] == ["dev", "test"]  # its training data is MNLI
    # PAN-X: train and dev here, no labeled test, so no evaluation data, but not "no data"
    assert items["panx"]["splits_found"] == ["train", "dev"] and not items["panx"]["data_found"]


def test_tasks_table_names_the_splits_a_folder_has(shared_data: Path) -> None:
    """The X-STILTs samples hold ANLI's dev rounds only: the table says "dev", not "-"."""
    samples = shared_data / "xstilts-samples"
    if not (samples / "anli").is_dir():
        pytest.skip(f"no ANLI sample under {samples}")
    result = runner.invoke(app, ["tasks", "--data-dir", str(samples)],
                           env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    rows = {line.split("│")[1].strip(): line.split("│")[5].strip()
            for line in result.output.splitlines() if line.startswith("│")}
    assert rows["anli"] == "dev" and rows["xnli"] == "-" and rows["cldr-units"] == "built in"


def test_models_lists_the_bundled_encoders() -> None:
    result = runner.invoke(app, ["models", "--json"])
    assert result.exit_code == 0, result.output
    names = [m["name"] for m in json.loads(result.output)]
    assert "bundled:multilingual-e5-small" in names
    assert "bundled:multilingual-e5-small-enpt" in names


def test_dry_run_prints_the_plan_without_training(tmp_path: Path) -> None:
    result = runner.invoke(app, ["run", str(EXAMPLES / "quickstart.yaml"), "--dry-run",
                                 "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "humaneval-match" in result.output and "pending" in result.output
    assert not (tmp_path / "out").exists()
    assert "one degree of freedom" not in result.output  # 3 seeds


def test_dry_run_warns_that_two_seeds_are_too_few(tmp_path: Path) -> None:
    study = tmp_path / "two.yaml"
    study.write_text("name: two\nseeds: [0, 1]\nintermediate: [none]\n"
                     "targets: [{task: cldr-continents, languages: [en, de]}]\n")
    result = runner.invoke(app, ["run", str(study), "--dry-run", "--out", str(tmp_path / "out")],
                           env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    assert "one degree of freedom" in result.output and "±12.71" in result.output


def test_bad_study_exits_2_with_the_problem(tmp_path: Path) -> None:
    study = tmp_path / "bad.yaml"
    study.write_text("name: bad\ntargets: [{task: cldr-continents, languages: [en, xx]}]\n")
    result = runner.invoke(app, ["run", str(study), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "has no language(s) xx" in result.output
    assert not (tmp_path / "out" / "runs").exists()


def test_report_on_an_empty_folder_says_what_to_do(tmp_path: Path) -> None:
    result = runner.invoke(app, ["report", str(tmp_path)])
    assert result.exit_code == 2
    assert "xstilts run" in result.output


@pytest.mark.parametrize("encoding", [None, "auto", "cross", "siamese"])
def test_dry_run_says_when_sts17_leaves_its_protocol(tmp_path: Path, shared_data: Path,
                                                     encoding: str | None) -> None:
    """STS 2017's protocol (SBERT) is a siamese bi-encoder, which the default (auto) follows;
    a cross-encoder is allowed but said, naming the settings that follow the protocol."""
    training = f", training: {{pair_encoding: {encoding}}}" if encoding else ""
    study = tmp_path / "sts.yaml"
    study.write_text(f"name: sts\nseeds: [0]\nintermediate: [none]\n"
                     f"targets: [{{task: sts17{training}}}]\n")
    result = runner.invoke(app, ["run", str(study), "--dry-run", "--out", str(tmp_path / "out"),
                                 "--data-dir", str(shared_data)], env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    noted = "note: sts17: its published protocol encodes each pair siamese" in result.output
    assert noted == (encoding == "cross")
    if noted:
        assert ("leave training.pair_encoding at auto, or set siamese, on that target"
                in result.output)
