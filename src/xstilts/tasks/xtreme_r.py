"""XTREME-R additions (Ruder et al. 2021): XCOPA and Tatoeba in their public layouts.

XCOPA (Ponti et al. 2020) is read from the upstream release ``xcopa/data/LANG/{val,test}.LANG
.jsonl`` when present, else from XTREME-R's ``xcopa/xtreme_format/{val,test}-LANG.jsonl``.
The two copies hold the same text, but the ``xtreme_format`` test files set every label to 0
(withheld labels): they are read as unlabeled, and only the upstream test files are scored.
The task's ``en`` is English COPA (``xtreme_format/{train,val,test}-en.jsonl``), its training
data; XTREME-R trains XCOPA models on COPA (after SIQA, see the ``siqa`` task), and COPA's
test labels are withheld too. Splits are called ``train``/``dev``/``test``; ``dev`` reads the
``val`` files.

Tatoeba (Artetxe & Schwenk 2019, LASER's test set): ``tatoeba/tatoeba.XXX-eng.{XXX,eng}``
with LASER's 3-letter codes (``cmn``, ``swh``, ...); the task's languages are canonical codes
(``zh``, ``sw``) mapped through :mod:`xstilts.languages`. LASER's own ``v1/`` sub-folder is
accepted too. One ``test`` split; the metric is xx->en retrieval accuracy.
"""

from __future__ import annotations

from pathlib import Path

from xstilts.languages import BENCHMARK_LANGUAGES, TATOEBA_SOURCE_CODES
from xstilts.tasks.base import RetrievalKind, TaskType, Translation
from xstilts.tasks.file_formats import bitext, copa
from xstilts.tasks.files import FileLayout, file_task
from xstilts.tasks.readers import first_existing
from xstilts.tasks.registry import register_task
from xstilts.tasks.translations import TRANSLATE_TEST

_HINT = (
    "Get the data with google-research/xtreme's download script (XTREME-R branch) or the "
    "upstream releases, or point --data-dir at ../shared/data."
)
XCOPA_LANGUAGES = ("en", *BENCHMARK_LANGUAGES["xcopa"])
_FILE_SPLIT = {"train": "train", "dev": "val", "test": "test"}


def xcopa_path(split: str, language: str, data_dir: Path) -> Path:
    """Upstream file if present (real test labels), else XTREME-R's ``xtreme_format`` file.

    A function, not a FileLayout: English (COPA) has only the ``xtreme_format`` file, so an
    error about a missing English file must name that one."""
    base = data_dir / "xcopa"
    file_split = _FILE_SPLIT.get(split, split)
    xtreme_r = base / "xtreme_format" / f"{file_split}-{language}.jsonl"
    if language == "en":
        return xtreme_r
    return first_existing(base / "data" / language / f"{file_split}.{language}.jsonl", xtreme_r)


def xcopa_translated_path(split: str, language: str, data_dir: Path) -> Path:
    """XCOPA's test and validation sets machine-translated into English (Google MT, the
    release's ``data-gmt`` folder): same ``idx`` and labels as ``data/LANG/...``."""
    file_split = _FILE_SPLIT.get(split, split)
    return data_dir / "xcopa" / "data-gmt" / language / f"{file_split}.{language}.jsonl"


XCOPA = register_task(file_task(
    "xcopa", TaskType.MULTIPLE_CHOICE, XCOPA_LANGUAGES, layout=xcopa_path, read=copa,
    labels=("choice1", "choice2"), metric="accuracy",
    translations={TRANSLATE_TEST: Translation(xcopa_translated_path, read=copa)},
    description="XCOPA causal commonsense reasoning (Ponti et al. 2020); en = English COPA, "
    "the training data (XTREME-R: SIQA, then COPA). Test labels only in the upstream files.",
    data_hint=_HINT,
))


# --- Tatoeba -----------------------------------------------------------------------------------

TATOEBA_FILE_CODE = dict(zip(BENCHMARK_LANGUAGES["tatoeba"], TATOEBA_SOURCE_CODES, strict=True))


# The other language's side; its English side is the ``.eng`` file beside it.
tatoeba_path = FileLayout(
    ("tatoeba/tatoeba.{language_file}-eng.{language_file}",
     "tatoeba/v1/tatoeba.{language_file}-eng.{language_file}"),
    language_files=TATOEBA_FILE_CODE,
)

TATOEBA = register_task(file_task(
    "tatoeba", TaskType.RETRIEVAL, BENCHMARK_LANGUAGES["tatoeba"], layout=tatoeba_path,
    read=bitext, id_prefix="{task}-{language}-", metric="accuracy", splits=("test",),
    train_split="test", dev_split="test", test_split="test",
    retrieval_kind=RetrievalKind.BITEXT,
    description="Tatoeba bitext retrieval (LASER test set, 112 languages x English, up to "
    "1000 pairs each): no training; cosine nearest neighbour, xx->en accuracy.",
    data_hint=_HINT,
))
