"""XTREME / XTREME-R target tasks read from the XTREME ``download/`` folder layout.

The layout is what google-research/xtreme's download script writes: ``DATA_DIR/xnli/
{train-en,dev-LANG,test-LANG}.tsv`` and the same for ``pawsx``. Following the benchmark's
protocol, XNLI's English training data is MNLI (``xnli/train-en.tsv``) and PAWS-X's is PAWS
(``pawsx/train-en.tsv``); the labeled dev sets can stand in for training at CPU scale
(``train_split: dev`` in a study).
"""

from __future__ import annotations

from pathlib import Path

from xstilts.tasks.base import Example, Task, TaskType
from xstilts.tasks.readers import read_tsv_pairs
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

    def reader(split: str, language: str, data_dir: Path | None) -> list[Example]:
        assert data_dir is not None  # Task.load guarantees it for file-based tasks
        return read_tsv_pairs(
            path_of(split, language, data_dir),
            language=language,
            label_map=label_map,
            hint=f"{name}: expected the XTREME layout {folder}/{split}-{language}.tsv. "
            + _DOWNLOAD_HINT,
            header_first_field="premise",
            id_prefix=f"{name}-{split}-{language}-",
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
