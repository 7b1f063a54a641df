"""Any language (issue #16, part 1): codes, tags and names beyond the hand table, Glottolog
families from URIEL+, scripts from text, `xstilts languages`, and AmericasNLI as a user task."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from xstilts.cli import app
from xstilts.errors import XstiltsError
from xstilts.languages import (
    TATOEBA_SOURCE_CODES,
    UNCLASSIFIED,
    canonical_code,
    get_language,
    group_languages,
    is_known,
    with_text_script,
)
from xstilts.report.analysis import group_averages
from xstilts.report.language_info import (
    PAIR_GROUP,
    attribute,
    describe,
    display_name,
    group_names,
    is_pair,
    typology_vs_english,
)
from xstilts.report.summary import write_report
from xstilts.studies.executor import run_study
from xstilts.studies.spec import load_study
from xstilts.studies.validation import check_study
from xstilts.tasks.user import load_task_file
from xstilts.text_scripts import detect_script

# AmericasNLI's ten languages and their top-level Glottolog families, as issue #16 lists them
# (glottolog.org: Aymara, Bribri, Asháninka, Guaraní, Huichol, Nahuatl, Otomi, Ayacucho
# Quechua, Shipibo-Konibo, Rarámuri).
AMERICASNLI_FAMILIES = {
    "aym": "Aymaran", "bzd": "Chibchan", "cni": "Arawakan", "gn": "Tupian",
    "hch": "Uto-Aztecan", "nah": "Uto-Aztecan", "oto": "Otomanguean", "quy": "Quechuan",
    "shp": "Pano-Tacanan", "tar": "Uto-Aztecan",
}
AMERICASNLI = list(AMERICASNLI_FAMILIES)


# --- resolution -----------------------------------------------------------------------------


@pytest.mark.parametrize(("code", "family"), AMERICASNLI_FAMILIES.items())
def test_americasnli_languages_get_their_glottolog_family(code: str, family: str) -> None:
    language = get_language(code)
    assert language.family == family
    assert language.genus != UNCLASSIFIED
    assert "URIEL+" in language.sources["family"]


def test_americasnli_codes_and_names() -> None:
    # ISO 639-1 where the language has one (aym -> ay), as for the table's languages
    assert [canonical_code(c) for c in AMERICASNLI] == [
        "ay", "bzd", "cni", "gn", "hch", "nah", "oto", "quy", "shp", "tar"]
    assert get_language("quy").name == "Ayacucho Quechua"
    assert get_language("quy").macrolanguage == "qu"  # and not the table's Quechua itself
    assert get_language("quy") != get_language("qu")
    assert get_language("Bribri").code == "bzd"
    assert get_language("Guarani") == get_language("grn") == get_language("gn")
    assert get_language("nah").name == "Nahuatl languages"  # an ISO 639-5 group


def test_languages_outside_the_table_have_no_resource_level() -> None:
    language = get_language("shp")
    assert language.resource_level is None
    assert "Joshi" in language.sources["resource_level"]


def test_bcp47_tags_keep_the_code_and_take_the_script() -> None:
    serbian = get_language("sr-Latn")
    assert (serbian.code, serbian.script) == ("sr", "Latn")
    assert get_language("sr").script == "Cyrl"
    assert get_language("zh-Hant").script == "Hant"
    assert get_language("zh-TW").script == "Hant"  # CLDR: Chinese in Taiwan is Traditional
    assert get_language("uz-Cyrl").script == "Cyrl"
    portuguese = get_language("pt-BR")
    assert (portuguese.code, portuguese.script) == ("pt", "Latn")
    assert serbian.sources["script"].startswith("language tag")


def test_the_table_codes_do_not_change() -> None:
    """Run ids and reports depend on these (the Tatoeba conventions of the module doc)."""
    expected = {"deu": "de", "ger": "de", "cmn": "zh", "swh": "sw", "zsm": "ms", "arb": "ar",
                "pes": "fa", "no": "nb", "kzj": "kzj", "dtp": "dtp", "ber": "ber", "iw": "he"}
    assert {c: canonical_code(c) for c in expected} == expected
    assert get_language("de").sources["genus"].startswith("xstilts table")


def test_retired_codes_resolve_to_their_replacement() -> None:
    # ISO 639-3 retired "ayx" (Ayi, China) into "nun" (Anong) in 2011; "mo" is Romanian
    assert canonical_code("ayx") == "nun"
    assert canonical_code("mo") == "ro"


@pytest.mark.parametrize("code", ["qaa", "qqq", "und", "mul", "zxx", "xx", "deu1"])
def test_codes_that_are_no_language_are_refused(code: str) -> None:
    assert not is_known(code)
    with pytest.raises(XstiltsError, match="unknown language"):
        get_language(code)


def test_unclassified_attributes_group_as_unclassified() -> None:
    groups = group_languages(["de", "bzd", "xx"], by="resource_level")
    assert groups == {"5": ["de"], UNCLASSIFIED: ["bzd"], "unknown": ["xx"]}
    assert group_languages(["de", "bzd"], by="script") == {"Latn": ["de"], UNCLASSIFIED: ["bzd"]}


# --- scripts from text ----------------------------------------------------------------------


def test_detected_scripts_match_the_table_for_every_tatoeba_language(shared_data: Path) -> None:
    """Real sentences in 112 languages: the script of their letters is the table's, except
    that Han text does not tell Simplified from Traditional (Hani), and Tatoeba's Serbian is
    mostly Latin (the table gives Serbian's conventional Cyrillic)."""
    folder = shared_data / "tatoeba"
    if not folder.is_dir():
        pytest.skip(f"{folder} not found")
    mismatches = {}
    for code in TATOEBA_SOURCE_CODES:
        lines = (folder / f"tatoeba.{code}-eng.{code}").read_text(encoding="utf-8").splitlines()
        expected = get_language(code).script
        expected = "Hani" if expected in ("Hans", "Hant") else expected
        if (found := detect_script(lines[:200])) != expected:
            mismatches[code] = found
    assert mismatches == {"srp": "Latn"}


def test_japanese_text_is_jpan_and_text_without_letters_has_no_script(
        shared_data: Path) -> None:
    lines = (shared_data / "pawsx" / "dev-ja.tsv").read_text(encoding="utf-8").splitlines()
    assert detect_script(lines[:50]) == "Jpan"
    assert detect_script(["123 456", "!?"]) is None
    assert detect_script([]) is None


def test_a_language_without_a_script_takes_it_from_its_text() -> None:
    bribri = get_language("bzd")
    assert bribri.script == UNCLASSIFIED  # neither CLDR nor the IANA registry gives one
    # Bribri (Jara Murillo's orthography): Latin letters with combining marks
    found = with_text_script(bribri, ["Ye\u0300 ku\u0301 ì tö̀ Sibö̀ ie̠"])
    assert found.script == "Latn" and "detected" in found.sources["script"]
    assert with_text_script(bribri, ["123"]) is bribri
    german = get_language("de")
    assert with_text_script(german, ["Привет"]) is german  # a known script is kept


# --- report helpers -------------------------------------------------------------------------


def test_report_groups_keep_unclassified_languages_in_every_average() -> None:
    """A baseline and one intermediate configuration over English, German and the ten
    AmericasNLI languages: every zero-shot language is in exactly one group of each
    attribute, the ten form the "unclassified" resource-level group, and that group's
    average is worked out here by hand."""
    def row(config: str, lang: str, value: float) -> dict:
        return {"study": "s", "run_id": config, "model": "m", "intermediate": config,
                "target_task": "xnli", "language": lang, "split": "test",
                "metric": "accuracy", "value": value, "ci_low": None, "ci_high": None,
                "n": 10, "seed": 0}

    langs = ["en", "de", *AMERICASNLI]
    values = {lang: 0.30 + 0.02 * i for i, lang in enumerate(langs)}
    rows = [row(c, lang, v) for c in ("none", "x") for lang, v in values.items()]
    for attr in ("family", "genus", "script", "resource_level"):
        groups = [g for g in group_averages(rows, attr) if g["config"] == "none"]
        grouped = sorted(lang for g in groups for lang in g["languages"])
        assert grouped == sorted(langs[1:]), attr
    levels = {g["group"]: g for g in group_averages(rows, "resource_level")
              if g["config"] == "none"}
    assert set(levels) == {"5", UNCLASSIFIED}
    # the ten are at i = 2..11: mean of 0.30 + 0.02 i = 0.30 + 0.02 * 6.5 = 0.43 -> 43.0 points
    assert levels[UNCLASSIFIED]["mean"] == pytest.approx(43.0)
    uto = [g for g in group_averages(rows, "family")
           if g["config"] == "none" and g["group"] == "Uto-Aztecan"]
    assert sorted(uto[0]["languages"]) == ["hch", "nah", "tar"]


def test_attribute_and_typology_of_unclassified_languages() -> None:
    assert attribute("bzd", "resource_level") == UNCLASSIFIED
    assert attribute("bzd", "script") == UNCLASSIFIED
    assert attribute("bzd", "family") == "Chibchan"
    assert typology_vs_english("bzd") == {
        "resource_level": None, "same_family": 0, "same_genus": 0, "same_script": None,
        "typological_distance": None}
    assert typology_vs_english("de")["typological_distance"] == 0


def test_region_tags_are_one_language_and_lower_case_pairs_two() -> None:
    assert not is_pair("pt-BR")  # Brazilian Portuguese, not Portuguese-Breton
    assert attribute("pt-BR", "family") == "Indo-European"
    assert is_pair("ar-en") and is_pair("en-de")  # STS17 tracks
    # STS17 track 4b (WMT news) is Spanish-English too, whatever ISO 639-3's "wmt" is
    assert is_pair("es-en-wmt") and display_name("es-en-wmt") == "Spanish–English"
    assert attribute("es-en-wmt", "family") == PAIR_GROUP == attribute("es-en", "family")
    assert not is_pair("zh-yue-hk")  # a region after the language: not a qualifier
    # a group's cell tells the two Spanish-English tracks apart, and only those
    assert group_names(["ar-en", "es-en", "es-en-wmt"]) == (
        "Arabic–English, Spanish–English (es-en), Spanish–English (es-en-wmt)")


def test_describe_says_where_each_attribute_came_from() -> None:
    record = describe("aym")
    assert record["input"] == "aym" and record["code"] == "ay" and record["family"] == "Aymaran"
    assert record["resource_level"] == UNCLASSIFIED
    assert set(record["sources"]) == {"name", "family", "genus", "script", "resource_level"}


# --- `xstilts languages` --------------------------------------------------------------------


def test_languages_command_json() -> None:
    result = CliRunner().invoke(app, ["languages", *AMERICASNLI, "de", "--json"])
    assert result.exit_code == 0, result.output
    items = json.loads(result.stdout)
    assert [i["input"] for i in items] == [*AMERICASNLI, "de"]
    keys = {"code", "name", "family", "genus", "script", "resource_level", "sources"}
    assert all(keys <= set(i) for i in items)
    assert {i["input"]: i["family"] for i in items[:10]} == AMERICASNLI_FAMILIES
    assert items[-1]["resource_level"] == 5 and items[0]["resource_level"] == UNCLASSIFIED


def test_languages_command_table_and_errors() -> None:
    result = CliRunner().invoke(app, ["languages", "shp"])
    assert result.exit_code == 0 and "Pano-Tacanan" in result.stdout
    assert "URIEL+" in result.stdout  # the sources are printed under the table
    bad = CliRunner().invoke(app, ["languages", "qqq"])
    assert bad.exit_code == 2 and "unknown language 'qqq'" in bad.output
    listing = CliRunner().invoke(app, ["languages", "--json"])
    assert len(json.loads(listing.stdout)) == 120  # no codes: the hand table


# --- AmericasNLI as a user task -------------------------------------------------------------

TASK_FILE = """\
tasks:
  - name: {name}
    type: pair_classification
    labels: [entailment, neutral, contradiction]
    languages: [en, {languages}]
    train_language: en
    format: tsv
    files: {{path: 'data/{{split}}.tsv', language_column: language}}
    columns: {{id: id, text_a: premise, text_b: hypothesis, label: label}}
    splits: [train, dev, test]
"""

STUDY = """\
name: americasnli-study
encoder: tiny:random
seeds: [0]
task_files: [tasks/americasnli.yaml]
targets:
  - task: {name}
training: {{epochs: 1, batch_size: 8, max_seq_length: 16, max_train_examples: 12,
           max_dev_examples: 6, learning_rate: 0.001}}
evaluation: {{max_examples: 6, bootstrap_resamples: 20}}
"""
LABELS = ("entailment", "neutral", "contradiction")


def _americasnli_files(root: Path, name: str) -> Path:
    """Made-up rows (the same sentence pairs under every language code), one file per split
    with a language column; returns the study file."""
    data = root / "tasks" / "data"
    data.mkdir(parents=True)
    for split, langs in (("train", ["en"]), ("dev", ["en"]), ("test", ["en", *AMERICASNLI])):
        with (data / f"{split}.tsv").open("w", encoding="utf-8", newline="") as f:
            out = csv.writer(f, delimiter="\t")
            out.writerow(["id", "language", "premise", "hypothesis", "label"])
            for lang in langs:
                for i in range(12 if split == "train" else 6):
                    out.writerow([f"{split}-{lang}-{i}", lang, f"premise {i} word{i % 4}",
                                  f"hypothesis {i % 3}", LABELS[i % 3]])
    listed = ", ".join(AMERICASNLI)
    (root / "tasks" / "americasnli.yaml").write_text(TASK_FILE.format(name=name,
                                                                      languages=listed))
    study = root / "study.yaml"
    # The study names no languages: every language of the task (a study's own `languages`
    # list is not canonicalised today, so "aym" there would have to be written "ay").
    study.write_text(STUDY.format(name=name))
    return study


def test_an_americasnli_task_file_validates(tmp_path: Path) -> None:
    study = _americasnli_files(tmp_path, "americasnli")
    (task,) = load_task_file(tmp_path / "tasks" / "americasnli.yaml")
    assert task.languages == ("en", "ay", "bzd", "cni", "gn", "hch", "nah", "oto", "quy",
                              "shp", "tar")
    assert len(task.load("test", "ay", None)) == 6  # rows labelled "aym" are Aymara's
    check_study(load_study(study), study, None)  # raises StudyConfigError on any problem


def test_an_americasnli_study_runs_and_reports_by_family(tmp_path: Path) -> None:
    study = _americasnli_files(tmp_path, "americasnli-run")
    outcome = run_study(load_study(study), tmp_path / "out", study_path=study,
                        log=lambda _: None)
    assert not outcome.failed and len(outcome.done) == 1
    report = write_report(tmp_path / "out")
    with (report / "results.csv").open() as f:
        languages = {r["language"] for r in csv.DictReader(f)}
    ten = ["ay", "bzd", "cni", "gn", "hch", "nah", "oto", "quy", "shp", "tar"]
    assert languages == {"en", *ten}
    summary = json.loads((report / "summary.json").read_text())
    (block,) = summary["blocks"]
    assert block["zero_shot"] == ten  # none dropped, unclassified script or resource level
    (average,) = summary["averages"]
    scores = [s["mean"] for s in summary["scores"] if s["language"] != "en"]
    assert average["zero_shot_avg"] == pytest.approx(sum(scores) / 10)
    assert {attribute(lang, "family") for lang in ten} == set(AMERICASNLI_FAMILIES.values())


def test_task_file_text_is_what_the_docs_show() -> None:
    """The docs' AmericasNLI task file (docs/languages.md) is this test's file."""
    docs = Path(__file__).resolve().parents[1] / "docs" / "languages.md"
    shown = docs.read_text(encoding="utf-8")
    task_file = TASK_FILE.format(name="americasnli", languages=", ".join(AMERICASNLI))
    assert task_file in shown
