"""Tatoeba accuracy of the bundled multilingual-e5-small vs the measured reference.

Run: ``python benchmarks/tatoeba_bundled.py [--data-dir ../shared/data] [--langs de,fr]``.
Protocol (as in ../shared/docs/REFERENCE-NUMBERS.md): mean pooling of the last layer over
non-padding tokens, L2-normalised, cosine nearest neighbour over the whole English side, no
prefix. The reference columns are that document's "measured here" accuracies, so a gap of
more than a point or two means the protocol drifted, not that the model changed.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from xstilts.evaluation.retrieval import evaluate_tatoeba
from xstilts.models import load_encoder

# Accuracy in %, (xx->en, en->xx), from REFERENCE-NUMBERS.md ("measured here", no prefix).
REFERENCE = {
    "de": (98.5, 97.1), "fr": (92.6, 93.7), "es": (95.4, 94.9), "ru": (92.1, 92.5),
    "zh": (92.1, 90.8), "ja": (87.5, 88.1), "ko": (79.6, 77.2), "ar": (80.6, 81.7),
    "hi": (96.0, 96.8), "sw": (76.4, 81.3), "eu": (64.7, 64.9), "tl": (86.9, 89.7),
    "tr": (92.7, 91.4), "vi": (91.5, 92.2),
}
ISSUE_LANGUAGES = "de,fr,es,ru,zh,ja,ko,ar,hi,eu,tl,sw"
DEFAULT_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA.resolve())
    parser.add_argument("--langs", default=ISSUE_LANGUAGES)
    parser.add_argument("--model", default="bundled:multilingual-e5-small")
    args = parser.parse_args()
    languages = args.langs.split(",")
    start = time.perf_counter()
    results = evaluate_tatoeba(load_encoder(args.model), languages, args.data_dir,
                               direction="both")
    seconds = time.perf_counter() - start
    by_key = {(r["language"], r["direction"]): r for r in results}
    print("| lang | n | xx→en | ref | Δ | en→xx | ref | Δ |")
    print("|---|---|---|---|---|---|---|---|")
    gaps = []
    for lang in languages:
        row = [lang, str(by_key[(lang, "xx2en")]["n"])]
        for i, d in enumerate(("xx2en", "en2xx")):
            ours = 100 * by_key[(lang, d)]["value"]
            ref = REFERENCE.get(lang, (float("nan"),) * 2)[i]
            gaps.append(abs(ours - ref))
            row += [f"{ours:.1f}", f"{ref:.1f}", f"{ours - ref:+.1f}"]
        print("| " + " | ".join(row) + " |")
    n_sent = 2 * sum(by_key[(lang, "xx2en")]["n"] for lang in languages)
    print(f"\nmax |Δ| {max(gaps):.2f} points; {n_sent} sentences in {seconds:.0f} s "
          f"({n_sent / seconds:.0f} sentences/s)")


if __name__ == "__main__":
    main()
