"""Security properties of xstilts (issue #17).

- No unsafe deserialisation anywhere in the package: no pickle (or dill, joblib, shelve,
  marshal, pandas.read_pickle, numpy allow_pickle), ``torch.load`` only with
  ``weights_only=True``, YAML only through the safe loader. Checked on the source's AST, so a
  new module cannot slip one in.
- Remote code: nothing passes ``trust_remote_code`` but the literal ``False`` (a study has no
  way to turn it on, which is stricter than "only when a study sets it").
- Nothing a study or task file names can make xstilts write outside the output folder: names
  with ``..``, slashes or absolute paths are refused by validation, the names that validate
  stay inside OUT, and a symlink planted at a file xstilts writes is replaced, not followed.
- Every text from data, study and task files is escaped in the HTML report: ``<script>`` in a
  task name, an intermediate configuration, a label, a sentence and the study description.
"""

from __future__ import annotations

import ast
import hashlib
import json
import textwrap
from pathlib import Path
from types import SimpleNamespace as StoredRun

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

import xstilts
from xstilts.errors import StudyConfigError
from xstilts.prediction_files import gold_pairs_file, language_file, mined_pairs_file
from xstilts.report.summary import write_report
from xstilts.results import Score
from xstilts.studies.spec import StudySpec, load_study
from xstilts.studies.store import ResultStore
from xstilts.tasks.user import (
    TaskFileError,
    UserTaskDefinition,
    UserTaskSpec,
    parse_task_file,
    save_definitions,
)

SRC = Path(xstilts.__file__).resolve().parent
SCRIPT = "<script>alert('{}')</script>"


def _modules() -> list[tuple[Path, ast.Module]]:
    return [(path, ast.parse(path.read_text(encoding="utf-8"), str(path)))
            for path in sorted(SRC.rglob("*.py"))]


def _dotted(node: ast.AST) -> str:
    """``torch.load`` for ``torch.load``, ``np.load`` for ``np.load``; '' otherwise."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return ".".join(reversed(parts))


def _keyword(call: ast.Call, name: str) -> ast.AST | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _is_constant(node: ast.AST | None, value: object) -> bool:
    return isinstance(node, ast.Constant) and node.value is value


UNSAFE_MODULES = {"pickle", "cPickle", "_pickle", "dill", "cloudpickle", "joblib", "shelve",
                  "marshal", "jsonpickle"}
UNSAFE_CALLS = {"pd.read_pickle", "pandas.read_pickle", "yaml.load", "yaml.unsafe_load",
                "yaml.full_load", "yaml.load_all", "yaml.unsafe_load_all", "torch.jit.load",
                "np.fromfile", "eval", "exec"}


def unsafe_deserialisation(path: Path, tree: ast.Module) -> list[str]:
    """Every unsafe import or call of one module, as ``file:line: what``."""
    found = []
    for node in ast.walk(tree):
        where = f"{path.relative_to(SRC)}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""]
            found += [f"{where}: imports {n}" for n in names
                      if n.split(".")[0] in UNSAFE_MODULES]
        if not isinstance(node, ast.Call):
            continue
        name = _dotted(node.func)
        if name in UNSAFE_CALLS:
            found.append(f"{where}: calls {name}")
        if name == "torch.load" and not _is_constant(_keyword(node, "weights_only"), True):
            found.append(f"{where}: torch.load without weights_only=True")
        if name in {"np.load", "numpy.load"} and not _is_constant(
                _keyword(node, "allow_pickle"), False) and _keyword(node, "allow_pickle"):
            found.append(f"{where}: np.load with allow_pickle")
    return found


def test_no_unsafe_deserialisation_in_the_package() -> None:
    problems = [p for path, tree in _modules() for p in unsafe_deserialisation(path, tree)]
    assert problems == []


def test_the_scan_finds_what_it_looks_for(tmp_path: Path) -> None:
    """The scan above is only worth something if it flags the patterns it lists."""
    bad = textwrap.dedent("""\
        import pickle
        from joblib import load
        import torch, yaml, numpy as np
        torch.load("x.pt")
        torch.load("x.pt", weights_only=False)
        yaml.load("a: 1")
        np.load("x.npy", allow_pickle=True)
        torch.load("ok.pt", weights_only=True)
        """)
    path = SRC / "_scan_example.py"  # a name under SRC (relative_to); never written
    found = unsafe_deserialisation(path, ast.parse(bad))
    assert [f.split(": ", 1)[1] for f in found] == [
        "imports pickle", "imports joblib", "torch.load without weights_only=True",
        "torch.load without weights_only=True", "calls yaml.load", "np.load with allow_pickle"]


def test_remote_code_is_never_trusted() -> None:
    """Every ``trust_remote_code`` the package passes (keyword or kwargs dict) is ``False``."""
    seen, problems = 0, []
    for path, tree in _modules():
        for node in ast.walk(tree):
            values = []
            if isinstance(node, ast.Call):
                values = [k.value for k in node.keywords if k.arg == "trust_remote_code"]
            elif isinstance(node, ast.Dict):
                values = [v for k, v in zip(node.keys, node.values, strict=True)
                          if isinstance(k, ast.Constant) and k.value == "trust_remote_code"]
            for value in values:
                seen += 1
                if not _is_constant(value, False):
                    problems.append(f"{path.relative_to(SRC)}:{node.lineno}")
    assert problems == [] and seen >= 2  # encoders.py and vocab_trim.py pass it explicitly


# --- names that become paths ----------------------------------------------------------------

PATHLIKE = st.one_of(
    st.sampled_from(["..", ".", "../x", "a/../../b", "/etc/passwd", "C:\\x", "a\\..\\b",
                     "x/y", "~", "~/x", "", " ", "a\x00b", "a\nb", "..\n"]),
    st.text(alphabet=st.sampled_from(list("./\\~:a-_@ \x00\n")), max_size=8),
)


def _inside(path: Path, folder: Path) -> bool:
    return path.resolve().is_relative_to(folder.resolve())


@settings(max_examples=300, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=PATHLIKE)
def test_task_and_study_names_stay_inside_out(tmp_path: Path, name: str) -> None:
    """A name either fails validation, or every file named after it lies inside OUT.

    The writers are the real ones (``save_definitions``) or the path functions the writers
    use (prediction files); OUT/studies/<name>.json follows the executor's pattern."""
    out = tmp_path / "out"
    declaration = {"name": name, "type": "classification", "labels": ["a", "b"],
                   "languages": ["en"], "format": "tsv", "files": {"path": "x.tsv"},
                   "columns": {"text_a": "t", "label": "l"}}
    try:
        task = UserTaskSpec.model_validate(declaration)
    except ValidationError:
        pass
    else:
        assert "/" not in task.name and "\\" not in task.name and "\x00" not in task.name
        definition = UserTaskDefinition(task.name, str(tmp_path), task.model_dump_json())
        save_definitions(out, [definition])
        written = [p for p in tmp_path.rglob("*") if p.is_file()]
        assert written and all(_inside(p, out / "tasks") for p in written), written
        for p in written:
            p.unlink()
    try:
        study = StudySpec.model_validate({"name": name, "targets": ["xnli"]})
    except ValidationError:
        return
    assert _inside(out / "studies" / f"{study.name}.json", out / "studies")


def test_path_names_are_refused_with_their_key(tmp_path: Path) -> None:
    study = tmp_path / "study.yaml"
    study.write_text("name: ../../evil\ntargets: [xnli]\n", encoding="utf-8")
    with pytest.raises(StudyConfigError, match="line 1, name: String should match"):
        load_study(study)
    tasks = tmp_path / "tasks.yaml"
    tasks.write_text(textwrap.dedent(f"""\
        tasks:
          - name: /tmp/evil
            type: classification
            labels: [a, b]
            languages: [en]
            format: tsv
            files: {{path: x.tsv}}
            columns: {{text_a: t, label: l}}
          - name: "{SCRIPT.format('task')}"
            type: classification
            labels: [a, b]
            languages: [en]
            format: tsv
            files: {{path: x.tsv}}
            columns: {{text_a: t, label: l}}
        """), encoding="utf-8")
    with pytest.raises(TaskFileError) as info:
        parse_task_file(tasks)
    assert [p.split(":")[0] for p in info.value.problems] == [
        "line 2, tasks.0.name", "line 9, tasks.1.name"]


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(code=st.one_of(st.text(max_size=12), st.sampled_from(
    ["de", "deu", "German", "zh-Hans", "en-x-a..b", "sr-Latn", "../de", "de/..", "und"])))
def test_language_codes_make_file_names_inside_the_predictions_folder(code: str) -> None:
    """Prediction files are named after the canonical code of a language, whatever spelling
    a study or task file used; an accepted code is a plain file stem."""
    from xstilts.errors import XstiltsError
    from xstilts.languages import get_language

    try:
        canonical = get_language(code).code
    except XstiltsError:
        return
    folder = Path("/out/runs/r/predictions")
    assert "/" not in canonical and "\\" not in canonical and canonical not in {".", ".."}
    for path in (language_file(folder, canonical), mined_pairs_file(folder, canonical),
                 gold_pairs_file(folder, canonical), language_file(folder, canonical, "xx")):
        assert path.parent == folder


def test_a_symlink_planted_in_out_is_replaced_not_followed(tmp_path: Path) -> None:
    """OUT/tasks/<name>.json planted as a symlink to a file outside: writing the task's
    definition must replace the link, never overwrite the file it points to."""
    victim = tmp_path / "victim.txt"
    victim.write_text("precious", encoding="utf-8")
    out = tmp_path / "out"
    (out / "tasks").mkdir(parents=True)
    (out / "tasks" / "my-task.json").symlink_to(victim)
    save_definitions(out, [UserTaskDefinition("my-task", str(tmp_path), "{}")])
    assert victim.read_text(encoding="utf-8") == "precious"
    saved = out / "tasks" / "my-task.json"
    assert not saved.is_symlink() and json.loads(saved.read_text())["name"] == "my-task"


# --- the HTML report escapes every text -----------------------------------------------------

def _store_with_names(out: Path, task: str, configs: list[str]) -> None:
    """A finished two-seed study with the given task and intermediate names (a real store and
    real prediction files, as tests/test_report_analysis.py builds them)."""
    store = ResultStore(out)
    rng = np.random.default_rng(3)
    runs = [StoredRun(id=hashlib.sha1(f"{c}/{s}".encode()).hexdigest()[:16], kind="target",
                      encoder="tiny:random", intermediate=c, task=task, seed=s, parent=None,
                      settings={"seed": s}) for c in configs for s in (0, 1)]
    store.register("evil", runs)
    for run in runs:
        predictions = out / "runs" / run.id / "predictions"
        predictions.mkdir(parents=True)
        metrics = []
        for language in ("en", "de"):
            correct = rng.random(20) < 0.6
            with (predictions / f"{language}.jsonl").open("w") as f:
                for i, ok in enumerate(correct):
                    f.write(json.dumps({"id": f"{language}-{i}", "gold": i % 2,
                                        "prediction": i % 2 if ok else 1 - i % 2}) + "\n")
            metrics.append(Score("accuracy", float(correct.mean()), 0.0, 1.0, 20, task=task,
                                 language=language, split="test"))
        store.mark_running(run.id)
        store.mark_done(run.id, metrics, {"wall_seconds": 1.0})
    store.close()
    (out / "studies").mkdir()
    (out / "studies" / "evil.json").write_text(json.dumps(
        {"name": "evil", "seeds": [0, 1], "description": SCRIPT.format("description")}))


def test_report_escapes_task_config_and_description(tmp_path: Path) -> None:
    out = tmp_path / "out"
    _store_with_names(out, SCRIPT.format("task"), ["none", SCRIPT.format("config")])
    report = write_report(out, "evil", formats=["html"], resamples=50)
    page = (report / "index.html").read_text(encoding="utf-8")
    assert "<script>alert" not in page
    for what in ("task", "config", "description"):
        assert f"&lt;script&gt;alert(&#x27;{what}&#x27;)&lt;/script&gt;" in page, what
    assert page.count("<script>") == 1  # the page's own table-sorting script


def _files(root: Path, leave_out: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and not p.is_relative_to(leave_out)}


def test_a_hostile_study_writes_only_inside_out_and_its_report_escapes(tmp_path: Path) -> None:
    """A real (tiny) study whose name is ``..``, whose task file reads data through ``..``,
    and whose label, sentences and description carry ``<script>``: every file it writes lies
    inside OUT, and the HTML report shows none of the markup unescaped."""
    from xstilts.studies.executor import run_study

    data = tmp_path / "data"
    data.mkdir()
    label = SCRIPT.format("label")
    for split, count in (("train", 24), ("dev", 8), ("test", 8)):
        for language in ("en", "de"):
            rows = [f"{SCRIPT.format('sentence')} {language} word{i}\t"
                    f"{label if i % 2 else 'plain'}" for i in range(count)]
            (data / f"{split}-{language}.tsv").write_text(
                "\n".join(["text\tlabel", *rows]) + "\n", encoding="utf-8")
    study_dir = tmp_path / "study"
    (study_dir / "tasks").mkdir(parents=True)
    (study_dir / "tasks" / "evil.yaml").write_text(textwrap.dedent(f"""\
        tasks:
          - name: evil-task
            type: classification
            labels: ["{label}", plain]
            languages: [en, de]
            format: tsv
            files: {{path: '../../data/{{split}}-{{language}}.tsv'}}
            columns: {{text_a: text, label: label}}
        """), encoding="utf-8")
    study = study_dir / "study.yaml"
    study.write_text(textwrap.dedent(f"""\
        name: ..
        description: "{SCRIPT.format('description')}"
        encoder: tiny:random
        seeds: [0]
        task_files: [tasks/evil.yaml]
        targets: [{{task: evil-task, languages: [en, de]}}]
        training: {{epochs: 1, batch_size: 8, max_seq_length: 16}}
        evaluation: {{bootstrap_resamples: 20}}
        """), encoding="utf-8")
    out = tmp_path / "out"
    before = _files(tmp_path, out)

    spec = load_study(study)
    outcome = run_study(spec, out, study_path=study, log=lambda _: None)
    assert not outcome.failed and len(outcome.done) == 1
    report = write_report(out, "..")

    assert _files(tmp_path, out) == before  # nothing written (or changed) outside OUT
    assert all(p.resolve().is_relative_to(out.resolve()) for p in out.rglob("*"))
    page = (report / "index.html").read_text(encoding="utf-8")
    assert "<script>alert" not in page and page.count("<script>") == 1
    assert "&lt;script&gt;alert(&#x27;description&#x27;)" in page
