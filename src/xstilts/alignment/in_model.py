"""A learned projection applied inside a siamese task model at evaluation time.

arXiv 2101.10649 asks whether aligning a language's sentence vectors onto English helps a task
model trained on English only. Here the projections are fitted at evaluation time, on the
*trained* encoder's own pooled vectors of Tatoeba pairs (xx → en), so the map aligns exactly
the space the task head reads; no files need to be passed around. Projections loaded with
:meth:`Projection.load` can be given to :func:`evaluate_aligned` instead.

How the vector of a text in language L is changed: its pooled vector ``x`` becomes
``|x| · Projection.apply(x / |x|)``. The projection was fitted on unit vectors, so it is
applied to the direction; the length is kept because a classification head over
(u, v, |u − v|) was trained on unnormalised vectors (a cosine head ignores lengths anyway).
English and languages without Tatoeba data are left as they are.

Only the bi-encoder (``pair_encoding: siamese``) has a vector per sentence to project; a
cross-encoder reads both texts at once and is refused.

Conventions: aligned scores have ``split == "<split>+align"`` (same task, language and
metric as the plain rows, so a report compares the two blocks language by language);
predictions go to ``predictions_dir/LANG.jsonl`` (the caller picks a folder of their own). A
language code ``A-B`` (STS 2017 tracks, generalized pairs) names the first text's language A
and the second's B; ``es-en-wmt`` counts as es-en. Any other code is the language of both texts.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch
from torch import nn
from transformers import PreTrainedTokenizerBase

from xstilts.alignment.projections import Projection, fit_projection
from xstilts.errors import XstiltsError
from xstilts.evaluation.embeddings import embed_sentences
from xstilts.models.heads import TaskModel
from xstilts.models.pooling import pool
from xstilts.results import Score
from xstilts.tasks import Task, get_task
from xstilts.tasktypes import TaskTypeHandler, handler_for
from xstilts.tasktypes.siamese import SiameseHandler
from xstilts.tasktypes.zero_shot import EvaluationSettings, evaluate_languages

SPLIT_SUFFIX = "+align"
PIVOT = "en"  # Tatoeba pairs every language with English: the space everything is mapped onto


def text_languages(code: str) -> tuple[str, str]:
    """Languages of the first and second text of a pair evaluated under ``code``."""
    parts = code.split("-")
    return (parts[0], parts[1]) if len(parts) >= 2 else (code, code)


def require_siamese(handler: TaskTypeHandler) -> None:
    if not isinstance(handler, SiameseHandler):
        raise XstiltsError(
            "alignment at evaluation time needs a sentence-embedding task model "
            "(training.pair_encoding: siamese); a cross-encoder reads both texts together "
            f"and has no per-sentence vector to project (handler: {type(handler).__name__})")


def project_pooled(pooled: torch.Tensor, projection: Projection) -> torch.Tensor:
    """``|x| · Projection.apply(x / |x|)`` row by row (see the module docstring for why)."""
    norms = pooled.norm(dim=-1, keepdim=True).clamp(min=1e-12)
    direction = projection.apply((pooled / norms).detach().cpu().float().numpy())
    return torch.from_numpy(direction).to(pooled) * norms


class ProjectingEncoder(nn.Module):
    """Wraps the encoder so that the *pooled* vector of each side is the projected one.

    The siamese heads call the encoder once per side, first text then second
    (:func:`xstilts.tasktypes.siamese.encode_sides`), and pool its last layer. The wrapper
    takes the projection of the side in turn, pools as the head will, and shifts every token
    state by (projected − pooled): mean pooling (weights sum to one) and CLS pooling then both
    give the projected vector exactly, with no change to the heads.
    """

    def __init__(self, encoder: nn.Module, sides: tuple[Projection | None, Projection | None],
                 pooling: str):
        super().__init__()
        self.encoder = encoder
        self.sides = sides
        self.pooling = pooling
        self.calls = 0

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                **kwargs: Any) -> SimpleNamespace:
        projection = self.sides[self.calls % 2]
        self.calls += 1
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                              **kwargs).last_hidden_state
        if projection is not None:
            pooled = pool(hidden, attention_mask, self.pooling)
            shift = project_pooled(pooled.float(), projection).to(hidden.dtype) - pooled
            hidden = hidden + shift.unsqueeze(1)
        return SimpleNamespace(last_hidden_state=hidden)


@contextmanager
def projected(model: TaskModel, task: Task, code: str,
              projections: Mapping[str, Projection]) -> Iterator[None]:
    """Within the block, ``model`` projects each text of a ``code`` pair by its language's
    projection (if any); the original encoder is always put back."""
    head = model.heads[task.name]
    sides = tuple(projections.get(lang) for lang in text_languages(code))
    original = model.encoder
    model.encoder = ProjectingEncoder(original, sides, head.pooling)  # type: ignore[arg-type]
    try:
        yield
    finally:
        model.encoder = original


def fit_tatoeba_projections(
    encoder: nn.Module, tokenizer: PreTrainedTokenizerBase, languages: Sequence[str],
    data_dir: Path | None, *, max_length: int, method: str = "procrustes",
    n_train: int | None = 1000, pooling: str = "mean", batch_size: int = 64, seed: int = 0,
    skip_bad_rows: bool = False,
) -> tuple[dict[str, Projection], dict[str, Any]]:
    """One projection per non-English language among the texts of ``languages`` that has
    Tatoeba data, fitted on the first ``n_train`` pairs embedded as the task head embeds
    (last layer, the model's pooling, no prefix) and truncated to the task model's
    ``max_length``. Returns the projections and a summary."""
    tatoeba = get_task("tatoeba")
    wanted = dict.fromkeys(lang for code in languages for lang in text_languages(code))
    projections: dict[str, Projection] = {}
    info: dict[str, Any] = {"method": method, "source": "tatoeba", "pooling": pooling,
                            "fitted": {}, "skipped": []}
    for lang in wanted:
        if lang == PIVOT or lang not in tatoeba.languages or not tatoeba.has_data(
                "test", lang, data_dir):
            info["skipped"].append(lang)
            continue
        pairs = tatoeba.load("test", lang, data_dir, skip_bad_rows=skip_bad_rows)[:n_train]

        def embed(texts: list[str], side: str) -> np.ndarray:
            return embed_sentences(encoder, tokenizer, texts, pooling=pooling,
                                   max_length=max_length, batch_size=batch_size,
                                   desc=f"align {side}", progress=False)

        source = embed([p.source for p in pairs], lang)
        target = embed([p.target for p in pairs], PIVOT)
        projections[lang] = fit_projection(method, source, target, seed=seed)
        info["fitted"][lang] = {"n_train": len(pairs)}
    return projections, info


def evaluate_aligned(
    model: TaskModel, tokenizer: PreTrainedTokenizerBase, task: Task, languages: Sequence[str],
    split: str, data_dir: Path | None, predictions_dir: Path,
    projections: Mapping[str, Projection], settings: EvaluationSettings,
) -> list[Score]:
    """The ordinary evaluation with the projections applied; rows tagged ``<split>+align``.

    Every language is reported, including those with nothing to project (their scores equal
    the plain ones, a built-in sanity check). ``settings.handler`` must be the siamese one.
    """
    require_siamese(settings.handler or handler_for(task))
    rows: list[Score] = []
    for code in languages:
        with projected(model, task, code, projections):
            rows += evaluate_languages(model, tokenizer, task, [code], split, data_dir,
                                       predictions_dir, settings)
    return [dataclasses.replace(r, split=r.split + SPLIT_SUFFIX) for r in rows]
