"""Glottolog family and first subgroup of any language, from the data URIEL+ ships.

Why ``urielplus``: it is the maintained successor of URIEL/``lang2vec`` (the typology database
cross-lingual transfer papers use) and ships, inside the wheel, Glottolog's classification of
~27,000 languoids (``lang_fam_geo.csv``: glottocode, name, coordinates and lineage, top-level
family first) and an ISO 639-3 -> glottocode map, readable with no network. ``lang2vec`` only
ships family *membership vectors* from 2019, with no order telling a top-level family from a
subgroup. Nothing of ``urielplus`` is imported but its (empty) package ``__init__``: the CSV
files are read with :mod:`csv`.

WALS genera are not in any package: for languages outside the hand table of
:mod:`xstilts.languages` the "genus" is Glottolog's first subgroup under the family (the family
itself when it has no subgroups, as for Aymaran), and the source says so.
"""

from __future__ import annotations

import csv
import functools
import importlib.resources
import re
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["Lineage", "glottolog_lineage"]

SOURCE = "Glottolog via URIEL+ (urielplus)"
# Glottolog's bookkeeping pseudo-families that say "not classified".
_NOT_A_FAMILY = {"Bookkeeping", "Unclassifiable", "Unattested"}


@dataclass(frozen=True)
class Lineage:
    """A languoid's place in Glottolog: ``path`` runs from the top-level family down to the
    languoid's parent (for a language) or to the group itself (for a group such as
    "Otomian"); ``how`` says how the code was matched to it, for the attribute sources."""

    glottocode: str
    name: str
    path: tuple[str, ...]
    how: str

    @property
    def family(self) -> str:
        return self.path[0] if self.path else self.name

    @property
    def genus(self) -> str:
        return self.path[1] if len(self.path) > 1 else self.family


def _csv(name: str) -> list[dict[str, str]]:
    resource = importlib.resources.files("urielplus") / "database" / "urielplus_csvs" / name
    with resource.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


@functools.cache
def _languoids() -> dict[str, tuple[str, tuple[str, ...]]]:
    """glottocode -> (name, lineage above it)."""
    return {row["language_id"]: (row["language_name"],
                                 tuple(p.strip() for p in row["lineage"].split(",") if p.strip()))
            for row in _csv("lang_fam_geo.csv")}


@functools.cache
def _glottocodes() -> dict[str, str]:
    """ISO 639-3 -> glottocode (URIEL+'s map)."""
    return {row["iso_code"]: row["glottocode"] for row in _csv("uriel_glottocode_map.csv")
            if row["glottocode"]}


@functools.cache
def _by_name() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for glottocode, (name, _) in _languoids().items():
        out.setdefault(name.casefold(), []).append(glottocode)
    return out


def _of(glottocode: str, how: str, *, is_group: bool = False) -> Lineage | None:
    found = _languoids().get(glottocode)
    if found is None:
        return None
    name, lineage = found
    path = (*lineage, name) if is_group else lineage
    if path and path[0] in _NOT_A_FAMILY:
        return None
    return Lineage(glottocode, name, path, how)


def _common(lineages: list[Lineage], how: str) -> Lineage | None:
    """The deepest group all ``lineages`` share, or None when they are of different families."""
    if not lineages:
        return None
    paths = [lin.path or (lin.name,) for lin in lineages]
    shared: list[str] = []
    for level in zip(*paths, strict=False):
        if len(set(level)) > 1:
            break
        shared.append(level[0])
    if not shared:
        return None
    return Lineage("", shared[-1], tuple(shared), how)


def _by_group_name(name: str) -> Lineage | None:
    """An ISO 639-5 group ("Otomian languages", "Nahuatl languages") by its name: the
    Glottolog group of that name, else what every languoid named "... Nahuatl ..." shares."""
    stem = re.sub(r"\s+languages$", "", name.strip(), flags=re.IGNORECASE)
    exact = _by_name().get(stem.casefold(), [])
    if len(exact) == 1:
        return _of(exact[0], f"group named {stem!r}", is_group=True)
    word = re.compile(rf"\b{re.escape(stem)}\b", re.IGNORECASE)
    matches = [_of(g, "") for g, (n, _) in _languoids().items() if word.search(n)]
    named = [lin for lin in matches if lin is not None]
    return _common(named, f"shared by the {len(named)} languoids named '{stem}'")


def glottolog_lineage(iso639_3: str, name: str, *, members: Iterable[str] = (),
                      collection: bool = False) -> Lineage | None:
    """Glottolog's classification of the language ``iso639_3`` (English ``name``).

    A macrolanguage without a glottocode of its own (``grn``) takes what its ``members``
    (individual ISO 639-3 codes) share; an ISO 639-5 ``collection`` (``nah``, ``oto``) is
    matched by its name. None when URIEL+ does not classify it.
    """
    glottocode = _glottocodes().get(iso639_3)
    if glottocode is not None and (found := _of(glottocode, f"ISO 639-3 {iso639_3}")):
        return found
    member_codes = list(members)
    if member_codes:
        found_members = [lin for code in member_codes
                         if (g := _glottocodes().get(code)) and (lin := _of(g, ""))]
        listed = ", ".join(member_codes[:5]) + (", ..." if len(member_codes) > 5 else "")
        shared = _common(found_members,
                         f"shared by its {len(member_codes)} member languages ({listed})")
        if shared is not None:
            return shared
    if collection:
        return _by_group_name(name)
    exact = _by_name().get(name.casefold(), [])
    return _of(exact[0], f"name {name!r}") if len(exact) == 1 else None
