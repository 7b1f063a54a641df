"""Randomized smoothing by word substitution from a synonym or bilingual dictionary.

Each training example gets one perturbed version, drawn with the run seed (so seeds vary
the substitutions, as they vary data order and head initialisation, and one seed always
gives the same ones): every whitespace-separated word found in the dictionary is replaced,
with the given probability, by one of its substitutes. Tagging examples keep one tag per
word (a multi-word substitute is joined with no space change to the word count: it is kept
as one token). QA examples are refused, since substitution would move the answer offsets
(study validation refuses the combination before any training).
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from xstilts.errors import DataFormatError, XstiltsError
from xstilts.tasks.base import ChoiceExample, Example, QAExample, TaggingExample
from xstilts.tasks.readers import iter_lines


def load_dictionary(path: str | Path) -> dict[str, list[str]]:
    """Read 'word<whitespace>substitute' lines; a word may have several substitutes."""
    path = Path(path)
    table: dict[str, list[str]] = defaultdict(list)
    for number, line in iter_lines(path, "substitution_dictionary: give a text file of "
                                         "'word substitute' lines (e.g. a MUSE dictionary)"):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t") if "\t" in line else line.split(None, 1)
        if len(parts) != 2 or not parts[0].strip() or not parts[1].strip():
            raise DataFormatError(path, number, "expected 'word<TAB or space>substitute'")
        table[parts[0].strip()].append(parts[1].strip())
    if not table:
        raise DataFormatError(path, None, "dictionary has no entries")
    return dict(table)


class Substituter:
    """Seeded word substitution; the same (seed, example order) gives the same output."""

    def __init__(self, dictionary: dict[str, list[str]], probability: float, seed: int):
        self.dictionary = dictionary
        self.probability = probability
        self.rng = random.Random(seed)
        self.replaced = 0
        self.words = 0

    def word(self, word: str) -> str:
        self.words += 1
        options = self.dictionary.get(word) or self.dictionary.get(word.lower())
        if options and self.rng.random() < self.probability:
            self.replaced += 1
            return self.rng.choice(options)
        return word

    def text(self, text: str) -> str:
        return " ".join(self.word(w) for w in text.split(" "))

    def example(self, example: Any) -> Any:
        if isinstance(example, Example):
            return replace(example, texts=tuple(self.text(t) for t in example.texts))
        if isinstance(example, ChoiceExample):
            return replace(example, context=self.text(example.context),
                           choices=tuple(self.text(c) for c in example.choices))
        if isinstance(example, TaggingExample):
            return replace(example, tokens=tuple(self.word(t) for t in example.tokens))
        if isinstance(example, QAExample):
            raise XstiltsError("substitution smoothing cannot be used with extractive QA: it "
                               "would move the answer spans")
        raise XstiltsError(f"substitution smoothing does not support {type(example).__name__}")


def substitute_examples(examples: Sequence[Any], dictionary_path: str, probability: float,
                        seed: int) -> tuple[list[Any], dict[str, int]]:
    """Perturbed copies of ``examples`` and counts for the run log."""
    substituter = Substituter(load_dictionary(dictionary_path), probability, seed)
    out = [substituter.example(ex) for ex in examples]
    return out, {"words": substituter.words, "replaced": substituter.replaced}
