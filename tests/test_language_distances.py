"""URIEL distances (language_distances) and the gain-vs-distance analysis of the report.

Expected distances are recomputed here from URIEL+'s raw files with numpy masked arrays and
scipy's cosine distance, not through the module under test; Spearman values are worked out
by hand from ranks.
"""

from __future__ import annotations

import csv
import importlib.resources
import json
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.distance import cosine
from scipy.stats import spearmanr
from test_report_analysis import build_out

from xstilts.language_distances import DISTANCE_TYPES, distance, uriel_candidates, uriel_code
from xstilts.report.analysis import analyse_rows, spearman_with_interval
from xstilts.report.language_info import distance_fields, intermediate_languages
from xstilts.report.summary import write_report

FILES = {"genetic": "family_features.npz", "syntactic": "features.npz",
         "featural": "features.npz", "geographic": "geocoord_features.npz"}
PREFIX = {"genetic": "", "syntactic": "S_", "featural": "", "geographic": ""}


def raw_vector(iso: str, kind: str) -> np.ma.MaskedArray:
    """The union over sources of one language's known values, masked where none knows."""
    path = importlib.resources.files("urielplus") / "database" / "original_uriel" / FILES[kind]
    with path.open("rb") as f, np.load(f) as npz:
        row = list(npz["langs"]).index(iso)
        values = np.ma.masked_equal(npz["data"][row].astype(float), -1.0).max(axis=1)
        keep = [str(name).startswith(PREFIX[kind]) for name in npz["feats"]]
    return values[np.array(keep)]


def expected(a: str, b: str, kind: str) -> float:
    u, v = raw_vector(a, kind), raw_vector(b, kind)
    shared = ~np.ma.getmaskarray(u) & ~np.ma.getmaskarray(v)
    return float(cosine(u.data[shared], v.data[shared]))


@pytest.mark.parametrize(("a", "b", "iso_a", "iso_b", "kind"), [
    ("en", "de", "eng", "deu", "syntactic"),
    ("en", "de", "eng", "deu", "genetic"),
    ("en", "ja", "eng", "jpn", "featural"),
    ("fr", "hi", "fra", "hin", "geographic"),
    ("en", "aym", "eng", "aym", "syntactic"),
])
def test_distance_matches_one_minus_cosine_of_the_raw_uriel_vectors(
        a: str, b: str, iso_a: str, iso_b: str, kind: str) -> None:
    found = distance(a, b, kind)
    assert found.codes == (iso_a, iso_b)
    assert found.value == pytest.approx(expected(iso_a, iso_b, kind), abs=1e-9)
    assert distance(b, a, kind).value == pytest.approx(found.value, abs=1e-12)


def test_hand_checked_genetic_values() -> None:
    # English and Japanese share no Glottolog family or subgroup: orthogonal, distance 1.
    assert distance("en", "ja", "genetic").value == pytest.approx(1.0)
    # Closer relatives are nearer: German is nearer English than Hindi is.
    assert distance("en", "de", "genetic").value < distance("en", "hi", "genetic").value


def test_a_language_and_itself_are_at_zero() -> None:
    for kind in DISTANCE_TYPES:
        assert distance("en", "en", kind).value == 0.0
        assert distance("en", "eng", kind).value == 0.0  # two codes of one language


def test_missing_vectors_are_unclassified_not_zero() -> None:
    # Nahuatl (ISO 639-5 collection nah) has no URIEL entry at all.
    assert uriel_candidates("nah") == ("nah",)
    assert all(distance("en", "nah", kind).value is None for kind in DISTANCE_TYPES)
    # Basque, an isolate, belongs to no Glottolog family: its genetic vector is all zeros.
    assert raw_vector("eus", "genetic").sum() == 0
    assert distance("en", "eu", "genetic").value is None
    assert distance("en", "eu", "syntactic").value is not None
    # A private-use code, no language at all.
    assert distance("en", "qaa", "featural").value is None


def test_macrolanguages_try_their_own_code_then_the_benchmark_language() -> None:
    assert uriel_candidates("zh") == ("zho", "cmn")
    assert uriel_candidates("ar") == ("ara", "arb")
    assert uriel_candidates("sw") == ("swa", "swh")
    assert uriel_code("zh", "syntactic") == "zho"


def test_intermediate_languages_from_labels() -> None:
    assert intermediate_languages("none") == []
    assert intermediate_languages("xnli") == ["en"]
    assert intermediate_languages("xnli@de (mlm)") == ["de"]
    assert intermediate_languages("mix(a+b@fr)") == ["en", "fr"]


def test_distance_fields_to_english_and_intermediate() -> None:
    fields = distance_fields("de", "mix(cldr-units+paws-x@ja)")
    en = expected("deu", "eng", "syntactic")
    ja = expected("deu", "jpn", "syntactic")
    assert fields["distance_syntactic_en"] == pytest.approx(en)
    assert fields["distance_syntactic_intermediate"] == pytest.approx((en + ja) / 2)
    baseline = distance_fields("de", "none")
    assert baseline["distance_syntactic_intermediate"] is None
    assert baseline["distance_syntactic_en"] == pytest.approx(en)
    # A language pair (STS17 ar-en) is no one language: unclassified.
    assert all(v is None for v in distance_fields("ar-en", "xnli").values())


def test_spearman_with_interval_hand_worked() -> None:
    # ranks x 1 2 3 4, y 2 1 4 3: d = -1 1 -1 1, rho = 1 - 6*4 / (4*15) = 0.6
    stats = spearman_with_interval([1, 2, 3, 4], [20, 10, 40, 30], resamples=200,
                                   confidence=0.9, seed=1)
    assert stats["rho"] == pytest.approx(0.6)
    assert stats["n"] == 4 and -1 <= stats["ci_low"] <= stats["ci_high"] <= 1
    again = spearman_with_interval([1, 2, 3, 4], [20, 10, 40, 30], resamples=200,
                                   confidence=0.9, seed=1)
    assert (again["ci_low"], again["ci_high"]) == (stats["ci_low"], stats["ci_high"])
    assert spearman_with_interval([1, 2], [1, 2], resamples=10, confidence=0.9,
                                  seed=0)["rho"] is None
    assert spearman_with_interval([1, 2, 3], [5, 5, 5], resamples=10, confidence=0.9,
                                  seed=0)["rho"] is None


def _rows(gains: dict[str, float], config: str) -> list[dict]:
    """One seed, two configurations; the baseline scores 0.5 everywhere."""
    rows = []
    for arm, shift in (("none", {}), (config, gains)):
        for lang in ("en", *gains):
            rows.append({"study": "s", "run_id": arm, "model": "m", "intermediate": arm,
                         "target_task": "cldr-continents", "language": lang, "split": "test",
                         "metric": "accuracy", "value": 0.5 + shift.get(lang, 0.0) / 100,
                         "ci_low": None, "ci_high": None, "n": 10, "seed": 0})
    return rows


def test_correlation_block_on_a_synthetic_analysis() -> None:
    # Resource levels (Joshi): de 5, hi 4, ur 3, sw 2; gains +1, +3, +2, +4 points.
    gains = {"de": 1.0, "hi": 3.0, "ur": 2.0, "sw": 4.0}
    config = "cldr-units@ja"  # an intermediate task trained on Japanese
    analysis = analyse_rows(_rows(gains, config), {}, resamples=100)
    found = {c["predictor"]: c for c in analysis["correlations"] if c["config"] == config}
    # level ranks 4 3 2 1, gain ranks 1 3 2 4: d = 3 0 0 -3, rho = 1 - 6*18/60 = -0.8
    assert found["resource_level"]["rho"] == pytest.approx(-0.8)
    assert found["resource_level"]["n"] == 4
    iso = {"de": "deu", "hi": "hin", "ur": "urd", "sw": "swa"}
    for to, iso_to in (("en", "eng"), ("intermediate", "jpn")):
        syntactic = [expected(iso[g], iso_to, "syntactic") for g in gains]
        rho = spearmanr(list(gains.values()), syntactic).statistic
        assert found[f"distance_syntactic_{to}"]["rho"] == pytest.approx(rho)
    assert found["distance_syntactic_en"]["ci_low"] is not None
    scores = {s["language"]: s for s in analysis["scores"] if s["config"] == config}
    assert scores["hi"]["distance_featural_en"] == pytest.approx(
        expected("hin", "eng", "featural"))
    assert scores["hi"]["distance_featural_intermediate"] == pytest.approx(
        expected("hin", "jpn", "featural"))


def test_english_intermediates_have_no_separate_intermediate_correlation() -> None:
    analysis = analyse_rows(_rows({"de": 1.0, "hi": 3.0, "ur": 2.0}, "cldr-units"), {},
                            resamples=20)
    predictors = {c["predictor"] for c in analysis["correlations"]}
    assert "distance_genetic_en" in predictors
    assert not any(p.endswith("_intermediate") for p in predictors)


def test_report_has_distance_columns_and_plot(tmp_path: Path) -> None:
    report = write_report(build_out(tmp_path / "out"), "synth", resamples=50)
    with (report / "results.csv").open() as f:
        rows = list(csv.DictReader(f))
    for kind in DISTANCE_TYPES:
        assert f"distance_{kind}_en" in rows[0] and f"distance_{kind}_intermediate" in rows[0]
    de = [r for r in rows if r["language"] == "de"]
    want = expected("deu", "eng", "syntactic")
    assert all(float(r["distance_syntactic_en"]) == pytest.approx(want) for r in de)
    assert {r["distance_syntactic_intermediate"] for r in de if r["intermediate"] == "none"} \
        == {""}
    assert all(float(r["distance_syntactic_intermediate"]) == pytest.approx(want)
               for r in de if r["intermediate"] != "none")
    png = report / "gain_vs_distance.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "](gain_vs_distance.png)" in (report / "summary.md").read_text()
    summary = json.loads((report / "summary.json").read_text())
    predictors = {c["predictor"] for c in summary["correlations"]}
    assert {f"distance_{k}_en" for k in DISTANCE_TYPES} <= predictors
    assert 'id="distances"' in (report / "index.html").read_text()
