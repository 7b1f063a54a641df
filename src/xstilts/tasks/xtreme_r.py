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
from xstilts.tasks.base import BitextExample, ChoiceExample, Task, TaskType
from xstilts.tasks.formats.choice import read_copa
from xstilts.tasks.formats.retrieval import read_bitext
from xstilts.tasks.readers import first_existing
from xstilts.tasks.registry import register_task

_HINT = (
    "Get the data with google-research/xtreme's download script (XTREME-R branch) or the "
    "upstream releases, or point --data-dir at ../shared/data."
)
XCOPA_LANGUAGES = ("en", *BENCHMARK_LANGUAGES["xcopa"])
_FILE_SPLIT = {"train": "train", "dev": "val", "test": "test"}


def xcopa_path(split: str, language: str, data_dir: Path) -> Path:
    """Upstream file if present (real test labels), else XTREME-R's ``xtreme_format`` file."""
    base = data_dir / "xcopa"
    file_split = _FILE_SPLIT.get(split, split)
    xtreme_r = base / "xtreme_format" / f"{file_split}-{language}.jsonl"
    if language == "en":
        return xtreme_r
    return first_existing(base / "data" / language / f"{file_split}.{language}.jsonl", xtreme_r)


def _xcopa_reader(
    split: str, language: str, data_dir: Path | None, *, skip_bad_rows: bool = False
) -> list[ChoiceExample]:
    assert data_dir is not None
    path = xcopa_path(split, language, data_dir)
    hint = f"xcopa: {split}/{language} is read from {path}. " + _HINT
    return read_copa(
        path, language=language, hint=hint, id_prefix=f"xcopa-{split}-{language}-",
        placeholder_labels_possible=path.parent.name == "xtreme_format" and split == "test",
        skip_bad_rows=skip_bad_rows,
    )


XCOPA = register_task(Task(
    name="xcopa", type=TaskType.MULTIPLE_CHOICE, languages=XCOPA_LANGUAGES,
    reader=_xcopa_reader, locate=xcopa_path, labels=("choice1", "choice2"), metric="accuracy",
    description="XCOPA causal commonsense reasoning (Ponti et al. 2020); en = English COPA, "
    "the training data (XTREME-R: SIQA, then COPA). Test labels only in the upstream files.",
    data_hint=_HINT,
))


# --- Tatoeba -----------------------------------------------------------------------------------

TATOEBA_FILE_CODE = dict(zip(BENCHMARK_LANGUAGES["tatoeba"], TATOEBA_SOURCE_CODES, strict=True))


def tatoeba_path(split: str, language: str, data_dir: Path, side: str | None = None) -> Path:
    """The file of one side (``side='eng'`` for English, default: the other language)."""
    code = TATOEBA_FILE_CODE.get(language, language)
    name = f"tatoeba.{code}-eng.{side or code}"
    return first_existing(data_dir / "tatoeba" / name, data_dir / "tatoeba" / "v1" / name)


def _tatoeba_reader(
    split: str, language: str, data_dir: Path | None, *, skip_bad_rows: bool = False
) -> list[BitextExample]:
    assert data_dir is not None
    source = tatoeba_path(split, language, data_dir)
    hint = f"tatoeba: {language} is read from {source} and its .eng side. " + _HINT
    return read_bitext(
        source, tatoeba_path(split, language, data_dir, "eng"), language=language, hint=hint,
        id_prefix=f"tatoeba-{language}-", skip_bad_rows=skip_bad_rows,
    )


TATOEBA = register_task(Task(
    name="tatoeba", type=TaskType.RETRIEVAL, languages=BENCHMARK_LANGUAGES["tatoeba"],
    reader=_tatoeba_reader, locate=tatoeba_path, metric="accuracy", splits=("test",),
    train_split="test", dev_split="test", test_split="test",
    description="Tatoeba bitext retrieval (LASER test set, 112 languages x English, up to "
    "1000 pairs each): no training; cosine nearest neighbour, xx->en accuracy.",
    data_hint=_HINT,
))
