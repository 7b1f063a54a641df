"""Rows of a ``format: hf`` user task, read with Hugging Face ``datasets``.

Why a separate module: ``datasets`` is an optional dependency (``pip install 'xstilts[hf]'``),
imported only when a split is actually read, so task files that merely *declare* hub tasks
load without it, and everything else in xstilts never pays for it.

``hf.name`` is a hub id (``google/xtreme``) read with :func:`datasets.load_dataset`, or a folder
written by ``save_to_disk`` (relative to the task file), read with :func:`datasets.load_from_disk`.
``hf.config`` may contain ``{language}`` (``PAWS-X.{language}``), else one config holds every
language and ``hf.language_column`` selects the rows (XTREME's ``XNLI`` config: ``language``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from xstilts.errors import XstiltsError

if TYPE_CHECKING:
    from xstilts.tasks.user import HubSpec

Row = tuple[int, Mapping[str, Any]]
LanguageFilter = Callable[[Iterable[Row], "str | None", str, str], Iterator[Row]]


def require_datasets() -> Any:
    """The ``datasets`` module, or an error that says how to install it."""
    try:
        import datasets
    except ImportError as err:
        raise XstiltsError(
            "format: hf needs the Hugging Face 'datasets' package: "
            "pip install 'xstilts[hf]' (or pip install 'datasets>=2.19')"
        ) from err
    return datasets


def hf_split(spec: HubSpec, split: str) -> str:
    """The dataset's name for one of our splits (``dev`` -> ``validation`` when mapped)."""
    return spec.splits.get(split, split)


def hf_config(spec: HubSpec, language: str) -> str | None:
    return spec.config.format(language=language) if spec.config else None


def local_folder(spec: HubSpec, base: Path) -> Path | None:
    """The ``save_to_disk`` folder ``hf.name`` names, if it is one (relative to the task file)."""
    candidate = Path(spec.name).expanduser()
    candidate = candidate if candidate.is_absolute() else base / candidate
    return candidate if candidate.is_dir() else None


def load_split(spec: HubSpec, base: Path, split: str, language: str) -> tuple[str, Any]:
    """(a name for error messages, the ``datasets.Dataset`` of one split and language)."""
    datasets = require_datasets()
    name, config = hf_split(spec, split), hf_config(spec, language)
    folder = local_folder(spec, base)
    where = f"hf:{spec.name}" + (f"[{config}]" if config else "") + f"/{name}"
    try:
        if folder is not None:
            loaded = datasets.load_from_disk(str(folder))
            if config is not None:
                raise XstiltsError(f"{where}: a save_to_disk folder has no configs; drop hf.config")
            return where, loaded[name] if isinstance(loaded, datasets.DatasetDict) else loaded
        return where, datasets.load_dataset(spec.name, config, split=name,
                                            revision=spec.revision)
    except KeyError as err:
        raise XstiltsError(f"{where}: the dataset has no split {name!r}; map ours to theirs "
                           "with hf.splits (e.g. {dev: validation})") from err
    except (FileNotFoundError, ValueError, ConnectionError) as err:
        raise XstiltsError(f"{where}: cannot load the dataset: {err}") from err


def hf_rows(spec: HubSpec, base: Path, of_language: LanguageFilter, *,
            spell: Callable[[str], str] = str) -> Callable[
        [str, str, Path | None], tuple[str, Iterable[Row]]]:
    """A row source for :mod:`xstilts.tasks.user`: rows numbered from 1 like file lines.
    ``spell`` writes a language as the task file does (for ``hf.config``)."""

    def rows(split: str, language: str, data_dir: Path | None) -> tuple[str, Iterable[Row]]:
        where, dataset = load_split(spec, base, split, spell(language))
        numbered = ((index, dict(row)) for index, row in enumerate(dataset, start=1))
        return where, of_language(numbered, spec.language_column, language, where)

    return rows
