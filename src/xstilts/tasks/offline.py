"""Built-in tasks whose data ships inside PyPI packages, so the quickstart runs offline.

Two tasks are registered at import (the third offline task, ``humaneval-match``, is in
:mod:`xstilts.tasks.humaneval_match`):

* ``cldr-continents`` (a multilingual target task): the continent of a place name, built from
  CLDR territory names and time-zone exemplar cities as shipped by :mod:`babel`.
* ``cldr-units`` (a multilingual intermediate task): the quantity category of a measurement
  unit name (``length``, ``mass``, ...), also from babel's CLDR data.

Importing this module is cheap: the data is only built the first time a reader is called and
then cached in-process (:func:`functools.lru_cache`). Every reader is deterministic: examples
come sorted by entity id, splits are assigned by a SHA-256 hash of the entity id (never by
Python's salted ``hash``).

Splits are assigned per *entity* (a territory code, a time-zone id, a unit id, a HumanEval
problem), not per example, so one entity is in the same split in every language and a
zero-shot test item never has its translation in the training split. The split helpers
(:func:`assign_split`) serve every built-in task built this way.
"""

from __future__ import annotations

import difflib
import hashlib
from collections import Counter, defaultdict
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from xstilts.errors import XstiltsError
from xstilts.tasks.base import Example, Task, TaskType
from xstilts.tasks.registry import register_task

# Languages with CLDR names in babel that the multilingual encoders cover and that overlap
# XTREME. All of them have real (non-fallback) territory names in babel >= 2.14: the scripts
# other than Latin have no name equal to the English one, and the Latin-script ones share only
# names that are genuinely the same (e.g. "Deutschland" vs "Germany" differ, "Kenya" does not).
CLDR_LANGUAGES: tuple[str, ...] = (
    "en", "de", "fr", "es", "ru", "zh", "ja", "ar", "hi", "sw",
    "tr", "vi", "ko", "el", "th", "id", "pt", "it",
)  # fmt: skip

# Languages whose CLDR data must hold an explicit exemplar city for a time zone to be used.
# Latin-script locales legitimately omit cities whose name equals the tz id ("Berlin"), but a
# missing city in these scripts means CLDR falls back to the Latin tz id, which would put an
# untranslated (English-looking) name into e.g. the Japanese test set.
_NON_LATIN = ("ru", "zh", "ja", "ar", "hi", "ko", "el", "th")

CONTINENTS: tuple[str, ...] = ("Africa", "Americas", "Asia", "Europe", "Oceania")

SPLITS: tuple[str, ...] = ("train", "dev", "test")

# --------------------------------------------------------------------------------------------
# stable splitting


def stable_fraction(key: str) -> float:
    """Map a string to [0, 1) by SHA-256, identical on every machine and Python run."""
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def assign_split(namespace: str, entity_id: str, fractions: tuple[float, float, float]) -> str:
    """Split of one entity: train/dev/test with the given fractions, by stable hash.

    The namespace (the task's name) keeps the assignments of different tasks independent.
    """
    train, dev, _ = fractions
    u = stable_fraction(f"{namespace}:{entity_id}")
    if u < train:
        return "train"
    if u < train + dev:
        return "dev"
    return "test"


def check_split_language(
    task_name: str, split: str, language: str, languages: tuple[str, ...]
) -> None:
    if split not in SPLITS:
        raise XstiltsError(f"task {task_name!r} has no split {split!r}; it has {', '.join(SPLITS)}")
    if language not in languages:
        raise XstiltsError(
            f"task {task_name!r} has no language {language!r}; it has {', '.join(languages)}"
        )


def validate_examples(task_name: str, labels: tuple[str, ...], examples: list[Example]) -> None:
    """Every label must index the task's labels: a silent off-by-one would poison training."""
    for ex in examples:
        if not isinstance(ex.label, int) or not 0 <= ex.label < len(labels):
            raise XstiltsError(
                f"task {task_name!r}: example {ex.id!r} has label {ex.label!r}, "
                f"not an index into {labels}"
            )


# --------------------------------------------------------------------------------------------
# cldr-continents

_CONTINENTS_NAME = "cldr-continents"
_CONTINENTS_FRACTIONS = (0.60, 0.15, 0.25)

# Time-zone id prefix -> continent, for prefixes that name one continent.
_TZ_PREFIX_CONTINENT = {
    "Africa": "Africa",
    "America": "Americas",
    "Asia": "Asia",
    "Europe": "Europe",
    "Australia": "Oceania",
    "Pacific": "Oceania",
}

# UN M49 continent of the territories whose time zones do not name one continent (Indian /
# Atlantic / Arctic ocean zones, countries spanning several prefixes) or name a different one
# than M49 (Turkey: Europe/Istanbul, but M49 Western Asia). babel ships no territory
# containment data, so these are written out here from the M49 standard.
_CONTINENT_OVERRIDES = {
    "AU": "Oceania", "BM": "Americas", "CC": "Oceania", "CL": "Americas", "CV": "Africa",
    "CX": "Oceania", "EC": "Americas", "ES": "Europe", "FK": "Americas", "FO": "Europe",
    "GS": "Americas", "IO": "Africa", "IS": "Europe", "KM": "Africa", "MG": "Africa",
    "MU": "Africa", "MV": "Asia", "PT": "Europe", "RE": "Africa", "RU": "Europe",
    "SC": "Africa", "SH": "Africa", "SJ": "Europe", "TF": "Africa", "TR": "Asia",
    "US": "Americas", "YT": "Africa",
}  # fmt: skip

# Territory codes that are not places on a continent: the world, Antarctica, "unknown".
_SKIP_TERRITORIES = {"001", "AQ", "ZZ"}


def territory_continents() -> dict[str, str]:
    """Continent of every ISO territory that CLDR gives time zones, skipping aggregates.

    Aggregates (EU, UN, EZ, QO, numeric regions) and exceptional codes without time zones
    (AC, CP, DG, EA, IC, TA, XK, ...) have no zone in CLDR's ``territory_zones`` and so are
    left out; a territory whose zones span continents without an override is left out too
    rather than guessed.
    """
    return dict(_territory_continents())


@lru_cache(maxsize=1)
def _territory_continents() -> tuple[tuple[str, str], ...]:
    from babel.core import get_global

    out: list[tuple[str, str]] = []
    for code, zones in sorted(get_global("territory_zones").items()):
        if code in _SKIP_TERRITORIES or not (len(code) == 2 and code.isalpha()):
            continue
        if code in _CONTINENT_OVERRIDES:
            out.append((code, _CONTINENT_OVERRIDES[code]))
            continue
        found = {_TZ_PREFIX_CONTINENT.get(z.split("/")[0]) for z in zones}
        if len(found) == 1 and None not in found:
            out.append((code, found.pop()))
    return tuple(out)


def _exemplar_city(zone: str, aliases: list[str], locale: Any) -> str | None:
    """The locale's own exemplar city for a zone, looking under the zone's old ids too.

    CLDR keys its city names by the old tz ids ('Asia/Calcutta' for 'Asia/Kolkata'); the alias
    most similar to the canonical id is preferred (Europe/Kyiv has Kiev, Zaporozhye, Uzhgorod).
    """
    keys = [zone] + sorted(
        aliases, key=lambda a: (-difflib.SequenceMatcher(None, a, zone).ratio(), a)
    )
    zones = locale.time_zones
    for key in keys:
        city = zones.get(key, {}).get("city")
        if city:
            return str(city)
    return None


@lru_cache(maxsize=1)
def _continent_data() -> dict[str, list[tuple[str, str, str]]]:
    """Per language: (entity id, name, continent), sorted by entity id.

    Entities are territories (ISO codes) and time-zone exemplar cities (tz ids). A city is
    labelled with the continent of its country (so 'Europe/Istanbul' is Asia, like Turkey).
    A city is kept only when every non-Latin-script language has its own name for it, and its
    name never equals a territory name or another city's name in any language, so no text is
    in two splits and the entity set is identical in every language.
    """
    from babel import Locale
    from babel.core import get_global

    continents = territory_continents()
    locales = {lang: Locale.parse(lang) for lang in CLDR_LANGUAGES}
    aliases: dict[str, list[str]] = defaultdict(list)
    for alias, canonical in get_global("zone_aliases").items():
        aliases[canonical].append(alias)

    # Territory names; a territory missing a name in any language is dropped everywhere.
    territory_names: dict[str, dict[str, str]] = {lang: {} for lang in CLDR_LANGUAGES}
    for code in continents:
        names = {lang: locales[lang].territories.get(code) for lang in CLDR_LANGUAGES}
        if all(names.values()):
            for lang, name in names.items():
                territory_names[lang][code] = str(name)

    # City names: the locale's own exemplar city, else CLDR's rule (last tz id segment).
    city_names: dict[str, dict[str, str]] = {lang: {} for lang in CLDR_LANGUAGES}
    city_continent: dict[str, str] = {}
    for zone, territory in sorted(get_global("zone_territories").items()):
        if territory not in continents or zone.startswith(("Etc/", "Antarctica/")):
            continue
        own = {lang: _exemplar_city(zone, aliases[zone], locales[lang]) for lang in CLDR_LANGUAGES}
        if not all(own[lang] for lang in _NON_LATIN):
            continue
        fallback = zone.rsplit("/", 1)[-1].replace("_", " ")
        for lang in CLDR_LANGUAGES:
            city_names[lang][zone] = own[lang] or fallback
        city_continent[zone] = continents[territory]

    # Drop cities whose name collides with a territory or another city in any language.
    bad: set[str] = set()
    for lang in CLDR_LANGUAGES:
        seen: dict[str, list[str]] = defaultdict(list)
        for code, name in territory_names[lang].items():
            seen[name.casefold()].append(code)
        for zone, name in city_names[lang].items():
            seen[name.casefold()].append(zone)
        for ids in seen.values():
            if len(ids) > 1:
                bad.update(i for i in ids if "/" in i)
    out: dict[str, list[tuple[str, str, str]]] = {}
    for lang in CLDR_LANGUAGES:
        rows = [(code, name, continents[code]) for code, name in territory_names[lang].items()]
        rows += [
            (zone, name, city_continent[zone])
            for zone, name in city_names[lang].items()
            if zone not in bad
        ]
        out[lang] = sorted(rows)
    return out


@cache
def _read_continents(split: str, language: str) -> tuple[Example, ...]:
    check_split_language(_CONTINENTS_NAME, split, language, CLDR_LANGUAGES)
    examples = [
        Example(id=entity, texts=(name,), label=CONTINENTS.index(continent), language=language)
        for entity, name, continent in _continent_data()[language]
        if assign_split(_CONTINENTS_NAME, entity, _CONTINENTS_FRACTIONS) == split
    ]
    validate_examples(_CONTINENTS_NAME, CONTINENTS, examples)
    return tuple(examples)


def read_continents(split: str, language: str, data_dir: Path | None = None, *,
                    skip_bad_rows: bool = False) -> list[Example]:
    """Reader of ``cldr-continents``; ``data_dir`` is ignored (the data ships with babel), and
    so is ``skip_bad_rows`` (generated data has no bad rows)."""
    return list(_read_continents(split, language))


# --------------------------------------------------------------------------------------------
# cldr-units

_UNITS_NAME = "cldr-units"
_UNITS_FRACTIONS = (0.60, 0.15, 0.25)
_MIN_UNITS_PER_CATEGORY = 8
# CLDR abbreviates one category in its unit ids; the label spells it out.
_CATEGORY_LABEL = {"concentr": "concentration"}

# The labels are fixed in the task definition, so a model's head never silently changes size
# with the babel version: the categories of CLDR unit ids that have >= 8 units named in every
# language (babel 2.18; 'graphics' falls short). The reader checks the threshold still holds.
UNITS_LABELS: tuple[str, ...] = (
    "area", "concentration", "digital", "duration", "energy",
    "length", "mass", "pressure", "volume",
)  # fmt: skip


def _unit_category(unit_id: str) -> str:
    """The category label of a CLDR unit id: its first segment, spelled out."""
    prefix = unit_id.split("-", 1)[0]
    return _CATEGORY_LABEL.get(prefix, prefix)


def _unit_names(unit_id: str, locale: Any) -> dict[str, str]:
    """Long and short display names of a unit; a missing length falls back to the other.

    CLDR's root aliases the long unit names to the short ones, which babel does not resolve
    (zh and sw have only short names), so that inheritance is applied here.
    """
    names = locale.unit_display_names.get(unit_id, {})
    long_name = names.get("long") or names.get("short") or names.get("narrow")
    short_name = names.get("short") or names.get("long") or names.get("narrow")
    return {k: str(v) for k, v in (("long", long_name), ("short", short_name)) if v}


@lru_cache(maxsize=1)
def _unit_data() -> tuple[tuple[str, ...], dict[str, list[tuple[str, str, str]]]]:
    """Labels, and per language (example id, name, category) sorted by id.

    Units are those every language names, in the categories of ``UNITS_LABELS``; the labels
    returned are those categories that still have >= 8 such units. Within a language, a name
    shared by two units ('B', 'gal') is dropped: it would be ambiguous or be in two splits.
    """
    from babel import Locale

    locales = {lang: Locale.parse(lang) for lang in CLDR_LANGUAGES}
    unit_ids = sorted(locales["en"].unit_display_names)
    names = {u: {lang: _unit_names(u, locales[lang]) for lang in CLDR_LANGUAGES} for u in unit_ids}
    unit_ids = [u for u in unit_ids if all(names[u][lang] for lang in CLDR_LANGUAGES)]

    unit_ids = [u for u in unit_ids if _unit_category(u) in UNITS_LABELS]
    per_category = Counter(_unit_category(u) for u in unit_ids)
    labels = tuple(c for c in UNITS_LABELS if per_category[c] >= _MIN_UNITS_PER_CATEGORY)

    out: dict[str, list[tuple[str, str, str]]] = {}
    for lang in CLDR_LANGUAGES:
        owners: dict[str, set[str]] = defaultdict(set)
        for u in unit_ids:
            for name in names[u][lang].values():
                owners[name.casefold()].add(u)
        rows: list[tuple[str, str, str]] = []
        for u in unit_ids:
            category = _unit_category(u)
            seen: set[str] = set()
            for length, name in names[u][lang].items():
                if len(owners[name.casefold()]) > 1 or name in seen:
                    continue
                seen.add(name)
                rows.append((f"{u}:{length}", name, category))
        out[lang] = sorted(rows)
    return labels, out


def unit_labels() -> tuple[str, ...]:
    """The categories of ``cldr-units`` (computed from babel's data, sorted)."""
    return _unit_data()[0]


@cache
def _read_units(split: str, language: str) -> tuple[Example, ...]:
    check_split_language(_UNITS_NAME, split, language, CLDR_LANGUAGES)
    labels, data = _unit_data()
    if labels != UNITS_LABELS:
        raise XstiltsError(
            f"task {_UNITS_NAME!r}: with this babel, only categories {labels} of "
            f"{UNITS_LABELS} have >= {_MIN_UNITS_PER_CATEGORY} units; install babel>=2.14"
        )
    examples = [
        Example(id=ex_id, texts=(name,), label=labels.index(category), language=language)
        for ex_id, name, category in data[language]
        if assign_split(_UNITS_NAME, ex_id.split(":", 1)[0], _UNITS_FRACTIONS) == split
    ]
    validate_examples(_UNITS_NAME, labels, examples)
    return tuple(examples)


def read_units(split: str, language: str, data_dir: Path | None = None, *,
               skip_bad_rows: bool = False) -> list[Example]:
    """Reader of ``cldr-units``; ``data_dir`` is ignored (the data ships with babel), and so
    is ``skip_bad_rows`` (generated data has no bad rows)."""
    return list(_read_units(split, language))


# --------------------------------------------------------------------------------------------
# registration
# Not file tasks (xstilts.tasks.files): their examples are computed from babel's CLDR data by
# the readers above, so they are declared with those readers and need no data folder.

CLDR_CONTINENTS = register_task(
    Task(
        name=_CONTINENTS_NAME,
        type=TaskType.CLASSIFICATION,
        languages=CLDR_LANGUAGES,
        reader=read_continents,
        labels=CONTINENTS,
        metric="accuracy",
        needs_data_dir=False,
        description=(
            "Classify a place name into its continent (UN M49: Africa, Americas, Asia, Europe, "
            "Oceania). Items are CLDR territory names (ISO codes that have time zones; "
            "aggregates, Antarctica and exceptional codes skipped) plus time-zone exemplar "
            "city names (a city takes its country's continent), from babel's CLDR data. A "
            "territory's continent comes from its time-zone ids, with UN M49 overrides for "
            "ocean zones and multi-continent countries. Cities are kept only where every "
            "non-Latin-script language names them and no name collides with another item. "
            "Each entity (territory code / tz id) goes to train 60% / dev 15% / test 25% by "
            "SHA-256 of its id, so it is in the same split in every language. "
            "Example id = entity id. Ships with babel: no data dir."
        ),
    )
)

CLDR_UNITS = register_task(
    Task(
        name=_UNITS_NAME,
        type=TaskType.CLASSIFICATION,
        languages=CLDR_LANGUAGES,
        reader=read_units,
        labels=UNITS_LABELS,
        metric="accuracy",
        needs_data_dir=False,
        description=(
            "Classify a measurement-unit display name (CLDR long and short names, e.g. "
            "'kilometers', 'km') into its quantity category, taken from the CLDR unit id "
            "('length-kilometer' -> length). Units every language names, in categories with "
            ">= 8 units; a missing long/short name falls back to the other (CLDR root alias); "
            "a name shared by two units in a language is dropped. Each unit goes to "
            "train 60% / dev 15% / test 25% by SHA-256 of its id, in every language. "
            "Example id = '<unit id>:<long|short>'. Ships with babel: no data dir."
        ),
    )
)
