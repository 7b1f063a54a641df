"""The format functions of file tasks: one :class:`~xstilts.tasks.files.FileRequest` in, the
examples out, by calling a format reader with the request's file, hint, ids and
``skip_bad_rows``.

Why a layer: the format readers (:mod:`xstilts.tasks.readers`, :mod:`xstilts.tasks.formats`)
are plain functions over a path with their own keyword arguments, tested on their own; these
functions say once how a task's request maps onto each of them, so task declarations name a
format instead of writing a reader. Options a declaration fixes (XNLI's label alias, the
reader of an intermediate format) are bound with :func:`functools.partial`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from xstilts.tasks.base import BitextExample, ChoiceExample, Example, QAExample, TaggingExample
from xstilts.tasks.files import FileRequest
from xstilts.tasks.formats.choice import read_copa, read_siqa
from xstilts.tasks.formats.retrieval import read_bitext
from xstilts.tasks.formats.squad import read_squad
from xstilts.tasks.formats.sts import read_stsb
from xstilts.tasks.formats.tagging import read_tagging
from xstilts.tasks.readers import read_tsv_pairs, read_tsv_sentences


def pair_tsv(request: FileRequest, *, aliases: Mapping[str, str] | None = None) -> list[Example]:
    """``text_a<TAB>text_b[<TAB>label]`` with the label spelled as the task's label name;
    ``aliases`` maps other spellings of a label in the files to the task's name for it."""
    label_map = {label: i for i, label in enumerate(request.labels)}
    label_map.update({alias: label_map[name] for alias, name in (aliases or {}).items()})
    return read_tsv_pairs(
        request.path, language=request.language, label_map=label_map, hint=request.hint,
        header_first_field="premise", id_prefix=request.id_prefix,
        skip_bad_rows=request.skip_bad_rows,
    )


def indexed_sentence_tsv(request: FileRequest) -> list[Example]:
    """Single-sentence TSV whose labels are written as their index (GLUE's SST-2: 0/1)."""
    label_map = {str(i): i for i in range(len(request.labels))}
    return read_tsv_sentences(
        request.path, language=request.language, label_map=label_map, hint=request.hint,
        id_prefix=request.id_prefix, skip_bad_rows=request.skip_bad_rows,
    )


def tagging(request: FileRequest) -> list[TaggingExample]:
    """``token<TAB>tag`` lines, blank lines between sentences; tags index the task's labels."""
    return read_tagging(
        request.path, language=request.language, labels=request.labels, hint=request.hint,
        id_prefix=request.id_prefix, skip_bad_rows=request.skip_bad_rows,
    )


def squad(request: FileRequest) -> list[QAExample]:
    """SQuAD JSON; the question ids of the file are the example ids (no prefix)."""
    return read_squad(request.path, language=request.language, hint=request.hint,
                      skip_bad_rows=request.skip_bad_rows)


def copa(request: FileRequest) -> list[ChoiceExample]:
    """COPA / XCOPA JSONL. XTREME-R's ``xtreme_format`` test files set every label to 0
    (withheld labels): read there, an all-equal label column is read as unlabeled."""
    placeholders = request.path.parent.name == "xtreme_format" and request.split == "test"
    return read_copa(
        request.path, language=request.language, hint=request.hint,
        id_prefix=request.id_prefix, placeholder_labels_possible=placeholders,
        skip_bad_rows=request.skip_bad_rows,
    )


def siqa(request: FileRequest) -> list[ChoiceExample]:
    """SocialIQa JSONL. The original release keeps labels in ``{split}-labels.lst`` next to
    ``{split}.jsonl`` (none for test: unlabeled); v1.4's files carry them inline."""
    labels_path: Path | None = request.path.with_name(f"{request.split}-labels.lst")
    if request.path.name != f"{request.split}.jsonl" or not labels_path.is_file():
        labels_path = None
    return read_siqa(request.path, language=request.language, hint=request.hint,
                     labels_path=labels_path, id_prefix=request.id_prefix,
                     skip_bad_rows=request.skip_bad_rows)


def stsb(request: FileRequest) -> list[Example]:
    """STS Benchmark CSV (tab-separated despite the name), scores 0-5."""
    return read_stsb(request.path, language=request.language, hint=request.hint,
                     id_prefix=request.id_prefix, skip_bad_rows=request.skip_bad_rows)


def english(read: Callable[..., list], request: FileRequest) -> list:
    """An English-only format reader ``read(path, *, hint, id_prefix, skip_bad_rows)`` (the
    X-STILTs intermediate formats of :mod:`xstilts.tasks.formats.intermediate`); bind it with
    ``partial(english, read_mnli)``."""
    return read(request.path, hint=request.hint, id_prefix=request.id_prefix,
                skip_bad_rows=request.skip_bad_rows)


def bitext(request: FileRequest) -> list[BitextExample]:
    """Tatoeba: the request's file is the other language's side; the English side is the file
    next to it with the extension ``.eng`` (``tatoeba.deu-eng.deu`` / ``tatoeba.deu-eng.eng``)."""
    english_side = request.path.with_suffix(".eng")
    return read_bitext(request.path, english_side, language=request.language,
                       hint=request.hint, id_prefix=request.id_prefix,
                       skip_bad_rows=request.skip_bad_rows)
