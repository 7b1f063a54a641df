"""``format: hf`` user tasks on a local dataset (save_to_disk); the hub path is not exercised."""

from __future__ import annotations

from pathlib import Path

import pytest

from xstilts.errors import XstiltsError
from xstilts.tasks.user import load_task_file

datasets = pytest.importorskip("datasets", reason="format: hf needs 'datasets' (xstilts[hf])")

TASK_FILE = """\
tasks:
  - name: {name}
    type: pair_classification
    labels: [different, paraphrase]
    languages: [en, de]
    format: hf
    hf:
      name: pawsx-local
      splits: {{dev: validation}}
      language_column: lang
    columns: {{id: id, text_a: sentence1, text_b: sentence2, label: label}}
    splits: [train, dev, test]
"""


@pytest.fixture(scope="module")
def task_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("hf")
    label = datasets.ClassLabel(names=["different", "paraphrase"])

    def part(prefix: str, languages: list[str]) -> object:
        rows = [(f"{prefix}-{lang}-{i}", lang, f"s1 {i}", f"s2 {i}", i % 2)
                for lang in languages for i in range(6)]
        names = ["id", "lang", "sentence1", "sentence2", "label"]
        columns = dict(zip(names, zip(*rows, strict=True), strict=True))
        features = datasets.Features({
            "id": datasets.Value("string"), "lang": datasets.Value("string"),
            "sentence1": datasets.Value("string"), "sentence2": datasets.Value("string"),
            "label": label,
        })
        return datasets.Dataset.from_dict({k: list(v) for k, v in columns.items()},
                                          features=features)

    datasets.DatasetDict({
        "train": part("train", ["en"]), "validation": part("dev", ["en"]),
        "test": part("test", ["en", "de"]),
    }).save_to_disk(str(folder / "pawsx-local"))
    return folder


def test_hf_task_reads_a_saved_dataset(task_folder: Path) -> None:
    path = task_folder / "t.yaml"
    path.write_text(TASK_FILE.format(name="hf-pawsx-local"))
    (task,) = load_task_file(path)
    assert len(task.load("train", "en", None)) == 6
    dev = task.load("dev", "en", None)  # our 'dev' is the dataset's 'validation'
    assert dev[0].id == "dev-en-0" and dev[1].label == 1 and dev[0].texts == ("s1 0", "s2 0")
    de = task.load("test", "de", None)
    assert len(de) == 6 and {ex.language for ex in de} == {"de"}


def test_hf_unknown_split_says_how_to_map_it(task_folder: Path) -> None:
    path = task_folder / "t2.yaml"
    path.write_text(TASK_FILE.format(name="hf-pawsx-nomap").replace(
        "splits: {dev: validation}", "splits: {}"))
    (task,) = load_task_file(path)
    with pytest.raises(XstiltsError, match="no split 'dev'.*hf.splits"):
        task.load("dev", "en", None)


def test_hf_config_template_is_per_language() -> None:
    from xstilts.tasks.hf import hf_config, hf_split
    from xstilts.tasks.user import HubSpec

    spec = HubSpec(name="google/xtreme", config="PAWS-X.{language}",
                   splits={"dev": "validation"})
    assert hf_config(spec, "de") == "PAWS-X.de" and hf_split(spec, "dev") == "validation"
    assert hf_split(spec, "test") == "test"

