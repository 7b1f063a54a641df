"""Dictionary substitution is drawn with the run seed: the same seed gives the same
substitutions, another seed others, and both phases pass the run's own seed."""

from __future__ import annotations

from pathlib import Path

import pytest

from xstilts.studies.planner import plan_study
from xstilts.studies.spec import load_study
from xstilts.tasks.base import Example
from xstilts.training import phases
from xstilts.training.substitution import substitute_examples

WORDS = [f"w{i}" for i in range(10)]


@pytest.fixture
def dictionary(tmp_path: Path) -> str:
    path = tmp_path / "dict.txt"
    path.write_text("".join(f"{w}\t{w.upper()}\n" for w in WORDS), encoding="utf-8")
    return str(path)


def _examples() -> list[Example]:
    return [Example(str(i), (" ".join(WORDS),), 0, "en") for i in range(20)]


def _texts(examples: list[Example]) -> list[str]:
    return [ex.texts[0] for ex in examples]


def test_same_seed_same_substitutions_other_seed_others(dictionary: str) -> None:
    first, counts = substitute_examples(_examples(), dictionary, 0.5, seed=3)
    again, _ = substitute_examples(_examples(), dictionary, 0.5, seed=3)
    other, _ = substitute_examples(_examples(), dictionary, 0.5, seed=4)
    assert _texts(first) == _texts(again)
    # 200 coin flips at p = 0.5: two seeds agree on all of them with probability 2^-200.
    assert _texts(first) != _texts(other)
    assert counts["words"] == 200  # 20 examples × 10 words, every one in the dictionary
    assert 0 < counts["replaced"] < 200


def test_probability_one_replaces_every_word_whatever_the_seed(dictionary: str) -> None:
    for seed in (0, 5):
        out, counts = substitute_examples(_examples(), dictionary, 1.0, seed=seed)
        assert _texts(out) == ["W0 W1 W2 W3 W4 W5 W6 W7 W8 W9"] * 20
        assert counts == {"words": 200, "replaced": 200}


class _Seen(Exception):
    """Stops a phase right after its substitution, carrying the seed it was drawn with."""


def test_both_phases_substitute_with_the_run_seed(tmp_path: Path, dictionary: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    study = tmp_path / "study.yaml"
    study.write_text(f"""name: substitution-seeds
encoder: tiny:random
seeds: [3, 7]
intermediate: [cldr-units]
targets: [{{task: cldr-continents, languages: [en]}}]
training: {{epochs: 1, max_seq_length: 24,
           smoothing: {{substitution_dictionary: '{dictionary}'}}}}
""", encoding="utf-8")
    plan = plan_study(load_study(study))

    def seen(examples, path, probability, seed):
        raise _Seen(seed)

    monkeypatch.setattr(phases, "substitute_examples", seen)
    drawn = {}
    for run in plan.runs:
        with pytest.raises(_Seen) as info:
            if run.kind == "intermediate":
                phases.run_intermediate(run.run, None, tmp_path / run.id)
            else:
                phases.run_target(run.run, "tiny:random", None, tmp_path / run.id)
        drawn[(run.kind, run.seed)] = info.value.args[0]
    assert drawn == {("intermediate", 3): 3, ("intermediate", 7): 7,
                     ("target", 3): 3, ("target", 7): 7}
