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

from pathlib import Path

from xstilts.errors import MissingDataError
from xstilts.languages import BENCHMARK_LANGUAGES
from xstilts.tasks.base import Example, MiningSentence, QAExample, Task, TaskType
from xstilts.tasks.formats.retrieval import read_bucc
from xstilts.tasks.formats.squad import read_squad
from xstilts.tasks.formats.tagging import read_tagging
from xstilts.tasks.readers import first_existing, read_tsv_pairs
from xstilts.tasks.registry import register_task

_DOWNLOAD_HINT = (
    "Get the data with google-research/xtreme's scripts/download_data.sh (or point --data-dir "
    "at a folder with the same layout, e.g. ../shared/data)."
)

XNLI_LANGUAGES = (
    "ar", "bg", "de", "el", "en", "es", "fr", "hi", "ru", "sw", "th", "tr", "ur", "vi", "zh",
)
PAWSX_LANGUAGES = ("de", "en", "es", "fr", "ja", "ko", "zh")


def _pair_tsv_task(
    name: str, folder: str, languages: tuple[str, ...], labels: tuple[str, ...],
    aliases: dict[str, str], description: str,
) -> Task:
    label_map = {label: i for i, label in enumerate(labels)}
    label_map.update({alias: label_map[target] for alias, target in aliases.items()})

    def path_of(split: str, language: str, data_dir: Path) -> Path:
        return data_dir / folder / f"{split}-{language}.tsv"

    def reader(
        split: str, language: str, data_dir: Path | None, *, skip_bad_rows: bool = False
    ) -> list[Example]:
        assert data_dir is not None  # Task.load guarantees it for file-based tasks
        return read_tsv_pairs(
            path_of(split, language, data_dir),
            language=language,
            label_map=label_map,
            hint=f"{name}: expected the XTREME layout {folder}/{split}-{language}.tsv. "
            + _DOWNLOAD_HINT,
            header_first_field="premise",
            id_prefix=f"{name}-{split}-{language}-",
            skip_bad_rows=skip_bad_rows,
        )

    return Task(
        name=name,
        type=TaskType.PAIR_CLASSIFICATION,
        languages=languages,
        reader=reader,
        locate=path_of,
        labels=labels,
        metric="accuracy",
        description=description,
        data_hint=_DOWNLOAD_HINT,
    )


XNLI = register_task(
    _pair_tsv_task(
        "xnli", "xnli", XNLI_LANGUAGES,
        labels=("contradiction", "entailment", "neutral"),
        # MNLI's translated training file spells it 'contradictory'.
        aliases={"contradictory": "contradiction"},
        description="Cross-lingual NLI (Conneau et al. 2018); English training data is MNLI.",
    )
)
PAWSX = register_task(
    _pair_tsv_task(
        "pawsx", "pawsx", PAWSX_LANGUAGES,
        labels=("0", "1"),
        aliases={},
        description="Cross-lingual paraphrase identification (Yang et al. 2019); trained on PAWS.",
    )
)


# --- token tagging ----------------------------------------------------------------------------

UPOS_TAGS = (
    "ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM", "PART", "PRON", "PROPN",
    "PUNCT", "SCONJ", "SYM", "VERB", "X",
)
PANX_TAGS = ("B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "O")


def _tagging_task(
    name: str, labels: tuple[str, ...], description: str, metric_note: str
) -> Task:
    def path_of(split: str, language: str, data_dir: Path) -> Path:
        return data_dir / name / f"{split}-{language}.tsv"

    def reader(
        split: str, language: str, data_dir: Path | None, *, skip_bad_rows: bool = False
    ) -> list:
        assert data_dir is not None
        return read_tagging(
            path_of(split, language, data_dir), language=language, labels=labels,
            hint=f"{name}: expected the XTREME layout {name}/{split}-{language}.tsv. "
            + _DOWNLOAD_HINT,
            id_prefix=f"{name}-{split}-{language}-", skip_bad_rows=skip_bad_rows,
        )

    return Task(
        name=name, type=TaskType.TAGGING, languages=BENCHMARK_LANGUAGES[name], reader=reader,
        locate=path_of, labels=labels, metric="f1",
        description=f"{description} {metric_note}", data_hint=_DOWNLOAD_HINT,
    )


UDPOS = register_task(_tagging_task(
    "udpos", UPOS_TAGS, "Universal Dependencies v2.5 part-of-speech tagging (XTREME udpos).",
    "Metric: span_f1 (seqeval span F1 over raw UPOS tags, XTREME's F1); token_accuracy second.",
))
PANX = register_task(_tagging_task(
    "panx", PANX_TAGS, "WikiANN / PAN-X named entities, BIO tags (Rahimi et al. 2019 splits).",
    "Metric: entity-level F1 (seqeval).",
))


# --- extractive QA ------------------------------------------------------------------------------

_SQUAD_TRAIN = ("squad", "train-v1.1.json")
_SQUAD_DEV = ("squad", "dev-v1.1.json")
TYDIQA_NAMES = {
    "ar": "arabic", "bn": "bengali", "en": "english", "fi": "finnish", "id": "indonesian",
    "ko": "korean", "ru": "russian", "sw": "swahili", "te": "telugu",
}


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


def _tydiqa_path(split: str, language: str, data_dir: Path) -> Path:
    """XTREME splits the GoldP train file per language and renames the release's dev files:
    ``tydiqa.goldp.L.{train,dev}.json`` now, ``tydiqa.L.{train,dev}.json`` in older copies of
    its scripts; dev also accepts the release's own ``tydiqa-goldp-dev-LANGUAGE.json``."""
    base = data_dir / "tydiqa"
    if split == "train":
        folder = base / "tydiqa-goldp-v1.1-train"
        return first_existing(folder / f"tydiqa.goldp.{language}.train.json",
                              folder / f"tydiqa.{language}.train.json")
    folder = base / "tydiqa-goldp-v1.1-dev"
    return first_existing(
        folder / f"tydiqa.goldp.{language}.dev.json",
        folder / f"tydiqa.{language}.dev.json",
        folder / f"tydiqa-goldp-dev-{TYDIQA_NAMES.get(language, language)}.json",
    )


def _qa_task(
    name: str, locate, languages: tuple[str, ...], splits: tuple[str, ...], test_split: str,
    description: str,
) -> Task:
    def reader(
        split: str, language: str, data_dir: Path | None, *, skip_bad_rows: bool = False
    ) -> list[QAExample]:
        assert data_dir is not None
        path = locate(split, language, data_dir)
        hint = f"{name}: {split}/{language} is read from {path}. " + _DOWNLOAD_HINT
        return read_squad(path, language=language, hint=hint, skip_bad_rows=skip_bad_rows)

    return Task(
        name=name, type=TaskType.EXTRACTIVE_QA, languages=languages, reader=reader,
        locate=locate, metric="f1", splits=splits, test_split=test_split,
        description=description, data_hint=_DOWNLOAD_HINT,
    )


XQUAD = register_task(_qa_task(
    "xquad", _xquad_path, BENCHMARK_LANGUAGES["xquad"], ("train", "dev", "test"), "test",
    "XQuAD (Artetxe et al. 2020): SQuAD v1.1 dev paragraphs translated into 11 languages; "
    "test only; English train/dev is SQuAD v1.1 (squad/{train,dev}-v1.1.json). Metric: F1/EM.",
))
MLQA = register_task(_qa_task(
    "mlqa", _mlqa_path, BENCHMARK_LANGUAGES["mlqa"], ("train", "dev", "test"), "test",
    "MLQA (Lewis et al. 2020), same-language context/question files; trained on English "
    "SQuAD v1.1. Metric: F1/EM with MLQA's per-language answer normalisation.",
))
TYDIQA = register_task(_qa_task(
    "tydiqa", _tydiqa_path, BENCHMARK_LANGUAGES["tydiqa"], ("train", "dev"), "dev",
    "TyDiQA-GoldP (Clark et al. 2020): trained on the English GoldP train set, evaluated on "
    "the GoldP dev sets (XTREME's test). Metric: F1/EM.",
))


# --- bitext mining ------------------------------------------------------------------------------

def _bucc_path(split: str, language: str, data_dir: Path, side: str | None = None) -> Path:
    return data_dir / "bucc2018" / f"{language}-en.{split}.{side or language}"


def _bucc_reader(
    split: str, language: str, data_dir: Path | None, *, skip_bad_rows: bool = False
) -> list[MiningSentence]:
    assert data_dir is not None
    hint = (f"bucc2018: {split}/{language} needs bucc2018/{language}-en.{split}."
            f"{{{language},en,gold}}. " + _DOWNLOAD_HINT)
    gold = _bucc_path(split, language, data_dir, "gold")
    if not gold.is_file():
        if split != "test":  # only BUCC's test gold is withheld
            raise MissingDataError(gold, hint)
        gold = None
    return read_bucc(
        _bucc_path(split, language, data_dir), _bucc_path(split, language, data_dir, "en"),
        gold, language=language, hint=hint, skip_bad_rows=skip_bad_rows,
    )


BUCC = register_task(Task(
    name="bucc2018", type=TaskType.RETRIEVAL, languages=BENCHMARK_LANGUAGES["bucc"],
    reader=_bucc_reader, locate=_bucc_path, metric="f1", splits=("dev", "test"),
    train_split="dev", dev_split="dev", test_split="test",
    description="BUCC 2018 parallel-sentence mining (Zweigenbaum et al. 2018): no training; "
    "ratio-margin scoring (k=4), threshold tuned on dev, F1 on test.",
    data_hint=_DOWNLOAD_HINT,
))
