"""Retrieval as a task type: every rule that differs between retrieval tasks follows the
task's retrieval kind (bitext / mining / pooled), never its name."""

from __future__ import annotations

import dataclasses

import pytest

from xstilts.errors import XstiltsError
from xstilts.evaluation.retrieval import Protocol
from xstilts.evaluation.retrieval_protocols import same_results
from xstilts.studies.planner import retrieval_settings
from xstilts.tasks import TaskType, get_task, list_tasks
from xstilts.tasks.base import RetrievalKind
from xstilts.tasktypes import encoder_handler_for, handler_for, trainable_types
from xstilts.tasktypes.retrieval import RetrievalHandler, retrieval_task_names

TATOEBA, BUCC = get_task("tatoeba"), get_task("bucc2018")
MEWSLI, LAREQA = get_task("mewsli-x"), get_task("lareqa")


def test_every_retrieval_task_declares_its_kind():
    kinds = {t.name: t.retrieval_kind for t in list_tasks() if t.type == TaskType.RETRIEVAL}
    assert kinds == {"tatoeba": RetrievalKind.BITEXT, "bucc2018": RetrievalKind.MINING,
                     "mewsli-x": RetrievalKind.POOLED, "lareqa": RetrievalKind.POOLED}
    assert {t.name for t in list_tasks() if t.reads_every_language} == {"lareqa"}
    assert retrieval_task_names() == ("tatoeba", "bucc2018", "lareqa", "mewsli-x")


def test_registered_as_a_task_type_that_is_not_trained():
    assert isinstance(encoder_handler_for(TATOEBA), RetrievalHandler)
    assert encoder_handler_for(get_task("xnli")) is None
    assert TaskType.RETRIEVAL not in trainable_types()
    with pytest.raises(XstiltsError, match="cannot be trained yet"):
        handler_for(TATOEBA)


def test_split_rule():
    handler = encoder_handler_for(TATOEBA)
    assert handler.split(TATOEBA, None) == "test"
    assert handler.split(BUCC, None) == "dev"  # test gold withheld
    assert handler.split(BUCC, "test") == "test"
    assert handler.split(MEWSLI, None) == "test" and handler.split(MEWSLI, "dev") == "dev"
    with pytest.raises(ValueError, match="task 'tatoeba' has no split 'dev'; it has test"):
        handler.split(TATOEBA, "dev")
    unlabeled = dataclasses.replace(MEWSLI, name="m", test_gold_withheld=True)
    assert handler.split(unlabeled, None) == "dev"


def test_recorded_protocol_per_kind():
    handler = encoder_handler_for(TATOEBA)
    protocol = Protocol(layer=7, direction="en2xx")  # k = 4, BUCC's margin neighbours
    bitext = handler.recorded_protocol(TATOEBA, protocol, 100)
    assert "k" not in bitext and bitext["max_pairs"] == 100 and bitext["direction"] == "en2xx"
    mining = handler.recorded_protocol(BUCC, protocol, None)
    assert mining["k"] == 4 and "max_pairs" not in mining
    pooled = handler.recorded_protocol(LAREQA, protocol, 2)
    assert "k" not in pooled and pooled["rank_cutoff"] == 20 and pooled["max_queries"] == 2
    assert "max_pairs" not in pooled


def test_heldout_alignment_only_on_bitext_tasks():
    handler = encoder_handler_for(BUCC)
    with pytest.raises(XstiltsError, match="bitext retrieval task .*'bucc2018' is mining"):
        handler.evaluate_run(None, BUCC, ["de"], None, split="dev", protocol=Protocol(),
                             max_examples=None, batch_size=64, resamples=10, seed=0,
                             predictions_dir=None, heldout=lambda *a: ([], {}))
    no_kind = dataclasses.replace(TATOEBA, name="t", retrieval_kind=None)
    with pytest.raises(XstiltsError, match="declares no retrieval_kind"):
        handler.kind(no_kind)


def test_planned_direction_and_run_identity_follow_the_kind():
    planned = {"direction": "en2xx", "layer": 7, "pooling": "mean", "prefix": ""}
    assert retrieval_settings(planned, TATOEBA) == planned  # bitext: as the protocol says
    assert retrieval_settings(planned, BUCC)["direction"] == "xx2en"
    assert retrieval_settings(planned, MEWSLI)["direction"] == "query2pool"
    legacy = {**planned, "direction": "xx2en"}
    # Only a bitext task searches in the protocol's direction, so only there does it matter.
    assert not same_results(planned, legacy, "tatoeba")
    assert same_results(planned, legacy, "bucc2018") and same_results(planned, legacy, "lareqa")
