"""Every task with files in ../shared/data loads with the EXACT counts MANIFEST.md states."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from xstilts.tasks import get_task
from xstilts.tasks.base import MiningSentence


def _load_all(task_name: str, data: Path) -> dict[tuple[str, str], list]:
    """Every (split, language) of a task whose file exists, loaded once."""
    task = get_task(task_name)
    return {
        (split, lang): task.load(split, lang, data)
        for split in task.splits
        for lang in task.languages
        if task.has_data(split, lang, data)
    }


@pytest.fixture(scope="module")
def udpos(shared_data: Path) -> dict[tuple[str, str], list]:
    return _load_all("udpos", shared_data)


@pytest.fixture(scope="module")
def panx(shared_data: Path) -> dict[tuple[str, str], list]:
    return _load_all("panx", shared_data)


def _totals(loaded: dict[tuple[str, str], list]) -> tuple[Counter, Counter]:
    sentences: Counter = Counter()
    files: Counter = Counter()
    for (split, _), examples in loaded.items():
        sentences[split] += len(examples)
        files[split] += 1
    return sentences, files


def test_udpos_counts(udpos: dict) -> None:
    sentences, files = _totals(udpos)
    assert (sentences["test"], files["test"]) == (77_734, 37)
    assert (sentences["dev"], files["dev"]) == (72_363, 34)
    train = {lang: len(ex) for (split, lang), ex in udpos.items() if split == "train"}
    assert train == {"en": 21_253, "ar": 6_075, "fi": 27_198, "ja": 7_125, "nl": 18_051,
                     "zh": 7_994}
    assert len(udpos[("dev", "en")]) == 3_974 and len(udpos[("test", "en")]) == 5_440
    assert len(udpos[("dev", "de")]) == 19_233 and ("test", "de") not in udpos
    first = udpos[("train", "en")][0]
    labels = get_task("udpos").labels
    assert first.tokens[:3] == ("Al", "-", "Zaman")
    assert [labels[t] for t in first.tags[:3]] == ["PROPN", "PUNCT", "PROPN"]
    used = {t for ex in udpos[("train", "en")] for t in ex.tags}
    assert used == set(range(17))  # all 17 UPOS tags occur in English train


def test_panx_counts(panx: dict) -> None:
    sentences, files = _totals(panx)
    assert (sentences["dev"], files["dev"]) == (293_600, 47)
    train = {lang: len(ex) for (split, lang), ex in panx.items() if split == "train"}
    assert train == dict.fromkeys(("en", "de", "es", "fr", "ru", "zh", "ar"), 20_000)
    assert len(panx[("dev", "en")]) == 10_000
    first = panx[("train", "en")][0]
    labels = get_task("panx").labels
    assert first.tokens[:2] == ("R.H.", "Saunders")
    assert [labels[t] for t in first.tags[:2]] == ["B-ORG", "I-ORG"]
    assert not any(tok.startswith("en:") for ex in panx[("dev", "en")] for tok in ex.tokens)


def test_qa_counts(shared_data: Path) -> None:
    xquad = _load_all("xquad", shared_data)
    assert {lang for _, lang in xquad} == set(get_task("xquad").languages)
    assert all(len(ex) == 1190 for ex in xquad.values()) and len(xquad) == 12
    assert len({e.context for e in xquad[("test", "de")]}) == 240
    mlqa = {lang: len(ex) for (_, lang), ex in _load_all("mlqa", shared_data).items()}
    assert mlqa == {"en": 1148, "ar": 517, "de": 512, "es": 500, "hi": 507, "vi": 511,
                    "zh": 504}
    tydiqa = _load_all("tydiqa", shared_data)
    assert {lang: len(ex) for (_, lang), ex in tydiqa.items()} == {
        "en": 3696, "ko": 1625, "sw": 2755}
    ids = [e.id for e in tydiqa[("train", "en")]]
    assert len(set(ids)) == len(ids)  # the file reuses question ids; ours are made unique
    example = xquad[("test", "en")][0]
    answer = example.answers[0]
    assert example.context[answer.start:answer.start + len(answer.text)] == answer.text


def test_choice_counts(shared_data: Path) -> None:
    xcopa = _load_all("xcopa", shared_data)
    for lang in get_task("xcopa").languages:
        assert len(xcopa[("dev", lang)]) == 100 and len(xcopa[("test", lang)]) == 500
    # The upstream test files carry real labels; English COPA's test labels are withheld.
    assert Counter(e.label for e in xcopa[("test", "et")]) == {0: 250, 1: 250}
    assert {e.label for e in xcopa[("test", "en")]} == {None}
    first = xcopa[("dev", "et")][0]
    assert first.context == "Mees keeras kraani lahti. What happened as a RESULT?"
    assert first.choices == ("Tualett täitus veega.", "Tilast voolas vett.") and first.label == 1
    copa = {s: len(ex) for (s, _), ex in _load_all("copa", shared_data).items()}
    assert copa == {"train": 400, "dev": 100, "test": 500}
    siqa = _load_all("siqa", shared_data)
    assert len(siqa[("dev", "en")]) == 1954 and len(siqa[("test", "en")]) == 2224
    assert siqa[("dev", "en")][0].label == 2 and len(siqa[("dev", "en")][0].choices) == 3


def test_retrieval_counts(shared_data: Path) -> None:
    tatoeba = get_task("tatoeba")
    counts = {lang: len(tatoeba.load("test", lang, shared_data)) for lang in tatoeba.languages}
    assert len(counts) == 112 and sum(counts.values()) == 88_877
    assert counts["de"] == counts["zh"] == 1000 and counts["sw"] == 390
    assert min(counts.values()) == 104 and counts["tzl"] == 104
    bucc = get_task("bucc2018").load("dev", "zh", shared_data)
    sides = Counter(s.side for s in bucc)
    assert sides == {"source": 8624, "target": 13_589}
    gold = [s for s in bucc if s.side == "source" and s.gold is not None]
    assert len(gold) == 257
    by_id = {s.id: s for s in bucc}
    assert all(isinstance(by_id[s.gold], MiningSentence) and by_id[s.gold].gold == s.id
               for s in gold)


def test_classification_and_similarity_counts(shared_data: Path) -> None:
    sst2 = {s: ex for (s, _), ex in _load_all("sst2", shared_data).items()}
    assert {s: len(ex) for s, ex in sst2.items()} == {"train": 60_614, "dev": 6_735,
                                                       "test": 872}
    assert sst2["dev"][0].texts == ("the expressive power of the camera",)
    stsb = {s: ex for (s, _), ex in _load_all("stsb", shared_data).items()}
    assert {s: len(ex) for s, ex in stsb.items()} == {"train": 5_749, "dev": 1_500,
                                                       "test": 1_379}
    assert stsb["train"][0].texts == ("A plane is taking off.", "An air plane is taking off.")
    assert stsb["train"][0].label == 5.0
    sts17 = get_task("sts17")
    for lang in sts17.languages:
        examples = sts17.load("test", lang, shared_data)
        assert len(examples) == 250 and all(0 <= e.label <= 5 for e in examples)
    tr_en = sts17.load("test", "tr-en", shared_data)
    assert tr_en[2].texts[0] == "People are having a meeting." and tr_en[2].label == 5.0
    assert len(sts17.load("train", "en-en", shared_data)) == 5_749
