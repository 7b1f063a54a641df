"""Language metadata: every benchmark language resolves, aliases agree, attributes are sane."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from xstilts.errors import XstiltsError
from xstilts.languages import (
    BENCHMARK_LANGUAGES,
    HUMANEVAL_XL_NAMES,
    TATOEBA_SOURCE_CODES,
    Language,
    all_languages,
    canonical_code,
    get_language,
    group_languages,
    is_known,
    language_name,
)

ISO_15924 = re.compile(r"^[A-Z][a-z]{3}$")


def _data_folder(shared_data: Path, name: str) -> Path:
    folder = shared_data / name
    if not folder.is_dir():
        pytest.skip(f"{folder} not found: the {name} files are not in the shared data")
    return folder


def _file_languages(folder: Path, pattern: str) -> set[str]:
    regex = re.compile(pattern)
    return {m.group(1) for p in folder.iterdir() if (m := regex.fullmatch(p.name))}


# --- coverage ---------------------------------------------------------------------------------


def test_every_benchmark_language_resolves_to_itself() -> None:
    expected = {
        "xnli", "pawsx", "xquad", "mlqa", "tydiqa", "panx", "udpos", "xcopa", "tatoeba", "bucc",
        "mewsli-x", "lareqa", "sts17", "humaneval-xl",
    }
    assert set(BENCHMARK_LANGUAGES) == expected
    for benchmark, codes in BENCHMARK_LANGUAGES.items():
        assert len(codes) == len(set(codes)), f"{benchmark} lists a language twice"
        for code in codes:
            assert canonical_code(code) == code, f"{benchmark}: {code} is not canonical"


def test_benchmark_sizes() -> None:
    sizes = {name: len(codes) for name, codes in BENCHMARK_LANGUAGES.items()}
    assert sizes["xnli"] == 15
    assert sizes["xquad"] == 12
    assert sizes["tatoeba"] == 112
    assert sizes["humaneval-xl"] == 23
    assert sizes["xcopa"] == 11
    assert len(set(BENCHMARK_LANGUAGES["panx"])) >= 40


def test_tatoeba_and_humaneval_lists_are_aligned_with_their_sources() -> None:
    assert len(TATOEBA_SOURCE_CODES) == 112
    for source, code in zip(TATOEBA_SOURCE_CODES, BENCHMARK_LANGUAGES["tatoeba"], strict=True):
        assert get_language(source).code == code
    for name, code in zip(HUMANEVAL_XL_NAMES, BENCHMARK_LANGUAGES["humaneval-xl"], strict=True):
        assert get_language(name).code == code


def test_tatoeba_file_codes_resolve(shared_data: Path) -> None:
    folder = _data_folder(shared_data, "tatoeba")
    codes = _file_languages(folder, r"tatoeba\.([a-z]{3})-eng\.\1")
    assert len(codes) == 112
    assert codes == set(TATOEBA_SOURCE_CODES)
    canonical = {canonical_code(c) for c in codes}
    assert len(canonical) == len(codes), "two Tatoeba files map to the same language"


@pytest.mark.parametrize(
    ("folder", "pattern"),
    [
        ("udpos", r"(?:train|dev|test)-([a-z]+)\.tsv"),
        ("panx", r"(?:train|dev|test)-([a-z]+)\.tsv"),
        ("xnli", r"(?:dev|test)-([a-z]+)\.tsv"),
        ("pawsx", r"(?:dev|test)-([a-z]+)\.tsv"),
        ("xquad", r"xquad\.([a-z]+)\.json"),
    ],
)
def test_file_language_codes_resolve_and_are_listed(
    shared_data: Path, folder: str, pattern: str
) -> None:
    codes = _file_languages(_data_folder(shared_data, folder), pattern)
    assert codes, f"no {folder} files matched {pattern}"
    unknown = sorted(c for c in codes if not is_known(c))
    assert not unknown, f"{folder} languages without metadata: {unknown}"
    assert codes <= set(BENCHMARK_LANGUAGES[folder])


def test_humaneval_xl_file_names_resolve(shared_data: Path) -> None:
    folder = _data_folder(shared_data, "humaneval-xl/python")
    names = {p.stem for p in folder.glob("*.jsonl")}
    assert names == set(HUMANEVAL_XL_NAMES)
    for name in names:
        assert get_language(name).name.casefold() == name.casefold()


@pytest.mark.parametrize(
    "name", ["Afrikaans", "Chinese", "Tagalog", "Persian", "Malay", "greek", "VIETNAMESE"]
)
def test_english_names_resolve_case_insensitively(name: str) -> None:
    assert get_language(name).name.casefold() == name.casefold()


# --- aliases ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("aliases", "code"),
    [
        (("zh", "zho", "cmn", "chi", "ZH", "Mandarin"), "zh"),
        (("ar", "ara", "arb"), "ar"),
        (("sw", "swa", "swh", "Kiswahili"), "sw"),
        (("ms", "msa", "zsm", "may"), "ms"),
        (("de", "deu", "ger", "German"), "de"),
        (("fa", "fas", "pes", "per", "Farsi"), "fa"),
        (("et", "est", "ekk"), "et"),
        (("lv", "lav", "lvs"), "lv"),
        (("nb", "nob", "no", "nor"), "nb"),
        (("he", "heb", "iw"), "he"),
        (("tl", "tgl", "fil", "Filipino"), "tl"),
        (("el", "ell", "gre"), "el"),
        (("ro", "ron", "rum"), "ro"),
        (("uz", "uzb", "uzn"), "uz"),
        (("az", "aze", "azj"), "az"),
        (("ku", "kur", "kmr"), "ku"),
        (("sq", "sqi", "alb"), "sq"),
    ],
)
def test_aliases_map_to_one_language(aliases: tuple[str, ...], code: str) -> None:
    assert {canonical_code(a) for a in aliases} == {code}


def test_varieties_stay_distinct_from_their_macrolanguage() -> None:
    assert canonical_code("yue") == "yue"
    assert canonical_code("wuu") == "wuu"
    assert canonical_code("arz") == "arz"
    assert canonical_code("max") == "max"  # North Moluccan Malay, not Malay
    assert canonical_code("nn") == "nn"


def test_tags_with_region_or_script_resolve_through_the_primary_subtag() -> None:
    assert canonical_code("zh-CN") == "zh"
    assert canonical_code("pt_BR") == "pt"
    assert canonical_code("eng_Latn") == "en"
    assert canonical_code("zh-yue") == "yue"


def test_lookup_ignores_whitespace_and_accents() -> None:
    assert canonical_code("  DE ") == "de"
    assert canonical_code("Norwegian Bokmal") == "nb"


# --- table integrity --------------------------------------------------------------------------


def test_no_duplicate_codes_and_canonical_form() -> None:
    languages = all_languages()
    codes = [lang.code for lang in languages]
    assert codes == sorted(codes)
    assert len(codes) == len(set(codes))
    iso3 = [lang.iso639_3 for lang in languages]
    assert len(iso3) == len(set(iso3))
    names = [lang.name.casefold() for lang in languages]
    assert len(names) == len(set(names))
    for lang in languages:
        assert isinstance(lang, Language)
        assert len(lang.code) in (2, 3)
        assert len(lang.iso639_3) == 3
        assert lang.iso639_1 == (lang.code if len(lang.code) == 2 else None)
        assert ISO_15924.match(lang.script), f"{lang.code}: {lang.script} is not ISO 15924"
        assert 0 <= lang.resource_level <= 5
        assert lang.family and lang.genus and lang.name
        for key in (lang.code, lang.iso639_3, lang.name):
            assert get_language(key) is lang


def test_every_benchmark_language_is_in_the_table() -> None:
    table = {lang.code for lang in all_languages()}
    for codes in BENCHMARK_LANGUAGES.values():
        assert set(codes) <= table
    union = set().union(*BENCHMARK_LANGUAGES.values())
    assert union == table, "every language in the table comes from some benchmark"


def test_language_is_frozen() -> None:
    with pytest.raises(AttributeError):
        get_language("de").name = "Deutsch"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("code", "family", "genus", "script", "level"),
    [
        ("de", "Indo-European", "Germanic", "Latn", 5),
        ("en", "Indo-European", "Germanic", "Latn", 5),
        ("sw", "Atlantic-Congo", "Bantoid", "Latn", 2),
        ("ja", "Japonic", "Japanese", "Jpan", 5),
        ("ko", "Koreanic", "Korean", "Hang", 4),
        ("eu", "Basque", "Basque", "Latn", 4),
        ("zh", "Sino-Tibetan", "Chinese", "Hans", 5),
        ("ar", "Afro-Asiatic", "Semitic", "Arab", 5),
        ("ru", "Indo-European", "Slavic", "Cyrl", 4),
        ("hi", "Indo-European", "Indic", "Deva", 4),
        ("th", "Tai-Kadai", "Kam-Tai", "Thai", 3),
        ("fi", "Uralic", "Finnic", "Latn", 4),
        ("tr", "Turkic", "Turkic", "Latn", 4),
        ("ta", "Dravidian", "Southern Dravidian", "Taml", 3),
        ("yo", "Atlantic-Congo", "Defoid", "Latn", 2),
        ("vi", "Austroasiatic", "Viet-Muong", "Latn", 4),
        ("id", "Austronesian", "Malayo-Sumbawan", "Latn", 3),
        ("ka", "Kartvelian", "Kartvelian", "Geor", 3),
        ("he", "Afro-Asiatic", "Semitic", "Hebr", 3),
    ],
)
def test_spot_checks(code: str, family: str, genus: str, script: str, level: int) -> None:
    lang = get_language(code)
    assert (lang.family, lang.genus, lang.script, lang.resource_level) == (
        family, genus, script, level,
    )


# --- errors and report helpers ----------------------------------------------------------------


def test_unknown_code_error_suggests_close_matches() -> None:
    with pytest.raises(XstiltsError, match=r"Did you mean .*de \(German\)"):
        get_language("deu1")
    with pytest.raises(XstiltsError, match=r"Did you mean .*de \(German\)"):
        get_language("Germn")


def test_unknown_code_without_close_match_says_where_to_look() -> None:
    with pytest.raises(XstiltsError, match="all_languages"):
        get_language("qqq")
    with pytest.raises(XstiltsError):
        get_language("")


def test_language_name_never_raises() -> None:
    assert language_name("xx-unknown") == "xx-unknown"
    assert language_name("") == ""
    assert language_name("deu") == "German"
    assert language_name("swh") == "Swahili"


def test_is_known() -> None:
    assert is_known("cmn")
    assert not is_known("xx-unknown")


def test_group_languages() -> None:
    groups = group_languages(["de", "en", "sw", "ja", "xx"], by="family")
    assert groups == {
        "Indo-European": ["de", "en"], "Atlantic-Congo": ["sw"], "Japonic": ["ja"],
        "unknown": ["xx"],
    }
    by_level = group_languages(BENCHMARK_LANGUAGES["xnli"], by="resource_level")
    assert set(by_level) <= {"0", "1", "2", "3", "4", "5"}
    assert sum(len(v) for v in by_level.values()) == 15
    with pytest.raises(XstiltsError, match="cannot group"):
        group_languages(["de"], by="colour")
