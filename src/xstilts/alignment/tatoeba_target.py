"""Alignment inside a study's Tatoeba target: retrieval before and after a learned projection.

Research question 5 asks about retrieval "with and without intermediate training and
alignment". A Tatoeba target run already embeds every evaluated pair; here those pairs are also
split (seeded 60/40 permutation, the protocol of `xstilts align`), a projection is fitted on
the 60 % and both the plain and the projected source side are scored on the held-out 40 %,
each query searching the held-out English side only. Two rows per language follow:

- split ``<split>+heldout``: plain accuracy on the held-out queries (the "without");
- split ``<split>+align``: accuracy after projecting (the "with"),

with their predictions in ``predictions/heldout/`` and ``predictions/align/``, so the report
pairs configurations query by query. The permutation is seeded by the run seed, so every
intermediate configuration of one seed is scored on the same held-out queries. The paired
before/after test of each language goes into the run's info. The bitext evaluation calls it
for every language (:func:`heldout_evaluation` builds its ``heldout`` hook).
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from xstilts.alignment.projections import fit_projection, split_pairs
from xstilts.evaluation.retrieval import (
    HeldoutHook,
    accuracy_result,
    query_similarity,
    write_retrieval_predictions,
)
from xstilts.evaluation.retrieval_metrics import nearest_neighbor_correct
from xstilts.evaluation.significance import paired_bootstrap_test
from xstilts.prediction_files import language_file
from xstilts.tasks.base import BitextExample

HELDOUT, ALIGNED = "heldout", "align"
TRAIN_FRACTION = 0.6


def heldout_alignment(language: str, pairs: list[BitextExample], source: np.ndarray,
                      target: np.ndarray, *, method: str, n_train: int | None, seed: int,
                      resamples: int, predictions_dir: Path | None
                      ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Result rows (``view`` = heldout / align) and the paired before/after summary."""
    train, test = split_pairs(len(pairs), TRAIN_FRACTION, seed)
    if n_train is not None:
        train = train[:n_train]
    projection = fit_projection(method, source[train], target[train], seed=seed)
    held_pairs = [pairs[i] for i in test]
    rows, correct = [], {}
    for view, side in ((HELDOUT, source[test]), (ALIGNED, projection.apply(source[test]))):
        sim = query_similarity(side, target[test], "xx2en")
        correct[view] = nearest_neighbor_correct(sim)
        if predictions_dir is not None:
            folder = predictions_dir / view
            folder.mkdir(parents=True, exist_ok=True)
            write_retrieval_predictions(language_file(folder, language), held_pairs,
                                        sim.argmax(axis=1))
        rows.append({**accuracy_result(language, "xx2en", correct[view],
                                       n_candidates=len(held_pairs), resamples=resamples,
                                       seed=seed), "view": view})
    paired = paired_bootstrap_test(correct[ALIGNED], correct[HELDOUT], resamples=resamples,
                                   seed=seed)
    summary = {"method": method, "n_train": int(train.size), "n_test": int(test.size),
               "before": float(correct[HELDOUT].mean()),
               "after": float(correct[ALIGNED].mean()), "delta": paired.delta,
               "delta_ci": [paired.ci_low, paired.ci_high], "p_value": paired.p_value}
    return rows, summary


def heldout_evaluation(method: str, n_train: int | None, *, seed: int, resamples: int,
                       predictions_dir: Path | None) -> HeldoutHook:
    """The ``heldout`` hook of a bitext evaluation: :func:`heldout_alignment` per language."""
    return partial(heldout_alignment, method=method, n_train=n_train, seed=seed,
                   resamples=resamples, predictions_dir=predictions_dir)
