"""Code tasks read from ../shared/data: counts, parallel ids, negatives, reproducibility."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from xstilts.errors import DataFormatError, XstiltsError
from xstilts.tasks import TaskType, get_task
from xstilts.tasks.code import (
    HUMANEVAL_XL_LANGUAGES,
    _humaneval_xl_items,
    humaneval_xl_description,
    humaneval_xl_path,
    mbpp_entry_point,
    mbpp_split,
)
from xstilts.tasks.readers import recording_skipped_rows


def _positives_and_negatives(examples: list) -> tuple[dict, list]:
    positives = {ex.id.split(":")[0]: ex.texts for ex in examples if ex.label == 1}
    negatives = [ex for ex in examples if ex.label == 0]
    return positives, negatives


def test_humaneval_xl_languages_are_canonical_codes() -> None:
    task = get_task("humaneval-xl")
    assert task.type is TaskType.PAIR_CLASSIFICATION and task.needs_data_dir
    assert len(HUMANEVAL_XL_LANGUAGES) == 23
    assert {"zh", "af", "tl", "ms", "fa", "he", "en"} <= set(task.languages)
    assert task.data_path("test", "zh", Path("/d")) == Path("/d/humaneval-xl/python/Chinese.jsonl")


def test_humaneval_xl_splits_are_parallel_across_languages(shared_data: Path) -> None:
    task = get_task("humaneval-xl")
    sizes = {s: len(task.load(s, "en", shared_data)) for s in task.splits}
    assert sizes == {"train": 64, "dev": 20, "test": 76}  # 32 / 10 / 38 problems
    for split in task.splits:
        english = task.load(split, "en", shared_data)
        for language in task.languages:
            examples = task.load(split, language, shared_data)
            assert [ex.id for ex in examples] == [ex.id for ex in english]
            assert [ex.label for ex in examples] == [ex.label for ex in english]
            # the code side is the same; only the description is translated
            assert [ex.texts[1] for ex in examples] == [ex.texts[1] for ex in english]
            assert {ex.language for ex in examples} == {language}


def test_humaneval_xl_text_is_in_its_language_without_the_name_in_code(shared_data: Path) -> None:
    task = get_task("humaneval-xl")
    zh = task.load("test", "zh", shared_data)
    en = task.load("test", "en", shared_data)
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in ex.texts[0]) for ex in zh)
    assert all(a.texts[0] != b.texts[0] for a, b in zip(zh, en, strict=True))
    items, _ = _humaneval_xl_items(humaneval_xl_path("test", "en", shared_data), "en")
    assert all(">>>" not in text_a for split in items.values() for _, text_a, _ in split)
    assert "def " not in en[0].texts[1] and "below_zero" not in " ".join(e.texts[1] for e in en)


def test_localized_example_heading_is_cut() -> None:
    prompt = (
        'def add(x, y):\n    """Tel twee getalle op.\n    Voorbeeld:\n    add(1, 2) == 3\n'
        '    add(2, 2) == 4\n    """\n'
    )
    assert humaneval_xl_description(prompt, "add") == "Tel twee getalle op."


@pytest.mark.parametrize(
    ("name", "sizes"),
    [
        ("humaneval-xl", {"train": 64, "dev": 20, "test": 76}),
        ("humaneval-match-xl-disjoint", {"train": 142, "dev": 20}),
        ("mbpp-match", {"train": 748, "dev": 180, "test": 1000, "prompt": 20}),
        ("codexglue-java-cs", {"train": 20590, "dev": 998, "test": 2000}),
    ],
)
def test_match_tasks_have_balanced_distinct_reproducible_negatives(
    shared_data: Path, name: str, sizes: dict[str, int]
) -> None:
    task = get_task(name)
    assert task.labels == ("no_match", "match")
    for split, size in sizes.items():
        examples = task.load(split, "en", shared_data)
        assert len(examples) == size
        positives, negatives = _positives_and_negatives(examples)
        assert len(positives) == len(negatives) == size // 2
        pairs = set(positives.values())
        for neg in negatives:
            assert neg.texts not in pairs
            owner, _, donor = neg.id.split(":")
            assert donor != owner and donor in positives  # drawn from the same split
            assert neg.texts[1] == positives[donor][1] != positives[owner][1]
        assert task.reader(split, "en", shared_data) == examples  # same draws every time


def test_humaneval_disjoint_excludes_every_xl_problem(shared_data: Path) -> None:
    xl = get_task("humaneval-xl").load("test", "en", shared_data)
    xl_code = {ex.texts[1] for ex in xl}
    disjoint = get_task("humaneval-match-xl-disjoint")
    for split in disjoint.splits:
        assert not xl_code & {ex.texts[1] for ex in disjoint.load(split, "en", shared_data)}


def test_mbpp_uses_the_paper_splits() -> None:
    assert [mbpp_split(i) for i in (1, 10, 11, 510, 511, 600, 601, 974, 975)] == [
        "prompt", "prompt", "test", "test", "dev", "dev", "train", "train", None,
    ]
    code = "def helper(x):\n    return x\ndef min_cost(a):\n    return helper(a)"
    assert mbpp_entry_point(code, ["assert min_cost(3) == 3"]) == "min_cost"


def test_mbpp_code_hides_the_function_name(shared_data: Path) -> None:
    examples = get_task("mbpp-match").load("train", "en", shared_data)
    first = next(ex for ex in examples if ex.id == "mbpp/601:match")
    assert "def solve(" in first.texts[1] and "\r" not in first.texts[1]


def test_cosqa_is_an_evaluation_only_dev_split(shared_data: Path) -> None:
    task = get_task("cosqa")
    assert task.splits == ("dev",) and task.test_split == "dev"
    examples = task.load("dev", "en", shared_data)
    assert len(examples) == 604 and sum(ex.label for ex in examples) == 313
    with pytest.raises(XstiltsError, match="no split 'train'"):
        task.load("train", "en", shared_data)


def test_bad_jsonl_line_names_file_and_line(tmp_path: Path) -> None:
    folder = tmp_path / "humaneval-xl" / "python"
    folder.mkdir(parents=True)
    (folder / "German.jsonl").write_text('{"task_id": "python/0"}\nnot json\n', encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"German\.jsonl:2: broken JSON"):
        get_task("humaneval-xl").load("test", "de", tmp_path)


# --------------------------------------------------------------------------------------------
# skip_bad_rows: a bad row fails with file and line by default; skipped, it is counted


def _skipping_load(task: str, split: str, data_dir: Path) -> tuple[list, dict]:
    """Load with skip_bad_rows=True; the examples and the recorded file -> count."""
    with recording_skipped_rows() as skipped:
        examples = get_task(task).load(split, "en", data_dir, skip_bad_rows=True)
    return examples, skipped.get("skipped_rows", {})


def _xl_problem(i: int) -> str:
    return json.dumps({
        "task_id": f"python/{i}", "entry_point": f"add_{i}",
        "prompt": f'def add_{i}(x):\n    """Add {i} to x."""\n',
        "canonical_solution": f"    return x + {i}\n",
    })


def test_humaneval_xl_skips_a_broken_line(tmp_path: Path) -> None:
    folder = tmp_path / "humaneval-xl" / "python"
    folder.mkdir(parents=True)
    path = folder / "English.jsonl"
    lines = [_xl_problem(i) for i in range(12)]
    lines.insert(4, '{"task_id": "python/99", "prompt": ')  # line 5: cut-off JSON
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    task = get_task("humaneval-xl")
    with pytest.raises(DataFormatError, match=r"English\.jsonl:5: broken JSON"):
        task.load("train", "en", tmp_path)
    total, counts = 0, {}
    for split in task.splits:
        examples, counts = _skipping_load("humaneval-xl", split, tmp_path)
        total += len(examples)
    # 12 good problems, one positive and one negative each: 24 pairs over the three splits
    assert total == 24
    assert counts == {str(path): 1}  # recorded on every read, not only the first (cached)


def test_mbpp_skips_broken_lines_and_bad_task_ids(tmp_path: Path) -> None:
    path = tmp_path / "mbpp" / "mbpp.jsonl"
    path.parent.mkdir()
    rows = [json.dumps({"task_id": 601 + i, "text": f"Add {i}.",
                        "code": f"def add(x):\n    return x + {i}",
                        "test_list": [f"assert add(1) == {1 + i}"]}) for i in range(5)]
    rows.insert(1, "not json")  # line 2
    rows.insert(3, json.dumps({"task_id": "six", "text": "t", "code": "c"}))  # line 4
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"mbpp\.jsonl:2: broken JSON"):
        get_task("mbpp-match").load("train", "en", tmp_path)
    examples, counts = _skipping_load("mbpp-match", "train", tmp_path)
    # task ids 601-605 are all train: 5 problems -> 10 pairs; lines 2 and 4 dropped
    assert len(examples) == 10 and counts == {str(path): 2}
    assert {ex.id.split(":")[0] for ex in examples} == {f"mbpp/{601 + i}" for i in range(5)}


def test_java_cs_drops_both_sides_of_a_bad_line(tmp_path: Path) -> None:
    folder = tmp_path / "codexglue" / "code-to-code-trans"
    folder.mkdir(parents=True)
    java, cs = folder / "test.java-cs.txt.java", folder / "test.java-cs.txt.cs"
    java.write_text("".join(f"int f{i}() {{ return {i}; }}\n" for i in range(4)))
    cs.write_bytes(b"".join(b"int F%d() { return %d; }\n" % (i, i) if i != 2 else b"\xff\xfe\n"
                            for i in range(4)))
    with pytest.raises(DataFormatError, match=r"test\.java-cs\.txt\.cs:3: not valid UTF-8"):
        get_task("codexglue-java-cs").load("test", "en", tmp_path)
    examples, counts = _skipping_load("codexglue-java-cs", "test", tmp_path)
    # lines 1, 2, 4 stay paired (ids are line - 1): 3 pairs -> 6 examples
    assert len(examples) == 6 and counts == {str(cs): 1}
    assert {ex.id.split(":")[0] for ex in examples} == {"test/0", "test/1", "test/3"}
    assert all(ex.texts[1].startswith("int F") for ex in examples)


def test_cosqa_skips_a_bad_entry_naming_its_line(tmp_path: Path) -> None:
    path = tmp_path / "codexglue" / "cosqa" / "cosqa-dev.json"
    path.parent.mkdir(parents=True)
    entries = [{"idx": f"q{i}", "doc": f"query {i}", "code": f"def f(): return {i}",
               "label": i % 2} for i in range(4)]
    entries[2]["label"] = 2
    path.write_text(json.dumps(entries, indent=1), encoding="utf-8")
    # indent=1: line 1 is "[", each entry takes 6 lines ("{", its 4 keys, "}"), so entry k
    # starts on line 2 + 6k: entry 2 on line 14
    with pytest.raises(DataFormatError, match=r"cosqa-dev\.json:14: label 2 is not 0 or 1"):
        get_task("cosqa").load("dev", "en", tmp_path)
    examples, counts = _skipping_load("cosqa", "dev", tmp_path)
    assert [ex.id for ex in examples] == ["q0", "q1", "q3"] and counts == {str(path): 1}


def test_humaneval_disjoint_reads_its_exclusion_list_strictly(tmp_path: Path) -> None:
    folder = tmp_path / "humaneval-xl" / "python"
    folder.mkdir(parents=True)
    (folder / "English.jsonl").write_text(_xl_problem(0) + "\nnot json\n", encoding="utf-8")
    for skip in (False, True):
        with pytest.raises(DataFormatError, match=r"English\.jsonl:2: broken JSON") as err:
            get_task("humaneval-match-xl-disjoint").load("train", "en", tmp_path,
                                                         skip_bad_rows=skip)
        assert ("a skipped line would leak one" in str(err.value)) is skip
