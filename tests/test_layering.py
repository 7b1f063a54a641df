"""The package layering: no module imports (even lazily) from a package above its own.

Why a test: an upward import is how the package-level cycles of issue 14 came about (the
evaluation code took its row type from the results store, retrieval and alignment imported
each other through lazy imports). Every ``import`` / ``from ... import`` of every module under
``src/xstilts`` counts, at module level, inside functions and under ``TYPE_CHECKING`` alike.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "xstilts"

# Top to bottom: a package may import from its own and from those below it, never above.
LAYERS: list[tuple[str, ...]] = [
    ("cli",),
    ("transfer_prediction",),
    ("report", "scoring", "export"),
    ("studies",),
    ("training",),
    ("alignment",),
    ("tasktypes",),
    ("evaluation",),
    ("tasks",),
    ("models",),
    ("errors", "languages", "language_tags", "language_typology", "language_distances",
     "text_scripts", "yaml_lines",
     "progress", "data", "distributed", "results", "prediction_files", "faults",
     "integrity"),
]
RANK = {package: i for i, layer in enumerate(LAYERS) for package in layer}


def package_of(module: str) -> str | None:
    """The top-level package (or module) of ``xstilts.<package>...``; None for ``xstilts``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "xstilts" else None


def imported_modules(path: Path, root: Path = SRC) -> list[tuple[int, str]]:
    """(line, module) of every xstilts import in ``path`` (a file under ``root``, the
    ``xstilts`` folder); relative imports resolved."""
    package = ("xstilts", *path.relative_to(root).with_suffix("").parts)[:-1]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # from . import x (level 1: this package), from ..y import z
                base = package[:len(package) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            # "from xstilts import tasks" imports the package tasks, not xstilts itself.
            found += [(node.lineno, f"{module}.{alias.name}" if module == "xstilts" else module)
                      for alias in node.names]
    return sorted((line, m) for line, m in found if m.split(".")[0] == "xstilts")


def upward_imports(root: Path = SRC) -> list[str]:
    problems = []
    for path in sorted(root.rglob("*.py")):
        own = package_of(".".join(("xstilts", *path.relative_to(root).with_suffix("").parts)))
        for line, module in imported_modules(path, root):
            target = package_of(module)
            if own is None or target is None or target == own:
                continue
            if own not in RANK or target not in RANK:
                problems.append(f"{path.relative_to(root)}:{line}: {own} -> {target}: a "
                                "package missing from LAYERS (add it where it belongs)")
            elif RANK[target] < RANK[own]:
                problems.append(f"{path.relative_to(root)}:{line}: {own} imports {module}, "
                                "a package above it")
    return problems


def test_every_package_is_placed():
    packages = {p.stem if p.is_file() else p.name for p in SRC.iterdir()
                if (p.is_dir() and (p / "__init__.py").is_file())
                or (p.suffix == ".py" and p.stem not in ("__init__", "__main__"))}
    assert packages - set(RANK) == set()


def test_no_module_imports_from_a_package_above_it():
    assert upward_imports() == []


def test_the_check_finds_upward_imports(tmp_path: Path):
    """The checker itself: an upward import at module level, a lazy one, a relative one and
    a TYPE_CHECKING one are all found; downward and same-package imports are not."""
    root = tmp_path / "xstilts"
    (root / "evaluation").mkdir(parents=True)
    (root / "evaluation" / "__init__.py").write_text("")
    (root / "evaluation" / "a.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "from xstilts.tasks import get_task\n"          # down: fine
        "from xstilts.evaluation import metrics\n"      # same package: fine
        "from . import b\n"                             # same package, relative: fine
        "import xstilts.studies.store\n"                # up (line 5)
        "def f():\n"
        "    from xstilts.alignment import x\n"         # up, lazy (line 7)
        "if TYPE_CHECKING:\n"
        "    from xstilts.tasktypes import Handler\n"   # up, annotations only (line 9)
        "from ..training import y\n"                    # up, relative (line 10)
        "from xstilts import results, cli\n")           # results: down; cli: up (line 11)
    found = upward_imports(root)
    assert [p.split(":")[1] for p in found] == ["5", "7", "9", "10", "11"]
    assert "imports xstilts.cli" in found[-1]
    (root / "newpkg").mkdir()
    (root / "newpkg" / "__init__.py").write_text("import xstilts.tasks\n")
    assert any("missing from LAYERS" in p for p in upward_imports(root))


@pytest.mark.parametrize("module, expected", [("xstilts.tasks.base", "tasks"),
                                              ("xstilts.results", "results"),
                                              ("xstilts", None)])
def test_package_of(module, expected):
    assert package_of(module) == expected
