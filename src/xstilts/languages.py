"""Language metadata: canonical codes, genealogy, script and resource level.

Why: cross-lingual transfer results are usually read per language *group* (is transfer worse
to non-Latin scripts? to low-resource languages? outside Indo-European?). Reports need one
canonical code per language and a few attributes to group by. The benchmarks xstilts ships
name their languages inconsistently: XTREME uses ISO 639-1 (``de``, ``zh``, ``sw``), the LASER
Tatoeba files use 3-letter codes that are sometimes ISO 639-3 individual languages (``cmn``,
``swh``, ``zsm``, ``pes``, ``lvs``), sometimes macrolanguage codes (``ara``, ``kur``, ``uzb``)
and once a collective ISO 639-2/5 code (``ber``), and HumanEval-XL uses English names
(``Afrikaans.jsonl``). :func:`get_language` maps all of these to one :class:`Language`.

Conventions
-----------
* ``code``: ISO 639-1 where the language has one, else ISO 639-3. ``iso639_3`` is the ISO 639-3
  (= 639-2/T) code matching ``code``; for macrolanguages this is the macrolanguage code
  (``zh`` -> ``zho``, ``ar`` -> ``ara``, ``sw`` -> ``swa``, ``ms`` -> ``msa``, ``fa`` -> ``fas``)
  and the individual-language code the benchmark text is actually in (``cmn``, ``arb``,
  ``swh``, ``zsm``, ``pes``, ``ekk``, ``lvs``, ``azj``, ``uzn``, ``khk``, ``kmr``) is an alias.
  ``no``/``nor`` (Norwegian) resolve to Bokmål (``nb``), as most NLP data labelled ``no`` is.
  ``ber`` (Berber, the Tatoeba code) is an ISO 639-2/5 collective code, kept as is.
  ``kzj`` (Coastal Kadazan) was merged into ``dtp`` by ISO 639-3 in 2016; Tatoeba still has
  separate files for both, so both are kept as separate entries.
* ``family``: top-level family as in Glottolog 4.x (Hammarström et al.), e.g. "Indo-European",
  "Atlantic-Congo", "Tai-Kadai", "Mongolic-Khitan"; isolates are their own family ("Basque").
  Creoles are classified with their lexifier's family, as Glottolog does (Haitian Creole and
  Chavacano: Indo-European; North Moluccan Malay: Austronesian). Constructed languages use
  Glottolog's bookkeeping pseudo-family "Artificial Language".
* ``genus``: WALS genus (Dryer & Haspelmath, WALS Online 2013), e.g. Germanic, Bantoid, Kam-Tai.
  WALS has no genus for constructed languages ("Constructed" is used) and puts creoles in
  "Creoles and Pidgins".
* ``script``: ISO 15924 four-letter code of the main script the benchmark text is written in
  (Latn, Cyrl, Arab, Deva, Hans, Hant, Jpan, Hang, ...). A few Tatoeba sets mix scripts
  (Serbian, Uzbek, Berber, Kurdish); the entry gives the conventional one.
* ``resource_level``: class 0-5 of Joshi et al. (2020), "The State and Fate of Linguistic
  Diversity and Inclusion in the NLP World" (ACL), from the authors' ``lang2tax.txt`` (which
  lists language *names*; matched to codes here) (5 = "winners": English, Spanish, German,
  Japanese, French, Arabic, Mandarin; 0 = "left behind"). Languages not found in classes 1-5
  get 0, except Low German (``nds``), given 1 like the other languages with a sizeable
  Wikipedia. Cantonese and Wu are separate entries (class 1), not Mandarin's class 5.

Languages outside the table
---------------------------
Any other ISO 639-1/639-3/639-5 code, BCP 47 tag or English name resolves too, from maintained
data shipped in packages (no network): codes, names, macrolanguages, retired codes and the
usual script from the IANA registry and CLDR (:mod:`xstilts.language_tags`, ``langcodes``),
family and first subgroup from Glottolog as shipped by URIEL+
(:mod:`xstilts.language_typology`). What no source gives is :data:`UNCLASSIFIED` (resource
level: None), and :attr:`Language.sources` says where each attribute came from. A script
subtag (``sr-Latn``, ``uz-Cyrl``) or a region that implies one (``zh-TW``) sets the script of
a table language too; the code stays the table's (``sr``). A language whose script no data
gives takes it from its text: :func:`with_text_script`.

Sources: Glottolog 4.x (glottolog.org), WALS Online (wals.info, 2013 edition), Joshi et al.
(2020) language taxonomy, the ISO 639-3 code tables (SIL, iso639-3.sil.org, including the
macrolanguage mappings and retired codes) and ISO 15924 (unicode.org/iso15924).
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field

from xstilts.errors import XstiltsError
from xstilts.language_tags import parse_language_tag
from xstilts.language_typology import SOURCE as TYPOLOGY_SOURCE
from xstilts.language_typology import glottolog_lineage
from xstilts.text_scripts import detect_script

__all__ = [
    "BENCHMARK_LANGUAGES",
    "HUMANEVAL_XL_NAMES",
    "TATOEBA_SOURCE_CODES",
    "UNCLASSIFIED",
    "Language",
    "all_languages",
    "canonical_code",
    "get_language",
    "group_languages",
    "is_known",
    "language_name",
    "with_text_script",
]

UNCLASSIFIED = "unclassified"
"""The value of an attribute no source gives (family, genus, script; resource level is None)."""
_TABLE_SOURCES = {
    "name": "xstilts table",
    "family": "xstilts table (Glottolog 4.x)",
    "genus": "xstilts table (WALS 2013 genus)",
    "script": "xstilts table (ISO 15924)",
    "resource_level": "xstilts table (Joshi et al. 2020 class)",
}


@dataclass(frozen=True)
class Language:
    """One language with the attributes reports aggregate by (see the module docstring)."""

    code: str
    iso639_3: str
    name: str
    family: str
    genus: str
    script: str
    resource_level: int | None
    iso639_1: str | None
    # Where each of name/family/genus/script/resource_level came from (the `languages` command
    # prints it); not part of equality, so a language is equal to itself whatever the source.
    sources: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    @property
    def macrolanguage(self) -> str | None:
        """The code of the macrolanguage this language belongs to (``quy`` -> ``qu``)."""
        info = parse_language_tag(self.code)
        return info.macrolanguage if info else None


# One language per line, sorted by canonical code:
# code | ISO 639-3 | English name | Glottolog family | WALS genus | ISO 15924 script | Joshi class
# The code, the ISO 639-3 code and the name are lookup keys; _EXTRA_ALIASES adds the others.
_TABLE = """
af  | afr | Afrikaans            | Indo-European       | Germanic                   | Latn | 3
am  | amh | Amharic              | Afro-Asiatic        | Semitic                    | Ethi | 2
ang | ang | Old English          | Indo-European       | Germanic                   | Latn | 1
ar  | ara | Arabic               | Afro-Asiatic        | Semitic                    | Arab | 5
arq | arq | Algerian Arabic      | Afro-Asiatic        | Semitic                    | Arab | 0
arz | arz | Egyptian Arabic      | Afro-Asiatic        | Semitic                    | Arab | 3
ast | ast | Asturian             | Indo-European       | Romance                    | Latn | 1
awa | awa | Awadhi               | Indo-European       | Indic                      | Deva | 0
az  | aze | Azerbaijani          | Turkic              | Turkic                     | Latn | 1
be  | bel | Belarusian           | Indo-European       | Slavic                     | Cyrl | 3
ber | ber | Berber               | Afro-Asiatic        | Berber                     | Latn | 0
bg  | bul | Bulgarian            | Indo-European       | Slavic                     | Cyrl | 3
bn  | ben | Bengali              | Indo-European       | Indic                      | Beng | 3
br  | bre | Breton               | Indo-European       | Celtic                     | Latn | 1
bs  | bos | Bosnian              | Indo-European       | Slavic                     | Latn | 3
ca  | cat | Catalan              | Indo-European       | Romance                    | Latn | 4
cbk | cbk | Chavacano            | Indo-European       | Creoles and Pidgins        | Latn | 1
ceb | ceb | Cebuano              | Austronesian        | Greater Central Philippine | Latn | 3
ch  | cha | Chamorro             | Austronesian        | Chamorro                   | Latn | 1
cs  | ces | Czech                | Indo-European       | Slavic                     | Latn | 4
csb | csb | Kashubian            | Indo-European       | Slavic                     | Latn | 1
cy  | cym | Welsh                | Indo-European       | Celtic                     | Latn | 1
da  | dan | Danish               | Indo-European       | Germanic                   | Latn | 3
de  | deu | German               | Indo-European       | Germanic                   | Latn | 5
dsb | dsb | Lower Sorbian        | Indo-European       | Slavic                     | Latn | 1
dtp | dtp | Kadazan Dusun        | Austronesian        | North Borneo               | Latn | 0
el  | ell | Greek                | Indo-European       | Greek                      | Grek | 3
en  | eng | English              | Indo-European       | Germanic                   | Latn | 5
eo  | epo | Esperanto            | Artificial Language | Constructed                | Latn | 1
es  | spa | Spanish              | Indo-European       | Romance                    | Latn | 5
et  | est | Estonian             | Uralic              | Finnic                     | Latn | 3
eu  | eus | Basque               | Basque              | Basque                     | Latn | 4
fa  | fas | Persian              | Indo-European       | Iranian                    | Arab | 4
fi  | fin | Finnish              | Uralic              | Finnic                     | Latn | 4
fo  | fao | Faroese              | Indo-European       | Germanic                   | Latn | 1
fr  | fra | French               | Indo-European       | Romance                    | Latn | 5
fy  | fry | Western Frisian      | Indo-European       | Germanic                   | Latn | 1
ga  | gle | Irish                | Indo-European       | Celtic                     | Latn | 2
gd  | gla | Scottish Gaelic      | Indo-European       | Celtic                     | Latn | 1
gl  | glg | Galician             | Indo-European       | Romance                    | Latn | 3
gsw | gsw | Swiss German         | Indo-European       | Germanic                   | Latn | 1
gu  | guj | Gujarati             | Indo-European       | Indic                      | Gujr | 1
he  | heb | Hebrew               | Afro-Asiatic        | Semitic                    | Hebr | 3
hi  | hin | Hindi                | Indo-European       | Indic                      | Deva | 4
hr  | hrv | Croatian             | Indo-European       | Slavic                     | Latn | 4
hsb | hsb | Upper Sorbian        | Indo-European       | Slavic                     | Latn | 1
ht  | hat | Haitian Creole       | Indo-European       | Creoles and Pidgins        | Latn | 2
hu  | hun | Hungarian            | Uralic              | Ugric                      | Latn | 4
hy  | hye | Armenian             | Indo-European       | Armenian                   | Armn | 1
ia  | ina | Interlingua          | Artificial Language | Constructed                | Latn | 1
id  | ind | Indonesian           | Austronesian        | Malayo-Sumbawan            | Latn | 3
ie  | ile | Interlingue          | Artificial Language | Constructed                | Latn | 1
io  | ido | Ido                  | Artificial Language | Constructed                | Latn | 1
is  | isl | Icelandic            | Indo-European       | Germanic                   | Latn | 2
it  | ita | Italian              | Indo-European       | Romance                    | Latn | 4
ja  | jpn | Japanese             | Japonic             | Japanese                   | Jpan | 5
jv  | jav | Javanese             | Austronesian        | Javanese                   | Latn | 1
ka  | kat | Georgian             | Kartvelian          | Kartvelian                 | Geor | 3
kab | kab | Kabyle               | Afro-Asiatic        | Berber                     | Latn | 1
kk  | kaz | Kazakh               | Turkic              | Turkic                     | Cyrl | 3
km  | khm | Khmer                | Austroasiatic       | Khmer                      | Khmr | 1
ko  | kor | Korean               | Koreanic            | Korean                     | Hang | 4
ku  | kur | Kurdish              | Indo-European       | Iranian                    | Latn | 1
kw  | cor | Cornish              | Indo-European       | Celtic                     | Latn | 1
kzj | kzj | Coastal Kadazan      | Austronesian        | North Borneo               | Latn | 0
la  | lat | Latin                | Indo-European       | Romance                    | Latn | 3
lfn | lfn | Lingua Franca Nova   | Artificial Language | Constructed                | Latn | 0
lt  | lit | Lithuanian           | Indo-European       | Baltic                     | Latn | 3
lv  | lav | Latvian              | Indo-European       | Baltic                     | Latn | 3
max | max | North Moluccan Malay | Austronesian        | Malayo-Sumbawan            | Latn | 0
mhr | mhr | Meadow Mari          | Uralic              | Mari                       | Cyrl | 1
mk  | mkd | Macedonian           | Indo-European       | Slavic                     | Cyrl | 1
ml  | mal | Malayalam            | Dravidian           | Southern Dravidian         | Mlym | 1
mn  | mon | Mongolian            | Mongolic-Khitan     | Mongolic                   | Cyrl | 1
mr  | mar | Marathi              | Indo-European       | Indic                      | Deva | 2
ms  | msa | Malay                | Austronesian        | Malayo-Sumbawan            | Latn | 3
my  | mya | Burmese              | Sino-Tibetan        | Burmese-Lolo               | Mymr | 1
nb  | nob | Norwegian Bokmål     | Indo-European       | Germanic                   | Latn | 1
nds | nds | Low German           | Indo-European       | Germanic                   | Latn | 1
nl  | nld | Dutch                | Indo-European       | Germanic                   | Latn | 4
nn  | nno | Norwegian Nynorsk    | Indo-European       | Germanic                   | Latn | 1
nov | nov | Novial               | Artificial Language | Constructed                | Latn | 0
oc  | oci | Occitan              | Indo-European       | Romance                    | Latn | 1
orv | orv | Old Russian          | Indo-European       | Slavic                     | Cyrl | 0
pa  | pan | Punjabi              | Indo-European       | Indic                      | Guru | 2
pam | pam | Kapampangan          | Austronesian        | Central Luzon              | Latn | 1
pl  | pol | Polish               | Indo-European       | Slavic                     | Latn | 4
pms | pms | Piedmontese          | Indo-European       | Romance                    | Latn | 1
pt  | por | Portuguese           | Indo-European       | Romance                    | Latn | 4
qu  | que | Quechua              | Quechuan            | Quechuan                   | Latn | 1
ro  | ron | Romanian             | Indo-European       | Romance                    | Latn | 3
ru  | rus | Russian              | Indo-European       | Slavic                     | Cyrl | 4
sk  | slk | Slovak               | Indo-European       | Slavic                     | Latn | 3
sl  | slv | Slovenian            | Indo-European       | Slavic                     | Latn | 3
sq  | sqi | Albanian             | Indo-European       | Albanian                   | Latn | 1
sr  | srp | Serbian              | Indo-European       | Slavic                     | Cyrl | 4
sv  | swe | Swedish              | Indo-European       | Germanic                   | Latn | 4
sw  | swa | Swahili              | Atlantic-Congo      | Bantoid                    | Latn | 2
swg | swg | Swabian              | Indo-European       | Germanic                   | Latn | 0
ta  | tam | Tamil                | Dravidian           | Southern Dravidian         | Taml | 3
te  | tel | Telugu               | Dravidian           | South-Central Dravidian    | Telu | 1
th  | tha | Thai                 | Tai-Kadai           | Kam-Tai                    | Thai | 3
tk  | tuk | Turkmen              | Turkic              | Turkic                     | Latn | 1
tl  | tgl | Tagalog              | Austronesian        | Greater Central Philippine | Latn | 3
tr  | tur | Turkish              | Turkic              | Turkic                     | Latn | 4
tt  | tat | Tatar                | Turkic              | Turkic                     | Cyrl | 1
tzl | tzl | Talossan             | Artificial Language | Constructed                | Latn | 0
ug  | uig | Uyghur               | Turkic              | Turkic                     | Arab | 1
uk  | ukr | Ukrainian            | Indo-European       | Slavic                     | Cyrl | 3
ur  | urd | Urdu                 | Indo-European       | Indic                      | Arab | 3
uz  | uzb | Uzbek                | Turkic              | Turkic                     | Latn | 3
vi  | vie | Vietnamese           | Austroasiatic       | Viet-Muong                 | Latn | 4
war | war | Waray                | Austronesian        | Greater Central Philippine | Latn | 1
wo  | wol | Wolof                | Atlantic-Congo      | Northern Atlantic          | Latn | 2
wuu | wuu | Wu Chinese           | Sino-Tibetan        | Chinese                    | Hans | 1
xh  | xho | Xhosa                | Atlantic-Congo      | Bantoid                    | Latn | 2
yi  | yid | Yiddish              | Indo-European       | Germanic                   | Hebr | 1
yo  | yor | Yoruba               | Atlantic-Congo      | Defoid                     | Latn | 2
yue | yue | Cantonese            | Sino-Tibetan        | Chinese                    | Hant | 1
zh  | zho | Chinese              | Sino-Tibetan        | Chinese                    | Hans | 5
"""

# Extra lookup keys per canonical code (sorted by code): ISO 639-2/B codes, individual-language
# codes of a macrolanguage, retired ISO codes and other English names.
_EXTRA_ALIASES: dict[str, tuple[str, ...]] = {
    "ang": ("Anglo-Saxon",),
    "ar": ("arb", "Standard Arabic", "Modern Standard Arabic"),
    "az": ("azj", "North Azerbaijani", "Azeri"),
    "be": ("Belarussian",),
    "ber": ("Berber languages",),
    "bn": ("Bangla",),
    "ca": ("Valencian",),
    "cbk": ("Zamboanga Chavacano",),
    "cs": ("cze",),
    "cy": ("wel",),
    "de": ("ger",),
    "dtp": ("Central Dusun",),
    "el": ("gre", "Modern Greek"),
    "es": ("Castilian",),
    "et": ("ekk", "Standard Estonian"),
    "eu": ("baq",),
    "fa": ("per", "pes", "Farsi", "Iranian Persian", "Western Farsi"),
    "fr": ("fre",),
    "fy": ("West Frisian", "Frisian"),
    "ga": ("Irish Gaelic",),
    "gd": ("Gaelic",),
    "gsw": ("Alemannic",),
    "he": ("iw",),
    "hr": ("scr",),
    "ht": ("Haitian",),
    "hy": ("arm",),
    "id": ("in",),
    "ie": ("Occidental",),
    "is": ("ice",),
    "jv": ("jw",),
    "ka": ("geo",),
    "km": ("Central Khmer", "Cambodian"),
    "ku": ("kmr", "Kurmanji", "Northern Kurdish"),
    "lv": ("lvs", "Standard Latvian"),
    "max": ("Ternate Malay",),
    "mhr": ("chm", "Eastern Mari", "Mari"),
    "mk": ("mac",),
    "mn": ("khk", "Halh Mongolian", "Khalkha Mongolian"),
    "ms": ("may", "zsm", "Standard Malay"),
    "my": ("bur", "Myanmar"),
    "nb": ("no", "nor", "Norwegian", "Bokmål"),
    "nds": ("Low Saxon",),
    "nl": ("dut", "Flemish"),
    "nn": ("Nynorsk",),
    "orv": ("Old East Slavic",),
    "pa": ("Panjabi", "Eastern Punjabi"),
    "pam": ("Pampanga", "Pampangan"),
    "ro": ("rum", "mo", "mol", "Moldavian"),
    "sk": ("slo",),
    "sl": ("Slovene",),
    "sq": ("alb", "als", "Tosk Albanian"),
    "sr": ("scc",),
    "sw": ("swh", "Kiswahili"),
    "tl": ("fil", "Filipino"),
    "ug": ("Uighur",),
    "uz": ("uzn", "Northern Uzbek"),
    "war": ("Waray-Waray",),
    "wuu": ("Wu", "Shanghainese"),
    "xh": ("isiXhosa",),
    "yi": ("ji",),
    "yue": ("Yue Chinese", "zh-yue"),
    "zh": ("chi", "cmn", "Mandarin", "Mandarin Chinese", "zh-cn", "zh-hans"),
}


def _key(text: str) -> str:
    """Lookup key: case-folded, accents stripped, surrounding whitespace removed."""
    decomposed = unicodedata.normalize("NFKD", text.strip().casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _parse_table(
    table: str, extra_aliases: dict[str, tuple[str, ...]]
) -> tuple[dict[str, Language], dict[str, str]]:
    languages: dict[str, Language] = {}
    aliases: dict[str, str] = {}  # lookup key -> canonical code

    def add_alias(alias: str, code: str) -> None:
        key = _key(alias)
        previous = aliases.setdefault(key, code)
        if previous != code:
            raise ValueError(f"language alias {alias!r} maps to both {previous!r} and {code!r}")

    for line in table.strip().splitlines():
        fields = [f.strip() for f in line.split("|")]
        code, iso3, name, family, genus, script, level = fields
        if code in languages:
            raise ValueError(f"duplicate language code {code!r} in the language table")
        languages[code] = Language(
            code=code,
            iso639_3=iso3,
            name=name,
            family=family,
            genus=genus,
            script=script,
            resource_level=int(level),
            iso639_1=code if len(code) == 2 else None,
            sources=dict(_TABLE_SOURCES),
        )
        for alias in (code, iso3, name):
            add_alias(alias, code)
    for code, extra in extra_aliases.items():
        if code not in languages:
            raise ValueError(f"aliases given for {code!r}, which is not in the language table")
        for alias in extra:
            add_alias(alias, code)
    return languages, aliases


_LANGUAGES, _ALIASES = _parse_table(_TABLE, _EXTRA_ALIASES)
_TAG_SEPARATOR = re.compile(r"[-_]")


def _table_lookup(code_or_name: str) -> Language | None:
    key = _key(code_or_name)
    code = _ALIASES.get(key)
    if code is None:
        # BCP 47 / FLORES-style tags: "zh-CN", "pt_BR", "eng_Latn" -> primary subtag.
        primary = _TAG_SEPARATOR.split(key, maxsplit=1)[0]
        if primary != key:
            code = _ALIASES.get(primary)
    return _LANGUAGES[code] if code is not None else None


def _lookup(code_or_name: str) -> Language | None:
    """The table first (its conventions win: ``cmn`` is ``zh``), then the IANA registry."""
    language = _table_lookup(code_or_name)
    if language is None:
        info = parse_language_tag(code_or_name)
        if info is None:
            return None
        language = _LANGUAGES.get(info.code) or _from_registry(info.code)
    return _with_tag_script(language, code_or_name)


def _with_tag_script(language: Language, tag: str) -> Language:
    """``sr-Latn``, ``zh-TW``: the script the tag names or implies, if it differs."""
    if not _TAG_SEPARATOR.search(tag):
        return language
    info = parse_language_tag(tag)
    if info is None or info.code != language.code or info.script in (None, language.script):
        return language
    sources = {**language.sources, "script": f"{info.script_source} ({tag})"}
    return dataclasses.replace(language, script=info.script, sources=sources)


@functools.cache
def _from_registry(code: str) -> Language:
    """A language outside the table, from the registry, CLDR and Glottolog (URIEL+)."""
    info = parse_language_tag(code)
    assert info is not None, code
    lineage = glottolog_lineage(info.iso639_3, info.name, members=info.members,
                                collection=info.scope == "collection")
    registry = "IANA language subtag registry (langcodes/language_data)"
    sources = {
        "name": registry,
        "family": f"{TYPOLOGY_SOURCE}: {lineage.how}" if lineage else "no source classifies it",
        "genus": (f"{TYPOLOGY_SOURCE}: first subgroup of the family, not a WALS genus; "
                  f"{lineage.how}") if lineage else "no source classifies it",
        "script": info.script_source or "no source gives it; detect it from text "
                  "(xstilts.languages.with_text_script)",
        "resource_level": "not in the xstilts table of Joshi et al. (2020) classes",
    }
    return Language(
        code=info.code,
        iso639_3=info.iso639_3,
        name=info.name,
        family=lineage.family if lineage else UNCLASSIFIED,
        genus=lineage.genus if lineage else UNCLASSIFIED,
        script=info.script or UNCLASSIFIED,
        resource_level=None,
        iso639_1=info.code if len(info.code) == 2 else None,
        sources=sources,
    )


def with_text_script(language: Language, texts: Iterable[str]) -> Language:
    """``language`` with its script detected from ``texts`` (evaluation text in it) when no
    data gives one; unchanged when the script is known or the texts have no letters."""
    if language.script != UNCLASSIFIED:
        return language
    script = detect_script(texts)
    if script is None:
        return language
    sources = {**language.sources, "script": "detected from the text (Unicode script of its "
               "letters)"}
    return dataclasses.replace(language, script=script, sources=sources)


def get_language(code_or_name: str) -> Language:
    """The language for any language code, tag or English name.

    Accepts ISO 639-1, ISO 639-3 (macrolanguage and individual codes such as ``cmn``, ``arb``,
    ``swh``, ``zsm``, ``quy``), ISO 639-2/B (``ger``, ``chi``, ``per``), ISO 639-5 groups
    (``nah``), retired codes (``iw``), the Tatoeba/LASER codes and English names
    (``"Afrikaans"``, ``"Guarani"``), case-insensitively; a tag with a region or script
    (``zh-CN``, ``sr-Latn``, ``eng_Latn``) resolves through its primary subtag, with the
    script it names. Private-use and special codes (``qaa``, ``und``, ``mul``) are no
    language. Raises
    :class:`~xstilts.errors.XstiltsError` with "Did you mean ...?" suggestions otherwise.
    """
    if not isinstance(code_or_name, str) or not code_or_name.strip():
        raise XstiltsError(f"language code must be a non-empty string, got {code_or_name!r}")
    language = _lookup(code_or_name)
    if language is not None:
        return language
    matches = difflib.get_close_matches(_key(code_or_name), list(_ALIASES), n=8, cutoff=0.6)
    suggestions: list[str] = []
    for match in matches:
        hit = _LANGUAGES[_ALIASES[match]]
        label = f"{hit.code} ({hit.name})"
        if label not in suggestions:
            suggestions.append(label)
    hint = (
        f" Did you mean {', '.join(suggestions[:5])}?"
        if suggestions
        else " Use an ISO 639-1/639-3 code, a BCP 47 tag or an English name; "
        "`xstilts languages CODE` shows what a code resolves to, and "
        "xstilts.languages.all_languages() lists the table's languages."
    )
    raise XstiltsError(f"unknown language {code_or_name!r}.{hint}")


def is_known(code_or_name: str) -> bool:
    """Whether :func:`get_language` resolves ``code_or_name``."""
    return isinstance(code_or_name, str) and _lookup(code_or_name) is not None


def canonical_code(code: str) -> str:
    """The canonical code (ISO 639-1 if any, else ISO 639-3): ``deu``/``ger`` -> ``de``."""
    return get_language(code).code


def all_languages() -> list[Language]:
    """Every language in the hand table, sorted by canonical code (any other ISO code resolves
    through :func:`get_language` too)."""
    return [_LANGUAGES[code] for code in sorted(_LANGUAGES)]


def language_name(code: str) -> str:
    """English name for report tables; unknown codes come back unchanged (never raises)."""
    try:
        return get_language(code).name
    except XstiltsError:
        return code


def group_languages(codes: Iterable[str], by: str) -> dict[str, list[str]]:
    """Group language codes by ``family``, ``genus``, ``script`` or ``resource_level``.

    Keys are the attribute values as strings (resource levels as ``"0"``..``"5"``); the input
    codes are kept as given, in input order. Unknown codes go under ``"unknown"``, a language
    without the attribute under :data:`UNCLASSIFIED`.
    """
    attributes = ("family", "genus", "script", "resource_level")
    if by not in attributes:
        raise XstiltsError(f"cannot group languages by {by!r}; use one of {', '.join(attributes)}")
    groups: dict[str, list[str]] = {}
    for code in codes:
        language = _lookup(code)
        value = "unknown" if language is None else _group_value(getattr(language, by))
        groups.setdefault(value, []).append(code)
    return groups


def _group_value(value: object) -> str:
    return UNCLASSIFIED if value is None else str(value)


# --- Benchmark language lists --------------------------------------------------------------

# The 3-letter codes of the LASER Tatoeba files (tatoeba.{code}-eng.{code}), in file order.
TATOEBA_SOURCE_CODES: tuple[str, ...] = tuple(
    """
    afr amh ang ara arq arz ast awa aze bel ben ber bos bre bul cat cbk ceb ces cha cmn cor csb
    cym dan deu dsb dtp ell epo est eus fao fin fra fry gla gle glg gsw heb hin hrv hsb hun hye
    ido ile ina ind isl ita jav jpn kab kat kaz khm kor kur kzj lat lfn lit lvs mal mar max mhr
    mkd mon nds nld nno nob nov oci orv pam pes pms pol por ron rus slk slv spa sqi srp swe swg
    swh tam tat tel tgl tha tuk tur tzl uig ukr urd uzb vie war wuu xho yid yue zsm
    """.split()
)

# The HumanEval-XL file names (python/{Name}.jsonl), in file order.
HUMANEVAL_XL_NAMES: tuple[str, ...] = tuple(
    """
    Afrikaans Arabic Bulgarian Chinese Dutch English Estonian Finnish French German Greek Hebrew
    Hungarian Indonesian Italian Malay Persian Portuguese Russian Spanish Tagalog Turkish
    Vietnamese
    """.split()
)

_XTREME_PANX_40 = (
    "af ar bg bn de el en es et eu fa fi fr he hi hu id it ja jv ka kk ko ml mr ms my nl pt ru "
    "sw ta te th tl tr ur vi yo zh"
)
# Extra PAN-X/WikiANN languages present in the shared data (download/panx of XTREME).
_PANX_EXTRA = "az gu lt pa pl qu ro uk"


def _codes(text: str) -> tuple[str, ...]:
    return tuple(text.split())


# Canonical codes per benchmark, as the benchmark's own files name its languages: "en" is listed
# only where the benchmark ships an English set. "tatoeba" follows TATOEBA_SOURCE_CODES and
# "humaneval-xl" HUMANEVAL_XL_NAMES position by position; "udpos" is the XTREME udpos files
# (UD v2.5), "panx" the 40 XTREME languages plus the extra WikiANN files in the shared data.
BENCHMARK_LANGUAGES: dict[str, tuple[str, ...]] = {
    "xnli": _codes("ar bg de el en es fr hi ru sw th tr ur vi zh"),
    "pawsx": _codes("de en es fr ja ko zh"),
    "xquad": _codes("ar de el en es hi ro ru th tr vi zh"),
    "mlqa": _codes("ar de en es hi vi zh"),
    "tydiqa": _codes("ar bn en fi id ko ru sw te"),
    "panx": tuple(sorted(_codes(_XTREME_PANX_40) + _codes(_PANX_EXTRA))),
    "udpos": _codes(
        "af ar bg de el en es et eu fa fi fr he hi hu id it ja kk ko lt mr nl pl pt ro ru ta te "
        "th tl tr uk ur vi wo yo zh"
    ),
    "xcopa": _codes("et ht id it qu sw ta th tr vi zh"),
    "tatoeba": tuple(canonical_code(c) for c in TATOEBA_SOURCE_CODES),
    "bucc": _codes("de fr ru zh"),
    "mewsli-x": _codes("ar de en es fa ja pl ro ta tr uk"),
    "lareqa": _codes("ar de el en es hi ru th tr vi zh"),
    "sts17": _codes("ar en es tr"),
    "humaneval-xl": tuple(canonical_code(n) for n in HUMANEVAL_XL_NAMES),
}
