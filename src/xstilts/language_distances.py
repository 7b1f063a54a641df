"""URIEL distances between two languages, from the feature vectors URIEL+ ships.

Why URIEL: the six distance types cross-lingual transfer papers correlate gains with (Lin et
al. 2019; arXiv 2212.01757) are URIEL's (Littell et al. 2017): genetic, geographic, syntactic,
inventory, phonological, featural. ``lang2vec``'s ``distance()`` only looks them up in a
precomputed matrix (``distances.zip``, downloaded at install time, ~4,000 languages, not in any
package installed here), so its source defines no computation to copy. Its maintained
successor URIEL+ (``urielplus``, installed for :mod:`xstilts.language_typology`) ships the
underlying vectors (``database/original_uriel/*.npz``) and computes every type from them
(``URIELPlusQuerying.new_distance``). That is the definition followed here:

* a language's vector for a type: ``family_features.npz`` (membership of every Glottolog
  family and subgroup, ``F_*``) for *genetic*; ``geocoord_features.npz`` (closeness to 299
  fixed points on the globe, ``GC_*``) for *geographic*; ``features.npz`` features ``S_*``
  (*syntactic*), ``P_*`` (*phonological*), ``INV_*`` (*inventory*) and all of them
  (*featural*), each feature the union (maximum) of the values its sources know (WALS,
  SSWL, Ethnologue, PHOIBLE...; URIEL+'s default aggregation);
* the pair's distance: over the features *both* languages have a value for, the cosine
  distance ``1 - cos(u, v)``. URIEL+ defaults to the angular distance ``arccos(cos) / (π/2)``
  instead; the two are a monotone function of each other, so the Spearman correlations the
  report computes are the same under either.

Deviations from URIEL+, chosen so that a missing value never reads as "close": a pair with no
shared known feature, a zero vector (Glottolog puts an isolate such as Basque, or a
macrolanguage such as ``que``, in no family: its genetic vector is all zeros and its cosine
undefined, where URIEL+ would substitute a tiny constant vector) or a code URIEL lacks gives
None ("unclassified"), never 0 and never an error. A language and itself are at 0.

Codes: xstilts codes map to URIEL's ISO 639-3 via :attr:`Language.iso639_3`. For a
macrolanguage, the macrolanguage code is tried first, then the individual language the
benchmark text is in (the member xstilts resolves to the same language: ``zh`` -> ``cmn``,
``ar`` -> ``arb``, ``sw`` -> ``swh``), per distance type; :func:`uriel_code` says which code a
distance used.
"""

from __future__ import annotations

import functools
import importlib.resources
from dataclasses import dataclass

import numpy as np

from xstilts.language_tags import parse_language_tag
from xstilts.languages import get_language, is_known

__all__ = ["DISTANCE_TYPES", "Distance", "distance", "distances", "uriel_candidates", "uriel_code"]

DISTANCE_TYPES = ("genetic", "geographic", "syntactic", "inventory", "phonological", "featural")
SOURCE = "URIEL via URIEL+ (urielplus), cosine distance over shared known features"
# Vector file of each type and the prefix its features have there ("" = every feature).
_FILES = {"genetic": ("family_features.npz", ""), "geographic": ("geocoord_features.npz", ""),
          "syntactic": ("features.npz", "S_"), "phonological": ("features.npz", "P_"),
          "inventory": ("features.npz", "INV_"), "featural": ("features.npz", "")}


@dataclass(frozen=True)
class _Vectors:
    """One URIEL file: language -> row, and per language the union of its sources' values
    (NaN where no source knows a feature)."""

    rows: dict[str, int]
    features: np.ndarray  # feature names
    values: np.ndarray  # (languages, features) float, NaN = unknown


@functools.cache
def _vectors(file: str) -> _Vectors:
    path = importlib.resources.files("urielplus") / "database" / "original_uriel" / file
    with path.open("rb") as f, np.load(f) as npz:
        # (languages, features, sources); -1 = unknown, known values are in [0, 1], so the
        # maximum over sources is the union of the known values, or -1 when none knows it.
        union = np.asarray(npz["data"]).max(axis=2).astype(float)
        langs, feats = [str(code) for code in npz["langs"]], npz["feats"].astype(str)
    union[union == -1.0] = np.nan
    return _Vectors({code: i for i, code in enumerate(langs)}, feats, union)


def vector(iso639_3: str, kind: str) -> np.ndarray | None:
    """URIEL's vector of one ISO 639-3 code for distance type ``kind`` (NaN = unknown), or
    None when URIEL does not list the code or knows none of its features of that type."""
    file, prefix = _FILES[kind]
    vectors = _vectors(file)
    row = vectors.rows.get(iso639_3)
    if row is None:
        return None
    values = vectors.values[row]
    if prefix:
        values = values[np.char.startswith(vectors.features, prefix)]
    return None if np.all(np.isnan(values)) else values


def cosine_distance(u: np.ndarray, v: np.ndarray) -> float | None:
    """``1 - cos`` over the features both vectors know; None when none is shared or a
    shared part is all zeros (cosine undefined)."""
    shared = ~np.isnan(u) & ~np.isnan(v)
    a, b = u[shared], v[shared]
    norms = float(np.linalg.norm(a) * np.linalg.norm(b))
    if not shared.any() or norms == 0.0:
        return None
    return float(np.clip(1.0 - float(a @ b) / norms, 0.0, 2.0))


def uriel_candidates(code: str) -> tuple[str, ...]:
    """The ISO 639-3 codes URIEL may list ``code`` under, in the order tried: the code's own,
    then for a macrolanguage the member xstilts reads as the same language (``zh``: zho, cmn).
    Empty for a code that is no language."""
    if not is_known(code):
        return ()
    language = get_language(code)
    found = [language.iso639_3]
    info = parse_language_tag(language.code)
    for member in info.members if info is not None else ():
        if is_known(member) and get_language(member).code == language.code:
            found.append(member)
    return tuple(dict.fromkeys(found))


def uriel_code(code: str, kind: str) -> str | None:
    """The ISO 639-3 code whose URIEL vector stands for ``code`` in distances of ``kind``
    (the first candidate with a usable vector), or None."""
    for candidate in uriel_candidates(code):
        vec = vector(candidate, kind)
        if vec is not None and np.any(np.nan_to_num(vec) != 0):
            return candidate
    return None


@dataclass(frozen=True)
class Distance:
    """One distance and the URIEL codes it was computed from (None: unclassified)."""

    kind: str
    value: float | None
    codes: tuple[str | None, str | None]


def distance(a: str, b: str, kind: str) -> Distance:
    """URIEL distance of type ``kind`` between xstilts language codes ``a`` and ``b`` (see the
    module docstring); ``value`` None when either language has no usable vector."""
    if kind not in DISTANCE_TYPES:
        raise ValueError(f"distance type must be one of {', '.join(DISTANCE_TYPES)}, "
                         f"not {kind!r}")
    if is_known(a) and is_known(b) and get_language(a).code == get_language(b).code:
        code = uriel_code(a, kind)
        return Distance(kind, 0.0, (code, code))
    codes = uriel_code(a, kind), uriel_code(b, kind)
    if codes[0] is None or codes[1] is None:
        return Distance(kind, None, codes)
    u, v = vector(codes[0], kind), vector(codes[1], kind)
    assert u is not None and v is not None  # uriel_code only returns codes with vectors
    return Distance(kind, cosine_distance(u, v), codes)


@functools.cache
def distances(a: str, b: str) -> dict[str, float | None]:
    """All six distance types between ``a`` and ``b``, type -> value (None: unclassified)."""
    return {kind: distance(a, b, kind).value for kind in DISTANCE_TYPES}
