"""X-STILTs intermediate tasks (Phang et al. 2020) beyond SQuAD/COPA/SIQA, in their release layouts.

Why these files and columns: the readers follow the files exactly as each project distributes
them, so a user can unpack a download under ``--data-dir`` and run.

- MNLI, QQP (GLUE): tab-separated with a header row; columns are found by *name*
  (``sentence1``/``sentence2``/``gold_label``; ``question1``/``question2``/``is_duplicate``),
  because MNLI's train and dev files have different numbers of annotator-label columns. Rows
  are split on tabs, never with the ``csv`` module: the sentences contain unbalanced quotes.
  GLUE's test files have no label column and read as unlabeled. QQP rows with too few fields
  (records broken by a line break in GLUE's original ``QQP.zip``) are dropped with a warning.
- ANLI v1.0: ``anli_v1.0/R1``-``R3``/``{train,dev,test}.jsonl``; the premise is ``context``
  (``premise`` in converted copies), ``label`` is ``e``/``n``/``c``; test is labeled.
- SNLI 1.0: ``snli_1.0/snli_1.0_{split}.jsonl``; ``gold_label`` ``-`` (no annotator majority)
  rows are skipped and counted in an INFO log line, as every SNLI user does; not errors.
- HellaSwag: ``hellaswag_{train,val,test}.jsonl``; ``ctx`` and four ``endings``, int ``label``
  (absent in test).
- Cosmos QA: ``train.csv``/``valid.csv`` (CSV with a header, quoted fields) and ``test.jsonl``
  (no label), columns ``id, context, question, answer0..answer3, label``.
- CommonsenseQA: ``{train,dev}_rand_split.jsonl``, ``test_rand_split_no_answers.jsonl``;
  ``question.stem``, ``question.choices[{label, text}]`` (A-E), ``answerKey``.
- CCG supertagging: CCGbank is LDC-licensed, so there is no public copy; the reader takes the
  simplest derived layout, the token-per-line ``token<TAB>supertag`` file with blank lines
  between sentences (as for UD-POS), plus ``tags.txt`` naming the supertag inventory (one per
  line), since inventories differ between extractions (jiant's has 1,363 tags). The task's
  ``labels`` are read from it by ``resolve_task("ccg", data_dir)`` (``label_inventory``).

NLI labels use XNLI's order ("contradiction", "entailment", "neutral") so that an NLI head
trained here transfers to XNLI unchanged. ``anli-plus`` is X-STILTs' ANLI+: one NLI head
trained on ANLI (R1-R3) + MNLI + SNLI; its dev/test are ANLI's. The format readers are in
:mod:`xstilts.tasks.formats.intermediate`; this module says where the files sit and registers
the tasks.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from xstilts.tasks.base import Example, TaggingExample, Task, TaskType
from xstilts.tasks.formats.intermediate import (
    ANLI_ROUNDS,
    COSMOS_ANSWERS,
    CSQA_KEYS,
    EN,
    NLI_LABELS,
    read_anli,
    read_commonsenseqa,
    read_cosmosqa,
    read_hellaswag,
    read_mnli,
    read_qqp,
    read_snli,
    read_tag_inventory,
)
from xstilts.tasks.formats.tagging import read_tagging
from xstilts.tasks.readers import first_existing
from xstilts.tasks.registry import register_task

# --- layouts and registration ----------------------------------------------------------------

_HINT = "See docs/tasks.md, 'X-STILTs intermediate tasks', for where to download it."
Reader = Callable[..., list]


def _file_task(
    name: str, type_: TaskType, locate: Callable[[str, str, Path], Path], read: Reader,
    *, labels: tuple[str, ...], description: str, test_split: str = "test",
    splits: tuple[str, ...] = ("train", "dev", "test"),
) -> Task:
    """A one-file-per-split English task: locator + format reader, hint naming the path."""

    def reader(split: str, language: str, data_dir: Path | None, *,
               skip_bad_rows: bool = False) -> list:
        assert data_dir is not None
        path = locate(split, language, data_dir)
        return read(path, hint=f"{name}: expected {path}. {_HINT}",
                    id_prefix=f"{name}-{split}-", skip_bad_rows=skip_bad_rows)

    return Task(name=name, type=type_, languages=EN, reader=reader, locate=locate,
                labels=labels, metric="accuracy", test_split=test_split, splits=splits,
                description=description, data_hint=_HINT)


_MNLI_FILES = {"train": "train.tsv", "dev": "dev_matched.tsv", "test": "test_matched.tsv"}


def mnli_path(split: str, language: str, data_dir: Path) -> Path:
    name = _MNLI_FILES.get(split, f"{split}.tsv")
    return first_existing(data_dir / "mnli" / name, data_dir / "MNLI" / name)


def qqp_path(split: str, language: str, data_dir: Path) -> Path:
    return first_existing(data_dir / "qqp" / f"{split}.tsv", data_dir / "QQP" / f"{split}.tsv")


def anli_path(split: str, language: str, data_dir: Path, round_: str = "R1") -> Path:
    return first_existing(data_dir / "anli" / round_ / f"{split}.jsonl",
                          data_dir / "anli" / "anli_v1.0" / round_ / f"{split}.jsonl",
                          data_dir / "anli_v1.0" / round_ / f"{split}.jsonl")


def snli_path(split: str, language: str, data_dir: Path) -> Path:
    name = f"snli_1.0_{split}.jsonl"
    return first_existing(data_dir / "snli" / name, data_dir / "snli" / "snli_1.0" / name,
                          data_dir / "snli_1.0" / name)


_HELLASWAG_SPLIT = {"train": "train", "dev": "val", "test": "test"}


def hellaswag_path(split: str, language: str, data_dir: Path) -> Path:
    return data_dir / "hellaswag" / f"hellaswag_{_HELLASWAG_SPLIT.get(split, split)}.jsonl"


_COSMOS_FILES = {"train": "train.csv", "dev": "valid.csv", "test": "test.jsonl"}


def cosmosqa_path(split: str, language: str, data_dir: Path) -> Path:
    return data_dir / "cosmosqa" / _COSMOS_FILES.get(split, f"{split}.csv")


_CSQA_FILES = {"train": "train_rand_split.jsonl", "dev": "dev_rand_split.jsonl",
               "test": "test_rand_split_no_answers.jsonl"}


def commonsenseqa_path(split: str, language: str, data_dir: Path) -> Path:
    return data_dir / "commonsenseqa" / _CSQA_FILES.get(split, f"{split}.jsonl")


def ccg_path(split: str, language: str, data_dir: Path) -> Path:
    return data_dir / "ccg" / f"{split}.tsv"


def _anli_reader(split: str, data_dir: Path, skip_bad_rows: bool) -> list[Example]:
    """All three rounds of one split, concatenated (X-STILTs trains on R1-R3 together)."""
    examples: list[Example] = []
    for round_ in ANLI_ROUNDS:
        path = anli_path(split, "en", data_dir, round_)
        examples += read_anli(path, hint=f"anli: expected {path}. {_HINT}",
                              id_prefix=f"anli-{round_}-", skip_bad_rows=skip_bad_rows)
    return examples


def _anli_task_reader(split: str, language: str, data_dir: Path | None, *,
                      skip_bad_rows: bool = False) -> list[Example]:
    assert data_dir is not None
    return _anli_reader(split, data_dir, skip_bad_rows)


def _anli_plus_reader(split: str, language: str, data_dir: Path | None, *,
                      skip_bad_rows: bool = False) -> list[Example]:
    """ANLI+ train = ANLI R1-R3 + MNLI + SNLI (one NLI head); dev/test are ANLI's."""
    assert data_dir is not None
    examples = _anli_reader(split, data_dir, skip_bad_rows)
    if split != "train":
        return examples
    mnli, snli = mnli_path(split, "en", data_dir), snli_path(split, "en", data_dir)
    examples += read_mnli(mnli, hint=f"anli-plus: expected {mnli}. {_HINT}",
                          id_prefix="mnli-train-", skip_bad_rows=skip_bad_rows)
    examples += read_snli(snli, hint=f"anli-plus: expected {snli}. {_HINT}",
                          id_prefix="snli-train-", skip_bad_rows=skip_bad_rows)
    return examples


def ccg_tags_path(data_dir: Path) -> Path:
    return data_dir / "ccg" / "tags.txt"


def ccg_labels(data_dir: Path) -> tuple[str, ...]:
    """The supertag inventory of the user's CCGbank extraction (``ccg/tags.txt``): the one
    place ccg's labels come from, for the reader and for ``Task.with_data_labels`` alike."""
    path = ccg_tags_path(data_dir)
    return read_tag_inventory(path, f"ccg: expected the supertag inventory {path} (one tag "
                              f"per line). {_HINT}")


def _ccg_reader(split: str, language: str, data_dir: Path | None, *,
                skip_bad_rows: bool = False) -> list[TaggingExample]:
    """Tags index into ``ccg/tags.txt`` (the inventory of the user's CCGbank extraction)."""
    assert data_dir is not None
    path = ccg_path(split, language, data_dir)
    hint = f"ccg: expected {path} and {ccg_tags_path(data_dir)}. {_HINT}"
    labels = ccg_labels(data_dir)
    return read_tagging(path, language="en", labels=labels, hint=hint,
                        id_prefix=f"ccg-{split}-", skip_bad_rows=skip_bad_rows)


MNLI = register_task(_file_task(
    "mnli", TaskType.PAIR_CLASSIFICATION, mnli_path, read_mnli, labels=NLI_LABELS,
    test_split="dev", description="MultiNLI (Williams et al. 2018), GLUE copy: 393k train, "
    "dev = dev_matched (9,815); GLUE test is unlabeled, so test_split is dev. XNLI label order.",
))
QQP = register_task(_file_task(
    "qqp", TaskType.PAIR_CLASSIFICATION, qqp_path, read_qqp,
    labels=("not_duplicate", "duplicate"), test_split="dev",
    description="Quora Question Pairs (GLUE): paraphrase detection, 364k train / 40k dev; "
    "test is unlabeled, so test_split is dev.",
))
ANLI = register_task(Task(
    name="anli", type=TaskType.PAIR_CLASSIFICATION, languages=EN, reader=_anli_task_reader,
    locate=lambda split, language, data_dir: anli_path(split, language, data_dir, "R1"),
    labels=NLI_LABELS, metric="accuracy",
    description="Adversarial NLI v1.0 (Nie et al. 2020), rounds R1-R3 concatenated "
    "(163k train, 3.2k dev, 3.2k test). XNLI label order.", data_hint=_HINT,
))
ANLI_PLUS = register_task(Task(
    name="anli-plus", type=TaskType.PAIR_CLASSIFICATION, languages=EN,
    reader=_anli_plus_reader,
    locate=lambda split, language, data_dir: anli_path(split, language, data_dir, "R1"),
    labels=NLI_LABELS, metric="accuracy",
    description="X-STILTs' ANLI+: train = ANLI R1-R3 + MNLI + SNLI with one NLI head "
    "(SNLI '-' rows skipped); dev/test = ANLI's.", data_hint=_HINT,
))
HELLASWAG = register_task(_file_task(
    "hellaswag", TaskType.MULTIPLE_CHOICE, hellaswag_path, read_hellaswag,
    labels=("ending0", "ending1", "ending2", "ending3"), test_split="dev",
    description="HellaSwag (Zellers et al. 2019): pick the ending of ctx, 4 choices; 39.9k "
    "train / 10k val; test labels are withheld, so test_split is dev.",
))
COSMOSQA = register_task(_file_task(
    "cosmosqa", TaskType.MULTIPLE_CHOICE, cosmosqa_path, read_cosmosqa,
    labels=COSMOS_ANSWERS, test_split="dev",
    description="Cosmos QA (Huang et al. 2019): commonsense reading comprehension, 4 "
    "answers; context = passage + question. 25k train / 3k valid; test unlabeled.",
))
COMMONSENSEQA = register_task(_file_task(
    "commonsenseqa", TaskType.MULTIPLE_CHOICE, commonsenseqa_path, read_commonsenseqa,
    labels=CSQA_KEYS, test_split="dev",
    description="CommonsenseQA (Talmor et al. 2019), random split: 5 choices, 9.7k train / "
    "1.2k dev; test answers withheld, so test_split is dev.",
))
CCG = register_task(Task(
    name="ccg", type=TaskType.TAGGING, languages=EN, reader=_ccg_reader, locate=ccg_path,
    metric="accuracy", label_inventory=ccg_labels,
    description="CCG supertagging (CCGbank, Hockenmaier & Steedman 2007; LDC licence): "
    "token<TAB>supertag files; the supertag inventory is read from ccg/tags.txt under "
    "--data-dir (see docs/tasks.md).", data_hint=_HINT,
))
