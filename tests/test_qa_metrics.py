"""SQuAD v1.1 and MLQA exact match / F1 on hand-computed cases."""

from __future__ import annotations

import pytest

from xstilts.errors import UnlabeledSplitError
from xstilts.evaluation.qa_metrics import (
    exact_match,
    normalize_mlqa,
    normalize_squad,
    qa_example_scores,
    score_qa,
    token_f1,
)


def test_squad_normalisation() -> None:
    # lower -> drop ASCII punctuation -> drop a/an/the -> collapse whitespace
    assert normalize_squad("  The Eiffel-Tower, in  Paris!") == "eiffeltower in paris"
    assert normalize_squad("An apple a day") == "apple day"
    # "theatre" keeps its "the": articles are whole words only
    assert normalize_squad("the theatre") == "theatre"
    # SQuAD v1.1 only strips ASCII punctuation: the CJK full stop survives
    assert normalize_squad("北京。") == "北京。"


def test_squad_em_and_f1_hand_computed() -> None:
    assert exact_match("the Eiffel Tower", ["Eiffel Tower"]) == 1.0
    assert exact_match("Eiffel", ["Eiffel Tower"]) == 0.0
    # pred {eiffel}, gold {eiffel, tower}: P = 1/1, R = 1/2, F1 = 2*1*0.5/1.5 = 2/3
    assert token_f1("Eiffel", ["Eiffel Tower"]) == pytest.approx(2 / 3)
    # max over golds: vs "in Paris" -> {in, paris}; pred {paris, france}: P=1/2, R=1/2 -> 1/2
    # vs "France" -> P = 1/2, R = 1/1 -> F1 = 2/3; max = 2/3
    assert token_f1("Paris, France", ["in Paris", "France"]) == pytest.approx(2 / 3)
    # bag of tokens with multiplicity: pred {a:..} -> "new new york" vs "new york":
    # common = min(2,1) new + 1 york = 2; P = 2/3, R = 2/2, F1 = 2*(2/3)/(5/3) = 0.8
    assert token_f1("new new york", ["new york"]) == pytest.approx(0.8)
    # nothing in common -> 0; an empty answer against an empty gold: EM 1, F1 0 (v1.1 rule)
    assert token_f1("London", ["Paris"]) == 0.0
    assert exact_match("the", ["a"]) == 1.0 and token_f1("the", ["a"]) == 0.0


def test_mlqa_article_lists_per_language() -> None:
    assert normalize_mlqa("El Museo del Prado", "es") == "museo del prado"
    assert normalize_mlqa("los gatos y las casas", "es") == "gatos y casas"
    assert normalize_mlqa("lo mismo", "es") == "lo mismo"  # the MLQA script has no "lo"
    assert normalize_mlqa("Der Hund und einer Katze", "de") == "hund und katze"
    assert normalize_mlqa("những con mèo của tôi", "vi") == "con mèo tôi"
    assert normalize_mlqa("The cat", "en") == "cat"
    # Hindi and Chinese have no article list
    assert normalize_mlqa("एक किताब", "hi") == "एक किताब"
    # Arabic: every "ال" is removed, also word-internally (the script's behaviour)
    assert normalize_mlqa("الكتاب", "ar") == "كتاب"
    assert normalize_mlqa("سالم", "ar") == "س م"


def test_mlqa_unicode_punctuation_and_mixed_segmentation() -> None:
    # «» ¿? ¡! are Unicode punctuation (Pi/Pf/Po), all removed; ASCII rules would keep «»¿¡
    assert normalize_mlqa("«¿Qué?» ¡Sí!", "es") == "qué sí"
    assert normalize_squad("«¿Qué?»") == "«¿qué»"
    # zh: each ideograph is a token, a Latin run stays one token; "。" and "（）" are removed
    assert normalize_mlqa("北京大学（PKU 2024）。", "zh") == "北 京 大 学 pku 2024"
    # F1 then counts characters: pred 北京 vs gold 北京大学: P = 2/2, R = 2/4 -> F1 = 2/3
    assert token_f1("北京", ["北京大学"], lang="zh") == pytest.approx(2 / 3)
    # SQuAD rules see one token each -> no overlap
    assert token_f1("北京", ["北京大学"]) == 0.0


def test_mlqa_refuses_unknown_language() -> None:
    with pytest.raises(ValueError, match="MLQA normalisation"):
        normalize_mlqa("x", "fr")
    with pytest.raises(ValueError):
        token_f1("x", ["x"], lang="fr")


def test_corpus_scores_and_refusals() -> None:
    preds = ["Eiffel", "Paris", "1889"]
    golds = [["Eiffel Tower"], ["Paris"], ["in 1887"]]
    per = qa_example_scores(preds, golds)
    # EM: 0, 1, 0 -> 1/3.  F1: 2/3, 1, 0 (no shared token) -> mean 5/9
    assert per["exact_match"].tolist() == [0.0, 1.0, 0.0]
    scores = score_qa(preds, golds, resamples=200)
    assert scores["exact_match"].value == pytest.approx(1 / 3)
    assert scores["f1"].value == pytest.approx(5 / 9)
    assert scores["f1"].ci_low <= 5 / 9 <= scores["f1"].ci_high and scores["f1"].n == 3
    with pytest.raises(UnlabeledSplitError):
        score_qa(["x"], [None])
    with pytest.raises(UnlabeledSplitError):
        exact_match("x", [])
    with pytest.raises(TypeError):
        exact_match("x", "x")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        qa_example_scores(["x"], [["x"], ["y"]])
