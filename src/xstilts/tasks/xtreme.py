"""XTREME target tasks read from the XTREME ``download/`` folder layout.

The layout is what google-research/xtreme's download script writes: ``DATA_DIR/xnli/
{train-en,dev-LANG,test-LANG}.tsv`` and the same for ``pawsx``, ``udpos`` and ``panx``;
``xquad/xquad.LANG.json``, ``mlqa/MLQA_V1/{dev,test}/...``, ``tydiqa/tydiqa-goldp-v1.1-
{train,dev}/...``, ``squad/train-v1.1.json`` and ``bucc2018/LANG-en.{dev,test}.*``.
Following the benchmark's protocol, XNLI's English training data is MNLI (``xnli/train-en.tsv``),
PAWS-X's is PAWS (``pawsx/train-en.tsv``), and XQuAD's and MLQA's is SQuAD v1.1 (the ``train``
split of their ``en``); the labeled dev sets can stand in for training at CPU scale
(``train_split: dev`` in a study). XTREME-R's additions are in :mod:`xstilts.tasks.xtreme_r`.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from xstilts.errors import MissingDataError
from xstilts.languages import BENCHMARK_LANGUAGES
from xstilts.tasks.base import MiningSentence, RetrievalKind, TaskType, Translation
from xstilts.tasks.file_formats import pair_tsv, squad, tagging
from xstilts.tasks.files import FileLayout, FileRequest, file_task
from xstilts.tasks.formats.retrieval import read_bucc
from xstilts.tasks.registry import register_task
from xstilts.tasks.translations import TRANSLATE_TEST, TRANSLATE_TRAIN, translated_pair_tsv

_DOWNLOAD_HINT = (
    "Get the data with google-research/xtreme's scripts/download_data.sh (or point --data-dir "
    "at a folder with the same layout, e.g. ../shared/data)."
)

XNLI_LANGUAGES = (
    "ar", "bg", "de", "el", "en", "es", "fr", "hi", "ru", "sw", "th", "tr", "ur", "vi", "zh",
)
PAWSX_LANGUAGES = ("de", "en", "es", "fr", "ja", "ko", "zh")

# Machine-translated files (translate-train / translate-test, :mod:`xstilts.tasks.translations`):
# XTREME's download folder, and for XNLI also the XNLI-MT-1.0 release (header premise/hypo/label).
_XNLI_ALIASES = {"contradictory": "contradiction"}  # XTREME's MNLI-derived files' spelling
XNLI_TRANSLATIONS = {
    TRANSLATE_TRAIN: Translation(
        FileLayout(("xnli/translate-train/en-{language}-translated.tsv",
                    "XNLI-MT-1.0/multinli/multinli.train.{language}.tsv",
                    "xnli/XNLI-MT-1.0/multinli/multinli.train.{language}.tsv")),
        read=partial(translated_pair_tsv, aliases=_XNLI_ALIASES)),
    TRANSLATE_TEST: Translation(
        FileLayout("xnli/translate-test/{split}-{language}-en-translated.tsv"),
        read=partial(translated_pair_tsv, aliases=_XNLI_ALIASES)),
}
PAWSX_TRANSLATIONS = {
    TRANSLATE_TRAIN: Translation(FileLayout("pawsx/translate-train/en-{language}-translated.tsv"),
                                 read=translated_pair_tsv),
}
# XQuAD's and MLQA's translate-train: SQuAD v1.1's training set translated (SQuAD JSON).
SQUAD_TRANSLATIONS = {
    TRANSLATE_TRAIN: Translation(
        FileLayout("squad/translate-train/squad.translate.train.en-{language}.json"),
        read=squad),
}


XNLI = register_task(file_task(
    "xnli", TaskType.PAIR_CLASSIFICATION, XNLI_LANGUAGES,
    layout=FileLayout("xnli/{split}-{language}.tsv"),
    read=partial(pair_tsv, aliases=_XNLI_ALIASES),
    labels=("contradiction", "entailment", "neutral"), metric="accuracy",
    description="Cross-lingual NLI (Conneau et al. 2018); English training data is MNLI.",
    data_hint=_DOWNLOAD_HINT, translations=XNLI_TRANSLATIONS,
))
PAWSX = register_task(file_task(
    "pawsx", TaskType.PAIR_CLASSIFICATION, PAWSX_LANGUAGES,
    layout=FileLayout("pawsx/{split}-{language}.tsv"), read=pair_tsv,
    labels=("0", "1"), metric="accuracy",
    description="Cross-lingual paraphrase identification (Yang et al. 2019); trained on PAWS.",
    data_hint=_DOWNLOAD_HINT, translations=PAWSX_TRANSLATIONS,
))


# --- token tagging ----------------------------------------------------------------------------

UPOS_TAGS = (
    "ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM", "PART", "PRON", "PROPN",
    "PUNCT", "SCONJ", "SYM", "VERB", "X",
)
PANX_TAGS = ("B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "O")


UDPOS = register_task(file_task(
    "udpos", TaskType.TAGGING, BENCHMARK_LANGUAGES["udpos"],
    layout=FileLayout("udpos/{split}-{language}.tsv"), read=tagging, labels=UPOS_TAGS,
    metric="f1", data_hint=_DOWNLOAD_HINT,
    description="Universal Dependencies v2.5 part-of-speech tagging (XTREME udpos). Metric: "
    "span_f1 (seqeval span F1 over raw UPOS tags, XTREME's F1); token_accuracy second.",
))
PANX = register_task(file_task(
    "panx", TaskType.TAGGING, BENCHMARK_LANGUAGES["panx"],
    layout=FileLayout("panx/{split}-{language}.tsv"), read=tagging, labels=PANX_TAGS,
    metric="f1", data_hint=_DOWNLOAD_HINT,
    description="WikiANN / PAN-X named entities, BIO tags (Rahimi et al. 2019 splits). "
    "Metric: entity-level F1 (seqeval).",
))


# --- extractive QA ------------------------------------------------------------------------------

_SQUAD_TRAIN = ("squad", "train-v1.1.json")
_SQUAD_DEV = ("squad", "dev-v1.1.json")
TYDIQA_NAMES = {
    "ar": "arabic", "bn": "bengali", "en": "english", "fi": "finnish", "id": "indonesian",
    "ko": "korean", "ru": "russian", "sw": "swahili", "te": "telugu",
}


# XQuAD's and MLQA's layouts are functions, not FileLayouts: their English train (and XQuAD's
# dev) is SQuAD's file, and their other languages have no such split.
def _xquad_path(split: str, language: str, data_dir: Path) -> Path:
    if split == "test":
        return data_dir / "xquad" / f"xquad.{language}.json"
    if language == "en":  # XQuAD has no training data: its English side is SQuAD v1.1
        return data_dir.joinpath(*(_SQUAD_TRAIN if split == "train" else _SQUAD_DEV))
    return data_dir / "xquad" / f"{split}-{language}.json (XQuAD has only a test split)"


def _mlqa_path(split: str, language: str, data_dir: Path) -> Path:
    if split == "train":
        if language == "en":
            return data_dir.joinpath(*_SQUAD_TRAIN)
        return data_dir / "mlqa" / f"train-{language}.json (MLQA trains on English SQuAD)"
    name = f"{split}-context-{language}-question-{language}.json"
    return data_dir / "mlqa" / "MLQA_V1" / split / name


# XTREME splits the GoldP train file per language and renames the release's dev files:
# ``tydiqa.goldp.L.{train,dev}.json`` now, ``tydiqa.L.{train,dev}.json`` in older copies of its
# scripts; dev also accepts the release's own ``tydiqa-goldp-dev-LANGUAGE.json``.
_TYDIQA_DEV = "tydiqa/tydiqa-goldp-v1.1-dev/"
_TYDIQA_TRAIN = "tydiqa/tydiqa-goldp-v1.1-train/"
TYDIQA_LAYOUT = FileLayout(
    (_TYDIQA_DEV + "tydiqa.goldp.{language}.dev.json", _TYDIQA_DEV + "tydiqa.{language}.dev.json",
     _TYDIQA_DEV + "tydiqa-goldp-dev-{language_file}.json"),
    per_split={"train": (_TYDIQA_TRAIN + "tydiqa.goldp.{language}.train.json",
                         _TYDIQA_TRAIN + "tydiqa.{language}.train.json")},
    language_files=TYDIQA_NAMES,
)
_QA = {"read": squad, "metric": "f1", "data_hint": _DOWNLOAD_HINT}

XQUAD = register_task(file_task(
    "xquad", TaskType.EXTRACTIVE_QA, BENCHMARK_LANGUAGES["xquad"], layout=_xquad_path, **_QA,
    splits=("train", "dev", "test"), test_split="test", translations=SQUAD_TRANSLATIONS,
    description="XQuAD (Artetxe et al. 2020): SQuAD v1.1 dev paragraphs translated into 11 "
    "languages; test only; English train/dev is SQuAD v1.1 (squad/{train,dev}-v1.1.json). "
    "Metric: F1/EM.",
))
MLQA = register_task(file_task(
    "mlqa", TaskType.EXTRACTIVE_QA, BENCHMARK_LANGUAGES["mlqa"], layout=_mlqa_path, **_QA,
    splits=("train", "dev", "test"), test_split="test", translations=SQUAD_TRANSLATIONS,
    description="MLQA (Lewis et al. 2020), same-language context/question files; trained on "
    "English SQuAD v1.1. Metric: F1/EM with MLQA's per-language answer normalisation.",
))
TYDIQA = register_task(file_task(
    "tydiqa", TaskType.EXTRACTIVE_QA, BENCHMARK_LANGUAGES["tydiqa"], layout=TYDIQA_LAYOUT,
    **_QA, splits=("train", "dev"), test_split="dev",
    description="TyDiQA-GoldP (Clark et al. 2020): trained on the English GoldP train set, "
    "evaluated on the GoldP dev sets (XTREME's test). Metric: F1/EM.",
))


# --- bitext mining ------------------------------------------------------------------------------

# The other language's side; its English side and gold pairs are beside it (.en, .gold).
BUCC_LAYOUT = FileLayout("bucc2018/{language}-en.{split}.{language}")


def read_bucc_split(request: FileRequest) -> list[MiningSentence]:
    """Code, not a format: a split is three files, and only BUCC's test gold is withheld (so a
    missing dev gold is an error, a missing test gold reads unlabeled)."""
    source = request.path
    hint = (f"{request.task}: {request.split}/{request.language} needs "
            f"{source.with_suffix('')}.{{{request.language},en,gold}}. {request.data_hint}")
    gold: Path | None = source.with_suffix(".gold")
    if not gold.is_file():
        if request.split != "test":
            raise MissingDataError(gold, hint)
        gold = None
    return read_bucc(source, source.with_suffix(".en"), gold, language=request.language,
                     hint=hint, skip_bad_rows=request.skip_bad_rows)


BUCC = register_task(file_task(
    "bucc2018", TaskType.RETRIEVAL, BENCHMARK_LANGUAGES["bucc"], layout=BUCC_LAYOUT,
    read=read_bucc_split, metric="f1", splits=("dev", "test"),
    train_split="dev", dev_split="dev", test_split="test",
    retrieval_kind=RetrievalKind.MINING, test_gold_withheld=True,
    description="BUCC 2018 parallel-sentence mining (Zweigenbaum et al. 2018): no training; "
    "ratio-margin scoring (k=4), threshold tuned on dev, F1 on test.",
    data_hint=_DOWNLOAD_HINT,
))
