"""Cross-lingual alignment: learned projections from a language's embeddings onto English.

Following "Cross-lingual alignment methods for multilingual BERT" style work (arXiv
2101.10649), a matrix W fitted on parallel sentence pairs maps the other language's vectors
close to their English translations; retrieval (or any head on pooled embeddings) then
runs on the projected vectors.
"""

from xstilts.alignment.projections import (
    METHODS,
    Projection,
    align_and_evaluate,
    fit_linear_gd,
    fit_lstsq,
    fit_procrustes,
    fit_projection,
    split_pairs,
)

__all__ = [
    "METHODS",
    "Projection",
    "align_and_evaluate",
    "fit_linear_gd",
    "fit_lstsq",
    "fit_procrustes",
    "fit_projection",
    "split_pairs",
]
