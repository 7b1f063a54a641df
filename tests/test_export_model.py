"""`xstilts export-model`: kept models as Hugging Face folders that transformers alone reloads.

A tiny study on real benchmark files keeps its target models (tiny random encoder, a few
examples each): XNLI (pair classification), PAN-X (tagging), MLQA (extractive QA) and XCOPA
(multiple choice). Each export is reloaded in a fresh Python process by
``tests/hf_reload_script.py``, which imports only transformers, torch and safetensors, and its
predictions are compared with xstilts' own: the labels written in the run's prediction files,
and the logits of xstilts' forward of the kept model (tolerance ``LOGIT_TOLERANCE``: both run
the same float32 operations, so they differ by float rounding only).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from xstilts.cli import app
from xstilts.errors import XstiltsError
from xstilts.export import export_model
from xstilts.studies.executor import run_study
from xstilts.studies.spec import load_study
from xstilts.studies.store import ResultStore
from xstilts.tasktypes import FeatureOptions, handler_for
from xstilts.tasktypes.predict import row_outputs
from xstilts.training.checkpoint import load_task_model

runner = CliRunner()
RELOAD_SCRIPT = Path(__file__).with_name("hf_reload_script.py")
LOGIT_TOLERANCE = 1e-4
MAX_LENGTH = 32
N_COMPARED = 8  # examples per language compared
FEATURES = FeatureOptions(max_seq_length=MAX_LENGTH, doc_stride=16, max_query_length=12)

STUDY = """
name: export-model-tiny
encoder: tiny:random
seeds: [0]
intermediate: [none]
targets:
  - {task: xnli, languages: [en, de], train_split: dev, dev_split: dev, eval_split: test}
  - {task: panx, languages: [en, de], train_split: dev, dev_split: dev, eval_split: dev}
  - {task: mlqa, languages: [en, de], train_split: dev, dev_split: dev, eval_split: dev}
  - {task: xcopa, languages: [et, sw], train_split: dev, dev_split: dev, eval_split: test}
  - {task: tatoeba, languages: [de]}
training: {epochs: 1, batch_size: 8, max_seq_length: 32, max_query_length: 12, doc_stride: 16,
           max_train_examples: 24, max_dev_examples: 8, learning_rate: 0.001, precision: "no"}
evaluation: {max_examples: 8, bootstrap_resamples: 20}
retention: {keep_target_checkpoints: true}
"""
# A phase-2 run and a target run that keeps no model (no retention), on built-in CLDR data.
PHASE2_STUDY = """
name: export-phase2
encoder: tiny:random
seeds: [0]
intermediate: [cldr-units]
targets: [{task: cldr-continents, languages: [en, de]}]
training: {epochs: 1, batch_size: 8, max_seq_length: 24, max_train_examples: 24,
           max_dev_examples: 8, learning_rate: 0.001, precision: "no"}
evaluation: {max_examples: 8, bootstrap_resamples: 20}
"""


def _run(root: Path, text: str, data_dir: Path | None) -> tuple[Path, dict[str, dict]]:
    (root / "study.yaml").write_text(text, encoding="utf-8")
    out = root / "out"
    outcome = run_study(load_study(root / "study.yaml"), out, data_dir=data_dir,
                        study_path=root / "study.yaml", log=lambda _: None)
    assert not outcome.failed
    store = ResultStore(out)
    runs = {(r["task"] if r["kind"] == "target" else "phase2"): r for r in store.runs()}
    store.close()
    return out, runs


@pytest.fixture(scope="module")
def study(shared_data: Path, tmp_path_factory: pytest.TempPathFactory
          ) -> tuple[Path, dict[str, dict], Path]:
    out, runs = _run(tmp_path_factory.mktemp("export-model"), STUDY, shared_data)
    assert set(runs) == {"xnli", "panx", "mlqa", "xcopa", "tatoeba"}
    return out, runs, shared_data


@pytest.fixture(scope="module")
def phase2(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, dict]]:
    return _run(tmp_path_factory.mktemp("export-phase2"), PHASE2_STUDY, None)


def reload_with_transformers(folder: Path, kind: str, items: list, tmp: Path) -> dict:
    """Predictions of the exported ``folder`` computed in a fresh process without xstilts."""
    request, result = tmp / f"request-{kind}.json", tmp / f"result-{kind}.json"
    request.write_text(json.dumps({"dir": str(folder), "kind": kind, "max_length": MAX_LENGTH,
                                   "items": items}, ensure_ascii=False), encoding="utf-8")
    done = subprocess.run([sys.executable, str(RELOAD_SCRIPT), str(request), str(result)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(result.read_text(encoding="utf-8"))


def xstilts_outputs(out: Path, run_id: str, examples: list, batch_size: int = 1
                    ) -> tuple[list[np.ndarray], Any]:
    """xstilts' own forward of the kept model: one raw output per feature row."""
    model, tokenizer, task = load_task_model(out / "runs" / run_id / "model")
    handler = handler_for(task)
    features = handler.featurize(task, examples, tokenizer,
                                 FEATURES, training=False)
    outputs = row_outputs(model, task.name, handler, features, pad_id=tokenizer.pad_token_id,
                          batch_size=batch_size, device="cpu")
    return outputs, features


def written_predictions(out: Path, run_id: str, language: str) -> list[Any]:
    path = out / "runs" / run_id / "predictions" / f"{language}.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return [r["prediction"] for r in rows]


def _export(out: Path, run_id: str, dest: Path) -> Path:
    result = runner.invoke(app, ["export-model", str(out), run_id, str(dest)])
    assert result.exit_code == 0, result.output
    return dest


def test_classification_exports_encoder_and_head_that_transformers_reproduces(
        study: tuple, tmp_path: Path) -> None:
    out, runs, data = study
    folder = _export(out, runs["xnli"]["id"], tmp_path / "xnli")
    config = json.loads((folder / "config.json").read_text())
    assert config["architectures"] == ["BertModel"]
    assert config["id2label"] == {"0": "contradiction", "1": "entailment", "2": "neutral"}
    info = json.loads((folder / "xstilts_head.json").read_text())
    assert info["pooling"] == "mean" and "tanh" in info["why_not_an_auto_class"]
    from xstilts.tasks import get_task
    for language in ("en", "de"):
        examples = get_task("xnli").load("test", language, data)[:N_COMPARED]
        ours, _ = xstilts_outputs(out, runs["xnli"]["id"], examples)
        theirs = reload_with_transformers(folder, "pooled", [list(e.texts) for e in examples],
                                          tmp_path)
        diff = np.abs(np.array(theirs["logits"]) - np.stack(ours)).max()
        assert diff < LOGIT_TOLERANCE
        labels = ["contradiction", "entailment", "neutral"]
        assert theirs["labels"] == [labels[p] for p in
                                    written_predictions(out, runs["xnli"]["id"], language)]


def test_tagging_exports_token_classification_that_transformers_reproduces(
        study: tuple, tmp_path: Path) -> None:
    out, runs, data = study
    folder = _export(out, runs["panx"]["id"], tmp_path / "panx")
    config = json.loads((folder / "config.json").read_text())
    assert config["architectures"] == ["BertForTokenClassification"]
    stored = json.loads((out / "runs" / runs["panx"]["id"] / "model" / "heads.json").read_text())
    assert config["id2label"] == {str(i): tag for i, tag in enumerate(stored["labels"])}
    assert "O" in config["label2id"] and "B-PER" in config["label2id"]
    from xstilts.tasks import get_task
    for language in ("en", "de"):
        examples = get_task("panx").load("dev", language, data)[:N_COMPARED]
        ours, features = xstilts_outputs(out, runs["panx"]["id"], examples)
        assert len(features) == len(examples)  # every sentence fits one window at 32 tokens
        theirs = reload_with_transformers(folder, "words", [list(e.tokens) for e in examples],
                                          tmp_path)
        assert theirs["input_ids"] == [row["input_ids"] for row in features.rows]
        for mine, hf in zip(ours, theirs["logits"], strict=True):
            assert np.abs(np.array(hf) - mine[:len(hf)]).max() < LOGIT_TOLERANCE
        assert theirs["labels"] == written_predictions(out, runs["panx"]["id"], language)


@pytest.mark.slow  # a Ray start / a fresh-process reload: keeps the default suite < 15 min
def test_qa_exports_question_answering_that_transformers_reproduces(
        study: tuple, tmp_path: Path) -> None:
    out, runs, data = study
    folder = _export(out, runs["mlqa"]["id"], tmp_path / "mlqa")
    config = json.loads((folder / "config.json").read_text())
    assert config["architectures"] == ["BertForQuestionAnswering"]
    from xstilts.tasks import get_task
    examples = get_task("mlqa").load("dev", "de", data)[:4]
    ours, features = xstilts_outputs(out, runs["mlqa"]["id"], examples)
    windows = [row["input_ids"] for row in features.rows]
    theirs = reload_with_transformers(folder, "qa", windows, tmp_path)
    for mine, hf in zip(ours, theirs["logits"], strict=True):
        hf = np.array(hf)
        assert np.abs(hf - mine[:len(hf)]).max() < LOGIT_TOLERANCE
        assert (hf.argmax(0) == mine[:len(hf)].argmax(0)).all()


@pytest.mark.slow  # a Ray start / a fresh-process reload: keeps the default suite < 15 min
def test_multiple_choice_exports_encoder_and_head(study: tuple, tmp_path: Path) -> None:
    out, runs, data = study
    folder = _export(out, runs["xcopa"]["id"], tmp_path / "xcopa")
    assert (folder / "xstilts_head.safetensors").is_file()
    assert "AutoModelForMultipleChoice" in (folder / "README.md").read_text()
    from xstilts.tasks import get_task
    examples = get_task("xcopa").load("test", "sw", data)[:N_COMPARED]
    ours, _ = xstilts_outputs(out, runs["xcopa"]["id"], examples)
    theirs = reload_with_transformers(
        folder, "choice", [{"context": e.context, "choices": list(e.choices)} for e in examples],
        tmp_path)
    assert np.abs(np.array(theirs["logits"]) - np.stack(ours)).max() < LOGIT_TOLERANCE
    assert theirs["labels"] == written_predictions(out, runs["xcopa"]["id"], "sw")


def _card_rows(card: str) -> dict[tuple[str, str, str], tuple[float, float, float, int]]:
    """The card's metrics table: (language, split, metric) -> (value, low, high, n)."""
    pattern = re.compile(r"^\| (\S+) \| (\S+) \| (\S+) \| ([0-9.]+) \| \[([0-9.]+), ([0-9.]+)\] "
                         r"\| (\d+) \|$", re.MULTILINE)
    return {(m[1], m[2], m[3]): (float(m[4]), float(m[5]), float(m[6]), int(m[7]))
            for m in pattern.finditer(card)}


def test_card_states_the_stored_metrics_and_where_the_data_comes_from(
        study: tuple, tmp_path: Path) -> None:
    out, runs, _ = study
    folder = _export(out, runs["panx"]["id"], tmp_path / "card")
    card = (folder / "README.md").read_text(encoding="utf-8")
    front = card.split("---\n")[1]
    assert "language:\n- de\n- en\n" in front and "library_name: transformers" in front
    assert "pipeline_tag: token-classification" in front and "- panx" in front
    rows = _card_rows(card)
    store = ResultStore(out)
    stored = store.metrics([runs["panx"]["id"]])
    store.close()
    assert len(rows) == len(stored) >= 2
    for r in stored:
        value, low, high, n = rows[(r["language"], r["split"], r["metric"])]
        assert (value, low, high, n) == (round(r["value"], 4), round(r["ci_low"], 4),
                                         round(r["ci_high"], 4), r["n"])
    assert "WikiANN" in card and "intermediate task(s): none" in card
    assert '"max_seq_length": 32' in card and "BertForTokenClassification" not in card


def test_phase2_encoder_exports_as_automodel_with_its_intermediate_task(
        phase2: tuple, tmp_path: Path) -> None:
    out, runs = phase2
    folder = _export(out, runs["phase2"]["id"], tmp_path / "encoder")
    assert json.loads((folder / "config.json").read_text())["architectures"] == ["BertModel"]
    assert not (folder / "xstilts_head.safetensors").exists()
    card = (folder / "README.md").read_text(encoding="utf-8")
    assert "cldr-units" in card and "pipeline_tag: feature-extraction" in card
    assert "**mean** pooling" in card
    done = subprocess.run([sys.executable, "-c", (
        "import sys, torch; from transformers import AutoModel, AutoTokenizer\n"
        "m = AutoModel.from_pretrained(sys.argv[1]); t = AutoTokenizer.from_pretrained("
        "sys.argv[1])\nprint(m(**t(['Berlin'], return_tensors='pt')).last_hidden_state.shape)"),
        str(folder)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "torch.Size([1, " in done.stdout, done.stderr[-2000:]
    assert "xstilts" not in done.stderr


def test_refusals_name_the_problem(phase2: tuple, tmp_path: Path) -> None:
    out, runs = phase2
    with pytest.raises(XstiltsError, match="not in .*xstilts.sqlite"):
        export_model(out, "0123456789abcdef", tmp_path / "a")
    with pytest.raises(XstiltsError, match=r"keep_target_checkpoints: true"):
        export_model(out, runs["cldr-continents"]["id"], tmp_path / "b")
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "file").write_text("x")
    with pytest.raises(XstiltsError, match="not empty.*--force"):
        export_model(out, runs["phase2"]["id"], busy)
    result = export_model(out, runs["phase2"]["id"][:8], busy, force=True)  # a unique prefix
    assert result.run_id == runs["phase2"]["id"]
    assert not (busy / "file").exists() and (busy / "README.md").is_file()
    with pytest.raises(XstiltsError, match="no xstilts results"):
        export_model(tmp_path, runs["phase2"]["id"], tmp_path / "c")


def test_retrieval_target_is_refused_naming_what_to_export(study: tuple,
                                                          tmp_path: Path) -> None:
    out, runs, _ = study
    result = runner.invoke(app, ["export-model", str(out), runs["tatoeba"]["id"],
                                 str(tmp_path / "x")])
    assert result.exit_code == 2
    assert "trains no model (a retrieval target pools its encoder)" in result.output
    assert "'tiny:random' itself" in result.output


def test_unfinished_run_is_refused(phase2: tuple, tmp_path: Path) -> None:
    out, runs = phase2
    copy = tmp_path / "out"
    shutil.copytree(out, copy)
    store = ResultStore(copy)
    store.mark_failed(runs["phase2"]["id"], "interrupted")  # as a run that did not finish
    store.close()
    with pytest.raises(XstiltsError, match="'failed', not finished"):
        export_model(copy, runs["phase2"]["id"], tmp_path / "x")


def test_push_to_hub_offline_is_a_clear_error(phase2: tuple, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    out, runs = phase2
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    result = runner.invoke(app, ["export-model", str(out), runs["phase2"]["id"],
                                 str(tmp_path / "x"), "--push-to-hub", "me/model"])
    assert result.exit_code == 2
    assert "HF_HUB_OFFLINE=1 is set (offline mode)" in result.output
    assert "hf upload me/model" in result.output
    assert not (tmp_path / "x").exists()


def test_exported_tokenizer_makes_no_token_type_ids(phase2: tuple, tmp_path: Path) -> None:
    """xstilts feeds segment type 0 everywhere, so an export must not make BERT-style type
    ids; the e5 tokenizer makes none, so a tokenizer that does is built from it here."""
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    from xstilts.export.model_export import _without_token_types

    out, runs = phase2
    folder = _export(out, runs["phase2"]["id"], tmp_path / "encoder")
    typed = PreTrainedTokenizerFast(
        tokenizer_object=AutoTokenizer.from_pretrained(folder).backend_tokenizer,
        model_input_names=["input_ids", "token_type_ids", "attention_mask"], pad_token="<pad>")
    assert "token_type_ids" in typed("a", "b")
    typed.save_pretrained(tmp_path / "typed")
    _without_token_types(tmp_path / "typed", list(typed.model_input_names))
    reloaded = AutoTokenizer.from_pretrained(tmp_path / "typed")
    assert sorted(reloaded("a", "b")) == ["attention_mask", "input_ids"]
