"""Any ISO 639 code, BCP 47 tag or English language name -> codes, name, macrolanguage, script.

Why ``langcodes`` + ``language_data``: together they ship, as package data read with no network,
the IANA language subtag registry (every ISO 639-1/-2/-3/-5 code with its scope, its
macrolanguage and, for retired codes, the preferred replacement: ``iw`` -> ``he``, ``mo`` ->
``ro``), CLDR's likely subtags (the usual script of ~1,900 languages) and English names from
CLDR and Wiktionary; ``langcodes`` also parses BCP 47 tags (``sr-Latn``, ``zh-Hant``,
``pt-BR``). ``pycountry`` ships Debian's iso-codes names but no macrolanguage links, retirements
or scripts, and ``python-iso639`` has retirements but no scripts or tag parsing.

This module knows nothing of family or resource level (see :mod:`xstilts.language_typology`);
:mod:`xstilts.languages` combines both with its own, more precise table.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

__all__ = ["TagInfo", "parse_language_tag"]

# Registry scopes that name no language text can be in: private use (qaa..qtz) and the
# special codes (mis, mul, und, zxx).
_NOT_A_LANGUAGE = {"private-use", "special"}


@dataclass(frozen=True)
class TagInfo:
    """What the registry and CLDR say of one tag. ``code`` follows xstilts' convention
    (ISO 639-1 where there is one, else ISO 639-3); ``script`` is None when neither the tag,
    CLDR nor the registry gives one."""

    code: str
    iso639_3: str
    name: str
    scope: str  # "individual", "macrolanguage" or "collection" (ISO 639-5 group)
    macrolanguage: str | None
    members: tuple[str, ...]  # a macrolanguage's individual languages, ISO 639-3
    script: str | None
    script_source: str | None


@functools.cache
def _registry() -> dict[str, dict[str, object]]:
    """Language subtag -> its IANA registry record (parsed once, ~0.3 s, on first use)."""
    from language_data.registry_parser import parse_registry

    return {str(r["Subtag"]): r for r in parse_registry()
            if r.get("Type") == "language" and ".." not in str(r["Subtag"])}


@functools.cache
def _members() -> dict[str, tuple[str, ...]]:
    """Macrolanguage subtag -> its individual languages, from the registry."""
    out: dict[str, list[str]] = {}
    for subtag, record in _registry().items():
        if "Macrolanguage" in record and "Deprecated" not in record:
            out.setdefault(str(record["Macrolanguage"]), []).append(subtag)
    return {macro: tuple(sorted(codes)) for macro, codes in out.items()}


def _parse(text: str):  # -> langcodes.Language | None
    import langcodes

    try:
        return langcodes.Language.get(text.replace("_", "-"), normalize=True)
    except (langcodes.LanguageTagError, ValueError):
        pass
    try:
        return langcodes.Language.get(langcodes.find(text).language or "", normalize=True)
    except (LookupError, langcodes.LanguageTagError, ValueError):
        return None


def _script(tag) -> tuple[str | None, str | None]:  # tag: langcodes.Language
    """The tag's own script subtag, else CLDR's likely script, else the registry's."""
    from langcodes.data_dicts import LIKELY_SUBTAGS

    if tag.script:
        return tag.script, "language tag"
    for key in (f"{tag.language}-{tag.territory}" if tag.territory else None, tag.language):
        if key in LIKELY_SUBTAGS:
            return tag.maximize().script, "CLDR likely subtags (langcodes)"
    record = _registry().get(tag.language or "", {})
    if "Suppress-Script" in record:
        return str(record["Suppress-Script"]), "IANA registry Suppress-Script (langcodes)"
    return None, None


@functools.cache
def parse_language_tag(text: str) -> TagInfo | None:
    """The registry's view of ``text`` (a code, tag or English name), or None when it names no
    language: not a valid tag, private use, ``und``, or a name no data knows."""
    tag = _parse(text.strip())
    if tag is None or not tag.language:
        return None
    record = _registry().get(tag.language)
    if record is None or record.get("Scope") in _NOT_A_LANGUAGE:
        return None
    code = tag.language
    script, script_source = _script(tag)
    from langcodes import Language as Tag

    names = record.get("Description") or [Tag.get(code).display_name()]
    return TagInfo(
        code=code,
        iso639_3=Tag.get(code).to_alpha3(),
        name=str(names[0]),  # type: ignore[index]
        scope=str(record.get("Scope", "individual")),
        macrolanguage=str(record["Macrolanguage"]) if "Macrolanguage" in record else None,
        members=tuple(Tag.get(m).to_alpha3() for m in _members().get(code, ())),
        script=script,
        script_source=script_source,
    )
