"""The feature cache: a second study over the same data re-tokenises nothing, and anything that
decides the features (the examples, the options, the tokenizer) is a miss."""

from __future__ import annotations

import dataclasses
import json
import os
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from xstilts.cli import app
from xstilts.data.feature_options import FeatureOptions
from xstilts.models import load_encoder
from xstilts.studies.executor import run_study
from xstilts.studies.spec import StudySpec
from xstilts.tasks import get_task
from xstilts.tasktypes import feature_cache
from xstilts.tasktypes.classification import ClassificationHandler
from xstilts.tasktypes.feature_cache import CACHE_ENV, cached_featurize
from xstilts.tasktypes.registry import handler_for


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "features"
    monkeypatch.setenv(CACHE_ENV, str(folder))
    return folder


@pytest.fixture
def featurize_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Every real featurisation of a classification handler: (task, number of examples)."""
    calls: list[tuple[str, int]] = []
    original = ClassificationHandler.featurize

    def counting(self, task, examples, *args, **kwargs):
        calls.append((task.name, len(examples)))
        return original(self, task, examples, *args, **kwargs)

    monkeypatch.setattr(ClassificationHandler, "featurize", counting)
    return calls


def test_hits_equal_what_was_built_and_misses_follow_the_inputs(
        cache: Path, featurize_calls: list, shared_data: Path) -> None:
    task = get_task("xnli")
    handler = handler_for(task)
    _, tokenizer = load_encoder("tiny:random")
    examples = task.load("dev", "de", shared_data)[:30]
    options = FeatureOptions(max_seq_length=48)

    built = cached_featurize(handler, task, examples, tokenizer, options, training=False)
    again = cached_featurize(handler, task, examples, tokenizer, options, training=False)
    assert len(featurize_calls) == 1  # the second call read the entry
    assert again == built and len(list(cache.rglob("*.json"))) == 1
    # the rows are the tokenizer's pair encoding, truncated to 48
    first = examples[0]
    expected = tokenizer(first.texts[0], first.texts[1], truncation=True, max_length=48)
    assert again.rows[0]["input_ids"] == expected["input_ids"]

    edited = [dataclasses.replace(examples[0], texts=("Ein anderer Satz.", "Noch einer.")),
              *examples[1:]]
    cached_featurize(handler, task, edited, tokenizer, options, training=False)
    cached_featurize(handler, task, examples, tokenizer, FeatureOptions(max_seq_length=32),
                     training=False)
    assert len(featurize_calls) == 3  # an edited example and another length: both missed


def test_a_damaged_entry_is_rebuilt_and_off_means_off(
        cache: Path, featurize_calls: list, shared_data: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    task = get_task("xnli")
    handler = handler_for(task)
    _, tokenizer = load_encoder("tiny:random")
    examples = task.load("dev", "en", shared_data)[:10]
    options = FeatureOptions(max_seq_length=32)
    built = cached_featurize(handler, task, examples, tokenizer, options, training=True)
    [entry] = cache.rglob("*.json")
    entry.write_text("{truncated", encoding="utf-8")
    assert cached_featurize(handler, task, examples, tokenizer, options, training=True) == built
    assert len(featurize_calls) == 2

    monkeypatch.setenv(CACHE_ENV, "0")
    assert feature_cache.feature_cache_dir() is None
    cached_featurize(handler, task, examples, tokenizer, options, training=True)
    assert len(featurize_calls) == 3


def test_a_second_study_over_the_same_data_tokenises_nothing(
        cache: Path, featurize_calls: list, shared_data: Path, tmp_path: Path) -> None:
    spec = StudySpec.model_validate({
        "name": "cache-1", "encoder": "tiny:random", "seeds": [0],
        "targets": [{"task": "xnli", "languages": ["en", "de"], "train_split": "dev",
                     "dev_split": "dev", "eval_split": "test"}],
        "training": {"epochs": 1, "batch_size": 16, "max_seq_length": 32,
                     "max_train_examples": 32, "max_dev_examples": 16},
        "evaluation": {"max_examples": 20, "bootstrap_resamples": 20}})
    first = run_study(spec, tmp_path / "out-1", data_dir=shared_data, log=lambda _: None)
    assert not first.failed and featurize_calls  # train, dev, test en, test de
    tokenised = len(featurize_calls)

    # another study (another name and output folder, another seed) over the same data
    second_spec = spec.model_copy(update={"name": "cache-2", "seeds": [1]})
    second = run_study(second_spec, tmp_path / "out-2", data_dir=shared_data,
                       log=lambda _: None)
    assert not second.failed and len(featurize_calls) == tokenised


def test_cache_command_shows_and_clears_entries(
        cache: Path, featurize_calls: list, shared_data: Path) -> None:
    """`xstilts cache` counts the entries real featurisations wrote; --clear-features
    --older-than keeps the recent ones, --clear-features alone removes all, and a cleared
    entry is featurised again."""
    task = get_task("xnli")
    handler = handler_for(task)
    _, tokenizer = load_encoder("tiny:random")
    examples = task.load("dev", "de", shared_data)[:20]
    for length in (24, 32, 48):
        cached_featurize(handler, task, examples, tokenizer, FeatureOptions(max_seq_length=length),
                         training=False)
    entries = sorted(cache.rglob("*.json"))
    assert len(entries) == 3
    old = time.time() - 10 * 86_400
    os.utime(entries[0], (old, old))  # written ten days ago
    runner = CliRunner()
    shown = json.loads(runner.invoke(app, ["cache", "--json"]).output)
    assert shown["entries"] == 3 and shown["bytes"] == sum(e.stat().st_size for e in entries)
    cleared = json.loads(runner.invoke(app, ["cache", "--clear-features", "--older-than", "7",
                                             "--json"]).output)
    assert cleared["removed"] == 1 and cleared["entries"] == 2 and not entries[0].exists()
    cleared = json.loads(runner.invoke(app, ["cache", "--clear-features", "--json"]).output)
    assert cleared["removed"] == 2 and cleared["entries"] == 0 and cleared["oldest"] is None
    assert not list(cache.iterdir())  # the emptied sub-folders go too
    cached_featurize(handler, task, examples, tokenizer, FeatureOptions(max_seq_length=24),
                     training=False)
    assert len(featurize_calls) == 4  # cleared: built again
    refused = runner.invoke(app, ["cache", "--older-than", "7"])
    assert refused.exit_code == 2 and "--older-than needs --clear-features" in refused.output
