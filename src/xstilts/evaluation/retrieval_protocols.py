"""Named retrieval protocols (presets) and the layer rule, without loading a model.

Why a module of its own: the study planner resolves the protocol of a study's retrieval
targets once, from the *base* encoder's name, before any run (and without torch), so that the
pretrained arm and every phase-2 checkpoint (whose folder name no longer says "xlm-roberta")
are pooled at the same layer.

The presets, as the official code does them:

- ``xtreme`` (google-research/xtreme ``third_party/run_retrieval.py`` with
  ``scripts/run_tatoeba.sh``): the non-English sentences are the index and each English
  sentence is a query (``similarity_search(x, y)`` adds ``x`` = the non-English embeddings and
  searches with ``y`` = the English ones), so direction ``en2xx``; mean pooling over the
  attention mask (``--pool_type`` default ``mean``); ``--dist cosine`` (L2 search on normalised
  vectors, the same ranking as cosine); one hidden layer, ``--specific_layer 7`` of mBERT and
  ``13`` of XLM-R indexed from the first transformer layer, i.e. Hugging Face
  ``hidden_states[8]`` and ``[14]`` of 24. A sentence-embedding model (no XTREME rule) is
  pooled at its last layer.
- ``mteb`` (mteb ``BitextMiningEvaluator``): ``sentence1`` (the non-English side of
  ``xxx-eng``) is the query searched against ``sentence2`` (English), so ``xx2en``; the model's
  own output, i.e. the last layer, mean pooled.

Neither preset adds a prefix: e5's ``"query: "`` prompt is a property of that model, not of a
benchmark (give it with ``prefix``; docs/retrieval.md).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xstilts.tasks import get_task
from xstilts.tasks.base import RetrievalKind

DIRECTIONS = ("xx2en", "en2xx", "both")
POOL_DIRECTION = "query2pool"
# Kinds of retrieval that search one way whatever the preset says: mining scores source ->
# English pairs, a pooled task's queries search its candidate pool. A bitext task (Tatoeba)
# searches as its protocol says.
FIXED_DIRECTIONS = {RetrievalKind.MINING: "xx2en", RetrievalKind.POOLED: POOL_DIRECTION}
LAYER_RULES = ("xtreme", "last")
AUTO = "auto"


@dataclass(frozen=True)
class Preset:
    """What a benchmark fixes about retrieval: direction, layer rule, pooling, prefix."""

    direction: str
    layer_rule: str
    pooling: str
    prefix: str


RETRIEVAL_PRESETS: dict[str, Preset] = {
    "xtreme": Preset(direction="en2xx", layer_rule="xtreme", pooling="mean", prefix=""),
    "mteb": Preset(direction="xx2en", layer_rule="last", pooling="mean", prefix=""),
}
PROTOCOL_CHOICES = (AUTO, *RETRIEVAL_PRESETS)

# Depths of the encoders XTREME evaluates, so that planning a study needs no download.
KNOWN_DEPTHS = {"xlm-roberta-large": 24, "xlm-roberta-base": 12,
                "bert-base-multilingual-cased": 12, "bert-base-multilingual-uncased": 12}


def raw_encoder_family(name: str) -> str | None:
    """'xlmr' / 'mbert' for the MLM encoders XTREME pools at a middle layer, else None."""
    lowered = name.lower()
    if "xlm-roberta" in lowered and "e5" not in lowered:
        return "xlmr"
    if "bert-base-multilingual" in lowered:
        return "mbert"
    return None


def auto_preset(encoder: str) -> str:
    """The benchmark an encoder's published Tatoeba numbers come from: XTREME for the raw
    MLM encoders it evaluated (XLM-R, mBERT), MTEB for sentence-embedding models."""
    return "xtreme" if raw_encoder_family(encoder) else "mteb"


def preset_name(protocol: str, encoder: str) -> str:
    if protocol == AUTO:
        return auto_preset(encoder)
    if protocol not in RETRIEVAL_PRESETS:
        raise ValueError(f"retrieval protocol must be one of {', '.join(PROTOCOL_CHOICES)}, "
                         f"got {protocol!r}")
    return protocol


def layer_by_rule(rule: str, family: str | None, n_layers: int | None) -> tuple[int, str]:
    """The layer (Hugging Face hidden_states index, -1 = last) and a sentence saying why."""
    if rule == "last" or family is None:
        why = "last layer (sentence-embedding model)" if rule == "xtreme" else \
            "last layer (MTEB: the model's own output)"
        return -1, why
    if n_layers is None:
        raise ValueError("the XTREME layer rule needs the encoder's number of layers")
    if family == "mbert":
        return min(8, n_layers), "XTREME: mBERT is pooled at layer 8"
    return round(n_layers * 14 / 24), \
        f"XTREME: XLM-R is pooled at layer 14 of 24, here round({n_layers} x 14/24)"


def encoder_depth(encoder: str) -> int:
    """Transformer layers of a base encoder, read from its config (no weights loaded)."""
    short = encoder.rstrip("/").split("/")[-1].lower()
    if short in KNOWN_DEPTHS and not Path(encoder).is_dir():
        return KNOWN_DEPTHS[short]
    config = Path(encoder).expanduser() / "config.json"
    if config.is_file():
        data = json.loads(config.read_text(encoding="utf-8"))
    else:
        from transformers import AutoConfig  # lazy; a hub id not in KNOWN_DEPTHS

        data = AutoConfig.from_pretrained(encoder).to_dict()
    n = data.get("num_hidden_layers")
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"{encoder}: its config has no num_hidden_layers")
    return n


def plan_protocol(encoder: str, protocol: str = AUTO, *, direction: str | None = None,
                  layer: int | None = None, pooling: str | None = None,
                  prefix: str | None = None, n_layers: int | None = None) -> dict[str, Any]:
    """The concrete protocol for ``encoder`` (a base encoder's name): the preset's values,
    overridden by any given one. ``n_layers`` defaults to the encoder's config."""
    name = preset_name(protocol, encoder)
    preset = RETRIEVAL_PRESETS[name]
    direction = direction or preset.direction
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}, got {direction!r}")
    if layer is None:
        family = raw_encoder_family(encoder)
        if preset.layer_rule == "xtreme" and family and n_layers is None:
            n_layers = encoder_depth(encoder)
        layer, rule = layer_by_rule(preset.layer_rule, family, n_layers)
    else:
        rule = "given"
    return {"preset": name, "direction": direction, "layer": layer, "layer_rule": rule,
            "layer_from": encoder, "pooling": pooling or preset.pooling,
            "prefix": preset.prefix if prefix is None else prefix}


def legacy_protocol(encoder: str, *, from_checkpoint: bool) -> dict[str, Any]:
    """What xstilts computed before presets existed, for a study's retrieval run: xx→en, mean
    pooling, no prefix, the XTREME layer rule applied to the *evaluated* model's name, which a
    phase-2 checkpoint folder has lost (so: last layer). A run whose protocol equals this one
    keeps its run id (its stored results are still right); any other gets a new id."""
    family = None if from_checkpoint else raw_encoder_family(encoder)
    layer = layer_by_rule("xtreme", family, encoder_depth(encoder) if family else None)[0]
    return {"direction": "xx2en", "layer": layer, "pooling": "mean", "prefix": ""}


def task_direction(kind: RetrievalKind | None, direction: str) -> str:
    """The direction a retrieval task of ``kind`` searches in under a protocol whose
    direction is ``direction`` (see :data:`FIXED_DIRECTIONS`)."""
    return FIXED_DIRECTIONS.get(kind, direction) if kind is not None else direction


def same_results(protocol: dict[str, Any], legacy: dict[str, Any], task: str) -> bool:
    """Whether ``protocol`` computes what ``legacy`` did on the retrieval task named ``task``
    (direction matters only where the task searches as the protocol says: bitext, not mining
    or pooled tasks, see :data:`FIXED_DIRECTIONS`)."""
    follows_protocol = get_task(task).retrieval_kind not in FIXED_DIRECTIONS
    keys = ["layer", "pooling", "prefix"] + (["direction"] if follows_protocol else [])
    return all(protocol[k] == legacy[k] for k in keys)
