"""How task models and encoders are evaluated: the study's options.

:class:`EvaluationOptions` is what a study file sets (and what a target run's id hashes); the
value the evaluation loops take, built from it, drives task-type handlers and so lives with
them (:class:`xstilts.tasktypes.zero_shot.EvaluationSettings`).

This module is light (no torch): the study file is validated with it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class AlignOptions(_Strict):
    """Fit a projection per language on Tatoeba pairs with the trained encoder, then evaluate
    the siamese task model again with it (rows of split ``<split>+align``)."""

    # The names of xstilts.alignment.projections.METHODS, spelled out to keep this module free
    # of torch (a test checks they agree).
    method: Literal["lstsq", "procrustes", "linear-gd"] = "procrustes"
    source: Literal["tatoeba"] = "tatoeba"
    n_train: int | None = Field(1000, ge=2, description="first N Tatoeba pairs per language; "
                                "None: all")


class RetrievalOptions(_Strict):
    """The protocol of retrieval targets (Tatoeba, BUCC, Mewsli-X, LAReQA): a preset, each
    value given overriding it (docs/retrieval.md). Resolved once per encoder from the base
    encoder's name, so every arm (pretrained and phase-2 checkpoints) gets the same layer."""

    # The names of xstilts.evaluation.retrieval_protocols.PROTOCOL_CHOICES and DIRECTIONS,
    # spelled out to keep this module light (a test checks they agree).
    protocol: Literal["auto", "xtreme", "mteb"] = Field(
        "auto", description="xtreme: English queries search the non-English side, XTREME's "
        "layer rule; mteb: xx2en, last layer; auto: xtreme for XLM-R / mBERT, mteb otherwise")
    direction: Literal["xx2en", "en2xx", "both"] | None = None
    layer: int | None = Field(None, description="hidden state to pool (-1 = last)")
    pooling: Literal["mean", "cls"] | None = None
    prefix: str | None = None


class EvaluationOptions(_Strict):
    batch_size: int = Field(64, ge=1)
    max_examples: int | None = Field(None, ge=1, description="cap per language (first N)")
    bootstrap_resamples: int = Field(1000, ge=10)
    confidence: float = Field(0.95, gt=0, lt=1)
    generalized: list[str] | None = Field(
        None, min_length=1, description="languages of a generalized cross-lingual matrix "
        "(first text in A, second in B, every ordered pair; parallel test sets only); rows "
        "of split '<split>+generalized', language 'A-B'")
    align: AlignOptions | None = Field(
        None, description="also evaluate with Tatoeba-fitted projections (siamese models)")
    retrieval: RetrievalOptions | None = Field(
        None, description="retrieval protocol preset and overrides; default: auto")
