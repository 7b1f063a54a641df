"""Readers of the X-STILTs intermediate tasks and XTREME-R's mAP@20 retrieval tasks, on tiny
files written in each public format (headers, '-' labels and malformed rows included)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from xstilts.errors import DataFormatError, MissingDataError
from xstilts.tasks.registry import get_task

MNLI_HEADER = ("index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\t"
               "sentence1_parse\tsentence2_parse\tsentence1\tsentence2\tlabel1\tgold_label")


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _jsonl(path: Path, rows: list) -> Path:
    return _write(path, "".join((r if isinstance(r, str) else json.dumps(r)) + "\n"
                                for r in rows))


def _mnli_row(i: int, s1: str, s2: str, label: str) -> str:
    return f"{i}\tp{i}\t{i}e\tfiction\t(b)\t(b)\t(p)\t(p)\t{s1}\t{s2}\t{label}\t{label}"


def test_mnli_header_columns_and_xnli_label_order(tmp_path: Path) -> None:
    _write(tmp_path / "mnli/train.tsv", "\n".join([
        MNLI_HEADER, _mnli_row(0, 'He said "hi', "He spoke.", "entailment"),
        _mnli_row(1, "A", "B", "contradiction"), _mnli_row(2, "C", "D", "neutral")]) + "\n")
    examples = get_task("mnli").load("train", "en", tmp_path)
    assert [e.label for e in examples] == [1, 0, 2]
    assert examples[0].texts == ('He said "hi', "He spoke.")
    assert examples[0].id == "mnli-train-0e"


def test_mnli_bad_row_names_file_and_line(tmp_path: Path) -> None:
    path = _write(tmp_path / "mnli/dev_matched.tsv",
                  f"{MNLI_HEADER}\n{_mnli_row(0, 'A', 'B', 'entailment')}\nbroken\tline\n")
    with pytest.raises(DataFormatError) as err:
        get_task("mnli").load("dev", "en", tmp_path)
    assert err.value.path == str(path) and err.value.line == 3
    kept = get_task("mnli").load("dev", "en", tmp_path, skip_bad_rows=True)
    assert len(kept) == 1


def test_qqp_and_unlabeled_test(tmp_path: Path) -> None:
    _write(tmp_path / "qqp/dev.tsv", "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n"
           "7\t1\t2\tHow?\tHow so?\t1\n8\t3\t4\tWhy?\tWhen?\t0\n9\t5\t6\tA?\tB?\t2\n")
    with pytest.raises(DataFormatError, match="unknown label '2'") as err:
        get_task("qqp").load("dev", "en", tmp_path)
    assert err.value.line == 4
    examples = get_task("qqp").load("dev", "en", tmp_path, skip_bad_rows=True)
    assert [(e.id, e.label) for e in examples] == [("qqp-dev-7", 1), ("qqp-dev-8", 0)]
    _write(tmp_path / "qqp/test.tsv", "id\tquestion1\tquestion2\n0\tA?\tB?\n")
    assert get_task("qqp").load("test", "en", tmp_path)[0].label is None


def test_qqp_records_broken_by_a_line_break_are_dropped(tmp_path: Path, caplog) -> None:
    # GLUE's original QQP.zip: a line break inside question1 splits a record into a 4-field
    # and a 3-field line. Both are dropped with one warning; a row with too many fields is
    # still an error.
    path = _write(tmp_path / "qqp/train.tsv",
                  "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n"
                  "1\t11\t12\tIs it so?\tIs it?\t1\n"
                  "2\t13\t14\t\"Who wrote\n"
                  "\"\tWho is the author?\t0\n"
                  "3\t15\t16\tWhy not?\tWhy?\t0\n")
    with caplog.at_level(logging.WARNING, logger="xstilts.tasks"):
        examples = get_task("qqp").load("train", "en", tmp_path)
    assert [e.id for e in examples] == ["qqp-train-1", "qqp-train-3"]
    assert "skipped 2 row(s) with too few tab-separated fields (lines 3, 4" in caplog.text
    _write(path, "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n"
           "1\t11\t12\tA?\tB?\t1\textra\n")
    with pytest.raises(DataFormatError, match="expected 6 tab-separated fields"):
        get_task("qqp").load("train", "en", tmp_path)


def test_mnli_glue_test_file_is_unlabeled(tmp_path: Path) -> None:
    # GLUE's test_matched.tsv: the train header without label1/gold_label.
    header = MNLI_HEADER.rsplit("\tlabel1", 1)[0]
    _write(tmp_path / "MNLI/test_matched.tsv", f"{header}\n0\t9\t9n\tslate\t(b)\t(b)\t(p)\t(p)"
           "\tA man waits.\tSomeone waits.\n")
    [example] = get_task("mnli").load("test", "en", tmp_path)
    assert example.label is None and example.texts == ("A man waits.", "Someone waits.")


def _anli(tmp_path: Path, split: str) -> None:
    # The shape of anli_v1.0's rows: the premise is "context" (not "premise").
    for r, label in zip(("R1", "R2", "R3"), "enc", strict=True):
        _jsonl(tmp_path / f"anli/{r}/{split}.jsonl", [
            {"uid": f"{r}x", "context": "P.", "hypothesis": "H.", "label": label,
             "model_label": "n", "emturk": False, "genre": "", "reason": "", "tag": ""}])


def test_anli_release_layout_and_converted_premise_key(tmp_path: Path) -> None:
    # anli_v1.0.zip unpacked straight into --data-dir; R2 in the converted "premise" form.
    for r in ("R1", "R2", "R3"):
        key = "premise" if r == "R2" else "context"
        _jsonl(tmp_path / f"anli_v1.0/{r}/test.jsonl", [
            {"uid": f"{r}t", key: f"P {r}.", "hypothesis": "H.", "label": "c"}])
    examples = get_task("anli").load("test", "en", tmp_path)
    assert [e.texts[0] for e in examples] == ["P R1.", "P R2.", "P R3."]
    assert {e.label for e in examples} == {0}
    _jsonl(tmp_path / "anli_v1.0/R1/test.jsonl", [{"uid": "x", "hypothesis": "H.", "label": "e"}])
    with pytest.raises(DataFormatError, match="'context' must be a non-empty string"):
        get_task("anli").load("test", "en", tmp_path)


def test_anli_rounds_combined_label_map(tmp_path: Path) -> None:
    _anli(tmp_path, "dev")
    examples = get_task("anli").load("dev", "en", tmp_path)
    assert [(e.id, e.label) for e in examples] == [("anli-R1-R1x", 1), ("anli-R2-R2x", 2),
                                                   ("anli-R3-R3x", 0)]


def test_anli_plus_concatenates_anli_mnli_snli(tmp_path: Path, caplog) -> None:
    _anli(tmp_path, "train")
    _write(tmp_path / "mnli/train.tsv", f"{MNLI_HEADER}\n{_mnli_row(0, 'A', 'B', 'neutral')}\n")
    _jsonl(tmp_path / "snli/snli_1.0_train.jsonl", [
        {"pairID": "s1", "sentence1": "X.", "sentence2": "Y.", "gold_label": "entailment"},
        {"pairID": "s2", "sentence1": "X.", "sentence2": "Z.", "gold_label": "-"}])
    with caplog.at_level(logging.INFO, logger="xstilts.tasks"):
        examples = get_task("anli-plus").load("train", "en", tmp_path)
    assert len(examples) == 5 and examples[-1].id == "snli-train-s1"
    assert "skipped 1 row(s) with gold label '-'" in caplog.text


def test_snli_release_folder_unpacked_into_data_dir(tmp_path: Path) -> None:
    # snli_1.0.zip unpacks to snli_1.0/snli_1.0_{split}.jsonl; rows keep the parses and
    # annotator labels next to the fields read.
    _jsonl(tmp_path / "snli_1.0/snli_1.0_dev.jsonl", [
        {"annotator_labels": ["neutral", "neutral"], "captionID": "1.jpg#0",
         "gold_label": "neutral", "pairID": "1.jpg#0r1n", "sentence1": "A dog runs.",
         "sentence1_binary_parse": "( A dog )", "sentence1_parse": "(ROOT)",
         "sentence2": "A dog plays.", "sentence2_binary_parse": "( A dog )",
         "sentence2_parse": "(ROOT)"}])
    from xstilts.tasks.formats.intermediate import read_snli
    from xstilts.tasks.xstilts_intermediate import snli_path

    path = snli_path("dev", "en", tmp_path)
    assert path == tmp_path / "snli_1.0/snli_1.0_dev.jsonl"
    [example] = read_snli(path, hint="")
    assert (example.id, example.label) == ("1.jpg#0r1n", 2)


def test_snli_missing_file_names_path(tmp_path: Path) -> None:
    _anli(tmp_path, "train")
    _write(tmp_path / "mnli/train.tsv", f"{MNLI_HEADER}\n{_mnli_row(0, 'A', 'B', 'neutral')}\n")
    with pytest.raises(MissingDataError) as err:
        get_task("anli-plus").load("train", "en", tmp_path)
    assert err.value.path == str(tmp_path / "snli/snli_1.0_train.jsonl")


def test_hellaswag(tmp_path: Path) -> None:
    _jsonl(tmp_path / "hellaswag/hellaswag_val.jsonl", [
        {"ind": 24, "activity_label": "Roof", "ctx_a": "A man", "ctx_b": "is", "ctx": "A man is",
         "endings": ["a", "b", "c", "d"], "label": 3, "split": "val"},
        {"ind": 25, "ctx": "X", "endings": ["a", "b"], "label": 0},
        "{not json"])
    with pytest.raises(DataFormatError, match="broken JSON") as err:
        get_task("hellaswag").load("dev", "en", tmp_path)
    assert err.value.line == 3
    [example] = get_task("hellaswag").load("dev", "en", tmp_path, skip_bad_rows=True)
    assert (example.id, example.context, example.label) == ("hellaswag-dev-24", "A man is", 3)


def test_cosmosqa_csv_and_unlabeled_jsonl(tmp_path: Path) -> None:
    _write(tmp_path / "cosmosqa/valid.csv",
           'id,context,question,answer0,answer1,answer2,answer3,label\n'
           'q1,"Rain, then\n""sun"".",Why?,a,b,c,d,2\n'
           'q2,Ctx,Why?,a,b,c,d,7\n')
    with pytest.raises(DataFormatError, match="label must be an integer 0-3") as err:
        get_task("cosmosqa").load("dev", "en", tmp_path)
    assert err.value.line == 4
    [example] = get_task("cosmosqa").load("dev", "en", tmp_path, skip_bad_rows=True)
    assert example.context == 'Rain, then\n"sun". Why?' and example.label == 2
    _jsonl(tmp_path / "cosmosqa/test.jsonl", [
        {"id": "t", "context": "C", "question": "Q", "answer0": "a", "answer1": "b",
         "answer2": "c", "answer3": "d"}])
    assert get_task("cosmosqa").load("test", "en", tmp_path)[0].label is None


def test_commonsenseqa(tmp_path: Path) -> None:
    choices = [{"label": k, "text": f"t{k}"} for k in "ABCDE"]
    _jsonl(tmp_path / "commonsenseqa/dev_rand_split.jsonl", [
        {"answerKey": "C", "id": "abc", "question": {"question_concept": "x",
                                                     "choices": choices, "stem": "Where?"}},
        {"answerKey": "F", "id": "bad", "question": {"choices": choices, "stem": "S"}}])
    with pytest.raises(DataFormatError, match="unknown label 'F'"):
        get_task("commonsenseqa").load("dev", "en", tmp_path)
    [example] = get_task("commonsenseqa").load("dev", "en", tmp_path, skip_bad_rows=True)
    assert example.choices == ("tA", "tB", "tC", "tD", "tE") and example.label == 2


def test_withheld_test_labels_read_as_unlabeled(tmp_path: Path) -> None:
    # hellaswag_test.jsonl has no "label"; CSQA's test_rand_split_no_answers.jsonl has no
    # "answerKey".
    _jsonl(tmp_path / "hellaswag/hellaswag_test.jsonl", [
        {"ind": 7, "activity_label": "Cooking", "ctx_a": "She stirs", "ctx_b": "then",
         "ctx": "She stirs then", "endings": ["a", "b", "c", "d"], "source_id": "x",
         "split": "test", "split_type": "indomain"}])
    assert get_task("hellaswag").load("test", "en", tmp_path)[0].label is None
    choices = [{"label": k, "text": f"t{k}"} for k in "ABCDE"]
    _jsonl(tmp_path / "commonsenseqa/test_rand_split_no_answers.jsonl", [
        {"id": "h1", "question": {"question_concept": "c", "choices": choices, "stem": "Q?"}}])
    assert get_task("commonsenseqa").load("test", "en", tmp_path)[0].label is None


def test_ccg_tags_index_the_inventory(tmp_path: Path) -> None:
    _write(tmp_path / "ccg/tags.txt", "N\nNP[nb]/N\n(S[dcl]\\NP)/NP\n")
    _write(tmp_path / "ccg/dev.tsv", "The\tNP[nb]/N\ndog\tN\n\nbites\t(S[dcl]\\NP)/NP\n")
    examples = get_task("ccg").load("dev", "en", tmp_path)
    assert [e.tags for e in examples] == [(1, 0), (2,)]
    _write(tmp_path / "ccg/train.tsv", "The\tXX\n")
    with pytest.raises(DataFormatError, match="unknown tag 'XX'"):
        get_task("ccg").load("train", "en", tmp_path)


def _squad_doc(answers: list[dict], *, is_impossible: bool | None = None) -> str:
    qa: dict = {"answers": answers, "question": "Where is Paris?", "id": "swahili-1-0"}
    if is_impossible is not None:
        qa["is_impossible"] = is_impossible
    return json.dumps({"version": "1.1", "data": [{"title": "T", "paragraphs": [
        {"context": "Paris is in France.", "qas": [qa]}]}]})


def test_tydiqa_dev_with_xtremes_withheld_answers_is_unlabeled(tmp_path: Path, caplog) -> None:
    # XTREME's utils_preprocess.py renames the GoldP dev files to tydiqa.goldp.L.dev.json and
    # replaces every answer list with [{"answer_start": 0, "text": ""}].
    folder = tmp_path / "tydiqa/tydiqa-goldp-v1.1-dev"
    _write(folder / "tydiqa.goldp.sw.dev.json",
           _squad_doc([{"answer_start": 0, "text": ""}]))
    with caplog.at_level(logging.INFO, logger="xstilts.tasks"):
        [example] = get_task("tydiqa").load("dev", "sw", tmp_path)
    assert example.answers is None and "1 question(s) carry XTREME's placeholder" in caplog.text
    # The release file (tydiqa-goldp-dev-LANGUAGE.json) keeps the gold answers.
    (folder / "tydiqa.goldp.sw.dev.json").unlink()
    _write(folder / "tydiqa-goldp-dev-swahili.json",
           _squad_doc([{"answer_start": 12, "text": "France"},
                       {"answer_start": 12, "text": "France."}]))
    [example] = get_task("tydiqa").load("dev", "sw", tmp_path)
    assert [a.text for a in example.answers] == ["France", "France."]
    # An empty answer next to a real one is not the placeholder: still an error.
    _write(folder / "tydiqa-goldp-dev-swahili.json",
           _squad_doc([{"answer_start": 0, "text": ""}, {"answer_start": 12, "text": "France"}]))
    with pytest.raises(DataFormatError, match="non-empty 'text'"):
        get_task("tydiqa").load("dev", "sw", tmp_path)


def test_squad2_impossible_and_answerable(tmp_path: Path) -> None:
    # SQuAD v2.0: is_impossible questions have "answers": [] (and plausible_answers).
    _write(tmp_path / "squad/dev-v2.0.json", _squad_doc([], is_impossible=True))
    assert get_task("squad2").load("dev", "en", tmp_path)[0].answers == ()
    _write(tmp_path / "squad/dev-v2.0.json",
           _squad_doc([{"answer_start": 0, "text": "Paris"}], is_impossible=False))
    assert get_task("squad2").load("dev", "en", tmp_path)[0].answers[0].start == 0


def _mention(example_id: str, language: str, entity: str, end: int = 5) -> dict:
    return {"context": {"document_title": "T", "document_url": "u", "document_id": "d",
                        "language": language, "text": "Paris is big.", "sentence_spans": []},
            "mention": {"example_id": example_id, "entity_id": entity,
                        "mention_span": {"start": 0, "end": end, "text": "Paris"}}}


def test_mewslix_queries_of_one_language_and_pool(tmp_path: Path) -> None:
    _jsonl(tmp_path / "mewslix/wikinews_mentions-dev.jsonl", [
        _mention("m1", "de", "Q90"), _mention("m2", "es", "Q90"), _mention("m3", "de", "Q1", 4)])
    _jsonl(tmp_path / "mewslix/candidate_set_entities.jsonl", [
        {"entity_id": "Q90", "title": "Paris", "description": "Capital.",
         "description_language": "en", "description_url": "u", "sentence_spans": []}])
    with pytest.raises(DataFormatError, match="not context.text") as err:
        get_task("mewsli-x").load("dev", "de", tmp_path)
    assert err.value.line == 3
    items = get_task("mewsli-x").load("dev", "de", tmp_path, skip_bad_rows=True)
    assert [(i.id, i.side, i.gold) for i in items] == [("m1", "query", ("Q90",)),
                                                      ("Q90", "candidate", None)]
    assert get_task("mewsli-x").metric == "map@20"


def _xquad_r(lang: str, question: str) -> dict:
    context = "One two. Three four."
    return {"data": [{"title": "t", "paragraphs": [{
        "context": context, "sentences": ["One two.", "Three four."],
        "sentence_breaks": [[0, 8], [9, 20]],
        "qas": [{"id": "q1", "question": question,
                 "answers": [{"text": "Three", "answer_start": 9}]}]}]}]}


def test_lareqa_gold_spans_all_languages(tmp_path: Path) -> None:
    task = get_task("lareqa")
    for lang in task.languages:
        _write(tmp_path / f"lareqa/xquad-r/{lang}.json", json.dumps(_xquad_r(lang, f"Q {lang}")))
    items = task.load("test", "de", tmp_path)
    [query] = [i for i in items if i.side == "query"]
    assert query.text == "Q de" and len(query.gold) == len(task.languages)
    assert "de:data[0].paragraphs[0]:1" in query.gold
    assert sum(i.side == "candidate" for i in items) == 2 * len(task.languages)
    (tmp_path / "lareqa/xquad-r/zh.json").unlink()
    with pytest.raises(MissingDataError, match="zh.json"):
        task.load("test", "de", tmp_path)
