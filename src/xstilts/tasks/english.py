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

from xstilts.tasks.base import TaskType
from xstilts.tasks.file_formats import copa, indexed_sentence_tsv, siqa, squad, stsb
from xstilts.tasks.files import ENGLISH_ID_PREFIX, FileLayout, file_task
from xstilts.tasks.registry import register_task

_HINT = "Point --data-dir at a folder with the public layout (e.g. ../shared/data)."
_SQUAD_HINT = ("Get it from rajpurkar.github.io/SQuAD-explorer (or, for v1.1, XTREME's "
               "download script). " + _HINT)
EN = ("en",)

# COPA is the English side of XTREME-R's XCOPA copy (xcopa_path's ``en``).
COPA_LAYOUT = FileLayout("xcopa/xtreme_format/{split_file}-en.jsonl", split_files={"dev": "val"})
stsb_path = FileLayout("sts/stsbenchmark/sts-{split}.csv")

SQUAD = register_task(file_task(
    "squad", TaskType.EXTRACTIVE_QA, EN, layout=FileLayout("squad/{split}-v1.1.json"),
    read=squad, data_hint=_SQUAD_HINT, metric="f1", splits=("train", "dev"), test_split="dev",
    description="SQuAD v1.1 (Rajpurkar et al. 2016): English extractive QA; XQuAD's and "
    "MLQA's training data and an X-STILTs intermediate task.",
))
SQUAD2 = register_task(file_task(
    "squad2", TaskType.EXTRACTIVE_QA, EN,
    layout=FileLayout(("squad/{split}-v2.0.json", "xstilts-samples/squad/{split}-v2.0.json")),
    read=squad, data_hint=_SQUAD_HINT, metric="f1", splits=("train", "dev"), test_split="dev",
    has_unanswerable=True,
    description="SQuAD v2.0 (Rajpurkar et al. 2018): adds unanswerable questions "
    "(answers=()); an X-STILTs intermediate task.",
))
COPA = register_task(file_task(
    "copa", TaskType.MULTIPLE_CHOICE, EN, layout=COPA_LAYOUT, read=copa, data_hint=_HINT,
    id_prefix=ENGLISH_ID_PREFIX, labels=("choice1", "choice2"), metric="accuracy",
    test_split="dev",
    description="English COPA (Roemmele et al. 2011), 400/100/500; the test labels are "
    "withheld (XTREME-R's copy sets them all to 0, read as unlabeled), so test_split is dev.",
))
SIQA = register_task(file_task(
    "siqa", TaskType.MULTIPLE_CHOICE, EN,
    # v1.4's files first; the original release's {split}.jsonl (+ {split}-labels.lst) else.
    layout=FileLayout(("siqa/socialIQa_v1.4_{split_file}.jsonl", "siqa/{split}.jsonl"),
                      split_files={"train": "trn", "test": "tst"}),
    read=siqa, data_hint=_HINT, id_prefix=ENGLISH_ID_PREFIX, labels=("A", "B", "C"),
    metric="accuracy",
    description="SocialIQa v1.4 (Sap et al. 2019): 3-way commonsense multiple choice; "
    "XTREME-R trains XCOPA models on it before COPA. Train (33k) is not in the shared data.",
))
SST2 = register_task(file_task(
    "sst2", TaskType.CLASSIFICATION, EN,
    layout=FileLayout(("sst2/{split}.tsv", "SST-2/{split}.tsv")),
    read=indexed_sentence_tsv, data_hint=_HINT, id_prefix=ENGLISH_ID_PREFIX,
    labels=("negative", "positive"), metric="accuracy",
    description="SST-2 binary sentiment (Socher et al. 2013; GLUE). In the shared data: "
    "ALPS's re-split, train 60,614 / dev 6,735 / test 872 (= GLUE dev, labeled).",
))
STSB = register_task(file_task(
    "stsb", TaskType.REGRESSION, EN, layout=stsb_path, read=stsb, data_hint=_HINT,
    id_prefix=ENGLISH_ID_PREFIX, metric="spearman",
    description="STS Benchmark (Cer et al. 2017): English sentence-pair similarity, 0-5; "
    "the training data of the cross-lingual STS 2017 target (sts17).",
))
