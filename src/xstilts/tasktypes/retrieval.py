"""Retrieval as a task type: no head and no training, the encoder itself is pooled and scored.

Why a handler like the other task types: what differs between retrieval tasks is decided here
once, by the task's :class:`~xstilts.tasks.base.RetrievalKind`, never by its name:

- ``bitext`` (Tatoeba): accuracy of each query's nearest neighbour, in the protocol's
  direction(s); the only kind a learned alignment can be fitted and scored on;
- ``mining`` (BUCC 2018): F1 of the pairs mined from two sentence sets (source -> English);
  by default the dev split, because the test gold is withheld;
- ``pooled`` (Mewsli-X, LAReQA): mAP@20 of each query against one shared candidate pool.

The handler owns the protocol a task is searched under (:meth:`RetrievalHandler.protocol`),
the split it scores (:meth:`RetrievalHandler.split`), a study run's evaluation
(:meth:`RetrievalHandler.evaluate_run`) and ``xstilts retrieve``
(:meth:`RetrievalHandler.retrieve`); the metrics themselves stay in :mod:`xstilts.evaluation`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from xstilts.errors import XstiltsError
from xstilts.evaluation.pooled_retrieval import MAP_K, evaluate_pooled_retrieval
from xstilts.evaluation.retrieval import (
    HeldoutHook,
    Protocol,
    evaluate_bucc,
    evaluate_tatoeba,
    load_model,
    resolve_protocol,
)
from xstilts.evaluation.retrieval_protocols import AUTO, FIXED_DIRECTIONS, task_direction
from xstilts.tasks import get_task, list_tasks
from xstilts.tasks.base import RetrievalKind, Task, TaskType
from xstilts.tasktypes.registry import register_encoder_handler
from xstilts.tasktypes.retrieval_scoring import RetrievalScoring

if TYPE_CHECKING:  # transformers' modeling code takes ~2 s to import; annotations only
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

    Pair = tuple[PreTrainedModel, PreTrainedTokenizerBase]


def retrieval_task_names() -> tuple[str, ...]:
    """The registered retrieval tasks, kind by kind (bitext, mining, pooled), for messages."""
    order = list(RetrievalKind)
    found = [t for t in list_tasks() if t.retrieval_kind is not None]
    return tuple(t.name for t in sorted(found, key=lambda t: order.index(t.retrieval_kind)))


class RetrievalHandler(RetrievalScoring):
    """The handler of :attr:`TaskType.RETRIEVAL` (see the module docstring); its metrics and
    per-example statistics: :class:`~xstilts.tasktypes.retrieval_scoring.RetrievalScoring`."""

    types = (TaskType.RETRIEVAL,)

    def kind(self, task: Task) -> RetrievalKind:
        if task.retrieval_kind is None:
            raise XstiltsError(f"task {task.name!r} ({task.type}) declares no "
                               "retrieval_kind (bitext, mining or pooled)")
        return task.retrieval_kind

    def split(self, task: Task, split: str | None) -> str:
        """The split to score: ``split`` if the task has it, else a clear error; by default
        the task's test split, or its dev split where the test gold is withheld (BUCC)."""
        if split is None:
            return task.dev_split if task.test_gold_withheld else task.test_split
        if split not in task.splits:
            raise ValueError(f"task {task.name!r} has no split {split!r}; it has "
                             f"{', '.join(task.splits)}")
        return split

    def protocol(self, task: Task, model_name: str, encoder: PreTrainedModel, *,
                 preset: str = AUTO, layer: int | None = None, pooling: str | None = None,
                 prefix: str | None = None, direction: str | None = None,
                 layer_from: str | None = None) -> Protocol:
        """The preset with every given value overriding it, in the direction ``task``
        searches in (a mining or pooled task's own, whatever was asked)."""
        kind = self.kind(task)
        if kind in FIXED_DIRECTIONS:
            direction = "xx2en"  # a preset direction to resolve with; the kind's own below
        protocol = resolve_protocol(model_name, encoder, preset=preset, layer=layer,
                                    pooling=pooling, prefix=prefix, direction=direction,
                                    layer_from=layer_from)
        return replace(protocol, direction=task_direction(kind, protocol.direction))

    def evaluate_run(self, pair: Pair, task: Task, languages: Sequence[str],
                     data_dir: Path | None, *, split: str, protocol: Protocol,
                     max_examples: int | None, batch_size: int, resamples: int, seed: int,
                     predictions_dir: Path, heldout: HeldoutHook | None = None) -> list[dict]:
        """A study run's result rows (each a dict with at least language, metric, value, n).

        What a study's evaluation options mean per kind, as they always have: bitext caps
        pairs (``max_examples``), bootstraps, writes predictions and may add ``heldout`` rows;
        mining reads every sentence of ``split`` (a cap would change which pairs exist), with
        the fixed split-half seed; pooled caps queries only (never the pool).
        """
        kind = self.kind(task)
        if heldout is not None and kind != RetrievalKind.BITEXT:
            raise XstiltsError(f"held-out alignment needs a bitext retrieval task (parallel "
                               f"pairs); {task.name!r} is {kind.value}")
        if kind == RetrievalKind.BITEXT:
            return evaluate_tatoeba(pair, languages, data_dir, max_pairs=max_examples,
                                    resamples=resamples, seed=seed,
                                    predictions_dir=predictions_dir, heldout=heldout,
                                    protocol=protocol, task=task)
        if kind == RetrievalKind.MINING:
            return evaluate_bucc(pair, languages, data_dir, split=split, protocol=protocol,
                                 task=task, predictions_dir=predictions_dir)
        return evaluate_pooled_retrieval(
            pair, task, languages, data_dir, split=split, max_queries=max_examples,
            batch_size=batch_size, resamples=resamples, seed=seed,
            predictions_dir=predictions_dir, protocol=protocol)

    def recorded_protocol(self, task: Task, protocol: Protocol,
                          max_examples: int | None) -> dict[str, Any]:
        """The protocol as ``xstilts retrieve`` reports it: the mining margin's ``k`` for
        mining only, a pooled task's ``rank_cutoff`` (the k of mAP@k), and the cap."""
        kind = self.kind(task)
        info = protocol.to_dict()
        if kind != RetrievalKind.MINING:
            del info["k"]
        if kind == RetrievalKind.POOLED:
            info["rank_cutoff"] = MAP_K
            if max_examples:
                info["max_queries"] = max_examples
        elif max_examples:
            info["max_pairs"] = max_examples
        return info

    def retrieve(self, model_name: str, task: Task, languages: Sequence[str],
                 data_dir: Path | str | None, *, layer: int | None = None,
                 pooling: str | None = None, direction: str | None = None,
                 prefix: str | None = None, max_pairs: int | None = None,
                 batch_size: int = 64, model: Pair | None = None, split: str | None = None,
                 preset: str = AUTO, layer_from: str | None = None) -> dict:
        """The ``xstilts retrieve`` payload (see :func:`retrieve`)."""
        split = self.split(task, split)  # before loading a model: a typo fails at once
        _, encoder, tokenizer = load_model(model if model is not None else model_name)
        protocol = self.protocol(task, model_name, encoder, preset=preset, layer=layer,
                                 pooling=pooling, prefix=prefix, direction=direction,
                                 layer_from=layer_from)
        pair = (encoder, tokenizer)
        kind = self.kind(task)
        if kind == RetrievalKind.BITEXT:  # one split, test: the split check is all it needs
            results = evaluate_tatoeba(pair, languages, data_dir, max_pairs=max_pairs,
                                       batch_size=batch_size, protocol=protocol, task=task)
        elif kind == RetrievalKind.MINING:
            results = evaluate_bucc(pair, languages, data_dir, split=split, max_pairs=max_pairs,
                                    batch_size=batch_size, protocol=protocol, task=task)
        else:
            results = evaluate_pooled_retrieval(pair, task, languages, data_dir, split=split,
                                                max_queries=max_pairs, batch_size=batch_size,
                                                protocol=protocol)
        info = self.recorded_protocol(task, protocol, max_pairs)
        for row in results:
            row.setdefault("protocol", info)
        return {"task": task.name, "split": split, "model": model_name, "protocol": info,
                "results": results}


HANDLER = register_encoder_handler(RetrievalHandler())


def retrieve(
    model_name: str, task: str, languages: Sequence[str], data_dir: Path | str | None, *,
    layer: int | None = None, pooling: str | None = None, direction: str | None = None,
    prefix: str | None = None, max_pairs: int | None = None, batch_size: int = 64,
    model: Pair | None = None, split: str | None = None, preset: str = AUTO,
    layer_from: str | None = None,
) -> dict:
    """The ``xstilts retrieve`` payload: ``task``, ``split``, ``model``, ``protocol`` (with
    its ``preset``) and ``results`` (each also carrying ``protocol``).

    ``preset`` (``auto``, ``xtreme``, ``mteb``) sets direction, layer rule, pooling and prefix;
    ``direction``/``layer``/``pooling``/``prefix`` override it; ``layer_from`` names the base
    encoder whose layer rule applies to a checkpoint folder.

    ``split`` defaults as :meth:`RetrievalHandler.split` says (Tatoeba has test only, BUCC
    dev, Mewsli-X dev and test). Pooled mAP@20 tasks (``mewsli-x``, ``lareqa``) have
    ``direction = "query2pool"``, ``rank_cutoff`` (the k of mAP@k) instead of BUCC's margin
    ``k``, and ``max_pairs`` caps queries only (``max_queries``).
    """
    names = retrieval_task_names()
    if task not in names:
        raise ValueError(f"retrieve supports {', '.join(names)}, not {task!r}")
    return HANDLER.retrieve(model_name, get_task(task), languages, data_dir, layer=layer,
                            pooling=pooling, direction=direction, prefix=prefix,
                            max_pairs=max_pairs, batch_size=batch_size, model=model,
                            split=split, preset=preset, layer_from=layer_from)
