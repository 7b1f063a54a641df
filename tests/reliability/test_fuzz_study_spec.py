"""Property-based fuzzing of the study file and of user task files (issue #17).

Hypothesis mutates valid documents (values replaced by random YAML values, keys added and
removed, NaN/inf numbers, non-string keys, deep nesting), breaks their text (cuts, BOMs, CRLF,
tabs, other encodings) and writes random bytes. The property: loading either succeeds (and the
later checks run without a traceback) or raises the project's validation error for that file
(:class:`~xstilts.errors.StudyConfigError` / :class:`~xstilts.tasks.user.TaskFileError`), every
problem naming a line or a key; never another exception type.

The module's last test asserts and prints how many cases ran.
"""

from __future__ import annotations

import copy
import math
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xstilts.errors import StudyConfigError
from xstilts.studies.planner import plan_study
from xstilts.studies.spec import StudySpec, load_study
from xstilts.studies.validation import check_study
from xstilts.tasks.user import TaskFileError, build_task, parse_task_file

N = 300
GENERATED: dict[str, int] = {}
VALID: dict[str, int] = {}  # cases that validated (the fuzzer must reach past validation too)
FUZZ = settings(max_examples=N, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

BASE_STUDY: dict[str, Any] = {
    "name": "fuzz", "encoder": "tiny:random", "seeds": [0, 1],
    "intermediate": ["none", "cldr-units", {"task": "cldr-units", "mlm": False}],
    "targets": [{"task": "cldr-continents", "languages": ["en", "de"]}],
    "training": {"epochs": 1, "learning_rate": 1e-4, "batch_size": 8},
    "evaluation": {}, "data": {"skip_bad_rows": False},
}
BASE_TASKS: dict[str, Any] = {"tasks": [{
    "name": "fuzz-task", "type": "pair_classification",
    "labels": ["entailment", "neutral", "contradiction"], "languages": ["en", "de"],
    "format": "tsv", "files": {"path": "{split}-{language}.tsv"},
    "columns": {"text_a": "premise", "text_b": "hypothesis", "label": "label"},
}]}
KEYS = ["name", "task", "tasks", "targets", "languages", "seeds", "seed", "encoder", "training",
        "epochs", "learning_rate", "mix", "labels", "type", "format", "files", "path",
        "columns", "text_a", "splits", "hf", "evaluation", "vocabulary", "task_files", "x"]

yaml_scalar = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70),
    st.sampled_from([0.0, -1.0, 1e-4, math.nan, math.inf, -math.inf, 1e308]),
    st.sampled_from(["none", "en", "xx", "cldr-units", "<script>", "../..", "/etc/passwd",
                     "{split}", "{bad}", "tsv", "hf", "regression", "", " ", "\t", "é"]),
    st.text(max_size=10),
)
yaml_value = st.recursive(yaml_scalar, lambda inner: st.one_of(
    st.lists(inner, max_size=3),
    st.dictionaries(st.one_of(st.sampled_from(KEYS), st.integers(0, 3)), inner, max_size=3),
), max_leaves=6)


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    """Every key path of a nested document (where a mutation can land)."""
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += _paths(value, (*prefix, i))
    return found


@st.composite
def mutated(draw: st.DrawFn, base: dict[str, Any]) -> Any:
    """A copy of ``base`` with a few values replaced, keys removed or added (or none: the
    valid document then meets only the text-level damage of :func:`file_bytes`)."""
    document = copy.deepcopy(base)
    for _ in range(draw(st.integers(0, 3))):
        path = draw(st.sampled_from(_paths(document)))
        value = draw(yaml_value)
        if not path:
            if draw(st.integers(0, 5)) == 0:
                document = value
            continue
        parent = document
        for part in path[:-1]:
            parent = parent[part]
        action = draw(st.sampled_from(["set", "set", "drop", "add"]))
        if action == "drop" and isinstance(parent, dict):
            parent.pop(path[-1], None)
        elif action == "add" and isinstance(parent, dict):
            parent[draw(st.sampled_from(KEYS))] = value
        else:
            parent[path[-1]] = value
    return document


def _dump(document: Any) -> str:
    return yaml.safe_dump(document, allow_unicode=True, sort_keys=False)


@st.composite
def file_bytes(draw: st.DrawFn, base: dict[str, Any]) -> bytes:
    """A mutated document's YAML, maybe broken as text or encoded wrongly, or random bytes."""
    kind = draw(st.integers(0, 9))
    if kind == 0:
        return draw(st.binary(max_size=200))
    text = _dump(draw(mutated(base)))
    if kind == 1:  # a cut anywhere
        text = text[: draw(st.integers(0, len(text)))]
    elif kind == 2:  # one character replaced (a tab, a quote, a colon, a bracket ...)
        at = draw(st.integers(0, max(len(text) - 1, 0)))
        text = text[:at] + draw(st.sampled_from(["\t", '"', ":", "[", "{", "&a", "*a", "\x00",
                                                 "- ", "\n  "])) + text[at + 1:]
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    text = text.replace("\n", newline)
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8-sig", "utf-16", "latin-1"]))
    return text.encode(encoding, errors="replace")


# "line N, key.path: problem", "key: problem", "not valid YAML: ...", "line N: not UTF-8"
PROBLEM = re.compile(r"^(line \d+, )?\S.*?: \S", re.S)


def _check_problems(err: StudyConfigError | TaskFileError, path: Path) -> None:
    assert err.path == str(path)
    assert err.problems, "a validation error must list its problems"
    for problem in err.problems:
        assert PROBLEM.match(problem), problem


def _fresh() -> tempfile.TemporaryDirectory:
    return tempfile.TemporaryDirectory(prefix="xstilts-fuzz-")


@FUZZ
@given(data=file_bytes(BASE_STUDY))
def test_study_files(data: bytes) -> None:
    GENERATED["study"] = GENERATED.get("study", 0) + 1
    with _fresh() as root:
        path = Path(root) / "study.yaml"
        path.write_bytes(data)
        try:
            spec = load_study(path)
        except StudyConfigError as err:
            _check_problems(err, path)
            return
        assert isinstance(spec, StudySpec)
        try:  # a study that validates must also plan, or fail with its file's error
            check_study(spec, path, None)
            plan = plan_study(spec)
        except StudyConfigError as err:
            _check_problems(err, path)
            return
    assert plan.runs
    VALID["study"] = VALID.get("study", 0) + 1
    for options in (spec.training.model_dump(), spec.evaluation.model_dump()):
        for value in options.values():
            assert not (isinstance(value, float) and not math.isfinite(value)), options


@FUZZ
@given(data=file_bytes(BASE_TASKS))
def test_task_files(data: bytes) -> None:
    GENERATED["task file"] = GENERATED.get("task file", 0) + 1
    with _fresh() as root:
        path = Path(root) / "tasks.yaml"
        path.write_bytes(data)
        try:
            spec = parse_task_file(path)
        except TaskFileError as err:
            _check_problems(err, path)
            return
        for declaration in spec.tasks:  # built (not registered): the registry stays clean
            task = build_task(declaration, Path(root))
            assert task.name == declaration.name
    VALID["task file"] = VALID.get("task file", 0) + 1


@FUZZ
@given(data=st.binary(max_size=300))
def test_study_files_of_random_bytes(data: bytes) -> None:
    GENERATED["study bytes"] = GENERATED.get("study bytes", 0) + 1
    with _fresh() as root:
        path = Path(root) / "study.yaml"
        path.write_bytes(data)
        with pytest.raises(StudyConfigError) as info:  # no study has no targets
            load_study(path)
    _check_problems(info.value, path)


def test_study_task_file_that_is_missing_or_a_folder(tmp_path: Path) -> None:
    """``task_files`` naming a folder, a missing file or a path outside is a listed problem."""
    (tmp_path / "folder").mkdir()
    study = {**BASE_STUDY, "task_files": ["folder", "missing.yaml", "/", "../../../x.yaml"]}
    path = tmp_path / "study.yaml"
    path.write_text(_dump(study), encoding="utf-8")
    with pytest.raises(StudyConfigError) as info:
        load_study(path)
    _check_problems(info.value, path)
    assert len(info.value.problems) == 4
    assert all("task_files." in p for p in info.value.problems)


def test_yaml_nested_past_the_recursion_limit_is_a_study_error(tmp_path: Path) -> None:
    path = tmp_path / "study.yaml"
    path.write_text("[" * 600 + "]" * 600, encoding="utf-8")  # PyYAML recurses per level
    with pytest.raises(StudyConfigError, match="nested too deeply") as info:
        load_study(path)
    _check_problems(info.value, path)


def test_non_finite_numbers_are_refused_with_their_key(tmp_path: Path) -> None:
    path = tmp_path / "study.yaml"
    study = copy.deepcopy(BASE_STUDY)
    study["training"]["learning_rate"] = math.inf
    study["target_training"] = {"weight_decay": math.nan}
    path.write_text(_dump(study), encoding="utf-8")
    with pytest.raises(StudyConfigError) as info:
        load_study(path)
    text = str(info.value)
    assert "training.learning_rate" in text and "target_training.weight_decay" in text


def test_generated_case_count(request: pytest.FixtureRequest) -> None:
    """Runs last in the module: every selected fuzz test ran its cases; print the total."""
    total = sum(GENERATED.values())
    fuzz_items = [item for item in request.session.items
                  if item.module.__name__ == __name__ and hasattr(item.obj, "hypothesis")]
    print(f"\nfuzz_study_spec: {total} generated cases in {len(fuzz_items)} fuzz tests; "
          f"valid: {VALID}")
    assert total >= 0.95 * N * len(fuzz_items)
    for name in VALID.keys() | {"study", "task file"}:
        if name in GENERATED:  # that test ran: some of its cases passed validation
            assert VALID.get(name, 0) > 0, name

