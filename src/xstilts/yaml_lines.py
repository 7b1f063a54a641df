"""Where a key path sits in a YAML file, so validation errors can name the line.

Shared by the study file (:mod:`xstilts.studies.spec`) and user task files
(:mod:`xstilts.tasks.user`): both validate with pydantic, whose error locations are key paths.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from xstilts.errors import XstiltsError


def read_yaml_mapping(path: Path, what: str,
                      error: Callable[[Path, list[str]], Exception]) -> tuple[yaml.Node, dict]:
    """Parse a YAML file that must be a mapping; return its node tree (for line numbers) and
    its data. ``error(path, problems)`` builds the exception for a broken file."""
    if not path.is_file():
        raise XstiltsError(f"{what} not found: {path}")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise error(path, [f"line {line}: not valid UTF-8 (byte {err.start}); save the "
                           f"{what} as UTF-8"]) from None
    try:
        root = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise error(path, [f"not valid YAML: {err}"]) from err
    except RecursionError:  # nesting deeper than Python's recursion limit
        raise error(path, ["not valid YAML: nested too deeply to read"]) from None
    if not isinstance(data, dict):
        raise error(path, [f"the {what} must be a YAML mapping (key: value lines)"])
    return root, data


def line_of(node: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """1-based line of the deepest YAML node on ``loc`` that exists in the file."""
    if node is None:
        return None
    line = node.start_mark.line + 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = [(k, v) for k, v in node.value if getattr(k, "value", None) == str(part)]
            if not match:
                break
            line, node = match[0][0].start_mark.line + 1, match[0][1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                break
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


def file_line(path: Path, loc: tuple[Any, ...]) -> int | None:
    """Line of a key path in a YAML file, for semantic errors found after parsing."""
    try:
        return line_of(yaml.compose(path.read_text(encoding="utf-8")), loc)
    except (OSError, yaml.YAMLError):
        return None


def describe_validation_error(error: Any, root: yaml.Node | None, *, keys_doc: str) -> str:
    """One pydantic error as "line N, key.path: problem (got value)"; ``keys_doc`` names where
    the valid keys are documented (for unknown keys). Union member names that pydantic puts
    into the location (e.g. ``IntermediateSpec``) are left out of the key path."""
    loc = tuple(p for p in error["loc"] if not _is_union_tag(p))
    key = ".".join(str(p) for p in loc) or "(top level)"
    line = line_of(root, loc)
    where = f"line {line}, " if line else ""
    if error["type"] == "extra_forbidden":
        return f"{where}{key}: unknown key (check the spelling; see {keys_doc})"
    if error["type"] == "missing":
        return f"{where}{key}: required key is missing"
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{where}{key}: {message} (got {error.get('input')!r})"


def _is_union_tag(part: Any) -> bool:
    # pydantic puts the union member's name into loc (e.g. 'IntermediateSpec', "literal['none']",
    # 'function-after[_task_or_mix(), IntermediateSpec]'); file keys never look like that.
    return isinstance(part, str) and (part[:1].isupper() or "[" in part)
