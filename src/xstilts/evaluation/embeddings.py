"""Sentence embeddings from any layer of an encoder, for retrieval and alignment.

Retrieval tasks (Tatoeba, BUCC) have no training data: the encoder is pooled directly, so the
choice of layer, pooling and prefix *is* the protocol. This module makes each of them an
explicit argument rather than a hidden default, and always returns L2-normalised rows so that
a dot product is the cosine similarity.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from typing import TYPE_CHECKING

import numpy as np
import torch
from transformers import PreTrainedTokenizerBase

from xstilts.data.batching import length_sorted_batches
from xstilts.models.attention_kernels import attention_kernels
from xstilts.models.pooling import POOLING_CHOICES, pool
from xstilts.progress import progress_bar

if TYPE_CHECKING:  # transformers' modeling code takes ~2 s to import; annotations only
    from transformers import PreTrainedModel


def num_hidden_layers(model: PreTrainedModel) -> int:
    """Transformer layers of ``model`` (hidden_states has one more entry: the embeddings)."""
    n = getattr(model.config, "num_hidden_layers", None)
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"cannot tell how many layers {type(model).__name__} has")
    return n


def check_layer(model: PreTrainedModel, layer: int) -> int:
    """Validate ``layer`` (HF hidden_states indexing: 0 = embeddings, -1 = last) early.

    Failing before any batch runs saves minutes on a real model; the index is returned
    unchanged so results report the layer the user asked for.
    """
    n_states = num_hidden_layers(model) + 1
    if not -n_states <= layer < n_states:
        raise ValueError(
            f"layer {layer} is out of range: this encoder has {n_states - 1} layers, so valid "
            f"indices are 0..{n_states - 1} (0 = embeddings) or -1..-{n_states} from the top"
        )
    return layer


# Device memory the pooled vectors may hold before they are copied to the host (see
# :class:`_PendingRows`): 64 MiB is 44k rows of 384 floats.
_PENDING_LIMIT_BYTES = 64 * 2**20


def _device(model: PreTrainedModel) -> torch.device:
    return next(model.parameters()).device


class _PendingRows:
    """Pooled batches kept on the device and copied into ``out`` together.

    A ``.cpu()`` per batch makes the host wait for the device every batch, so a GPU idles
    while the next batch is padded; copying at the end (or every ``_PENDING_LIMIT_BYTES``,
    which bounds the device memory held) keeps it busy. On a CPU the copies are free anyway.
    """

    def __init__(self, out: np.ndarray):
        self.out = out
        self.batches: list[tuple[np.ndarray, torch.Tensor]] = []
        self.bytes = 0

    def add(self, rows: np.ndarray, vectors: torch.Tensor) -> None:
        self.batches.append((rows, vectors))
        self.bytes += vectors.numel() * vectors.element_size()
        if self.bytes >= _PENDING_LIMIT_BYTES:
            self.flush()

    def flush(self) -> None:
        for rows, vectors in self.batches:
            self.out[rows] = vectors.cpu().numpy()
        self.batches, self.bytes = [], 0


def embed_sentences(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    texts: Sequence[str],
    *,
    layer: int = -1,
    pooling: str = "mean",
    prefix: str = "",
    batch_size: int = 64,
    max_length: int = 128,
    autocast_bf16: bool = False,
    desc: str = "embed",
    progress: bool = True,
) -> np.ndarray:
    """Embed ``texts`` as L2-normalised float32 rows, in input order.

    ``layer`` counts like Hugging Face ``hidden_states`` (0 = embedding output, -1 = last
    layer), so XTREME's "layer 14 of XLM-R large" is ``layer=14``. Mean pooling averages
    non-padding tokens only. ``prefix`` is prepended to every text (e5's ``"query: "``).
    ``batch_size`` is the most rows a batch holds; batches of long texts hold fewer
    (:func:`xstilts.data.batching.length_sorted_batches`).
    """
    if pooling not in POOLING_CHOICES:
        raise ValueError(f"pooling must be one of {POOLING_CHOICES}, got {pooling!r}")
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    check_layer(model, layer)
    hidden_size = int(model.config.hidden_size)
    if not texts:
        return np.zeros((0, hidden_size), dtype=np.float32)
    encoded = tokenizer([prefix + t for t in texts], truncation=True, max_length=max_length)
    ids = encoded["input_ids"]
    out = np.zeros((len(texts), hidden_size), dtype=np.float32)
    device = _device(model)
    use_bf16 = autocast_bf16 and device.type in ("cpu", "cuda")
    model.eval()
    pending = _PendingRows(out)
    bar = progress_bar(total=len(texts), desc=desc, unit="sent", leave=False, disable=not progress)
    context = torch.autocast(device.type, dtype=torch.bfloat16) if use_bf16 else nullcontext()
    with torch.inference_mode(), attention_kernels(device):
        for indices in length_sorted_batches([len(x) for x in ids], batch_size):
            rows = np.asarray(indices)
            batch = tokenizer.pad({"input_ids": [ids[i] for i in rows]}, return_tensors="pt")
            batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
            with context:
                result = model(**batch, output_hidden_states=True)
            pooled = pool(result.hidden_states[layer].float(), batch["attention_mask"], pooling)
            pending.add(rows, torch.nn.functional.normalize(pooled, p=2.0, dim=-1))
            bar.update(len(rows))
        pending.flush()
    bar.close()
    return out
