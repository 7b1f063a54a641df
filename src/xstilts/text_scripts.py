"""The writing system of a language's evaluation text, from the Unicode script of its letters.

Why: for most of the world's languages no data file says which script their text is in (CLDR
gives a likely script for ~1,900 languages), yet reports group results by script. The text
itself says: each character has a Unicode Script property, read here with the ``regex``
module's ``\\p{Script=...}`` (ISO 15924 codes are its short property values).
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterable

import regex

__all__ = ["detect_script", "script_counts"]

# ISO 15924 codes of the Unicode scripts, most used first (the alternation tries them in
# order). Common (Zyyy: digits, punctuation) and Inherited (Zinh: combining marks) say nothing
# of the writing system and are left out.
_SCRIPTS = (
    "Latn Cyrl Arab Hani Deva Hang Hira Kana Grek Hebr Thai Beng Taml Telu Knda Mlym Gujr Guru "
    "Orya Sinh Mymr Khmr Laoo Tibt Geor Armn Ethi Thaa Syrc Tfng Cher Cans Mong Nkoo Vaii Olck "
    "Bopo Yiii Java Bali Sund Bugi Tglg Lana Tale Talu Cham Limb Lepc Saur Mtei Adlm Copt Glag "
    "Goth Runr Ogam Brai Hmng Hmnp Bamu Bass Mend Wara Sora Takr Khoj Sind Mahj Shrd Sidd Tirh "
    "Modi Dogr Gong Gonm Rohg Yezi Chrs Toto Vith Kawi Nagm"
).split()
# Below this share of the letters, kana mixed into Han text does not make it Japanese.
_KANA_SHARE = 0.05
# How much of each text is read: enough to see the script, cheap for long documents.
_CHARS_PER_TEXT = 2000


@functools.cache
def _pattern() -> regex.Pattern[str]:
    usable = []
    for code in _SCRIPTS:
        try:  # an older Unicode database in `regex` may lack the newest scripts
            regex.compile(rf"\p{{Script={code}}}")
        except regex.error:
            continue
        usable.append(rf"(?P<{code}>\p{{Script={code}}}+)")
    return regex.compile("|".join(usable))


def script_counts(texts: Iterable[str]) -> Counter[str]:
    """Characters per ISO 15924 script in ``texts`` (the first 2,000 characters of each)."""
    counts: Counter[str] = Counter()
    pattern = _pattern()
    for text in texts:
        for match in pattern.finditer(text[:_CHARS_PER_TEXT]):
            counts[match.lastgroup or ""] += len(match.group())
    return counts


def detect_script(texts: Iterable[str]) -> str | None:
    """The ISO 15924 code of the script most letters of ``texts`` are in, or None when they
    have no letters. Han text with kana is Japanese (``Jpan``); Han alone is ``Hani`` (the
    characters do not tell Simplified from Traditional)."""
    counts = script_counts(texts)
    if not counts:
        return None
    kana = counts["Hira"] + counts["Kana"]
    if kana and kana >= _KANA_SHARE * sum(counts.values()):
        counts["Jpan"] = kana + counts.pop("Hani", 0)
        counts.pop("Hira", None)
        counts.pop("Kana", None)
    return counts.most_common(1)[0][0]
