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

from xstilts.errors import XstiltsError
from xstilts.tasks.base import Example, Task, TaskType
from xstilts.tasks.english import stsb_path
from xstilts.tasks.formats.sts import read_sts_pairs, read_stsb
from xstilts.tasks.registry import register_task

TRACKS = {
    "ar-ar": "track1.ar-ar", "ar-en": "track2.ar-en", "es-es": "track3.es-es",
    "es-en": "track4a.es-en", "es-en-wmt": "track4b.es-en", "en-en": "track5.en-en",
    "tr-en": "track6.tr-en",
}
_HINT = ("STS 2017: the SemEval-2017 Task 1 evaluation inputs and gold files "
         "(STS2017.eval.v1.1/, STS2017.gs/) under sts/, as in ../shared/data.")


def sts17_path(split: str, language: str, data_dir: Path) -> Path:
    """The input file of a track (test), or STS-B's file for en-en train/dev."""
    if split != "test":
        if language != "en-en":
            return data_dir / "sts" / f"{split}-{language} (only en-en has {split}: STS-B)"
        return stsb_path(split, "en", data_dir)
    return data_dir / "sts" / "STS2017.eval.v1.1" / f"STS.input.{TRACKS[language]}.txt"


def _gold_path(language: str, data_dir: Path) -> Path:
    return data_dir / "sts" / "STS2017.gs" / f"STS.gs.{TRACKS[language]}.txt"


def _reader(
    split: str, language: str, data_dir: Path | None, *, skip_bad_rows: bool = False
) -> list[Example]:
    assert data_dir is not None
    path = sts17_path(split, language, data_dir)
    if split != "test":
        if language != "en-en":
            raise XstiltsError(f"sts17 has {split} data only for en-en (English STS-B); "
                               f"{language} is test-only")
        return read_stsb(path, language=language, hint=f"sts17/en-en {split} is STS-B: {path}",
                         id_prefix=f"sts17-{split}-", skip_bad_rows=skip_bad_rows)
    gold = _gold_path(language, data_dir)
    return read_sts_pairs(
        path, gold if gold.is_file() else None, language=language, hint=_HINT,
        id_prefix=f"sts17-{language}-", extra_input_ok=language == "tr-en",
        skip_bad_rows=skip_bad_rows,
    )


STS17 = register_task(Task(
    name="sts17", type=TaskType.REGRESSION, languages=tuple(TRACKS), reader=_reader,
    locate=sts17_path, metric="spearman", train_language="en-en",
    description="SemEval-2017 STS, monolingual and cross-lingual tracks (Cer et al. 2017), "
    "0-5; trained on English STS-B (en-en train/dev), evaluated zero-shot per track.",
    data_hint=_HINT,
))
