"""Every file of ../shared/data/xstilts-samples (real X-STILTs intermediate-task samples in
their original formats) read with the real readers, through ``--data-dir ../shared/data``.

Expected counts and label distributions are the MANIFEST.md's (checked there with python's
csv/json); the spot-checked field values were read from the files with ``head``. XNLI-MT's
translate-train files are no intermediate task's: their reader and tests are the
translate-train ones'.
"""

from __future__ import annotations

import logging
import textwrap
from collections import Counter
from pathlib import Path

import pytest

from xstilts.errors import MissingDataError, StudyConfigError
from xstilts.studies.planner import check_study
from xstilts.studies.spec import load_study
from xstilts.tasks.registry import get_task

# XNLI's label order, as the NLI readers use it.
C, E, N = 0, 1, 2


@pytest.fixture(scope="module")
def data(shared_data: Path) -> Path:
    """The shared data folder, as a study with XTREME targets passes it (--data-dir)."""
    if not (shared_data / "xstilts-samples" / "MANIFEST.md").is_file():
        pytest.skip(f"X-STILTs samples not found at {shared_data / 'xstilts-samples'}")
    return shared_data


def load(task: str, split: str, data_dir: Path) -> list:
    return get_task(task).load(split, "en", data_dir)


def labels(examples: list) -> Counter:
    return Counter(e.label for e in examples)


# -- counts and labels of every file --------------------------------------------------------


def test_mnli_train_and_both_dev_files(data: Path) -> None:
    train = load("mnli", "train", data)
    assert len(train) == 480 and labels(train) == {E: 160, N: 160, C: 160}
    assert len({e.id for e in train}) == 480  # 480 unique pairIDs
    # head -2 mnli/train.tsv: pairID 136628e, entailment
    assert train[0].id == "mnli-train-136628e" and train[0].label == E
    assert train[0].texts == ("Price caps may sound more attractive with every passing rate case.",
                              "Rate cases make price caps sound more attractive.")
    # GLUE's dev header has five annotator columns (16 in all): read by column name.
    dev = load("mnli", "dev", data)
    assert [(e.id, e.label) for e in dev] == [("mnli-dev-63735n", N), ("mnli-dev-91383c", C)]
    assert dev[0].texts == ("The new rights are nice enough",
                            "Everyone really likes the newest benefits")
    # dev_mismatched is no split of the task; its reader reads the same format.
    from xstilts.tasks.formats.intermediate import read_mnli

    mismatched = read_mnli(data / "xstilts-samples/mnli/dev_mismatched.tsv", hint="")
    assert [(e.id, e.label) for e in mismatched] == [("75290c", C), ("133794c", C)]
    assert mismatched[0].texts[1] == ("Your contributions were of no help with our "
                                      "students' education.")


def test_qqp_train_and_dev(data: Path) -> None:
    train = load("qqp", "train", data)
    assert len(train) == 320 and labels(train) == {0: 160, 1: 160}
    assert train[0].id == "qqp-train-360105" and train[0].label == 1
    assert train[0].texts == ("Can I develope mobile apps with c++?",
                              "How can I develop mobile apps with C++?")
    dev = load("qqp", "dev", data)
    assert [(e.id, e.label) for e in dev] == [("qqp-dev-201359", 0), ("qqp-dev-263843", 0)]
    assert dev[0].texts == ("Why are African-Americans so beautiful?",
                            "Why are hispanics so beautiful?")


def test_anli_reads_the_rounds_present_and_says_which(data: Path, caplog) -> None:
    with caplog.at_level(logging.INFO, logger="xstilts.tasks"):
        dev = load("anli", "dev", data)
    assert len(dev) == 2000
    by_round = Counter(e.id.split("-")[1] for e in dev)
    assert by_round == {"R1": 1000, "R2": 1000}
    r1 = [e for e in dev if e.id.startswith("anli-R1-")]
    assert labels(r1) == {E: 334, N: 333, C: 333}  # MANIFEST: R1 e 334, n 333, c 333
    # head -c 600 anli_v1.0/R1/dev.jsonl: the premise key is "context"; label c
    assert r1[0].id == "anli-R1-bf628cf5-6948-4595-a6d0-daf99beb47b9" and r1[0].label == C
    assert r1[0].texts[0].startswith("Linguistics is the scientific study of language")
    assert r1[0].texts[1] == ("Form and meaning are the only aspects of language linguistics "
                              "is concerned with.")
    r2 = [e for e in dev if e.id.startswith("anli-R2-")]
    assert r2[0].id == "anli-R2-4145fcb6-de26-4910-a4f0-64275c50f2be" and r2[0].label == N
    assert r2[0].texts[1] == "Risk Records released Jack Off Jill's initial album."
    assert sum(labels(r2).values()) == 1000 and set(labels(r2)) == {C, E, N}
    warned = [r for r in caplog.records if "ANLI round" in r.getMessage()]
    assert len(warned) == 1 and warned[0].levelno == logging.WARNING
    message = warned[0].getMessage()
    assert "R1 (" in message and "R2 (" in message and "absent: R3" in message
    assert str(data / "xstilts-samples/anli/anli_v1.0/R1/dev.jsonl") in message


def test_anli_without_any_round_names_every_path_looked_for(data: Path, tmp_path: Path) -> None:
    # The samples hold no ANLI train file of any round.
    with pytest.raises(MissingDataError) as err:
        load("anli", "train", data)
    message = str(err.value)
    assert f"data file not found: {data / 'anli/R1/train.jsonl'}" in message
    for pattern in ("anli/<round>/<split>.jsonl", "anli/anli_v1.0/<round>/<split>.jsonl",
                    "anli_v1.0/<round>/<split>.jsonl",
                    "xstilts-samples/anli/anli_v1.0/<round>/<split>.jsonl", "R1-R3"):
        assert pattern in message
    # One round is enough, whichever it is (a copy of R2 alone, in the release layout).
    only_r2 = tmp_path / "anli_v1.0/R2/dev.jsonl"
    only_r2.parent.mkdir(parents=True)
    only_r2.write_bytes((data / "xstilts-samples/anli/anli_v1.0/R2/dev.jsonl").read_bytes())
    assert Counter(e.id.split("-")[1] for e in load("anli", "dev", tmp_path)) == {"R2": 1000}


def test_squad2_dev_sample(data: Path) -> None:
    dev = load("squad2", "dev", data)
    impossible = [e for e in dev if e.answers == ()]
    assert (len(dev), len(impossible)) == (626, 333)  # 293 answerable
    # head -c 1200 squad/dev-v2.0.json: the first question and its answers
    assert dev[0].question == "In what country is Normandy located?"
    assert [a.text for a in dev[0].answers] == ["France"] * 4
    assert dev[0].context[159:165] == "France"  # answer_start 159


def test_cosmosqa_valid_csv_with_crlf(data: Path) -> None:
    dev = load("cosmosqa", "dev", data)
    assert len(dev) == 2000
    assert labels(dev) == {0: 504, 1: 494, 2: 518, 3: 484}
    first = dev[0]
    assert first.id.endswith("##378G7J1SJNCDAAIN46FM2P7T6KZEW2") and first.label == 1
    assert first.context.startswith("Do i need to go for a legal divorce ?")
    assert first.context.endswith("Why is this person asking about divorce ?")
    assert first.choices == ("If he gets married in the church he wo nt have to get a divorce .",
                             "He wants to get married to a different person .",
                             "He wants to know if he does nt like this girl can he divorce her ?",
                             "None of the above choices .")


def test_commonsenseqa_train_and_dev(data: Path) -> None:
    train, dev = load("commonsenseqa", "train", data), load("commonsenseqa", "dev", data)
    assert (len(train), len(dev)) == (1000, 1000)
    assert all(e.label in range(5) for e in train + dev)  # answerKey always one of A-E
    assert train[0].label == 0 and train[0].choices == (
        "ignore", "enforce", "authoritarian", "yell at", "avoid")
    assert train[0].context.startswith("The sanctions against the school were a punishing blow")
    assert train[1].label == 1
    assert dev[0].label == 0 and dev[0].choices[-1] == "new york"
    assert dev[0].context == ("A revolving door is convenient for two direction travel, but it "
                              "also serves as a security measure at a what?")


def test_hellaswag_two_plus_two_lines(data: Path) -> None:
    train, val = load("hellaswag", "train", data), load("hellaswag", "dev", data)
    assert [(e.id, e.label) for e in train] == [("hellaswag-train-4", 3), ("hellaswag-train-8", 3)]
    assert [(e.id, e.label) for e in val] == [("hellaswag-dev-24", 3), ("hellaswag-dev-92", 3)]
    assert val[0].context == "A man is sitting on a roof. he"
    assert val[0].choices[3] == "starts pulling up roofing on a roof."


def test_the_samples_folder_itself_still_works_as_data_dir(data: Path) -> None:
    # Before the xstilts-samples alternative, the readers were given the folder itself.
    folder = data / "xstilts-samples"
    assert len(load("mnli", "train", folder)) == 480
    assert len(load("anli", "dev", folder)) == 2000
    assert len(load("squad2", "dev", folder)) == 626


# -- what a study may ask of the samples ----------------------------------------------------


def _study(tmp_path: Path, intermediate: str) -> Path:
    path = tmp_path / "study.yaml"
    path.write_text(textwrap.dedent(f"""\
        name: samples
        encoder: bundled:multilingual-e5-small
        intermediate:
        {textwrap.indent(intermediate, "  ")}
        targets:
          - task: panx
            languages: [en, de]
            eval_split: dev
        """), encoding="utf-8")
    return path


def test_check_study_accepts_the_splits_the_samples_have(data: Path, tmp_path: Path) -> None:
    study = _study(tmp_path, textwrap.dedent("""\
        - mix: [mnli, qqp, {task: anli, train_split: dev}, {task: squad2, train_split: dev},
                {task: cosmosqa, train_split: dev}, commonsenseqa, hellaswag]"""))
    check_study(load_study(study), study, data)  # raises if a file is missing


def test_check_study_refuses_absent_splits_naming_the_path(data: Path, tmp_path: Path) -> None:
    # ANLI, SQuAD 2.0 and Cosmos QA have only dev here.
    study = _study(tmp_path, "- mix: [anli, squad2, cosmosqa]")
    with pytest.raises(StudyConfigError) as err:
        check_study(load_study(study), study, data)
    message = str(err.value)
    for missing in ("anli/R1/train.jsonl", "squad/train-v2.0.json", "cosmosqa/train.csv"):
        assert f"training data not found: {data / missing}" in message
