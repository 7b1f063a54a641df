"""Retrieval encoding speed: xstilts' ``embed_sentences`` vs sentence-transformers' ``encode``.

Run: ``python benchmarks/encode_vs_sentence_transformers.py [--data-dir ../shared/data]
[--lang de] [--sentences 1000] [--repeats 3]`` (needs the ``bench`` extra:
``pip install -e .[bench]``).

Both sides embed the same real Tatoeba sentences (the first ``--sentences`` pairs of one
language: both sides, so 2x that many sentences) with the same weights (the bundled
multilingual-e5-small folder), the same pooling (mean over non-padding tokens of the last
layer), max length and batch size, and L2-normalise. The timing covers the whole call,
tokenisation included. The sides alternate ``--repeats`` times and the JSON line reports the
median of each, the largest difference between the two sides' vectors, and the Tatoeba top-1
accuracy (both directions) computed from each side's vectors, which must be equal.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
from pathlib import Path

import numpy as np
import torch
from machine import interleaved, machine_facts

from xstilts.evaluation.embeddings import embed_sentences
from xstilts.evaluation.retrieval import load_tatoeba, tatoeba_correct
from xstilts.models import load_encoder
from xstilts.models.bundled import bundled_model_dir
from xstilts.training.precision import resolve_precision

DEFAULT_DATA = (Path(__file__).resolve().parents[1] / ".." / "shared" / "data").resolve()
BUNDLED = "multilingual-e5-small"


def sentence_transformer(max_length: int):  # -> SentenceTransformer (benchmark-only import)
    """The bundled folder as sentence-transformers builds it: Transformer + mean Pooling."""
    try:
        from sentence_transformers import SentenceTransformer
        from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
    except ImportError as err:
        raise SystemExit("this benchmark needs sentence-transformers: "
                         "pip install -e .[bench]") from err
    folder = str(bundled_model_dir(BUNDLED))
    word = Transformer(folder, max_seq_length=max_length)
    pooling = Pooling(word.get_embedding_dimension(), pooling_mode="mean")
    return SentenceTransformer(modules=[word, pooling], device="cpu")


def accuracies(vectors: np.ndarray, n_pairs: int) -> dict[str, float]:
    """Tatoeba top-1 accuracy (%) both ways from the stacked [source; English] vectors."""
    src, tgt = vectors[:n_pairs], vectors[n_pairs:]
    return {d: round(100 * float(tatoeba_correct(src, tgt, d).mean()), 2)
            for d in ("xx2en", "en2xx")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--lang", default="de")
    parser.add_argument("--sentences", type=int, default=1000,
                        help="pairs to take (each side is embedded: 2x this many sentences)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: torch's own choice)")
    args = parser.parse_args()
    logging.getLogger("sentence_transformers").setLevel(logging.WARNING)
    if args.threads:
        torch.set_num_threads(args.threads)

    pairs = load_tatoeba(args.lang, args.data_dir, args.sentences)
    texts = [p.source for p in pairs] + [p.target for p in pairs]
    encoder, tokenizer = load_encoder(f"bundled:{BUNDLED}")
    st_model = sentence_transformer(args.max_length)
    bf16 = resolve_precision("auto") == "bf16"  # bf16 only where the CPU runs it natively

    def theirs() -> np.ndarray:
        return st_model.encode(texts, batch_size=args.batch, normalize_embeddings=True,
                               convert_to_numpy=True, show_progress_bar=False)

    def ours() -> np.ndarray:
        return embed_sentences(encoder, tokenizer, texts, layer=-1, pooling="mean",
                               batch_size=args.batch, max_length=args.max_length,
                               autocast_bf16=bf16, progress=False)

    their_s, their_vectors, our_s, our_vectors = interleaved(theirs, ours, args.repeats)
    n = len(texts)
    their_rate = n / statistics.median(their_s)
    our_rate = n / statistics.median(our_s)
    their_acc = accuracies(their_vectors, len(pairs))
    our_acc = accuracies(our_vectors, len(pairs))
    print(json.dumps({
        "comparison": "retrieval_encoding_vs_sentence_transformers", "task": "tatoeba",
        "language": args.lang, "sentences": n, "max_length": args.max_length,
        "batch_size": args.batch, "model": f"bundled:{BUNDLED}",
        "sentence_transformers": {"sentences_per_s": round(their_rate, 2),
                                  "seconds": [round(s, 3) for s in their_s],
                                  "accuracy": their_acc},
        "xstilts": {"sentences_per_s": round(our_rate, 2), "bf16": bf16,
                    "seconds": [round(s, 3) for s in our_s], "accuracy": our_acc},
        "ratio": round(our_rate / their_rate, 2),
        "max_abs_embedding_diff": float(np.abs(their_vectors - our_vectors).max()),
        "equal_accuracy": their_acc == our_acc,
        "machine": machine_facts("sentence-transformers"),
    }))


if __name__ == "__main__":
    main()
