"""English intermediate tasks (phase 2 of X-STILTs) and English training sets of targets.

Layouts: ``squad/{train,dev}-v1.1.json`` and ``squad/{train,dev}-v2.0.json`` (as XTREME's
download script and the SQuAD site name them), ``xcopa/xtreme_format/{train,val,test}-en
.jsonl`` for COPA, ``siqa/socialIQa_v1.4_{trn,dev,tst}.jsonl`` for SocialIQa v1.4 (or the
original release's ``siqa/{train,dev}.jsonl`` + ``{train,dev}-labels.lst``), ``sst2/{train,dev,
test}.tsv`` for SST-2 and ``sts/stsbenchmark/sts-{train,dev,test}.csv`` for STS-B.

The SST-2 files of the shared data are ALPS's re-split of GLUE: train + dev (60,614 + 6,735)
are GLUE's train set and ``test`` (872, labeled) is GLUE's dev set; GLUE's own unlabeled test
file (``index<TAB>sentence``) reads as ``label=None``.
"""

from __future__ import annotations

from pathlib import Path

from xstilts.tasks.base import ChoiceExample, Example, QAExample, Task, TaskType
from xstilts.tasks.formats.choice import read_copa, read_siqa
from xstilts.tasks.formats.squad import read_squad
from xstilts.tasks.formats.sts import read_stsb
from xstilts.tasks.readers import first_existing, read_tsv_sentences
from xstilts.tasks.registry import register_task
from xstilts.tasks.xtreme_r import xcopa_path

_HINT = "Point --data-dir at a folder with the public layout (e.g. ../shared/data)."
EN = ("en",)


def _squad_task(name: str, version: str, description: str) -> Task:
    def path_of(split: str, language: str, data_dir: Path) -> Path:
        return data_dir / "squad" / f"{split}-v{version}.json"

    def reader(
        split: str, language: str, data_dir: Path | None, *, skip_bad_rows: bool = False
    ) -> list[QAExample]:
        assert data_dir is not None
        path = path_of(split, language, data_dir)
        hint = (f"{name}: expected {path} (rajpurkar.github.io/SQuAD-explorer, or XTREME's "
                "download script for v1.1).")
        return read_squad(path, language=language, hint=hint, skip_bad_rows=skip_bad_rows)

    return Task(
        name=name, type=TaskType.EXTRACTIVE_QA, languages=EN, reader=reader, locate=path_of,
        metric="f1", splits=("train", "dev"), test_split="dev", description=description,
        data_hint=_HINT, has_unanswerable=version == "2.0",
    )


SQUAD = register_task(_squad_task(
    "squad", "1.1", "SQuAD v1.1 (Rajpurkar et al. 2016): English extractive QA; XQuAD's and "
    "MLQA's training data and an X-STILTs intermediate task.",
))
SQUAD2 = register_task(_squad_task(
    "squad2", "2.0", "SQuAD v2.0 (Rajpurkar et al. 2018): adds unanswerable questions "
    "(answers=()); an X-STILTs intermediate task.",
))


def _copa_reader(
    split: str, language: str, data_dir: Path | None, *, skip_bad_rows: bool = False
) -> list[ChoiceExample]:
    assert data_dir is not None
    path = xcopa_path(split, "en", data_dir)
    return read_copa(
        path, language="en", hint=f"copa: expected {path}. {_HINT}",
        id_prefix=f"copa-{split}-", placeholder_labels_possible=split == "test",
        skip_bad_rows=skip_bad_rows,
    )


COPA = register_task(Task(
    name="copa", type=TaskType.MULTIPLE_CHOICE, languages=EN, reader=_copa_reader,
    locate=lambda split, language, data_dir: xcopa_path(split, "en", data_dir),
    labels=("choice1", "choice2"), metric="accuracy", test_split="dev",
    description="English COPA (Roemmele et al. 2011), 400/100/500; the test labels are "
    "withheld (XTREME-R's copy sets them all to 0, read as unlabeled), so test_split is dev.",
    data_hint=_HINT,
))

_SIQA_V14 = {"train": "trn", "dev": "dev", "test": "tst"}


def _siqa_paths(split: str, data_dir: Path) -> tuple[Path, Path | None]:
    base = data_dir / "siqa"
    v14 = base / f"socialIQa_v1.4_{_SIQA_V14.get(split, split)}.jsonl"
    original = base / f"{split}.jsonl"
    path = first_existing(v14, original)
    return path, (base / f"{split}-labels.lst" if path == original else None)


def _siqa_reader(
    split: str, language: str, data_dir: Path | None, *, skip_bad_rows: bool = False
) -> list[ChoiceExample]:
    assert data_dir is not None
    path, labels_path = _siqa_paths(split, data_dir)
    if labels_path is not None and not labels_path.is_file():
        labels_path = None  # the original test file has no labels file: unlabeled
    return read_siqa(path, language="en", hint=f"siqa: expected {path}. {_HINT}",
                     labels_path=labels_path, id_prefix=f"siqa-{split}-",
                     skip_bad_rows=skip_bad_rows)


SIQA = register_task(Task(
    name="siqa", type=TaskType.MULTIPLE_CHOICE, languages=EN, reader=_siqa_reader,
    locate=lambda split, language, data_dir: _siqa_paths(split, data_dir)[0],
    labels=("A", "B", "C"), metric="accuracy",
    description="SocialIQa v1.4 (Sap et al. 2019): 3-way commonsense multiple choice; "
    "XTREME-R trains XCOPA models on it before COPA. Train (33k) is not in the shared data.",
    data_hint=_HINT,
))


def _sst2_path(split: str, language: str, data_dir: Path) -> Path:
    return first_existing(data_dir / "sst2" / f"{split}.tsv", data_dir / "SST-2" / f"{split}.tsv")


def _sst2_reader(
    split: str, language: str, data_dir: Path | None, *, skip_bad_rows: bool = False
) -> list[Example]:
    assert data_dir is not None
    path = _sst2_path(split, language, data_dir)
    return read_tsv_sentences(
        path, language="en", label_map={"0": 0, "1": 1}, hint=f"sst2: expected {path}. {_HINT}",
        id_prefix=f"sst2-{split}-", skip_bad_rows=skip_bad_rows,
    )


SST2 = register_task(Task(
    name="sst2", type=TaskType.CLASSIFICATION, languages=EN, reader=_sst2_reader,
    locate=_sst2_path, labels=("negative", "positive"), metric="accuracy",
    description="SST-2 binary sentiment (Socher et al. 2013; GLUE). In the shared data: "
    "ALPS's re-split, train 60,614 / dev 6,735 / test 872 (= GLUE dev, labeled).",
    data_hint=_HINT,
))


def stsb_path(split: str, language: str, data_dir: Path) -> Path:
    return data_dir / "sts" / "stsbenchmark" / f"sts-{split}.csv"


def _stsb_reader(
    split: str, language: str, data_dir: Path | None, *, skip_bad_rows: bool = False
) -> list[Example]:
    assert data_dir is not None
    path = stsb_path(split, language, data_dir)
    return read_stsb(path, language="en", hint=f"stsb: expected {path}. {_HINT}",
                     id_prefix=f"stsb-{split}-", skip_bad_rows=skip_bad_rows)


STSB = register_task(Task(
    name="stsb", type=TaskType.REGRESSION, languages=EN, reader=_stsb_reader,
    locate=stsb_path, metric="spearman",
    description="STS Benchmark (Cer et al. 2017): English sentence-pair similarity, 0-5; "
    "the training data of the cross-lingual STS 2017 target (sts17).",
    data_hint=_HINT,
))
