"""Where the built-in tasks' data comes from and under which terms, for model cards.

Why a table here: the task registry describes tasks but records no licenses, and a model card
must name the terms of the data a model was trained and evaluated on. Entries follow the
sources' own statements (docs/data and the shared data manifest); a task not listed is
reported as unknown in the card rather than guessed.
"""

from __future__ import annotations

# task -> (license / terms as the source states them, Hugging Face dataset id or "")
DATA_TERMS: dict[str, tuple[str, str]] = {
    "xnli": ("CC BY-NC 4.0 (XNLI); its English training data is MNLI", "facebook/xnli"),
    "mnli": ("MultiNLI: OANC and other free licenses, per genre (see the MultiNLI paper)",
             "nyu-mll/multi_nli"),
    "pawsx": ("PAWS-X: free for any purpose, attribution to Google requested", ""),
    "xquad": ("CC BY-SA 4.0", "google/xquad"),
    "squad": ("CC BY-SA 4.0", "rajpurkar/squad"),
    "mlqa": ("CC BY-SA 3.0", "facebook/mlqa"),
    "tydiqa": ("Apache 2.0", ""),
    "panx": ("WikiANN (Pan et al. 2017; Rahimi et al. 2019 splits): no formal license, "
             "research use", ""),
    "udpos": ("Universal Dependencies v2.5: licenses vary by treebank (mostly CC BY-SA 4.0, "
              "some CC BY-NC-SA)", ""),
    "xcopa": ("CC BY 4.0", "cambridgeltl/xcopa"),
    "copa": ("BSD 2-Clause", ""),
    "siqa": ("CC BY 4.0", ""),
    "tatoeba": ("Tatoeba: CC BY 2.0 FR", ""),
    "bucc2018": ("BUCC 2018 shared-task data: research use", ""),
    "sst2": ("SST / GLUE: research use", ""),
    "humaneval-match": ("HumanEval: MIT", ""),
    "mbpp-match": ("MBPP: CC BY 4.0", ""),
    "codexglue-java-cs": ("CodeXGLUE: C-UDA", ""),
    "cosqa": ("CodeXGLUE: C-UDA", ""),
    "cldr-continents": ("Unicode CLDR data as shipped by babel: Unicode License", ""),
    "cldr-units": ("Unicode CLDR data as shipped by babel: Unicode License", ""),
}

UNKNOWN = "unknown (xstilts records no license for this task; check its source)"


def data_terms(task: str) -> str:
    return DATA_TERMS.get(task, (UNKNOWN, ""))[0]


def dataset_id(task: str) -> str:
    """The task's Hugging Face dataset id where one is known, else ""."""
    return DATA_TERMS.get(task, ("", ""))[1]
