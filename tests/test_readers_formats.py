"""Readers on small hand-written files: bad input, unlabeled splits, skip_bad_rows, fuzzing.

Every reader must either parse a file or raise DataFormatError / MissingDataError naming the
file (and line where there are lines): never another exception type.
"""

from __future__ import annotations

import json
import logging
import random
from pathlib import Path

import pytest

from xstilts.errors import DataFormatError, MissingDataError
from xstilts.tasks import get_task


def _squad(answers: list[dict] | None, context: str = "Paris is in France.") -> bytes:
    qa: dict = {"id": "q1", "question": "Where is Paris?"}
    if answers is not None:
        qa["answers"] = answers
    doc = {"version": "1.1", "data": [{"title": "t", "paragraphs": [
        {"context": context, "qas": [qa]}]}]}
    return json.dumps(doc).encode()


_COPA_ROW = {"premise": "The man fell.", "choice1": "He slipped.", "choice2": "He sang.",
             "question": "cause", "label": 0, "idx": 1}
_SIQA_ROW = {"context": "Kai ran.", "question": "Why?", "answerA": "late", "answerB": "fun",
             "answerC": "cold", "correct": "A"}

# task -> (split, language, {path under data_dir: content}) of a small valid sample.
SAMPLES: dict[str, tuple[str, str, dict[str, bytes]]] = {
    "xnli": ("dev", "de", {"xnli/dev-de.tsv": b"a\tb\tneutral\nc\td\tentailment\n"}),
    "udpos": ("train", "en", {"udpos/train-en.tsv": b"The\tDET\ncat\tNOUN\n\nRun\tVERB\n"}),
    "panx": ("dev", "de", {"panx/dev-de.tsv": b"de:Berlin\tB-LOC\nde:ist\tO\n\nde:Ja\tO\n"}),
    "xquad": ("test", "de", {"xquad/xquad.de.json": _squad([{"text": "France",
                                                              "answer_start": 12}])}),
    "xcopa": ("dev", "et", {"xcopa/data/et/val.et.jsonl": (
        json.dumps(_COPA_ROW) + "\n" + json.dumps({**_COPA_ROW, "idx": 2})).encode()}),
    "siqa": ("dev", "en", {"siqa/socialIQa_v1.4_dev.jsonl": (json.dumps(_SIQA_ROW) + "\n")
                           .encode()}),
    "tatoeba": ("test", "zh", {"tatoeba/tatoeba.cmn-eng.cmn": "我饿了。\n你好\n".encode(),
                               "tatoeba/tatoeba.cmn-eng.eng": b"I am hungry.\nHello\n"}),
    "bucc2018": ("dev", "zh", {"bucc2018/zh-en.dev.zh": "zh-1\t你好\nzh-2\t再见\n".encode(),
                               "bucc2018/zh-en.dev.en": b"en-1\tHello\nen-2\tBye\nen-3\tX\n",
                               "bucc2018/zh-en.dev.gold": b"zh-1\ten-1\n"}),
    "stsb": ("dev", "en", {"sts/stsbenchmark/sts-dev.csv":
                           b'g\tf\t2012\t1\t4.2\tA "quoted" cat.\tA cat.\nx\ty\t2013\t2\t0.5\t'
                           b"Dog.\tSun.\tlicense\textra\n"}),
    "sts17": ("test", "es-es", {"sts/STS2017.eval.v1.1/STS.input.track3.es-es.txt":
                                b"Un gato.\tUn perro.\nSol.\tLuna.\n",
                                "sts/STS2017.gs/STS.gs.track3.es-es.txt": b"1.2\n0.0\n"}),
    "sst2": ("dev", "en", {"sst2/dev.tsv": b"sentence\tlabel\ngood film \t1\nbad \t0\n"}),
}


def _write(root: Path, files: dict[str, bytes]) -> None:
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_valid_samples_parse(tmp_path: Path, name: str) -> None:
    split, lang, files = SAMPLES[name]
    _write(tmp_path, files)
    examples = get_task(name).load(split, lang, tmp_path)
    assert examples


def test_sample_contents_are_read_right(tmp_path: Path) -> None:
    for name in ("panx", "stsb", "sts17", "sst2", "bucc2018"):
        _write(tmp_path, SAMPLES[name][2])
    panx = get_task("panx").load("dev", "de", tmp_path)
    assert panx[0].tokens == ("Berlin", "ist") and len(panx) == 2  # 'de:' prefix stripped
    stsb = get_task("stsb").load("dev", "en", tmp_path)
    assert stsb[0].texts == ('A "quoted" cat.', "A cat.") and stsb[1].label == 0.5
    assert [e.label for e in get_task("sts17").load("test", "es-es", tmp_path)] == [1.2, 0.0]
    assert [e.label for e in get_task("sst2").load("dev", "en", tmp_path)] == [1, 0]
    bucc = {s.id: s for s in get_task("bucc2018").load("dev", "zh", tmp_path)}
    assert bucc["zh-1"].gold == "en-1" and bucc["en-1"].gold == "zh-1"
    assert bucc["zh-2"].gold is None and bucc["en-3"].language == "en"


# --- bad input: one case per reader and problem -------------------------------------------------

BAD: list[tuple[str, str, str, bytes, str, int | None]] = [
    # (task, split/lang, path, content, expected text, expected line)
    ("udpos", "train/en", "udpos/train-en.tsv", b"The\tDET\ncat\tNOUN\tX\n", "found 3", 2),
    ("udpos", "train/en", "udpos/train-en.tsv", b"The\tDET\ncat\tNUON\n", "unknown tag", 2),
    ("udpos", "train/en", "udpos/train-en.tsv", b"The\tDET\ncat\n", "mixes tagged", 2),
    ("udpos", "train/en", "udpos/train-en.tsv", b"The\tDET\n\xe9t\xe9\tNOUN\n", "UTF-8", 2),
    ("panx", "dev/de", "panx/dev-de.tsv", b"\n\n", "empty", None),
    ("panx", "dev/de", "panx/dev-de.tsv", b"de:A\tO\nB\tO\n", "prefix", 2),
    ("xquad", "test/de", "xquad/xquad.de.json", b'{"data": [', "broken JSON", 1),
    ("xquad", "test/de", "xquad/xquad.de.json",
     _squad([{"text": "France", "answer_start": 11}]), "q1", None),
    ("xquad", "test/de", "xquad/xquad.de.json", b'{"data": 3}', "must be a list", None),
    ("xcopa", "dev/et", "xcopa/data/et/val.et.jsonl", b'{"premise": \n', "broken JSON", 1),
    ("xcopa", "dev/et", "xcopa/data/et/val.et.jsonl",
     json.dumps({**_COPA_ROW, "label": 2}).encode(), "unknown label", 1),
    ("siqa", "dev/en", "siqa/socialIQa_v1.4_dev.jsonl",
     json.dumps({**_SIQA_ROW, "correct": "D"}).encode(), "unknown label", 1),
    ("stsb", "dev/en", "sts/stsbenchmark/sts-dev.csv", b"g\tf\t2012\t1\t4.2\tA cat.\n",
     "at least 7", 1),
    ("stsb", "dev/en", "sts/stsbenchmark/sts-dev.csv", b"g\tf\t2012\t1\t7.5\tA.\tB.\n",
     "outside 0-5", 1),
    ("sst2", "dev/en", "sst2/dev.tsv", b"sentence\tlabel\ngood\t1\nbad\t1\t0\n", "found 3", 3),
    ("sst2", "dev/en", "sst2/dev.tsv", b"sentence\tlabel\ngood\tpositive\n", "unknown label",
     2),
    ("bucc2018", "dev/zh", "bucc2018/zh-en.dev.gold", b"zh-1\ten-9\n", "en-9", 1),
]


@pytest.mark.parametrize(("name", "where", "relative", "content", "needle", "line"), BAD)
def test_bad_input_names_file_line_and_problem(
    tmp_path: Path, name: str, where: str, relative: str, content: bytes, needle: str,
    line: int | None,
) -> None:
    split, lang = where.split("/")
    _write(tmp_path, SAMPLES[name][2])
    _write(tmp_path, {relative: content})
    with pytest.raises(DataFormatError) as info:
        get_task(name).load(split, lang, tmp_path)
    error = info.value
    assert error.path == str(tmp_path / relative) and needle in str(error)
    assert error.line == line


def test_misaligned_parallel_files_are_refused(tmp_path: Path) -> None:
    _write(tmp_path, SAMPLES["tatoeba"][2])
    _write(tmp_path, {"tatoeba/tatoeba.cmn-eng.eng": b"I am hungry.\n"})
    with pytest.raises(DataFormatError, match="line-aligned"):
        get_task("tatoeba").load("test", "zh", tmp_path)
    _write(tmp_path, SAMPLES["sts17"][2])
    _write(tmp_path, {"sts/STS2017.gs/STS.gs.track3.es-es.txt": b"1.0\n"})
    with pytest.raises(DataFormatError, match="must align"):
        get_task("sts17").load("test", "es-es", tmp_path)


def test_missing_files_raise_missing_data(tmp_path: Path) -> None:
    for name, (split, lang, _) in SAMPLES.items():
        with pytest.raises(MissingDataError):
            get_task(name).load(split, lang, tmp_path)
    with pytest.raises(MissingDataError, match="only a test split"):
        get_task("xquad").load("train", "de", tmp_path)


# --- unlabeled splits ---------------------------------------------------------------------------

def test_unlabeled_splits_get_none(tmp_path: Path) -> None:
    _write(tmp_path, {
        "udpos/test-en.tsv": b"The\ncat\n\nRun\n",
        "xquad/xquad.de.json": _squad(None),
        "squad/dev-v2.0.json": json.dumps({"data": [{"paragraphs": [{"context": "c", "qas": [
            {"id": "x", "question": "q?", "answers": [], "is_impossible": True}]}]}]}).encode(),
        "xcopa/xtreme_format/test-ht.jsonl": "\n".join(
            json.dumps({**_COPA_ROW, "idx": i}) for i in range(30)).encode(),
        "sst2/test.tsv": b"index\tsentence\n0\tgood film\n",
        "xnli/test-de.tsv": b"a\tb\n",
        "siqa/dev.jsonl": json.dumps({k: v for k, v in _SIQA_ROW.items() if k != "correct"})
        .encode(),
        "sts/STS2017.eval.v1.1/STS.input.track1.ar-ar.txt": b"a\tb\n",
    })
    assert [e.tags for e in get_task("udpos").load("test", "en", tmp_path)] == [None, None]
    assert get_task("xquad").load("test", "de", tmp_path)[0].answers is None
    assert get_task("squad2").load("dev", "en", tmp_path)[0].answers == ()
    assert {e.label for e in get_task("xcopa").load("test", "ht", tmp_path)} == {None}
    assert get_task("sst2").load("test", "en", tmp_path)[0].label is None
    assert get_task("xnli").load("test", "de", tmp_path)[0].label is None
    assert get_task("siqa").load("dev", "en", tmp_path)[0].label is None
    assert get_task("sts17").load("test", "ar-ar", tmp_path)[0].label is None


def test_siqa_original_release_with_labels_file(tmp_path: Path) -> None:
    rows = [{k: v for k, v in _SIQA_ROW.items() if k != "correct"}] * 2
    _write(tmp_path, {"siqa/dev.jsonl": "\n".join(json.dumps(r) for r in rows).encode(),
                      "siqa/dev-labels.lst": b"3\n1\n"})
    assert [e.label for e in get_task("siqa").load("dev", "en", tmp_path)] == [2, 0]


# --- skip_bad_rows ------------------------------------------------------------------------------

def test_skip_bad_rows_drops_and_logs(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    _write(tmp_path, {"udpos/train-en.tsv": b"The\tDET\ncat\tNUON\n\nRun\tVERB\n\nGo\tBAD\n"})
    task = get_task("udpos")
    with pytest.raises(DataFormatError):
        task.load("train", "en", tmp_path)
    with caplog.at_level(logging.WARNING, logger="xstilts.tasks"):
        examples = task.load("train", "en", tmp_path, skip_bad_rows=True)
    assert [e.tokens for e in examples] == [("Run",)]
    assert "skipped 2 bad row(s)" in caplog.text and "line 2" in caplog.text
    assert "NUON" in caplog.text


def test_skip_bad_rows_on_bad_encoding_and_spans(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _write(tmp_path, {"xnli/dev-de.tsv": b"a\tb\tneutral\n\xff\tx\tneutral\nc\td\tneutral\n"})
    with caplog.at_level(logging.WARNING, logger="xstilts.tasks"):
        assert len(get_task("xnli").load("dev", "de", tmp_path, skip_bad_rows=True)) == 2
    assert "not valid UTF-8" in caplog.text
    doc = json.loads(_squad([{"text": "France", "answer_start": 12}]))
    bad = {"id": "q2", "question": "?", "answers": [{"text": "Paris", "answer_start": 3}]}
    doc["data"][0]["paragraphs"][0]["qas"].append(bad)
    _write(tmp_path, {"xquad/xquad.de.json": json.dumps(doc).encode()})
    examples = get_task("xquad").load("test", "de", tmp_path, skip_bad_rows=True)
    assert [e.id for e in examples] == ["q1"] and "q2" in caplog.text


def test_skip_bad_rows_is_ignored_by_readers_without_it() -> None:
    task = get_task("cldr-continents")
    assert task.load("dev", "en", skip_bad_rows=True) == task.load("dev", "en")


# --- fuzzing ------------------------------------------------------------------------------------

def _mutate(content: bytes, rng: random.Random) -> bytes:
    data = bytearray(content)
    kind = rng.randrange(7)
    if kind == 0 and data:  # truncate
        return bytes(data[: rng.randrange(len(data))])
    if kind == 1 and data:  # flip random bytes
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        return bytes(data)
    if kind == 2:  # insert or delete tabs / newlines / quotes / braces
        position = rng.randrange(len(data) + 1)
        data[position:position] = rng.choice([b"\t", b"\n", b'"', b"{", b"]", b"\t\t", b"\r"])
        return bytes(data)
    if kind == 3 and b"\t" in data:
        return bytes(data).replace(b"\t", b"", rng.randint(1, 3))
    if kind == 4:  # duplicate or drop a line
        lines = bytes(data).split(b"\n")
        i = rng.randrange(len(lines))
        lines[i:i + 1] = [] if rng.random() < 0.5 else [lines[i], lines[i]]
        return b"\n".join(lines)
    if kind == 5:  # replace a JSON value with another type
        text = bytes(data)
        for old, new in ((b'"answer_start": 12', b'"answer_start": "x"'), (b"[", b"{"),
                         (b'"label": 0', b'"label": null'), (b"0\n", b"-3\n")):
            if old in text:
                return text.replace(old, new, 1)
        return text
    return bytes(data) + rng.choice([b"\x00", b"\xff\xfe", b"\n\n\n", b"\tx"])


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_fuzzed_files_parse_or_raise_data_errors(tmp_path: Path, name: str) -> None:
    split, lang, files = SAMPLES[name]
    rng = random.Random(f"xstilts-fuzz-{name}")
    task = get_task(name)
    for trial in range(60):
        root = tmp_path / str(trial)
        _write(root, files)
        target = rng.choice(sorted(files))
        mutated = files[target]
        for _ in range(rng.randint(1, 3)):
            mutated = _mutate(mutated, rng)
        _write(root, {target: mutated})
        for skip in (False, True):
            try:
                result = task.load(split, lang, root, skip_bad_rows=skip)
            except (DataFormatError, MissingDataError) as err:
                assert str(root) in str(err)
            else:
                assert isinstance(result, list) and result
