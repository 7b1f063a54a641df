"""`vocabulary: trimmed` (issue #15 goal 3): a study on a trimmed encoder predicts what it
predicts on the full one, with a smaller model; full studies keep their run ids.

The proof runs one small XNLI study (the bundled encoder, whose Unigram tokenizer can be
trimmed) twice on the real files, full and trimmed, and compares the prediction files of
every language and the scores. The text sources are worked out here by hand from the study.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from xstilts.errors import StudyConfigError
from xstilts.studies.dryrun import describe_plan
from xstilts.studies.executor import run_study
from xstilts.studies.planner import check_study, plan_study
from xstilts.studies.spec import StudySpec
from xstilts.tasks.base import ChoiceExample, Example, QAExample, TaggingExample
from xstilts.tasks.texts import example_texts
from xstilts.training import vocabulary

E5 = "bundled:multilingual-e5-small"
LANGUAGES = ["de", "ar", "zh"]


def _spec(**extra: object) -> StudySpec:
    return StudySpec.model_validate({
        "name": "trim-proof", "encoder": E5,
        "targets": [{"task": "xnli", "languages": LANGUAGES, "train_split": "dev",
                     "dev_split": "dev"}],
        "training": {"epochs": 1, "batch_size": 16, "max_seq_length": 64,
                     "max_train_examples": 64, "learning_rate": 5e-5},
        "evaluation": {"max_examples": 40, "bootstrap_resamples": 20},
        "retention": {"keep_target_checkpoints": True},
        **extra})


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Trimmed encoders go to a fresh folder (the bundled encoder stays in the real cache)."""
    folder = tmp_path_factory.mktemp("xstilts-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(vocabulary, "cache_root", lambda: folder)
        yield folder


@pytest.fixture(scope="module")
def studies(shared_data: Path, cache: Path, tmp_path_factory: pytest.TempPathFactory):
    """The same study run full and trimmed (each in its own output folder)."""
    outs = {}
    for mode in ("full", "trimmed"):
        out = tmp_path_factory.mktemp(mode)
        outcome = run_study(_spec(vocabulary=mode), out, data_dir=shared_data,
                            log=lambda _: None)
        assert not outcome.failed, outcome.failed
        (run_id,) = outcome.done
        outs[mode] = out / "runs" / run_id
    return outs


def _predictions(run_dir: Path, language: str) -> list[dict]:
    lines = (run_dir / "predictions" / f"{language}.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


@pytest.mark.slow  # two studies on the bundled encoder: ~2 min
def test_trimmed_study_predicts_exactly_what_the_full_one_does(studies) -> None:
    for language in LANGUAGES:
        full = _predictions(studies["full"], language)
        trimmed = _predictions(studies["trimmed"], language)
        assert len(full) == 40
        assert [p["id"] for p in trimmed] == [p["id"] for p in full]
        assert [p["prediction"] for p in trimmed] == [p["prediction"] for p in full], language
    full_metrics = json.loads((studies["full"] / "metrics.json").read_text())
    trimmed_metrics = json.loads((studies["trimmed"] / "metrics.json").read_text())
    assert trimmed_metrics == full_metrics


@pytest.mark.slow  # two studies on the bundled encoder: ~2 min
def test_trimmed_run_records_the_trim_and_keeps_a_smaller_model(studies, cache) -> None:
    record = json.loads((studies["trimmed"] / "run.json").read_text())
    report = record["info"]["vocabulary"]
    assert report["encoder"] == E5
    assert report["original_vocab_size"] == 250037
    assert 1000 < report["kept"] < 60000  # four languages' XNLI files, not 250k pieces
    assert Path(report["folder"]).parent == cache / "trimmed"
    assert len(report["kept_ids_sha256"]) == 64
    full_record = json.loads((studies["full"] / "run.json").read_text())
    assert "vocabulary" not in full_record["settings"]
    assert "vocabulary" not in full_record["info"]

    def size(run_dir: Path) -> int:
        return sum(f.stat().st_size for f in (run_dir / "model").rglob("*") if f.is_file())

    # The word embeddings (250037 x 384 floats) are most of the full checkpoint.
    assert size(studies["trimmed"]) < size(studies["full"]) - (250037 - 60000) * 384 * 4


@pytest.mark.slow  # two studies on the bundled encoder: ~2 min
def test_a_rerun_reuses_the_runs_and_the_trimmed_encoder(studies, cache, shared_data,
                                                         tmp_path: Path) -> None:
    (folder,) = (cache / "trimmed").iterdir()
    written = (folder / "model.safetensors").stat().st_mtime_ns
    out = studies["trimmed"].parents[1]
    outcome = run_study(_spec(vocabulary="trimmed"), out, data_dir=shared_data,
                        log=lambda _: None)
    assert outcome.reused == [studies["trimmed"].name] and not outcome.done
    assert [p.name for p in (cache / "trimmed").iterdir()] == [folder.name]
    assert (folder / "model.safetensors").stat().st_mtime_ns == written


def test_full_run_ids_are_unchanged_and_trimmed_ones_name_their_sources() -> None:
    plain = plan_study(_spec())
    full = plan_study(_spec(vocabulary="full"))
    trimmed = plan_study(_spec(vocabulary="trimmed"))
    assert [r.id for r in full.runs] == [r.id for r in plain.runs]
    assert "vocabulary" not in full.runs[0].settings
    assert trimmed.runs[0].id != full.runs[0].id
    # Training and dev: English dev; evaluation: the test file of each language.
    assert trimmed.runs[0].settings["vocabulary"] == {"trimmed_on": [
        ["xnli", "dev", "en"], ["xnli", "test", "ar"], ["xnli", "test", "de"],
        ["xnli", "test", "zh"]]}


def test_an_intermediate_run_holds_the_sources_of_the_whole_study() -> None:
    spec = _spec(vocabulary="trimmed", intermediate=["none", "siqa"])
    plan = plan_study(spec)
    (inter,) = plan.intermediate_runs
    sources = inter.settings["vocabulary"]["trimmed_on"]
    assert ["siqa", "train", "en"] in sources and ["xnli", "test", "zh"] in sources
    assert all(r.settings["vocabulary"]["trimmed_on"] == sources for r in plan.runs)
    target_after = [r for r in plan.target_runs if r.parent == inter.id]
    assert len(target_after) == 1


def test_sources_follow_prefixes_generalized_and_alignment() -> None:
    spec = _spec(vocabulary="trimmed",
                 targets=[{"task": "xnli", "languages": ["de"], "train_split": "dev"},
                          {"task": "tatoeba", "languages": ["de"]}],
                 evaluation={"generalized": ["en", "sw"], "align": {"method": "procrustes"},
                             "retrieval": {"prefix": "query: "}})
    sources = plan_study(spec).runs[0].settings["vocabulary"]["trimmed_on"]
    assert sources == [
        ["tatoeba", "test", "de"],            # evaluation.align fits on Tatoeba de-en pairs
        ["tatoeba", "test", "de", "query: "],  # the retrieval target embeds "query: " + text
        ["xnli", "dev", "en"], ["xnli", "test", "de"],
        ["xnli", "test", "en"], ["xnli", "test", "sw"]]  # the generalized matrix's languages


def test_dry_run_shows_the_trimmed_vocabulary(shared_data: Path, tmp_path: Path) -> None:
    lines = describe_plan(plan_study(_spec(vocabulary="trimmed")), tmp_path, shared_data)
    assert lines[1] == (f"vocabulary: trimmed: {E5} to the texts of 4 sources "
                        "(xnli/dev/en, xnli/test/ar, xnli/test/de, xnli/test/zh)")
    full = describe_plan(plan_study(_spec()), tmp_path, shared_data)
    assert not any(line.startswith("vocabulary") for line in full)


@pytest.mark.parametrize(("extra", "expected"), [
    ({"encoder": "xlm-roberta-base"}, "encoders.0: vocabulary: trimmed: cannot trim "
                                      "'xlm-roberta-base'"),
    ({"training": {"smoothing": {"substitution_dictionary": "dict.tsv"}}},
     "targets.0: vocabulary: trimmed cannot be combined with "
     "training.smoothing.substitution_dictionary"),
    ({"intermediate": [{"task": "siqa", "mlm": True}]},
     "intermediate.0.mlm: vocabulary: trimmed cannot be combined with mlm"),
])
def test_what_a_trimmed_vocabulary_cannot_do_is_refused_before_any_run(
        extra: dict, expected: str, shared_data: Path) -> None:
    spec = _spec(vocabulary="trimmed", **extra)
    with pytest.raises(StudyConfigError) as err:
        check_study(spec, None, shared_data)
    assert expected in str(err.value)


def test_each_text_field_is_listed_on_its_own() -> None:
    assert example_texts(Example("1", ("a premise", "a hypothesis"), 0, "en")) == (
        "a premise", "a hypothesis")
    assert example_texts(QAExample("2", "Who?", "Ada wrote it.", None, "en")) == (
        "Who?", "Ada wrote it.")
    assert example_texts(ChoiceExample("3", "It rained.", ("wet", "dry"), 0, "en")) == (
        "It rained.", "wet", "dry")
    assert example_texts(TaggingExample("4", ("New", "York"), (1, 2), "en")) == ("New", "York")
