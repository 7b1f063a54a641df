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
  (``premise`` in converted copies), ``label`` is ``e``/``n``/``c``; test is labeled. The rounds
  present are read (at least one): public copies often hold only some (the shared samples: R1
  and R2 dev).
- The shared samples (``xstilts-samples/`` under the data folder, real files in these formats)
  are every layout's last alternative, so one ``--data-dir`` serves them and XTREME targets.
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

from functools import partial
from pathlib import Path

from xstilts.errors import MissingDataError
from xstilts.tasks.base import Example, TaskType
from xstilts.tasks.file_formats import english, tagging
from xstilts.tasks.files import ENGLISH_ID_PREFIX, FileLayout, FileRequest, file_task
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
from xstilts.tasks.readers import first_existing, logger
from xstilts.tasks.registry import register_task

# --- layouts ---------------------------------------------------------------------------------

_HINT = "See docs/tasks.md, 'X-STILTs intermediate tasks', for where to download it."
# ANLI's error names every place a round's file is looked for: any round present is enough.
_ANLI_HINT = ("ANLI reads the rounds R1-R3 that are present (at least one); a round's file is "
              "looked for as anli/<round>/<split>.jsonl, anli/anli_v1.0/<round>/<split>.jsonl, "
              "anli_v1.0/<round>/<split>.jsonl and xstilts-samples/anli/anli_v1.0/<round>/"
              "<split>.jsonl under --data-dir. " + _HINT)

# The real samples of ../shared/data (``xstilts-samples/``, see its MANIFEST.md) are the last
# alternative of each layout, so one --data-dir holds them and the XTREME targets together.
SAMPLES = "xstilts-samples"

mnli_path = FileLayout(("mnli/{split_file}", "MNLI/{split_file}",
                        "xstilts-samples/mnli/{split_file}"),
                       split_files={"train": "train.tsv", "dev": "dev_matched.tsv",
                                    "test": "test_matched.tsv"})
qqp_path = FileLayout(("qqp/{split}.tsv", "QQP/{split}.tsv", "xstilts-samples/qqp/{split}.tsv"))
snli_path = FileLayout(("snli/snli_1.0_{split}.jsonl", "snli/snli_1.0/snli_1.0_{split}.jsonl",
                        "snli_1.0/snli_1.0_{split}.jsonl"))
hellaswag_path = FileLayout(("hellaswag/hellaswag_{split_file}.jsonl",
                             "xstilts-samples/hellaswag/hellaswag_{split_file}.jsonl"),
                            split_files={"dev": "val"})
cosmosqa_path = FileLayout(("cosmosqa/{split_file}", "xstilts-samples/cosmosqa/{split_file}"),
                           split_files={"train": "train.csv", "dev": "valid.csv",
                                        "test": "test.jsonl"})
commonsenseqa_path = FileLayout(
    ("commonsenseqa/{split_file}", "xstilts-samples/commonsenseqa/{split_file}"),
    split_files={"train": "train_rand_split.jsonl", "dev": "dev_rand_split.jsonl",
                 "test": "test_rand_split_no_answers.jsonl"})
ccg_path = FileLayout("ccg/{split}.tsv")


def anli_round_paths(split: str, data_dir: Path, round_: str) -> tuple[Path, ...]:
    """Where one round's file may lie: the release's folders, then the shared samples."""
    name = f"{split}.jsonl"
    return (data_dir / "anli" / round_ / name, data_dir / "anli" / "anli_v1.0" / round_ / name,
            data_dir / "anli_v1.0" / round_ / name,
            data_dir / SAMPLES / "anli" / "anli_v1.0" / round_ / name)


def anli_path(split: str, language: str, data_dir: Path, round_: str | None = None) -> Path:
    """A round's file; without ``round_`` (the task's layout) the first round present, so a
    folder holding only some rounds (the shared samples: R1, R2) passes ``check_study``."""
    if round_ is not None:
        return first_existing(*anli_round_paths(split, data_dir, round_))
    for each in ANLI_ROUNDS:
        found = first_existing(*anli_round_paths(split, data_dir, each))
        if found.is_file():
            return found
    return anli_round_paths(split, data_dir, ANLI_ROUNDS[0])[0]


def ccg_tags_path(data_dir: Path) -> Path:
    return data_dir / "ccg" / "tags.txt"


def ccg_labels(data_dir: Path) -> tuple[str, ...]:
    """The supertag inventory of the user's CCGbank extraction (``ccg/tags.txt``): the one
    place ccg's labels come from, for the reader and for ``Task.with_data_labels`` alike."""
    path = ccg_tags_path(data_dir)
    return read_tag_inventory(path, f"ccg: expected the supertag inventory {path} (one tag "
                              f"per line). {_HINT}")


# --- readers that compute (several files per split) ------------------------------------------

def read_anli_rounds(request: FileRequest) -> list[Example]:
    """The rounds of one split that are present, concatenated (X-STILTs trains on R1-R3
    together); ids name the round.

    Why not all three or nothing: public copies often hold only some rounds (the shared
    samples have R1 and R2 dev). The rounds read and those absent are logged (WARNING when
    one is absent, as the data then differs from X-STILTs'). No round at all is refused
    before this (the layout names R1's file, ``_ANLI_HINT`` every place looked in).
    """
    examples: list[Example] = []
    read: list[str] = []
    absent: list[str] = []
    for round_ in ANLI_ROUNDS:
        path = anli_path(request.split, "en", request.data_dir, round_)
        if not path.is_file():
            absent.append(round_)
            continue
        read.append(f"{round_} ({path})")
        examples += read_anli(path, hint=request.reading(path).hint, id_prefix=f"anli-{round_}-",
                              skip_bad_rows=request.skip_bad_rows)
    if not read:  # the layout found a round, so only a file removed meanwhile gets here
        raise MissingDataError(request.path, request.hint)
    log = logger.warning if absent else logger.info
    log("%s: %s read ANLI round(s) %s%s", request.task, request.split, ", ".join(read),
        f"; absent: {', '.join(absent)}" if absent else "")
    return examples


def read_anli_plus(request: FileRequest) -> list[Example]:
    """ANLI+ train = ANLI R1-R3 + MNLI + SNLI (one NLI head); dev/test are ANLI's."""
    examples = read_anli_rounds(request)
    if request.split != "train":
        return examples
    for read, layout, source in ((read_mnli, mnli_path, "mnli"), (read_snli, snli_path, "snli")):
        path = layout(request.split, "en", request.data_dir)
        examples += read(path, hint=request.reading(path).hint, id_prefix=f"{source}-train-",
                         skip_bad_rows=request.skip_bad_rows)
    return examples


# --- the tasks ---------------------------------------------------------------------------------

_ENGLISH = {"data_hint": _HINT, "id_prefix": ENGLISH_ID_PREFIX, "metric": "accuracy"}

MNLI = register_task(file_task(
    "mnli", TaskType.PAIR_CLASSIFICATION, EN, layout=mnli_path, read=partial(english, read_mnli),
    labels=NLI_LABELS, test_split="dev", **_ENGLISH,
    description="MultiNLI (Williams et al. 2018), GLUE copy: 393k train, "
    "dev = dev_matched (9,815); GLUE test is unlabeled, so test_split is dev. XNLI label order.",
))
QQP = register_task(file_task(
    "qqp", TaskType.PAIR_CLASSIFICATION, EN, layout=qqp_path, read=partial(english, read_qqp),
    labels=("not_duplicate", "duplicate"), test_split="dev", **_ENGLISH,
    description="Quora Question Pairs (GLUE): paraphrase detection, 364k train / 40k dev; "
    "test is unlabeled, so test_split is dev.",
))
ANLI = register_task(file_task(
    "anli", TaskType.PAIR_CLASSIFICATION, EN, layout=anli_path, read=read_anli_rounds,
    labels=NLI_LABELS, **{**_ENGLISH, "data_hint": _ANLI_HINT},
    description="Adversarial NLI v1.0 (Nie et al. 2020), rounds R1-R3 concatenated "
    "(163k train, 3.2k dev, 3.2k test); reads the rounds present (logged). XNLI label order.",
))
ANLI_PLUS = register_task(file_task(
    "anli-plus", TaskType.PAIR_CLASSIFICATION, EN, layout=anli_path, read=read_anli_plus,
    labels=NLI_LABELS, **{**_ENGLISH, "data_hint": _ANLI_HINT},
    description="X-STILTs' ANLI+: train = ANLI R1-R3 + MNLI + SNLI with one NLI head "
    "(SNLI '-' rows skipped); dev/test = ANLI's.",
))
HELLASWAG = register_task(file_task(
    "hellaswag", TaskType.MULTIPLE_CHOICE, EN, layout=hellaswag_path,
    read=partial(english, read_hellaswag), labels=("ending0", "ending1", "ending2", "ending3"),
    test_split="dev", **_ENGLISH,
    description="HellaSwag (Zellers et al. 2019): pick the ending of ctx, 4 choices; 39.9k "
    "train / 10k val; test labels are withheld, so test_split is dev.",
))
COSMOSQA = register_task(file_task(
    "cosmosqa", TaskType.MULTIPLE_CHOICE, EN, layout=cosmosqa_path,
    read=partial(english, read_cosmosqa), labels=COSMOS_ANSWERS, test_split="dev", **_ENGLISH,
    description="Cosmos QA (Huang et al. 2019): commonsense reading comprehension, 4 "
    "answers; context = passage + question. 25k train / 3k valid; test unlabeled.",
))
COMMONSENSEQA = register_task(file_task(
    "commonsenseqa", TaskType.MULTIPLE_CHOICE, EN, layout=commonsenseqa_path,
    read=partial(english, read_commonsenseqa), labels=CSQA_KEYS, test_split="dev", **_ENGLISH,
    description="CommonsenseQA (Talmor et al. 2019), random split: 5 choices, 9.7k train / "
    "1.2k dev; test answers withheld, so test_split is dev.",
))
# Tags index into ccg/tags.txt, the inventory of the user's CCGbank extraction.
CCG = register_task(file_task(
    "ccg", TaskType.TAGGING, EN, layout=ccg_path, read=tagging, label_inventory=ccg_labels,
    **_ENGLISH,
    description="CCG supertagging (CCGbank, Hockenmaier & Steedman 2007; LDC licence): "
    "token<TAB>supertag files; the supertag inventory is read from ccg/tags.txt under "
    "--data-dir (see docs/tasks.md).",
))
