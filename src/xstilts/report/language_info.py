"""Language attributes for report grouping, tolerant of codes that are not one language.

Why a wrapper over :mod:`xstilts.languages`: result tables hold codes such as ``ar-en`` (a
cross-lingual STS track). ``get_language`` would resolve that through its primary subtag to
Arabic, which would put an Arabic-English pair into the Arabic rows of a family table. Here a
tag whose two parts are both languages is a *pair*: it keeps its own name ("Arabic–English")
and groups under "language pair"; a tag of one language twice (``es-es``) is that language.
Pairs are written in lower case: a region or script subtag in BCP 47 case (``pt-BR``,
``sr-Latn``) makes a tag one language, so Brazilian Portuguese is not Portuguese–Breton.

A language some attribute is unknown for (no source classifies Bribri's script, say) goes into
the :data:`UNCLASSIFIED` group for that attribute, as does a code that is no language: it is
never left out of a group table, and every zero-shot average counts it.

Typological distances: URIEL's six types (:mod:`xstilts.language_distances`) from each
evaluation language to English and to the language of the intermediate task
(:func:`distance_fields`); a pair code or an unknown one has none ("unclassified", None). The
older coarse "typological distance" (count of different family, genus, script: 0-3) stays as
one more predictor.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from xstilts.language_distances import DISTANCE_TYPES, distances
from xstilts.languages import UNCLASSIFIED, Language, get_language, is_known
from xstilts.training.runs import split_setting

ATTRIBUTES = ("family", "genus", "script", "resource_level")
ZERO_SHOT_RULE = (
    "Zero-shot languages are all evaluated languages except English, the language the target "
    "task is trained on: a code that resolves to English (en, eng, en-US) or pairs English with "
    "itself (STS17 en-en) is English; a pair of two different languages (STS17 ar-en) is "
    "zero-shot, since one of its sides was never trained on; an unknown code is zero-shot. A "
    "task evaluated on English alone has no zero-shot average.")
PAIR_GROUP = "language pair"
UNKNOWN_GROUP = UNCLASSIFIED
_SEPARATOR = re.compile(r"[-_]")


def _parts(code: str) -> list[str]:
    return [p for p in _SEPARATOR.split(code) if p]


def _pair_parts(code: str) -> list[str] | None:
    """The two languages of a lower-case pair code (``ar-en``), also with a dataset qualifier
    after it (STS 2017's WMT track ``es-en-wmt``: three or more letters, so not a region
    subtag as in ``zh-yue-hk``), else None."""
    parts = _parts(code)
    qualified = (len(parts) == 3 and parts[2].isalpha() and parts[2].islower()
                 and len(parts[2]) >= 3)
    if len(parts) == 2 or qualified:
        pair = parts[:2]
        if pair[1].islower() and all(is_known(p) for p in pair):
            return pair
    return None


def resolve(code: str) -> Language | None:
    """The one language ``code`` stands for, or None (unknown code or a pair of languages)."""
    parts = _pair_parts(code)
    if parts is not None:
        first, second = (get_language(p) for p in parts)
        return first if first.code == second.code else None
    return get_language(code) if is_known(code) else None


def is_pair(code: str) -> bool:
    return _pair_parts(code) is not None and resolve(code) is None


def display_name(code: str) -> str:
    """English name for tables and plots; pairs as "Arabic–English"; unknown codes unchanged."""
    pair = _pair_parts(code)
    if pair is not None and is_pair(code):
        return "–".join(get_language(p).name for p in pair)
    language = resolve(code)
    return language.name if language else code


def group_names(codes: Iterable[str]) -> str:
    """A language group's members for a table cell: names, with the code added where two
    members share a name (STS17's es-en and es-en-wmt are both Spanish–English)."""
    codes = list(codes)
    names = [display_name(c) for c in codes]
    repeated = {n for n in names if names.count(n) > 1}
    return ", ".join(f"{n} ({c})" if n in repeated else n
                     for n, c in zip(names, codes, strict=True))


def label(code: str) -> str:
    """"German (de)": a name people read and the code they grep for."""
    name = display_name(code)
    return code if name == code else f"{name} ({code})"


def is_english(code: str) -> bool:
    """``en``, ``eng``, ``en-US`` and the English-English pair ``en-en``; not ``ar-en``."""
    language = resolve(code)
    return language is not None and language.code == "en"


def is_zero_shot(code: str) -> bool:
    """Whether a result in ``code`` measures zero-shot transfer; see :data:`ZERO_SHOT_RULE`."""
    return not is_english(code)


def zero_shot_languages(codes: Iterable[str]) -> list[str]:
    """The zero-shot languages among ``codes``, in their order; empty for English-only results.

    Every table, ``summary.json``, the HTML page and the analysis take their "zero-shot avg"
    from this one function, so a code such as ``en-en`` cannot count in one and not another.
    """
    return [code for code in codes if is_zero_shot(code)]


def attribute(code: str, attr: str) -> str:
    """The group of ``code`` under ``attr`` (resource levels as "0".."5"); "unclassified"
    when the language lacks the attribute or the code is no language."""
    if is_pair(code):
        return PAIR_GROUP
    language = resolve(code)
    value = None if language is None else getattr(language, attr)
    return UNKNOWN_GROUP if value is None else str(value)


def typology_vs_english(code: str) -> dict[str, int | None]:
    """Resource level, same-family/genus/script-as-English indicators and their distance count;
    an indicator is None when the language's attribute is unclassified (and so is the count)."""
    language = resolve(code)
    if language is None:
        return {}
    english = get_language("en")
    same = {f"same_{a}": None if getattr(language, a) == UNCLASSIFIED
            else int(getattr(language, a) == getattr(english, a))
            for a in ("family", "genus", "script")}
    known = [v for v in same.values() if v is not None]
    distance = 3 - sum(known) if len(known) == len(same) else None
    return {"resource_level": language.resource_level, **same,
            "typological_distance": distance}


DISTANCE_COLUMNS = tuple(f"distance_{kind}_{to}" for to in ("en", "intermediate")
                         for kind in DISTANCE_TYPES)
NO_INTERMEDIATE = "none"  # the baseline arm's label (xstilts.training.runs.NO_INTERMEDIATE)
_SUFFIX = re.compile(r"\s+\([^()]*\)$")  # "mix(a+b) (mlm)": a label's trailing options


def intermediate_languages(label: str) -> list[str]:
    """The training languages of an intermediate configuration's task(s), from its label
    (``xnli``: en; ``xnli@de``: de; ``mix(a+b@fr)``: en, fr); empty for the baseline. A
    translate setting in brackets (``none [translate-test]``) is no intermediate task."""
    label = split_setting(label)[0]
    while _SUFFIX.search(label):
        label = _SUFFIX.sub("", label)
    if label == NO_INTERMEDIATE:
        return []
    members = label[4:-1].split("+") if label.startswith("mix(") and label.endswith(")") \
        else [label]
    return [m.split("@", 1)[1] if "@" in m else "en" for m in members if m]


def _between(code: str, other: str) -> dict[str, float | None]:
    language = resolve(code)
    if language is None:
        return dict.fromkeys(DISTANCE_TYPES)
    return distances(language.code, other)


def distance_fields(code: str, intermediate: str) -> dict[str, float | None]:
    """URIEL distances of evaluation language ``code`` to English and to the intermediate
    task's language (:data:`DISTANCE_COLUMNS`). A mix's distance is the mean over its
    members' languages, None if any member's is unknown (an average never drops a member
    silently); the baseline ("none") has no intermediate distance."""
    out = {f"distance_{kind}_en": value for kind, value in _between(code, "en").items()}
    per_member = [_between(code, lang) for lang in intermediate_languages(intermediate)]
    for kind in DISTANCE_TYPES:
        values = [d[kind] for d in per_member]
        out[f"distance_{kind}_intermediate"] = (
            None if not values or any(v is None for v in values)
            else sum(v for v in values if v is not None) / len(values))
    return out


def describe(code: str) -> dict[str, Any]:
    """What xstilts knows of one language, for ``xstilts languages``: code, name, family, genus,
    script, resource level ("unclassified" where unknown) and each attribute's source. Raises
    :class:`~xstilts.errors.XstiltsError` for a code that is no language."""
    language = get_language(code)
    record: dict[str, Any] = {"input": code, "code": language.code,
                              "iso639_3": language.iso639_3,
                              "macrolanguage": language.macrolanguage}
    for attr in ("name", "family", "genus", "script", "resource_level"):
        value = getattr(language, attr)
        record[attr] = UNCLASSIFIED if value is None else value
    record["sources"] = dict(language.sources)
    return record
