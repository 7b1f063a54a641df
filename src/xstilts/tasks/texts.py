"""The text fields of an example, each as the task types tokenise it.

Why: a trimmed vocabulary (:mod:`xstilts.models.vocab_trim`) is only exact for texts it was
trimmed on, and it must see each field the way a handler hands it to the tokenizer: premise
and hypothesis separately (a pair is encoded field by field), a QA question and its context,
a multiple-choice context and each choice, every word of a pre-split sentence (tagging
tokenises word by word), both sides of a bitext pair.
"""

from __future__ import annotations

from xstilts.tasks.base import (
    BitextExample,
    ChoiceExample,
    Example,
    MiningSentence,
    QAExample,
    TaggingExample,
)
from xstilts.tasks.xtreme_r_retrieval import RetrievalItem


def example_texts(example: object) -> tuple[str, ...]:
    """Every text field of ``example`` that a handler tokenises, each on its own."""
    if isinstance(example, Example):
        return example.texts
    if isinstance(example, QAExample):
        return (example.question, example.context)
    if isinstance(example, ChoiceExample):
        return (example.context, *example.choices)
    if isinstance(example, TaggingExample):
        return example.tokens
    if isinstance(example, BitextExample):
        return (example.source, example.target)
    if isinstance(example, MiningSentence | RetrievalItem):
        return (example.text,)
    raise TypeError(f"no text fields known for {type(example).__name__}; add its shape to "
                    "xstilts.tasks.texts.example_texts")
