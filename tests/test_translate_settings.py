"""Translate-train, translate-train-all and translate-test next to zero-shot (docs/translate.md).

Real files only: XCOPA's Google-MT English test sets (``xcopa/data-gmt``), the XNLI-MT-1.0
translated MNLI rows of ``xstilts-samples/xnli_translate_train`` and the XTREME XNLI / XCOPA
files of ../shared/data; XTREME's five-column translated TSV layout, of which no real copy is
here, is written in tmp_path in that format. Models are the tiny random encoder.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from xstilts.errors import MissingDataError, StudyConfigError, XstiltsError
from xstilts.report.analysis import n_intermediate_tasks
from xstilts.report.language_info import intermediate_languages
from xstilts.report.summary import write_report
from xstilts.studies.dryrun import describe_plan
from xstilts.studies.executor import run_study
from xstilts.studies.planner import check_study, plan_study
from xstilts.studies.spec import StudySpec, load_study
from xstilts.tasks import get_task
from xstilts.tasks.translations import read_translation, translated_view
from xstilts.tasks.user import load_task_file
from xstilts.training.runs import setting_label, split_setting

XCOPA_LANGUAGES = ["ht", "sw"]
TINY = ("encoder: tiny:random\n"
        "training: {epochs: 1, batch_size: 2, max_seq_length: 32, max_train_examples: 16, "
        "max_dev_examples: 8, learning_rate: 0.001}\n"
        "evaluation: {max_examples: 20, bootstrap_resamples: 50}\n")


def _study(tmp_path: Path, text: str, name: str = "study.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture
def xnli_mt_dir(shared_data: Path, tmp_path: Path) -> Path:
    """A data folder with XTREME's ``xnli/`` and the XNLI-MT-1.0 release side by side (links
    to the real files, not copies)."""
    samples = shared_data / "xstilts-samples" / "xnli_translate_train" / "XNLI-MT-1.0"
    if not samples.is_dir():
        pytest.skip(f"XNLI-MT samples not found at {samples}")
    data = tmp_path / "data"
    data.mkdir()
    (data / "xnli").symlink_to(shared_data / "xnli")
    (data / "XNLI-MT-1.0").symlink_to(samples)
    return data


# --- the study file -------------------------------------------------------------------------

def test_settings_are_accepted_as_one_a_list_or_the_plural_shorthand(tmp_path: Path) -> None:
    spec = load_study(_study(tmp_path, "name: s\ntargets:\n"
                             "  - {task: xcopa, setting: translate-test}\n"
                             "  - {task: xnli, settings: [zero-shot, translate-train-all]}\n"
                             "  - xnli\n"))
    assert [t.settings for t in spec.targets] == [
        ["translate-test"], ["zero-shot", "translate-train-all"], ["zero-shot"]]


def test_unknown_and_repeated_settings_are_refused_with_their_line(tmp_path: Path) -> None:
    path = _study(tmp_path, "name: s\ntargets:\n"
                  "  - {task: xcopa, setting: translate-dev}\n"
                  "  - {task: xnli, setting: [translate-test, translate-test]}\n"
                  "  - {task: xnli, setting: zero-shot, settings: [translate-test]}\n")
    with pytest.raises(StudyConfigError) as info:
        load_study(path)
    message = str(info.value)
    assert "line 3, targets.0.setting" in message and "translate-train-all" in message
    assert "line 4, targets.1" in message and "lists a setting twice" in message
    assert "line 5, targets.2" in message and "not both" in message


def test_zero_shot_runs_keep_their_ids_and_settings(tmp_path: Path) -> None:
    plain = plan_study(load_study(_study(tmp_path, "name: s\ntargets: [xcopa]\n", "a.yaml")))
    explicit = plan_study(load_study(_study(
        tmp_path, "name: s\ntargets: [{task: xcopa, setting: [zero-shot, translate-test]}]\n",
        "b.yaml")))
    [zero_shot] = plain.runs
    assert "setting" not in zero_shot.settings
    assert explicit.runs[0].id == zero_shot.id
    assert explicit.runs[0].intermediate == "none"
    translated = explicit.runs[1]
    assert translated.id != zero_shot.id
    assert translated.settings["setting"] == "translate-test"
    assert translated.intermediate == "none [translate-test]"


# --- planning and the checks before training ---------------------------------------------------

def test_translate_train_plans_one_run_per_language_and_train_all_one(
        xnli_mt_dir: Path, tmp_path: Path) -> None:
    path = _study(tmp_path, "name: s\nintermediate: [none, sst2]\ntargets:\n"
                  "  - {task: xnli, languages: [en, es, fr, de], "
                  "setting: [translate-train, translate-train-all]}\n")
    spec = load_study(path)
    targets = plan_study(spec).target_runs
    by_arm: dict[str, list] = {}
    for run in targets:
        by_arm.setdefault(run.intermediate, []).append(run.run)
    assert sorted(by_arm) == ["none [translate-train-all]", "none [translate-train]",
                              "sst2 [translate-train-all]", "sst2 [translate-train]"]
    per_language = by_arm["none [translate-train]"]
    assert [(r.train_language, r.languages, r.dev_language) for r in per_language] == [
        ("es", ("es",), "en"), ("fr", ("fr",), "en"), ("de", ("de",), "en")]
    [everything] = by_arm["none [translate-train-all]"]
    assert (everything.train_language, everything.languages) == ("en", ("en", "es", "fr", "de"))
    assert len({r.id for r in targets}) == len(targets) == 8


def test_the_dry_run_counts_the_translated_rows_and_names_each_language(
        xnli_mt_dir: Path, tmp_path: Path) -> None:
    spec = load_study(_study(tmp_path, "name: s\nencoder: tiny:random\ntargets:\n"
                             "  - {task: xnli, languages: [es, fr], setting: translate-train}\n"))
    check_study(spec, tmp_path / "study.yaml", xnli_mt_dir)
    lines = describe_plan(plan_study(spec), tmp_path / "out", xnli_mt_dir)
    assert sum("none [translate-train] → xnli@es" in line for line in lines) == 1
    assert sum("none [translate-train] → xnli@fr" in line for line in lines) == 1
    # 4 XNLI-MT rows per language x 3 epochs (the default) x 2 runs
    assert any("24 training example passes" in line for line in lines)


def test_a_missing_translation_is_refused_before_training_naming_the_path(
        xnli_mt_dir: Path, tmp_path: Path) -> None:
    spec = load_study(_study(tmp_path, "name: s\ntargets:\n"
                             "  - {task: xnli, languages: [es, ar], train_split: train, "
                             "setting: translate-train}\n"))
    with pytest.raises(StudyConfigError) as info:
        check_study(spec, tmp_path / "study.yaml", xnli_mt_dir)
    message = str(info.value)
    assert "line 3, targets.0.setting: translate-train training data for 'ar' not found" \
        in message
    assert str(xnli_mt_dir / "xnli/translate-train/en-ar-translated.tsv") in message
    assert "'es'" not in message  # XNLI-MT's multinli.train.es.tsv is there


def test_xcopa_translate_test_without_a_translated_quechua_is_refused(
        shared_data: Path, tmp_path: Path) -> None:
    spec = load_study(_study(tmp_path, "name: s\ntargets:\n"
                             "  - {task: xcopa, languages: [ht, qu], setting: translate-test}\n"))
    with pytest.raises(StudyConfigError) as info:
        check_study(spec, tmp_path / "study.yaml", shared_data)
    assert str(shared_data / "xcopa/data-gmt/qu/test.qu.jsonl") in str(info.value)
    assert "'ht'" not in str(info.value)


def test_settings_a_task_has_no_files_for_are_refused(shared_data: Path, tmp_path: Path) -> None:
    spec = load_study(_study(tmp_path, "name: s\ntargets:\n"
                             "  - {task: udpos, languages: [de], setting: translate-train}\n"
                             "  - {task: tatoeba, languages: [de], setting: translate-test}\n"))
    with pytest.raises(StudyConfigError) as info:
        check_study(spec, tmp_path / "study.yaml", shared_data)
    message = str(info.value)
    assert "line 3, targets.0.setting: task 'udpos' has no translate-train files" in message
    assert "xnli" in message and "xcopa" in message  # the tasks that have some
    assert "line 4, targets.1.setting: task 'tatoeba' is a retrieval task" in message


# --- reading translated files ---------------------------------------------------------------

def test_xcopa_translate_test_reads_the_english_translation_under_the_original_ids(
        shared_data: Path) -> None:
    xcopa = get_task("xcopa")
    original = xcopa.load("test", "ht", shared_data)
    translated = read_translation(xcopa, "translate-test", "test", "ht", shared_data)
    raw = _jsonl(shared_data / "xcopa/data-gmt/ht/test.ht.jsonl")
    assert [e.id for e in translated] == [e.id for e in original]
    assert [e.label for e in translated] == [e.label for e in original] == \
        [r["label"] for r in raw]
    assert translated[0].context.startswith(raw[0]["premise"])
    assert raw[0]["premise"] == "The item was wrapped with bubble wrap."
    # The view reads English (the training language) and the dev split from the task itself.
    view = translated_view(xcopa, "translate-test", train_split="train", eval_split="test",
                           languages=("ht",))
    assert view.load("test", "ht", shared_data) == translated
    assert view.load("dev", "ht", shared_data) == xcopa.load("dev", "ht", shared_data)


def test_xnli_mt_rows_read_as_translated_training_data(xnli_mt_dir: Path) -> None:
    xnli = get_task("xnli")
    es = read_translation(xnli, "translate-train", "train", "es", xnli_mt_dir)
    assert len(es) == 4  # the header "premise hypo label" is no row
    assert es[0].texts[0].startswith("Los robando de crema")
    assert [xnli.labels[e.label] for e in es] == ["neutral", "entailment", "entailment",
                                                  "entailment"]
    assert es[0].id == "xnli-train-es-0" and es[0].language == "es"
    view = translated_view(xnli, "translate-train-all", train_split="dev", eval_split="test",
                           languages=("en", "es", "fr", "de"))
    everything = view.load("dev", "en", xnli_mt_dir)
    english = xnli.load("dev", "en", xnli_mt_dir)
    assert len(everything) == len(english) + 12
    assert {e.language for e in everything} == {"en", "es", "fr", "de"}
    assert len({e.id for e in everything}) == len(everything)


def test_xtreme_five_column_translations_read_the_translated_columns(tmp_path: Path) -> None:
    folder = tmp_path / "xnli" / "translate-train"
    folder.mkdir(parents=True)
    (folder / "en-de-translated.tsv").write_text(
        "The cat sat.\tA cat is sitting.\tDie Katze saß.\tEine Katze sitzt.\tentailment\n"
        "It rains.\tIt is dry.\tEs regnet.\tEs ist trocken.\tcontradictory\n", encoding="utf-8")
    xnli = get_task("xnli")
    rows = read_translation(xnli, "translate-train", "train", "de", tmp_path)
    assert [(e.texts, xnli.labels[e.label]) for e in rows] == [
        (("Die Katze saß.", "Eine Katze sitzt."), "entailment"),
        (("Es regnet.", "Es ist trocken."), "contradiction")]
    (folder / "en-fr-translated.tsv").write_text("a\tb\tc\tentailment\n", encoding="utf-8")
    with pytest.raises(XstiltsError, match=r"en-fr-translated.tsv:1: expected 5 tab-separated"):
        read_translation(xnli, "translate-train", "train", "fr", tmp_path)
    with pytest.raises(MissingDataError, match="en-es-translated.tsv"):
        read_translation(xnli, "translate-train", "train", "es", tmp_path)


def test_a_task_file_names_its_translated_files(shared_data: Path, tmp_path: Path) -> None:
    """A user task over the real XNLI files names the XNLI-MT rows as its translate-train
    files, read with its own TSV format and columns."""
    samples = shared_data / "xstilts-samples" / "xnli_translate_train" / "XNLI-MT-1.0"
    if not samples.is_dir():
        pytest.skip(f"XNLI-MT samples not found at {samples}")
    task_file = tmp_path / "tasks.yaml"
    task_file.write_text(f"""tasks:
  - name: nli-mt-user
    type: pair_classification
    labels: [contradictory, entailment, neutral]
    languages: [en, es, fr]
    format: tsv
    files: {{path: "{{data_dir}}/xnli/{{split}}-{{language}}.tsv"}}
    columns: {{text_a: premise, text_b: hypo, label: label}}
    translations:
      translate_train: "{samples}/multinli/multinli.train.{{language}}.tsv"
""", encoding="utf-8")
    [task] = load_task_file(task_file)
    rows = read_translation(task, "translate-train", "train", "fr", shared_data)
    assert len(rows) == 4 and rows[0].language == "fr"
    assert {task.labels[e.label] for e in rows} <= {"contradictory", "entailment", "neutral"}
    bad = tmp_path / "bad.yaml"
    bad.write_text(task_file.read_text().replace("translate_train", "translate_dev"))
    with pytest.raises(XstiltsError, match="translate_dev"):
        load_task_file(bad)


# --- the report's arm labels ----------------------------------------------------------------

def test_arm_labels_carry_the_setting_and_parse_back() -> None:
    assert setting_label("none", "zero-shot") == "none"
    assert setting_label("none", "translate-test") == "none [translate-test]"
    assert split_setting("mix(a+b@fr) (mlm) [translate-train]") == \
        ("mix(a+b@fr) (mlm)", "translate-train")
    assert split_setting("xnli@de") == ("xnli@de", "zero-shot")
    assert n_intermediate_tasks("none [translate-test]") == 0
    assert n_intermediate_tasks("mix(a+b) [translate-train-all]") == 2
    assert intermediate_languages("none [translate-test]") == []
    assert intermediate_languages("xnli@de (mlm) [translate-train]") == ["de"]


# --- end to end -----------------------------------------------------------------------------

def test_xcopa_translate_test_next_to_zero_shot_end_to_end(
        shared_data: Path, tmp_path: Path) -> None:
    path = _study(tmp_path, "name: tt-xcopa\n" + TINY + "targets:\n"
                  f"  - {{task: xcopa, languages: {XCOPA_LANGUAGES}, "
                  "setting: [zero-shot, translate-test]}\n")
    spec: StudySpec = load_study(path)
    out = tmp_path / "out"
    outcome = run_study(spec, out, data_dir=shared_data, study_path=path, log=lambda m: None)
    assert not outcome.failed and len(outcome.done) == 2
    zero_shot, translated = (out / "runs" / run.id for run in outcome.plan.runs)
    for lang in XCOPA_LANGUAGES:
        zs = _jsonl(zero_shot / "predictions" / f"{lang}.jsonl")
        tt = _jsonl(translated / "predictions" / f"{lang}.jsonl")
        assert [r["id"] for r in zs] == [r["id"] for r in tt] == \
            [f"xcopa-test-{lang}-{i}" for i in range(20)]
        assert [r["gold"] for r in zs] == [r["gold"] for r in tt]
    record = json.loads((translated / "run.json").read_text())
    assert record["settings"]["setting"] == "translate-test"

    report = write_report(out, "tt-xcopa", formats=["md", "json", "html"], resamples=50)
    summary = json.loads((report / "summary.json").read_text())
    [block] = summary["blocks"]
    assert block["configs"] == ["none", "none [translate-test]"]
    scores = {(s["config"], s["language"]) for s in summary["scores"]}
    assert scores == {(c, lang) for c in block["configs"] for lang in XCOPA_LANGUAGES}
    deltas = {d["scope"]: d for d in summary["deltas"] if d["config"] == "none [translate-test]"}
    for scope in ("zero-shot avg", *XCOPA_LANGUAGES):
        assert deltas[scope]["versus"] == "none"
        assert deltas[scope]["ci_low"] <= deltas[scope]["delta"] <= deltas[scope]["ci_high"]
    markdown = (report / "summary.md").read_text()
    assert "| `none [translate-test]` |" in markdown
    [headline] = summary["headlines"]
    assert headline["config"] == "none [translate-test]"
    assert "intermediate" not in headline["text"]  # a setting is no intermediate task
    assert "none [translate-test]" in (report / "index.html").read_text()


def test_xnli_translate_train_trains_on_the_xnli_mt_rows_end_to_end(
        xnli_mt_dir: Path, tmp_path: Path) -> None:
    path = _study(tmp_path, "name: tt-xnli\n" + TINY + "targets:\n"
                  "  - {task: xnli, languages: [es, fr], setting: translate-train}\n")
    spec = load_study(path)
    out = tmp_path / "out"
    outcome = run_study(spec, out, data_dir=xnli_mt_dir, study_path=path, log=lambda m: None)
    assert not outcome.failed and len(outcome.done) == 2
    for run, lang in zip(outcome.plan.runs, ("es", "fr"), strict=True):
        record = json.loads((out / "runs" / run.id / "run.json").read_text())
        assert record["settings"]["setting"] == "translate-train"
        assert record["settings"]["train_language"] == lang
        assert record["settings"]["languages"] == [lang]
        # Four translated rows, batches of two, one epoch: two steps (English MNLI has no
        # file here at all, so nothing else can have been read for training).
        assert record["info"]["training"]["steps"] == 2
        assert record["info"]["training"]["dev_scores"]  # selected on English dev
        predictions = _jsonl(out / "runs" / run.id / "predictions" / f"{lang}.jsonl")
        assert [r["id"] for r in predictions] == [f"xnli-test-{lang}-{i}" for i in range(20)]


def test_a_trimmed_vocabulary_is_refused_with_translated_files(tmp_path: Path) -> None:
    """The trimmed vocabulary covers the texts of the task's own files only."""
    spec = load_study(_study(tmp_path, "name: s\nvocabulary: trimmed\n"
                             "encoder: bundled:multilingual-e5-small\ntargets:\n"
                             "  - {task: xcopa, languages: [ht], setting: translate-test}\n"))
    with pytest.raises(StudyConfigError, match=r"line 5, targets.0.setting: vocabulary: "
                       r"trimmed cannot be combined with translate-test"):
        check_study(spec, tmp_path / "study.yaml", None)
