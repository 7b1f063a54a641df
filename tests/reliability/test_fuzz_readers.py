"""Property-based fuzzing of every data-file reader (issue #17).

The property, for any file content hypothesis makes (random bytes, near-miss rows built from
tricky fields, wrong encodings, BOMs, CRLF, huge lines, NaN/inf scores, duplicate ids, empty
files): a reader either returns examples, or raises a :class:`~xstilts.errors.XstiltsError`
(the project's data errors) whose message names the file. Any other exception is a reader bug.
Where a record is one line, reading with ``skip_bad_rows=True`` must account for every record:
examples + counted skips = records, never a silently wrong count.

Every generated case is counted (``GENERATED``); the module's last test asserts the total and
prints it (the number the issue asks for), so ``pytest -s`` or ``-rA`` shows it.
"""

from __future__ import annotations

import json
import math
import tempfile
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xstilts.errors import DataFormatError, XstiltsError
from xstilts.tasks import get_task
from xstilts.tasks.formats.intermediate import (
    read_anli,
    read_commonsenseqa,
    read_cosmosqa,
    read_hellaswag,
    read_mnli,
    read_qqp,
    read_snli,
    read_tag_inventory,
)
from xstilts.tasks.formats.retrieval import read_bucc
from xstilts.tasks.formats.sts import read_sts_pairs, read_stsb
from xstilts.tasks.readers import read_tsv_pairs, recording_skipped_rows
from xstilts.tasks.user import load_task_file
from xstilts.tasks.xtreme_r_retrieval import (
    read_mewslix_candidates,
    read_mewslix_mentions,
    read_xquad_r,
)

# Cases per test function (per parameter where parametrized); the module total is asserted.
N = 280
MIN_TOTAL = 10_000
GENERATED: dict[str, int] = {}
FUZZ = settings(max_examples=N, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.large_base_example])

# --- generated contents ---------------------------------------------------------------------

# Fields that real and broken files contain: labels of several tasks, numbers that are not,
# markup, control characters, separators inside fields, BOMs, line separators, long runs.
TRICKY = ["", " ", "entailment", "neutral", "contradiction", "0", "1", "2", "-1", "4.2", "5",
          "7.5", "nan", "NaN", "inf", "-inf", "1e999", "B-LOC", "O", "NOUN", "de:Berlin",
          "premise", "sentence", "label", "id", "text", '"quoted', '"', "a,b", "<script>",
          "\x00", "\ufeff", "\u2028", "\x0c", "\r", "é", "日本", "-", "cause", "effect", "A",
          "\\", "{", "[", "x" * 300]
field_text = st.one_of(st.sampled_from(TRICKY), st.text(max_size=12))
line_text = st.lists(field_text, min_size=0, max_size=8).map("\t".join)
csv_line = st.lists(field_text, min_size=0, max_size=6).map(",".join)


@st.composite
def encoded(draw: st.DrawFn, lines: st.SearchStrategy[str]) -> bytes:
    """Lines joined by LF or CRLF, maybe with a BOM, in a maybe-wrong encoding."""
    body = draw(st.sampled_from(["\n", "\r\n"])).join(draw(st.lists(lines, max_size=12)))
    body += draw(st.sampled_from(["", "\n", "\r\n", "\n\n"]))
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8-sig", "utf-16", "latin-1",
                                     "cp1252"]))
    data = body.encode(encoding, errors="replace")
    if draw(st.booleans()):  # a cut in the middle of a multi-byte character
        data = data[: draw(st.integers(0, len(data)))]
    return data


def file_bytes(lines: st.SearchStrategy[str]) -> st.SearchStrategy[bytes]:
    return st.one_of(encoded(lines), st.binary(max_size=200),
                     st.sampled_from([b"", b"\n", b" \r\n\t", b"\xef\xbb\xbf", b"\xff\xfe"]))


json_scalar = st.one_of(st.none(), st.booleans(), st.integers(-3, 5), st.sampled_from(
    [0.0, 1.0, 4.2, math.nan, math.inf, -math.inf, 1e300]), field_text)
json_value = st.recursive(json_scalar, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(field_text, inner, max_size=4)), max_leaves=8)


def json_rows(keys: list[str], good: dict[str, Any]) -> st.SearchStrategy[str]:
    """One JSONL line: a mutated good row (keys dropped, values swapped), or junk."""
    @st.composite
    def row(draw: st.DrawFn) -> str:
        kind = draw(st.integers(0, 9))
        if kind == 0:
            return draw(line_text)
        if kind == 1:
            return json.dumps(draw(json_value))
        value = dict(good)
        for key in draw(st.lists(st.sampled_from(keys), max_size=3)):
            if draw(st.booleans()):
                value.pop(key, None)
            else:
                value[key] = draw(json_value)
        text = json.dumps(value, ensure_ascii=draw(st.booleans()))
        if kind == 2:  # truncated
            text = text[: draw(st.integers(0, len(text)))]
        return text
    return row()


def jsonl_bytes(keys: list[str], good: dict[str, Any]) -> st.SearchStrategy[bytes]:
    return st.one_of(encoded(json_rows(keys, good)), st.binary(max_size=120))


# --- the property ---------------------------------------------------------------------------

def _count(test: str) -> None:
    GENERATED[test] = GENERATED.get(test, 0) + 1


def _write(path: Path, content: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def outcome(read: Callable[[], list], *files: Path) -> list | None:
    """Run a reader: its examples, or None after checking the error is the project's and names
    one of ``files``. Any other exception propagates (and fails the test): a reader bug."""
    try:
        examples = read()
    except DataFormatError as err:
        assert err.path in {str(f) for f in files}, (err.path, files)
        assert err.problem.strip(), "a data error must say what is wrong"
        return None
    except XstiltsError as err:
        assert any(str(f) in str(err) for f in files), str(err)
        return None
    assert examples, "an empty list must be an error, not zero examples"
    # Ids are unique per side (BUCC's source and English sentences are separate columns).
    ids = [(getattr(e, "side", None), getattr(e, "id", None)) for e in examples]
    assert len(set(ids)) == len(ids), f"duplicate example ids {sorted(map(str, ids))[:6]}"
    return examples


def counted(read: Callable[[], list], *files: Path) -> tuple[list | None, int]:
    """Like :func:`outcome`, also returning how many rows the readers skipped and counted."""
    with recording_skipped_rows() as skipped:
        examples = outcome(read, *files)
    return examples, sum(skipped.get("skipped_rows", {}).values())


def _records(data: bytes, *, header: bool = False) -> int | None:
    """Non-blank lines (one record each), or None where the file is not UTF-8 text."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    lines = [line for line in text.split("\n") if line.strip()]
    return len(lines) - (1 if header and lines else 0)


def _fresh() -> tempfile.TemporaryDirectory:
    """A fresh folder per generated case (tmp_path is per test, not per case)."""
    return tempfile.TemporaryDirectory(prefix="xstilts-fuzz-")


# --- built-in tasks, through their layouts --------------------------------------------------

LINE_TASKS = [("xnli", "dev", "de"), ("pawsx", "dev", "de"), ("udpos", "train", "en"),
              ("panx", "dev", "de"), ("sst2", "dev", "en"), ("stsb", "dev", "en")]


@pytest.mark.parametrize(("name", "split", "language"), LINE_TASKS)
@FUZZ
@given(data=file_bytes(line_text), skip=st.booleans())
def test_line_format_tasks(name: str, split: str, language: str, data: bytes,
                           skip: bool) -> None:
    _count(f"line:{name}")
    task = get_task(name)
    with _fresh() as root:
        path = _write(task.locate(split, language, Path(root)), data)
        outcome(lambda: task.load(split, language, Path(root), skip_bad_rows=skip), path)


SQUAD_TASKS = [("xquad", "test", "de"), ("mlqa", "dev", "de"), ("tydiqa", "dev", "sw")]
GOOD_QA = {"id": "q1", "question": "Where?", "answers": [{"text": "France", "answer_start": 12}]}


@st.composite
def squad_documents(draw: st.DrawFn) -> bytes:
    """A SQuAD document with mutated levels (data, paragraphs, qas, answers), or junk."""
    qas = [json.loads(draw(json_rows(["id", "question", "answers", "is_impossible"], GOOD_QA)
                           .filter(_is_json)))
           for _ in range(draw(st.integers(0, 3)))]
    paragraph: Any = {"context": draw(st.sampled_from(["Paris is in France.", "", "x" * 50])),
                      "qas": qas}
    if draw(st.booleans()):
        paragraph = draw(json_value)
    document: Any = {"data": [{"title": "t", "paragraphs": [paragraph]}]}
    if draw(st.integers(0, 4)) == 0:
        document = draw(json_value)
    text = json.dumps(document)
    if draw(st.integers(0, 5)) == 0:
        text = text[: draw(st.integers(0, len(text)))]
    return text.encode(draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16"])))


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize(("name", "split", "language"), SQUAD_TASKS)
@FUZZ
@given(data=st.one_of(squad_documents(), st.binary(max_size=100)), skip=st.booleans())
def test_squad_tasks(name: str, split: str, language: str, data: bytes, skip: bool) -> None:
    _count(f"squad:{name}")
    task = get_task(name)
    with _fresh() as root:
        path = _write(task.locate(split, language, Path(root)), data)
        examples = outcome(lambda: task.load(split, language, Path(root), skip_bad_rows=skip),
                           path)
    for example in examples or ():
        for answer in example.answers or ():  # a kept answer is really in its context
            assert example.context[answer.start:answer.start + len(answer.text)] == answer.text
    if examples:
        assert len({e.id for e in examples}) == len(examples)  # duplicate ids made unique


COPA_ROW = {"premise": "The man fell.", "choice1": "He slipped.", "choice2": "He sang.",
            "question": "cause", "label": 0, "idx": 1}
SIQA_ROW = {"context": "Kai ran.", "question": "Why?", "answerA": "late", "answerB": "fun",
            "answerC": "cold", "correct": "A"}


@FUZZ
@given(data=jsonl_bytes(list(COPA_ROW), COPA_ROW), skip=st.booleans())
def test_xcopa(data: bytes, skip: bool) -> None:
    _count("jsonl:xcopa")
    task = get_task("xcopa")
    with _fresh() as root:
        path = _write(task.locate("dev", "et", Path(root)), data)
        examples, skipped = counted(lambda: task.load("dev", "et", Path(root),
                                                      skip_bad_rows=skip), path)
    if examples is not None:
        assert all(e.label in (0, 1, None) and type(e.label) is not float for e in examples)
        if skip and (records := _records(data)) is not None:
            assert len(examples) + skipped == records


@FUZZ
@given(data=jsonl_bytes(list(SIQA_ROW), SIQA_ROW), skip=st.booleans())
def test_siqa(data: bytes, skip: bool) -> None:
    _count("jsonl:siqa")
    task = get_task("siqa")
    with _fresh() as root:
        path = _write(task.locate("dev", "en", Path(root)), data)
        outcome(lambda: task.load("dev", "en", Path(root), skip_bad_rows=skip), path)


@FUZZ
@given(source=file_bytes(line_text), english=file_bytes(line_text), skip=st.booleans())
def test_tatoeba(source: bytes, english: bytes, skip: bool) -> None:
    _count("retrieval:tatoeba")
    task = get_task("tatoeba")
    with _fresh() as root:
        path = _write(task.locate("test", "de", Path(root)), source)
        other = _write(path.with_suffix(".eng"), english)
        outcome(lambda: task.load("test", "de", Path(root), skip_bad_rows=skip), path, other)


id_line = st.tuples(st.sampled_from(["zh-1", "zh-2", "en-1", "en-2", "", " "]), field_text,
                    st.lists(field_text, max_size=2)).map(lambda t: "\t".join([t[0], t[1],
                                                                               *t[2]]))


@FUZZ
@given(source=file_bytes(id_line), english=file_bytes(id_line), gold=file_bytes(id_line),
       skip=st.booleans())
def test_bucc(source: bytes, english: bytes, gold: bytes, skip: bool) -> None:
    _count("retrieval:bucc")
    with _fresh() as root:
        files = [_write(Path(root) / name, data) for name, data in
                 (("s.zh", source), ("t.en", english), ("gold", gold))]
        sentences = outcome(lambda: read_bucc(*files, language="zh", hint="h",
                                              skip_bad_rows=skip), *files)
    for sentence in sentences or ():  # every gold link names a sentence that was read
        assert sentence.gold is None or sentence.gold in {s.id for s in sentences}


score_line = st.tuples(st.lists(field_text, min_size=4, max_size=4),
                       st.sampled_from(["4.2", "0", "5", "5.01", "-0.1", "nan", "NaN", "inf",
                                        "-inf", "1e999", "", "x", "1_0", "０"]),
                       st.lists(field_text, max_size=4)).map(
    lambda t: "\t".join([*t[0], t[1], *t[2]]))


@FUZZ
@given(data=file_bytes(score_line))
def test_stsb_scores_and_counts(data: bytes) -> None:
    _count("sts:stsb")
    with _fresh() as root:
        path = _write(Path(root) / "sts-dev.csv", data)
        examples, skipped = counted(lambda: read_stsb(path, language="en", hint="h",
                                                      skip_bad_rows=True), path)
    if examples is not None:
        assert all(math.isfinite(e.label) and 0 <= e.label <= 5 for e in examples)
        if (records := _records(data)) is not None:
            assert len(examples) + skipped == records


@FUZZ
@given(pairs=file_bytes(line_text), gold=file_bytes(st.sampled_from(
    ["1.2", "0", "5", "nan", "inf", "-1", "", "x", " 3 "])), skip=st.booleans(),
    extra=st.booleans())
def test_sts_pairs(pairs: bytes, gold: bytes, skip: bool, extra: bool) -> None:
    _count("sts:pairs")
    with _fresh() as root:
        files = [_write(Path(root) / "in.txt", pairs), _write(Path(root) / "gs.txt", gold)]
        examples = outcome(lambda: read_sts_pairs(*files, language="es", hint="h",
                                                  extra_input_ok=extra, skip_bad_rows=skip),
                           *files)
    for example in examples or ():
        assert math.isfinite(example.label) and 0 <= example.label <= 5


@FUZZ
@given(data=file_bytes(line_text), skip=st.booleans())
def test_tsv_pairs_counts(data: bytes, skip: bool) -> None:
    """XNLI's reader: with skipping, every non-blank line is an example or a counted skip."""
    _count("line:tsv_pairs")
    labels = {"entailment": 0, "neutral": 1, "contradiction": 2}
    with _fresh() as root:
        path = _write(Path(root) / "dev-de.tsv", data)
        examples, skipped = counted(lambda: read_tsv_pairs(
            path, language="de", label_map=labels, hint="h", skip_bad_rows=skip), path)
    records = _records(data)
    if examples is not None and skip and records is not None:
        first = data.decode("utf-8-sig").split("\n")[0].split("\t")[0].strip()
        header = int(first == "premise")  # a header line is neither a record nor a skip
        assert len(examples) + skipped == records - header


MENTION = {"context": {"language": "de", "text": "Paris ist schön."},
           "mention": {"example_id": "m1", "entity_id": "Q90",
                       "mention_span": {"start": 0, "end": 5, "text": "Paris"}}}
ENTITY = {"entity_id": "Q90", "title": "Paris", "description": "capital"}


@FUZZ
@given(data=jsonl_bytes(["context", "mention", "contextual_mention"], MENTION),
       skip=st.booleans())
def test_mewslix_mentions(data: bytes, skip: bool) -> None:
    _count("retrieval:mewsli-x-mentions")
    with _fresh() as root:
        path = _write(Path(root) / "wikinews_mentions-dev.jsonl", data)
        queries = outcome(lambda: read_mewslix_mentions(path, language="de", hint="h",
                                                        skip_bad_rows=skip), path)
    for query in queries or ():
        assert query.language == "de" and isinstance(query.text, str)


@FUZZ
@given(data=jsonl_bytes(list(ENTITY), ENTITY), skip=st.booleans())
def test_mewslix_candidates(data: bytes, skip: bool) -> None:
    _count("retrieval:mewsli-x-candidates")
    with _fresh() as root:
        path = _write(Path(root) / "candidate_set_entities.jsonl", data)
        outcome(lambda: read_mewslix_candidates(path, hint="h", skip_bad_rows=skip), path)


@st.composite
def xquad_r_documents(draw: st.DrawFn) -> bytes:
    """An XQuAD-R document (SQuAD + sentence_breaks) with mutated parts, or junk."""
    paragraph: dict[str, Any] = {
        "context": "Paris is in France. It is big.",
        "sentence_breaks": draw(st.sampled_from([[[0, 19], [20, 30]], [[0, 30]], [], [[5, 2]],
                                                 [[0, 99]], "x", [[0.0, 3]]])),
        "qas": [{"id": "q1", "question": "Where?",
                 "answers": [{"text": "France", "answer_start": 12}]}]}
    for key in draw(st.lists(st.sampled_from(["context", "qas", "sentence_breaks"]),
                             max_size=2)):
        paragraph[key] = draw(json_value)
    if draw(st.booleans()):
        paragraph["qas"] = [json.loads(draw(json_rows(["id", "question", "answers"], GOOD_QA)
                                            .filter(_is_json)))]
    document: Any = {"data": [{"paragraphs": [paragraph]}]}
    if draw(st.integers(0, 5)) == 0:
        document = {"data": [draw(json_value)]}
    return json.dumps(document).encode()


@FUZZ
@given(data=st.one_of(xquad_r_documents(), st.binary(max_size=60)))
def test_lareqa_xquad_r(data: bytes) -> None:
    _count("retrieval:lareqa")
    with _fresh() as root:
        path = _write(Path(root) / "de.json", data)
        try:
            candidates, answers = read_xquad_r(path, language="de", hint="h")
        except XstiltsError as err:
            assert str(path) in str(err)
            return
    ids = {c.id for c in candidates}
    assert all(set(sids) <= ids for sids in answers.values())


# --- the X-STILTs intermediate formats ------------------------------------------------------

MNLI_HEADER = "index\tpairID\tsentence1\tsentence2\tgold_label"
QQP_HEADER = "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate"


def _headed(header: str) -> st.SearchStrategy[bytes]:
    return st.one_of(encoded(st.one_of(st.just(header), line_text)), file_bytes(line_text))


INTERMEDIATE: dict[str, tuple[Callable[..., list], str, st.SearchStrategy[bytes]]] = {
    "mnli": (read_mnli, "train.tsv", _headed(MNLI_HEADER)),
    "qqp": (read_qqp, "train.tsv", _headed(QQP_HEADER)),
    "snli": (read_snli, "snli.jsonl", jsonl_bytes(
        ["sentence1", "sentence2", "gold_label", "pairID"],
        {"sentence1": "A.", "sentence2": "B.", "gold_label": "neutral", "pairID": "1"})),
    "anli": (read_anli, "anli.jsonl", jsonl_bytes(
        ["uid", "context", "premise", "hypothesis", "label"],
        {"uid": "u", "context": "A.", "hypothesis": "B.", "label": "e"})),
    "hellaswag": (read_hellaswag, "h.jsonl", jsonl_bytes(
        ["ctx", "endings", "label", "ind"],
        {"ctx": "A.", "endings": ["a", "b", "c", "d"], "label": 1, "ind": 3})),
    "cosmosqa-jsonl": (read_cosmosqa, "test.jsonl", jsonl_bytes(
        ["id", "context", "question", "answer0", "answer1", "answer2", "answer3", "label"],
        {"id": "c", "context": "C.", "question": "Q?", "answer0": "a", "answer1": "b",
         "answer2": "c", "answer3": "d", "label": "1"})),
    "cosmosqa-csv": (read_cosmosqa, "valid.csv", st.one_of(encoded(st.one_of(
        st.just("id,context,question,answer0,answer1,answer2,answer3,label"), csv_line)),
        file_bytes(csv_line))),
    "commonsenseqa": (read_commonsenseqa, "c.jsonl", jsonl_bytes(
        ["id", "question", "answerKey"],
        {"id": "q", "answerKey": "A", "question": {"stem": "S?", "choices": [
            {"label": k, "text": k.lower()} for k in "ABCDE"]}})),
}


@pytest.mark.parametrize("name", sorted(INTERMEDIATE))
@FUZZ
@given(data=st.data(), skip=st.booleans())
def test_intermediate_formats(name: str, data: st.DataObject, skip: bool) -> None:
    _count(f"intermediate:{name}")
    read, filename, contents = INTERMEDIATE[name]
    with _fresh() as root:
        path = _write(Path(root) / filename, data.draw(contents))
        outcome(lambda: read(path, hint="h", skip_bad_rows=skip), path)


@FUZZ
@given(data=file_bytes(st.sampled_from(["NOUN", "VERB", "NOUN", "", " ", "S/NP", "é"])))
def test_tag_inventory(data: bytes) -> None:
    _count("intermediate:ccg-tags")
    with _fresh() as root:
        path = _write(Path(root) / "tags.txt", data)
        try:
            tags = read_tag_inventory(path, "h")
        except DataFormatError as err:
            assert err.path == str(path)
            return
    assert len(set(tags)) == len(tags) and all(t.strip() == t and t for t in tags)


# --- user tasks (TSV / CSV / JSONL) ---------------------------------------------------------

USER_TASKS = textwrap.dedent("""\
    tasks:
      - name: fuzz-user-{format}
        type: pair_classification
        labels: [entailment, neutral, contradiction]
        languages: [en, de]
        format: {format}
        files: {{path: '{{data_dir}}/{{split}}-{{language}}.{format}'}}
        columns: {{id: id, text_a: premise, text_b: hypothesis, label: label}}
      - name: fuzz-user-{format}-score
        type: regression
        languages: [en]
        format: {format}
        files: {{path: '{{data_dir}}/{{split}}-{{language}}.{format}'}}
        columns: {{text_a: premise, label: label}}
      - name: fuzz-user-{format}-lang
        type: classification
        labels: [entailment, neutral, contradiction]
        languages: [en, de]
        format: {format}
        files: {{path: '{{data_dir}}/{{split}}.{format}', language_column: id}}
        columns: {{text_a: premise, label: label}}
    """)
USER_ROW = {"id": "r1", "premise": "A.", "hypothesis": "B.", "label": "neutral"}
USER_CONTENT = {
    "tsv": _headed("id\tpremise\thypothesis\tlabel"),
    "csv": st.one_of(encoded(st.one_of(st.just("id,premise,hypothesis,label"), csv_line)),
                     file_bytes(csv_line)),
    "jsonl": jsonl_bytes(list(USER_ROW), USER_ROW),
}


@pytest.fixture(scope="module")
def user_tasks(tmp_path_factory: pytest.TempPathFactory) -> None:
    folder = tmp_path_factory.mktemp("user-tasks")
    for fmt in USER_CONTENT:
        path = folder / f"{fmt}.yaml"
        path.write_text(USER_TASKS.format(format=fmt), encoding="utf-8")
        load_task_file(path)


@pytest.mark.parametrize("fmt", sorted(USER_CONTENT))
@pytest.mark.parametrize("suffix", ["", "-score", "-lang"])
@FUZZ
@given(data=st.data(), skip=st.booleans())
def test_user_task_files(user_tasks: None, fmt: str, suffix: str, data: st.DataObject,
                         skip: bool) -> None:
    _count(f"user:{fmt}{suffix}")
    task = get_task(f"fuzz-user-{fmt}{suffix}")
    content = data.draw(USER_CONTENT[fmt])
    with _fresh() as root:
        name = f"train.{fmt}" if suffix == "-lang" else f"train-en.{fmt}"
        path = _write(Path(root) / name, content)
        examples, skipped = counted(lambda: task.load("train", "en", Path(root),
                                                      skip_bad_rows=skip), path)
    if examples is None:
        return
    for example in examples:
        if suffix == "-score":  # a score is a finite number or absent, never NaN/inf
            assert example.label is None or math.isfinite(example.label)
        else:
            assert example.label in (0, 1, 2, None)
        assert all(isinstance(t, str) and t.strip() for t in example.texts)
    assert len({e.id for e in examples}) == len(examples), "duplicate ids kept"
    if skip and fmt != "csv" and suffix != "-lang" and (
            records := _records(content, header=fmt != "jsonl")):
        assert len(examples) + skipped == records


# --- huge lines -----------------------------------------------------------------------------

HUGE = "y" * 300_000


@pytest.mark.parametrize("fmt", sorted(USER_CONTENT))
def test_huge_fields_are_read(user_tasks: None, tmp_path: Path,
                                                 fmt: str) -> None:
    """A 300k-character field (beyond the csv module's default field limit) is read."""
    _count(f"huge:{fmt}")
    task = get_task(f"fuzz-user-{fmt}")
    rows = {"tsv": f"id\tpremise\thypothesis\tlabel\nr1\t{HUGE}\tB.\tneutral\n",
            "csv": f"id,premise,hypothesis,label\nr1,{HUGE},B.,neutral\n",
            "jsonl": json.dumps({**USER_ROW, "premise": HUGE}) + "\n"}[fmt]
    _write(tmp_path / f"train-en.{fmt}", rows.encode())
    [example] = task.load("train", "en", tmp_path)
    assert example.texts[0] == HUGE


def test_deeply_nested_json_is_a_data_error(tmp_path: Path) -> None:
    """JSON nested deeper than Python's recursion limit must not escape as RecursionError."""
    _count("huge:nested-json")
    deep = ("[" * 100_000 + "]" * 100_000).encode()
    squad = _write(tmp_path / "xquad/xquad.de.json", deep)
    with pytest.raises(DataFormatError, match="nested") as info:
        get_task("xquad").load("test", "de", tmp_path)
    assert info.value.path == str(squad)
    copa = _write(get_task("xcopa").locate("dev", "et", tmp_path), deep + b"\n")
    with pytest.raises(DataFormatError, match="nested") as info:
        get_task("xcopa").load("dev", "et", tmp_path)
    assert info.value.path == str(copa) and info.value.line == 1


def test_generated_case_count(request: pytest.FixtureRequest) -> None:
    """The issue asks for >= 10,000 generated cases per CI run: count and report them.

    Runs last in the module (pytest keeps file order). Every selected fuzz test must have run
    its cases (hypothesis stops early only on an exhausted or over-filtered strategy, which
    would make the fuzzing weaker than it looks); a full run must reach the issue's total.
    """
    total = sum(GENERATED.values())
    fuzz_items = [item for item in request.session.items
                  if item.module.__name__ == __name__ and hasattr(item.obj, "hypothesis")]
    print(f"\nfuzz_readers: {total} generated cases in {len(fuzz_items)} fuzz tests "
          f"({len(GENERATED)} reader targets)")
    assert total >= 0.95 * N * len(fuzz_items)
    if N * len(fuzz_items) >= MIN_TOTAL:
        assert total >= MIN_TOTAL
