"""`xstilts export-predictions`: a study's predictions in the leaderboard layout, and scoring
the export reproduces the study's own per-language numbers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from xstilts.cli import app
from xstilts.errors import XstiltsError
from xstilts.report.results import collect_results
from xstilts.scoring.export import _choose_runs, _read_records, export_study
from xstilts.studies.executor import run_study
from xstilts.studies.spec import load_study
from xstilts.studies.store import ResultStore

runner = CliRunner()

# One target per leaderboard file format that a study writes predictions for: label lines
# (xnli), index lines (tatoeba), JSONL labels (xcopa), tag blocks with BIO (panx) and raw
# UPOS tags (udpos). A few examples each on the tiny random encoder.
STUDY = """
name: export-tiny
encoder: tiny:random
seeds: [0]
intermediate: [none]
targets:
  - {task: xnli, languages: [en, de], train_split: dev, dev_split: dev, eval_split: test}
  - {task: panx, languages: [en, de], train_split: dev, dev_split: dev, eval_split: dev}
  - {task: udpos, languages: [en, fr], train_split: dev, dev_split: dev, eval_split: test}
  - {task: xcopa, languages: [et, sw], train_split: dev, dev_split: dev, eval_split: test}
  - {task: tatoeba, languages: [de, fr]}
training: {epochs: 1, batch_size: 8, max_seq_length: 32, max_train_examples: 24,
           max_dev_examples: 8, learning_rate: 0.001}
evaluation: {max_examples: 16, bootstrap_resamples: 20}
"""
# The study's metric names -> the leaderboard's, written out here independently of the
# exporter's own table: both F1s are seqeval default-mode F1.
OFFICIAL_NAME = {"accuracy": "accuracy", "entity_f1": "f1", "span_f1": "f1"}


@pytest.fixture(scope="module")
def study_out(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("export")
    (root / "study.yaml").write_text(STUDY, encoding="utf-8")
    out = root / "out"
    outcome = run_study(load_study(root / "study.yaml"), out, data_dir=shared_data,
                        study_path=root / "study.yaml", log=lambda _: None)
    assert not outcome.failed and len(outcome.done) == 5
    return out


def test_scoring_an_export_reproduces_the_study(study_out: Path, tmp_path: Path) -> None:
    dest = tmp_path / "export"
    result = runner.invoke(app, ["export-predictions", str(study_out), str(dest),
                                 "--study", "export-tiny"])
    assert result.exit_code == 0, result.output
    assert (dest / "predictions" / "xcopa" / "test-et.jsonl").is_file()
    assert (dest / "labels" / "udpos" / "test-fr.tsv").is_file()
    manifest = json.loads((dest / "export.json").read_text())
    assert {r["folder"]: r["split"] for r in manifest["runs"]}["panx"] == "dev"

    scored = runner.invoke(app, ["score", str(dest / "predictions"), "--labels",
                                 str(dest / "labels"), "--json"])
    assert scored.exit_code == 0, scored.output
    tasks = json.loads(scored.stdout)["tasks"]
    compared = 0
    for row in collect_results(study_out, "export-tiny"):
        name = OFFICIAL_NAME.get(row["metric"])
        if name is None or "+" in row["split"]:
            continue
        got = tasks[row["target_task"]]["languages"][row["language"]][name]
        assert got == pytest.approx(100 * row["value"], rel=1e-12, abs=1e-9), row
        compared += 1
    assert compared == 10  # 5 tasks x 2 languages, each with its headline metric


def test_labels_are_spelled_as_the_xtreme_gold_files(study_out: Path, tmp_path: Path) -> None:
    export_study(study_out, "export-tiny", tmp_path / "e")
    xnli = set((tmp_path / "e" / "labels" / "xnli" / "test-de.tsv").read_text().split())
    assert xnli <= {"entailment", "neutral", "contradiction"}
    panx = (tmp_path / "e" / "labels" / "panx" / "test-de.tsv").read_text()
    assert "\n\n" in panx and set(panx.split()) <= {"O", "B-PER", "I-PER", "B-ORG", "I-ORG",
                                                    "B-LOC", "I-LOC"}
    first = (tmp_path / "e" / "labels" / "xcopa" / "test-et.jsonl").read_text().splitlines()[0]
    assert json.loads(first)["label"] in (0, 1)


def test_export_refuses_a_used_folder_and_unknown_studies(study_out: Path,
                                                          tmp_path: Path) -> None:
    (tmp_path / "labels").mkdir()
    (tmp_path / "labels" / "stale.tsv").write_text("x\n")
    with pytest.raises(XstiltsError, match="not empty"):
        export_study(study_out, "export-tiny", tmp_path)
    with pytest.raises(XstiltsError, match="no study named 'nope'"):
        export_study(study_out, "nope", tmp_path / "new")
    with pytest.raises(XstiltsError, match="no finished target run matching"):
        export_study(study_out, "export-tiny", tmp_path / "new", seed=7)


def test_several_systems_need_a_choice() -> None:
    def run(intermediate: str, seed: int) -> dict:
        return {"id": f"{intermediate}{seed}", "kind": "target", "status": "done",
                "task": "xnli", "encoder": "tiny:random", "intermediate": intermediate,
                "seed": seed}

    runs = [run("none", 0), run("none", 1), run("cldr-units", 0)]
    with pytest.raises(XstiltsError, match="3 finished xnli runs .*--intermediate none --seed 1"):
        _choose_runs(runs, "s", {"encoder": None, "intermediate": None, "seed": None})
    chosen = _choose_runs(runs, "s", {"encoder": None, "intermediate": "none", "seed": 1})
    assert [r["id"] for r in chosen] == ["none1"]


def _stored_run(out: Path, store: ResultStore, run_id: str, task: str, language: str,
                records: list[dict], metrics: dict[str, float]) -> None:
    from types import SimpleNamespace

    from xstilts.results import Score

    # What the store records of a planned run (a stand-in: no full run contract needed).
    run = SimpleNamespace(id=run_id, kind="target", encoder="tiny:random", intermediate="none",
                          task=task, seed=0, parent=None,
                          settings={"task": task, "languages": [language], "eval_split": "test"})
    store.register(f"study-{run_id}", [run])
    folder = out / "runs" / run_id / "predictions"
    folder.mkdir(parents=True)
    (folder / f"{language}.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    store.mark_done(run_id, [Score(m, v, None, None, len(records), task=task, language=language,
                                   split="test") for m, v in metrics.items()], {})


def test_qa_and_ranked_exports_without_benchmark_files(tmp_path: Path) -> None:
    """A store written by hand (no encoder, no data): MLQA and Mewsli-X predictions."""

    out = tmp_path / "out"
    store = ResultStore(out)
    # MLQA de: "Hund" vs "der Hund": German rules drop "der" -> EM 1, F1 1. "eine Maus" vs
    # "Katze": "eine" goes, "maus" shares nothing with "katze" -> 0, 0. EM = F1 = 1/2.
    _stored_run(out, store, "qa", "mlqa", "de",
                [{"id": "m1", "gold": ["der Hund"], "prediction": "Hund"},
                 {"id": "m2", "gold": ["Katze"], "prediction": "eine Maus"}],
                {"exact_match": 0.5, "f1": 0.5})
    # Mewsli-X en: gold at rank 2 (1/2) and rank 1 (1): mAP@20 = 3/4.
    _stored_run(out, store, "el", "mewsli-x", "en",
                [{"id": "q1", "gold": ["Q1"], "prediction": ["Q9", "Q1"]},
                 {"id": "q2", "gold": ["Q2"], "prediction": ["Q2", "Q7"]}],
                {"map@20": 0.75})
    store.close()

    for study, folder, expected in (("study-qa", "mlqa", {"exact_match": 50.0, "f1": 50.0}),
                                    ("study-el", "mewslix", {"map@20": 75.0})):
        dest = tmp_path / study
        summary = export_study(out, study, dest)
        assert summary.study_scores[folder][next(iter(summary.study_scores[folder]))] == \
            pytest.approx(expected)
        scored = runner.invoke(app, ["score", str(dest / "predictions"), "--labels",
                                     str(dest / "labels"), "--json"])
        assert scored.exit_code == 0, scored.output
        languages = json.loads(scored.stdout)["tasks"][folder]["languages"]
        assert list(languages.values()) == [pytest.approx(expected)]
    gold = json.loads((tmp_path / "study-qa" / "labels" / "mlqa" / "test-de.json").read_text())
    assert gold["data"][0]["paragraphs"][0]["qas"][0] == {
        "id": "m1", "answers": [{"text": "der Hund"}]}


def test_tasks_without_a_leaderboard_format_are_skipped_with_a_reason(tmp_path: Path) -> None:
    out = tmp_path / "out"
    store = ResultStore(out)
    _stored_run(out, store, "cl", "cldr-continents", "de",
                [{"id": "c1", "gold": 0, "prediction": 0}], {"accuracy": 1.0})
    store.close()
    with pytest.raises(XstiltsError, match="nothing exported .*cldr-continents .*not an XTREME"):
        export_study(out, "study-cl", tmp_path / "dest")


def test_prediction_file_errors_name_the_file_line(tmp_path: Path) -> None:
    """Blank lines are skipped but still counted: a malformed record and a record without gold
    are reported at their line in the file, not at their index among the records."""
    path = tmp_path / "de.jsonl"
    good = json.dumps({"id": "a", "gold": 1, "prediction": 1})
    path.write_text(good + "\n\n" + json.dumps({"id": "b", "gold": None, "prediction": 0})
                    + "\n", encoding="utf-8")
    with pytest.raises(XstiltsError, match=r"de\.jsonl:3: example 'b' has no gold label"):
        _read_records(path)
    path.write_text(good + "\n\n\n{not json\n", encoding="utf-8")
    with pytest.raises(XstiltsError, match=r"de\.jsonl:4: not a JSON object"):
        _read_records(path)
