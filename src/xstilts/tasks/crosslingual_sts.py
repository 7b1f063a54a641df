"""Cross-lingual semantic textual similarity: SemEval-2017 Task 1 (STS 2017).

Languages are the track pairs ``ar-ar``, ``ar-en``, ``es-es``, ``es-en``, ``en-en``, ``tr-en``;
the files are ``sts/STS2017.eval.v1.1/STS.input.trackN.PAIR.txt`` with gold scores in
``sts/STS2017.gs/STS.gs.trackN.PAIR.txt``, aligned by line. es-en has two tracks: 4a (SNLI
captions, like every other track) and 4b (WMT news). ``es-en`` is track 4a, the one SentEval,
sentence-transformers and MTEB report; track 4b is ``es-en-wmt``. The tr-en input has 250
unscored extra pairs after the 250 scored ones (see :mod:`xstilts.tasks.formats.sts`).

Protocol (SBERT-style): train a siamese regressor on English STS-B, score every track
zero-shot, Spearman correlation. So ``en-en``'s ``train``/``dev`` splits read STS-B's train
and dev files (as XQuAD's English train split reads SQuAD), and ``test`` is the 2017 track.
"""

from __future__ import annotations

from pathlib import Path

from xstilts.tasks.base import Example, TaskType
from xstilts.tasks.english import stsb_path
from xstilts.tasks.file_formats import stsb
from xstilts.tasks.files import ENGLISH_ID_PREFIX, FileRequest, file_task
from xstilts.tasks.formats.sts import read_sts_pairs
from xstilts.tasks.registry import register_task

TRACKS = {
    "ar-ar": "track1.ar-ar", "ar-en": "track2.ar-en", "es-es": "track3.es-es",
    "es-en": "track4a.es-en", "es-en-wmt": "track4b.es-en", "en-en": "track5.en-en",
    "tr-en": "track6.tr-en",
}
_HINT = ("STS 2017: the SemEval-2017 Task 1 evaluation inputs and gold files "
         "(STS2017.eval.v1.1/, STS2017.gs/) under sts/, as in ../shared/data.")


def sts17_path(split: str, language: str, data_dir: Path) -> Path:
    """The input file of a track (test), or STS-B's file for en-en train/dev. A function, not
    a :class:`~xstilts.tasks.files.FileLayout`: the layout depends on split and language."""
    if split != "test":
        if language != "en-en":
            return data_dir / "sts" / f"{split}-{language} (only en-en has {split}: STS-B)"
        return stsb_path(split, "en", data_dir)
    return data_dir / "sts" / "STS2017.eval.v1.1" / f"STS.input.{TRACKS[language]}.txt"


def _gold_path(language: str, data_dir: Path) -> Path:
    return data_dir / "sts" / "STS2017.gs" / f"STS.gs.{TRACKS[language]}.txt"


def read_sts17(request: FileRequest) -> list[Example]:
    """Code, not a format: en-en's train/dev are STS-B's files, a track's test is its input
    file plus the gold file beside it (read unlabeled when that is absent)."""
    if request.split != "test":  # only en-en has a train/dev file (the locator says so)
        return stsb(request)
    gold = _gold_path(request.language, request.data_dir)
    return read_sts_pairs(
        request.path, gold if gold.is_file() else None, language=request.language,
        hint=request.hint, id_prefix=f"{request.task}-{request.language}-",
        extra_input_ok=request.language == "tr-en", skip_bad_rows=request.skip_bad_rows,
    )


STS17 = register_task(file_task(
    "sts17", TaskType.REGRESSION, tuple(TRACKS), layout=sts17_path, read=read_sts17,
    data_hint=_HINT, id_prefix=ENGLISH_ID_PREFIX, metric="spearman", train_language="en-en",
    protocol_pair_encoding="siamese",
    description="SemEval-2017 STS, monolingual and cross-lingual tracks (Cer et al. 2017), "
    "0-5; trained on English STS-B (en-en train/dev), evaluated zero-shot per track.",
))
