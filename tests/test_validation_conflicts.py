"""Option × task combinations the engine cannot run are refused by study validation, with the
file line and key, all at once, before any training (check_study and `xstilts run --dry-run`).

Each combination here used to fail only when its run started, after earlier runs had trained.
Line numbers are counted by hand in each study text (line 1 is ``name:``).
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from xstilts.cli import app
from xstilts.errors import StudyConfigError
from xstilts.studies.planner import check_study
from xstilts.studies.spec import load_study

runner = CliRunner()


def write(tmp_path: Path, text: str, name: str = "study.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def problems_of(path: Path, data_dir: Path | None = None) -> str:
    with pytest.raises(StudyConfigError) as info:
        check_study(load_study(path), path, data_dir)
    return str(info.value)


def test_siamese_on_task_types_without_a_bi_encoder(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        name: siamese-types
        encoder: tiny:random
        targets:
          - task: cldr-continents
            training: {pair_encoding: siamese}
          - {task: copa, training: {pair_encoding: siamese}}
          - task: udpos
            training:
              pair_encoding: siamese
          - {task: squad, training: {pair_encoding: siamese}}
        """)
    message = problems_of(path)
    # Each problem is at the line of the key that asks for siamese.
    assert ("line 5, targets.0.training.pair_encoding: task 'cldr-continents' "
            "(classification) has no siamese architecture") in message
    assert "line 6, targets.1.training.pair_encoding: task 'copa' (multiple_choice)" in message
    assert "line 9, targets.2.training.pair_encoding: task 'udpos' (tagging)" in message
    assert "line 10, targets.3.training.pair_encoding: task 'squad' (extractive_qa)" in message


def test_study_wide_siamese_names_the_key_and_each_task_using_it(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        name: siamese-wide
        encoder: tiny:random
        intermediate:
          - mix: [humaneval-match, cldr-units]
        targets: [humaneval-match, cldr-continents]
        training: {epochs: 1, pair_encoding: siamese}
        """)
    message = problems_of(path)
    assert ("line 6, training.pair_encoding: task 'cldr-units' (classification) has no "
            "siamese architecture") in message
    assert "(used by intermediate.0.mix.1)" in message
    assert "task 'cldr-continents' (classification)" in message
    assert "(used by targets.1)" in message
    assert "humaneval-match'" not in message  # pair tasks are fine as siamese
    assert ": 2 problem(s) in the study" in message  # exactly the two classification tasks


def test_phase_override_of_pair_encoding_is_the_key_reported(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        name: siamese-phase
        encoder: tiny:random
        intermediate: [cldr-units]
        targets: [humaneval-match]
        intermediate_training:
          pair_encoding: siamese
        """)
    message = problems_of(path)
    assert ("line 6, intermediate_training.pair_encoding: task 'cldr-units' (classification)"
            in message)
    assert "(used by intermediate.0)" in message


def test_siamese_on_a_single_text_user_regression_task(tmp_path: Path) -> None:
    (tmp_path / "scores.tsv").write_text("text\tscore\nhello\t1.0\n", encoding="utf-8")
    write(tmp_path, """\
        tasks:
          - name: conflict-single-text-scores
            type: regression
            languages: [en]
            format: tsv
            files: {path: scores.tsv}
            columns: {text_a: text, label: score}
            splits: [train, dev, test]
        """, "tasks.yaml")
    path = write(tmp_path, """\
        name: single-text
        encoder: tiny:random
        task_files: [tasks.yaml]
        targets: [conflict-single-text-scores]
        target_training: {pair_encoding: siamese}
        """)
    message = problems_of(path)
    assert ("line 5, target_training.pair_encoding: task 'conflict-single-text-scores' has one "
            "text per example") in message
    assert "(used by targets.0)" in message


def test_substitution_smoothing_on_extractive_qa_and_a_missing_dictionary(
        tmp_path: Path) -> None:
    good = tmp_path / "dict.txt"
    good.write_text("Germany\tDeutschland\n", encoding="utf-8")
    path = write(tmp_path, f"""\
        name: substitution
        encoder: tiny:random
        targets:
          - task: xquad
            training:
              smoothing: {{substitution_dictionary: '{good}'}}
          - task: cldr-continents
            training: {{smoothing: {{substitution_dictionary: '{tmp_path / "nope.txt"}'}}}}
          - task: humaneval-match
            training: {{smoothing: {{substitution_dictionary: '{good}'}}}}
        """)
    message = problems_of(path)
    assert ("line 6, targets.0.training.smoothing.substitution_dictionary: task 'xquad' is "
            "extractive QA: substituting words would move its answer spans") in message
    assert (f"line 8, targets.1.training.smoothing.substitution_dictionary: data file not "
            f"found: {tmp_path / 'nope.txt'}") in message
    assert "targets.2.training" not in message  # a readable dictionary on a pair task is fine


def test_qa_sequence_too_short_for_the_question(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        name: qa-lengths
        encoder: tiny:random
        targets:
          - {task: xquad, training: {max_seq_length: 64}}
          - {task: mlqa, training: {max_seq_length: 64, max_query_length: 32}}
        """)
    message = problems_of(path)
    # 64 - 64 (question) - 3 (special tokens) = -3 < 8; 64 - 32 - 3 = 29 is fine.
    assert ("line 4, targets.0.training.max_seq_length: task 'xquad': max_seq_length 64 "
            "leaves -3 context tokens") in message
    assert "targets.1.training" not in message


def test_retrieval_task_as_intermediate_and_generalized_duplicates(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        name: retrieval-inter
        encoder: tiny:random
        intermediate: [tatoeba]
        targets: [xnli]
        evaluation: {generalized: [en, de, en]}
        """)
    message = problems_of(path)
    assert "line 3, intermediate.0.task: task 'tatoeba' is of type retrieval" in message
    assert "targets.0: evaluation.generalized lists en more than once" in message


def test_generalized_languages_outside_the_evaluated_ones_need_their_files(
        tmp_path: Path) -> None:
    (tmp_path / "xnli").mkdir()
    for split, lang in (("train", "en"), ("dev", "en"), ("test", "en")):
        (tmp_path / "xnli" / f"{split}-{lang}.tsv").write_text("x\n", encoding="utf-8")
    path = write(tmp_path, """\
        name: generalized-files
        encoder: tiny:random
        targets: [{task: xnli, languages: [en]}]
        evaluation: {generalized: [en, de]}
        """)
    message = problems_of(path, tmp_path)
    assert (f"line 4, evaluation.generalized: generalized evaluation data not found: "
            f"{tmp_path / 'xnli' / 'test-de.tsv'}") in message


def test_every_problem_is_reported_together(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        name: many
        encoder: tiny:random
        intermediate: [tatoeba, {task: cldr-units, training: {pair_encoding: siamese}}]
        targets:
          - {task: cldr-continents, training: {pair_encoding: siamese}}
          - {task: xquad, training: {max_seq_length: 32}}
        evaluation: {align: {method: lstsq}}
        """)
    with pytest.raises(StudyConfigError) as info:
        check_study(load_study(path), path, None)
    problems = info.value.problems
    expected = ["intermediate.0.task: task 'tatoeba' is of type retrieval",
                "intermediate.1.training.pair_encoding: task 'cldr-units'",
                "targets.0.training.pair_encoding: task 'cldr-continents'",
                "targets.1.training.max_seq_length: task 'xquad'",
                "evaluation.align projects per-sentence vectors"]
    for part in expected:
        assert any(part in p for p in problems), part


def test_valid_combinations_still_validate(tmp_path: Path) -> None:
    dictionary = tmp_path / "dict.txt"
    dictionary.write_text("def\tfunction\n", encoding="utf-8")
    path = write(tmp_path, f"""\
        name: fine
        encoder: tiny:random
        intermediate: [none, cldr-units]
        targets:
          - task: humaneval-match
            training:
              pair_encoding: siamese
              adversarial: {{method: pgd}}
              smoothing: {{substitution_dictionary: '{dictionary}', noise_sigma: 0.1}}
          - {{task: cldr-continents, training: {{adversarial: {{method: freelb}}}}}}
        training: {{epochs: 1}}
        """)
    check_study(load_study(path), path, None)  # raises on any problem


def test_dry_run_refuses_before_any_training(tmp_path: Path) -> None:
    path = write(tmp_path, """\
        name: dry
        encoder: tiny:random
        targets: [cldr-continents]
        training: {pair_encoding: siamese}
        """)
    out = tmp_path / "out"
    result = runner.invoke(app, ["run", str(path), "--dry-run", "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert "line 4, training.pair_encoding: task 'cldr-continents'" in " ".join(
        result.output.split())
    result = runner.invoke(app, ["run", str(path), "--out", str(out)])
    assert result.exit_code == 2
    assert not (out / "runs").exists()  # refused before any run was planned or trained
