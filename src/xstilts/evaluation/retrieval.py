"""Retrieval without training data: Tatoeba accuracy and BUCC mining F1 from pooled encoders.

The scores depend on the protocol more than on anything else, so the protocol is a value
(:class:`Protocol`) that every result carries, built from a named preset
(:mod:`.retrieval_protocols`: ``xtreme`` or ``mteb``, by default the one of the benchmark the
encoder's published numbers come from) with any value given overriding it:

- ``xtreme``: English queries search the non-English side (``en2xx``), mean pooling of a
  middle layer for the raw MLM encoders (layer 8 of mBERT, round(num_layers * 14 / 24) of
  XLM-R: 14 of 24, 7 of 12) because their top layers are specialised for predicting tokens;
  the last layer of any other encoder;
- ``mteb``: non-English queries search the English side (``xx2en``), last layer, mean pooling.

Neither adds a prefix: e5's ``"query: "`` reproduces the published MTEB numbers more closely
but retrieves *worse* on the bundled copy (see docs/retrieval.md).

Vectors are L2-normalised and compared by cosine. Tatoeba searches the whole other side. BUCC
mines as XTREME does (:mod:`.bucc`: ratio margin over k = 4 neighbours both ways, one-to-one
``max`` merge) and extracts pairs above a threshold chosen for F1 on dev. Mewsli-X and LAReQA
(mAP@20 against a shared candidate pool) are in :mod:`.pooled_retrieval`, under the same
protocol. Which evaluation a task gets (and its default split) is its retrieval kind's
business: :mod:`xstilts.tasktypes.retrieval`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from transformers import PreTrainedTokenizerBase

from xstilts.evaluation.bucc import XTREME_MODE, mine_from_vectors, split_half
from xstilts.evaluation.embeddings import check_layer, embed_sentences, num_hidden_layers
from xstilts.evaluation.metrics import bootstrap_interval
from xstilts.evaluation.retrieval_metrics import (
    best_threshold,
    bucc_f1,
    cosine_similarity,
    extracted_pairs,
    nearest_neighbor_correct,
)
from xstilts.evaluation.retrieval_protocols import (
    AUTO,
    layer_by_rule,
    plan_protocol,
    raw_encoder_family,
)
from xstilts.prediction_files import (
    gold_pairs_file,
    language_file,
    mined_pairs_file,
    write_pairs,
)
from xstilts.tasks import get_task
from xstilts.tasks.base import BitextExample, MiningSentence, Task

BUCC_K = 4
# Tokens per sentence when a retrieval task embeds it. XTREME's scripts use 512 (run_tatoeba.sh,
# run_bucc2018.sh MAXL); 128 is xstilts' value since retrieval existed, kept so stored scores
# stay comparable, and recorded with every score in the protocol (``max_length``).
RETRIEVAL_MAX_LENGTH = 128
if TYPE_CHECKING:  # transformers' modeling code takes ~2 s to import; annotations only
    from transformers import PreTrainedModel

    EncoderLike = str | tuple[PreTrainedModel, PreTrainedTokenizerBase]
# Extra rows for one language of a bitext task, from its pairs and both sides' vectors:
# (language, pairs, source vectors, target vectors) -> (result rows, summary). The held-out
# alignment rows of a study (xstilts.alignment.tatoeba_target.heldout_evaluation) are one.
HeldoutHook = Callable[[str, list[BitextExample], np.ndarray, np.ndarray],
                       tuple[list[dict], dict]]


def _task(task: Task | str) -> Task:
    return get_task(task) if isinstance(task, str) else task


@dataclass(frozen=True)
class Protocol:
    """Everything that decides a retrieval score besides the model and the data."""

    layer: int = -1
    pooling: str = "mean"
    prefix: str = ""
    direction: str = "xx2en"
    normalisation: str = "l2"
    similarity: str = "cosine"
    k: int = BUCC_K
    max_length: int = RETRIEVAL_MAX_LENGTH
    layer_rule: str = "last layer (sentence-embedding model)"
    preset: str = "custom"  # xtreme / mteb (retrieval_protocols.RETRIEVAL_PRESETS)
    layer_from: str = ""  # the (base) encoder name the layer rule was applied to

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_plan(cls, planned: dict[str, Any],
                  max_length: int = RETRIEVAL_MAX_LENGTH) -> Protocol:
        """The protocol a study planned (:func:`retrieval_protocols.plan_protocol`)."""
        return cls(layer=planned["layer"], pooling=planned["pooling"],
                   prefix=planned["prefix"], direction=planned["direction"],
                   max_length=max_length, layer_rule=planned["layer_rule"],
                   preset=planned["preset"], layer_from=planned.get("layer_from", ""))


def _rule_name(model_name: str, model: PreTrainedModel) -> str:
    """The name the layer rule reads: the given one, or the config's origin when only that
    says which raw encoder the model is (a local copy of xlm-roberta-large)."""
    origin = str(getattr(model.config, "_name_or_path", "") or "")
    if raw_encoder_family(model_name) or not raw_encoder_family(origin):
        return model_name
    return origin


def default_layer(model_name: str, model: PreTrainedModel) -> tuple[int, str]:
    """The XTREME layer rule for this encoder and a sentence saying why."""
    family = raw_encoder_family(_rule_name(model_name, model))
    return layer_by_rule("xtreme", family, num_hidden_layers(model) if family else None)


def resolve_protocol(
    model_name: str, model: PreTrainedModel, *, preset: str = AUTO, layer: int | None = None,
    pooling: str | None = None, prefix: str | None = None, direction: str | None = None,
    max_length: int = RETRIEVAL_MAX_LENGTH, layer_from: str | None = None,
) -> Protocol:
    """The ``preset`` (``auto``: xtreme for XLM-R / mBERT, mteb otherwise) with every given
    value overriding it. ``layer_from`` names the encoder whose layer rule applies (a study's
    base encoder, for a phase-2 checkpoint whose folder name says nothing)."""
    name = layer_from or _rule_name(model_name, model)
    family = raw_encoder_family(name)
    planned = plan_protocol(name, preset, direction=direction, layer=layer, pooling=pooling,
                            prefix=prefix,
                            n_layers=num_hidden_layers(model) if family else None)
    check_layer(model, planned["layer"])
    return Protocol.from_plan(planned, max_length)


def load_model(model: EncoderLike) -> tuple[str, PreTrainedModel, PreTrainedTokenizerBase]:
    """Accept a name (loaded here) or an already loaded (model, tokenizer) pair."""
    if isinstance(model, str):
        from xstilts.models import load_encoder
        from xstilts.models.encoders import inference_device

        encoder, tokenizer = load_encoder(model)
        return model, encoder.to(inference_device()), tokenizer
    encoder, tokenizer = model
    return str(getattr(encoder.config, "_name_or_path", "") or "model"), encoder, tokenizer


def embed_with_protocol(
    encoder: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, texts: Sequence[str],
    protocol: Protocol, desc: str, batch_size: int = 64, autocast_bf16: bool = False,
) -> np.ndarray:
    """Embed under ``protocol`` (layer, pooling, prefix, truncation length)."""
    return embed_sentences(
        encoder, tokenizer, texts, layer=protocol.layer, pooling=protocol.pooling,
        prefix=protocol.prefix, batch_size=batch_size, max_length=protocol.max_length,
        autocast_bf16=autocast_bf16, desc=desc,
    )


def accuracy_result(language: str, direction: str, correct: np.ndarray, *,
                    n_candidates: int, resamples: int = 1000, seed: int = 0) -> dict:
    """One result row: accuracy (a fraction in [0, 1]) with its bootstrap interval."""
    low, high = bootstrap_interval(correct, resamples=resamples, seed=seed)
    return {"language": language, "direction": direction, "metric": "accuracy",
            "value": float(correct.mean()), "ci_low": low, "ci_high": high,
            "n": int(correct.size), "n_candidates": int(n_candidates)}


def directions_of(direction: str) -> tuple[str, ...]:
    return ("xx2en", "en2xx") if direction == "both" else (direction,)


def query_similarity(source: np.ndarray, target: np.ndarray, direction: str) -> np.ndarray:
    """Rows are queries: xx→en queries with the other language, en→xx with English."""
    sim = cosine_similarity(source, target)
    return sim if direction == "xx2en" else sim.T


def tatoeba_correct(source: np.ndarray, target: np.ndarray, direction: str) -> np.ndarray:
    """Per-query top-1 correctness; line i of one side is the translation of line i of the
    other, and every query searches the whole other side."""
    return nearest_neighbor_correct(query_similarity(source, target, direction))


def write_retrieval_predictions(path: Path, pairs: Sequence[BitextExample],
                                retrieved: np.ndarray) -> None:
    """Per-query gold and retrieved candidate index (JSONL), so scores can be re-checked and
    paired tests run between encoders on the same queries."""
    with path.open("w", encoding="utf-8") as out:
        for i, (pair, j) in enumerate(zip(pairs, retrieved, strict=True)):
            out.write(json.dumps({"id": pair.id, "gold": i, "prediction": int(j)}) + "\n")


def load_tatoeba(language: str, data_dir: Path | str | None,
                 max_pairs: int | None = None, *,
                 task: Task | str = "tatoeba") -> list[BitextExample]:
    """The test pairs of one language of a bitext ``task``; ``max_pairs`` keeps the first N
    (quick runs only: fewer candidates make retrieval easier, so capped scores are not
    comparable)."""
    pairs = _task(task).load("test", language, Path(data_dir) if data_dir else None)
    return pairs[:max_pairs] if max_pairs else pairs


def embed_tatoeba(encoder: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, language: str,
                  data_dir: Path | str | None, protocol: Protocol, *, label: str,
                  max_pairs: int | None = None, batch_size: int = 64,
                  autocast_bf16: bool = False, task: Task | str = "tatoeba",
                  ) -> tuple[list[BitextExample], np.ndarray, np.ndarray]:
    """One language's bitext pairs with both sides embedded under ``protocol``."""
    pairs = load_tatoeba(language, data_dir, max_pairs, task=task)
    src = embed_with_protocol(encoder, tokenizer, [p.source for p in pairs], protocol,
                              f"{label} {language}", batch_size, autocast_bf16)
    tgt = embed_with_protocol(encoder, tokenizer, [p.target for p in pairs], protocol,
                              f"{label} en", batch_size, autocast_bf16)
    return pairs, src, tgt


def evaluate_tatoeba(
    model: EncoderLike, languages: Sequence[str], data_dir: Path | str | None, *,
    layer: int | None = None, pooling: str | None = None, direction: str | None = None,
    prefix: str | None = None, max_pairs: int | None = None, batch_size: int = 64,
    autocast_bf16: bool = False, resamples: int = 1000, seed: int = 0,
    protocol: Protocol | None = None, predictions_dir: Path | None = None,
    heldout: HeldoutHook | None = None, preset: str = AUTO, task: Task | str = "tatoeba",
) -> list[dict]:
    """Tatoeba accuracy per language and direction, each with a bootstrap CI.

    ``protocol`` (from :func:`resolve_protocol`) wins over ``preset`` and the separate keyword
    arguments. Every row carries ``protocol`` (its dict, with the preset name).
    With ``predictions_dir``, per-query predictions go to ``LANG.jsonl`` (one direction) or
    ``LANG.DIRECTION.jsonl`` (both): ``prediction`` is the index, on the searched side, of
    the query's nearest neighbour. With ``heldout`` each language also gets the rows it
    returns from the same embeddings, each carrying its summary as ``alignment`` (a study's
    held-out rows before and after a learned projection: ``view`` heldout / align, see
    :mod:`xstilts.alignment.tatoeba_target`). ``task`` is the bitext task (Tatoeba).
    """
    task = _task(task)
    name, encoder, tokenizer = load_model(model)
    if protocol is None:
        protocol = resolve_protocol(name, encoder, preset=preset, layer=layer, pooling=pooling,
                                    prefix=prefix, direction=direction)
    recorded = protocol.to_dict()
    del recorded["k"]
    results = []
    for language in languages:
        pairs, src, tgt = embed_tatoeba(encoder, tokenizer, language, data_dir, protocol,
                                        label=task.name, max_pairs=max_pairs,
                                        batch_size=batch_size, autocast_bf16=autocast_bf16,
                                        task=task)
        directions = directions_of(protocol.direction)
        for d in directions:
            sim = query_similarity(src, tgt, d)  # computed once: scores and predictions
            correct = nearest_neighbor_correct(sim)
            if predictions_dir is not None:
                predictions_dir.mkdir(parents=True, exist_ok=True)
                file = language_file(predictions_dir, language,
                                     d if len(directions) > 1 else None)
                write_retrieval_predictions(file, pairs, sim.argmax(axis=1))
            results.append({**accuracy_result(language, d, correct, n_candidates=len(pairs),
                                              resamples=resamples, seed=seed),
                            "protocol": recorded})
        if heldout is not None:
            rows, summary = heldout(language, pairs, src, tgt)
            results += [{**r, "alignment": summary} for r in rows]
    return results


def _bucc_sides(sentences: Sequence[MiningSentence], max_pairs: int | None):
    source = [s for s in sentences if s.side == "source"]
    target = [s for s in sentences if s.side == "target"]
    if max_pairs:
        source, target = source[:max_pairs], target[:max_pairs]
    kept = {t.id for t in target}
    gold = {(s.id, s.gold) for s in source if s.gold is not None and s.gold in kept}
    return source, target, gold


BUCC_SAME_SPLIT_NOTE = (
    "value: threshold tuned and scored on the same split (dev), so F1 is optimistic; "
    "split_half_f1 tunes on one half of the dev sources and scores the other (unbiased); the "
    "BUCC protocol tunes on dev and reports test, whose gold is not available here"
)
BUCC_TEST_NOTE = "threshold tuned on dev, applied to test (the XTREME protocol)"
BUCC_SPLIT_SEED = 0


@dataclass(frozen=True)
class _MinedSplit:
    candidates: list[tuple[str, str, float]]
    gold: set[tuple[str, str]]
    sources: list[str]
    n_target: int


def _mine_bucc_split(encoder: PreTrainedModel, tokenizer: PreTrainedTokenizerBase,
                     split: str, language: str, data_dir: Path | str | None,
                     protocol: Protocol, max_pairs: int | None, batch_size: int,
                     autocast_bf16: bool, task: Task) -> _MinedSplit:
    """One split of one language: embed both sides, mine as XTREME does (:mod:`.bucc`)."""
    sentences = task.load(split, language, Path(data_dir) if data_dir else None)
    source, target, gold = _bucc_sides(sentences, max_pairs)
    if not gold:
        why = ("the BUCC test gold is withheld, so score --split dev"
               if split == "test" and all(s.gold is None for s in sentences)
               else "raise --max-pairs")
        raise ValueError(f"{task.name} {split}/{language}: no gold pairs among the kept "
                         f"sentences ({why})")
    src = embed_with_protocol(encoder, tokenizer, [s.text for s in source], protocol,
                              f"bucc {split} {language}", batch_size, autocast_bf16)
    tgt = embed_with_protocol(encoder, tokenizer, [t.text for t in target], protocol,
                              f"bucc {split} en", batch_size, autocast_bf16)
    mined = mine_from_vectors(src, tgt, k=protocol.k, mode=XTREME_MODE)
    return _MinedSplit([(source[i].id, target[j].id, s) for i, j, s in mined], gold,
                       [s.id for s in source], len(target))


def evaluate_bucc(
    model: EncoderLike, languages: Sequence[str], data_dir: Path | str | None, *,
    layer: int | None = None, pooling: str | None = None, prefix: str | None = None,
    split: str = "dev", max_pairs: int | None = None, batch_size: int = 64,
    autocast_bf16: bool = False, protocol: Protocol | None = None,
    seed: int = BUCC_SPLIT_SEED, task: Task | str = "bucc2018",
    predictions_dir: Path | None = None,
) -> list[dict]:
    """BUCC mining F1 per language, mined as XTREME mines (k-NN both ways, ratio margin,
    one-to-one ``max`` merge: :mod:`.bucc`), one row per language.

    ``split="test"`` (test gold needed): the F1-optimal threshold on dev, applied to test,
    as XTREME does; ``value`` is the test F1. ``split="dev"`` (the only gold available
    here): ``value`` is the dev-on-dev F1 (threshold tuned and scored on dev, optimistic,
    labelled by ``tuned_on``/``scored_on``/``note``), and ``split_half_f1`` /
    ``split_half`` the unbiased split-half estimate (:func:`.bucc.split_half`, ``seed``).
    ``task`` is the mining task (BUCC 2018). With ``predictions_dir``, the pairs extracted
    at the threshold behind ``value`` and the scored split's gold go to ``LANG.pairs.tsv``
    and ``LANG.gold.tsv`` (:mod:`xstilts.prediction_files`), so the leaderboard scorer can
    re-score them.
    """
    task = _task(task)
    name, encoder, tokenizer = load_model(model)
    if protocol is None:
        protocol = resolve_protocol(name, encoder, layer=layer, pooling=pooling, prefix=prefix)
    protocol = replace(protocol, direction="xx2en")
    results = []
    for language in languages:
        mined = _mine_bucc_split(encoder, tokenizer, split, language, data_dir, protocol,
                                 max_pairs, batch_size, autocast_bf16, task)
        row: dict[str, Any] = {}
        if split == "dev":
            score = best_threshold(mined.candidates, mined.gold)
            halves = split_half(mined.candidates, mined.gold, mined.sources, seed=seed)
            row = {"tuned_on": "dev", "scored_on": "dev", "split_half_f1": halves.f1,
                   "split_half": halves.to_dict(), "note": BUCC_SAME_SPLIT_NOTE}
        else:
            dev = _mine_bucc_split(encoder, tokenizer, "dev", language, data_dir, protocol,
                                   max_pairs, batch_size, autocast_bf16, task)
            tuned = best_threshold(dev.candidates, dev.gold)
            score = bucc_f1(mined.candidates, mined.gold, tuned.threshold)
            row = {"tuned_on": "dev", "scored_on": split, "dev_f1": tuned.f1,
                   "note": BUCC_TEST_NOTE}
        if predictions_dir is not None:
            write_pairs(mined_pairs_file(predictions_dir, language),
                        extracted_pairs(mined.candidates, score.threshold))
            write_pairs(gold_pairs_file(predictions_dir, language), mined.gold)
        results.append({
            "language": language, "direction": "xx2en", "metric": "f1", "value": score.f1,
            "precision": score.precision, "recall": score.recall,
            "threshold": score.threshold, "n": score.n_gold, "n_extracted": score.n_extracted,
            "n_correct": score.n_correct, "n_source": len(mined.sources),
            "n_target": mined.n_target, "mining": XTREME_MODE, "k": protocol.k, **row,
        })
    return results

