"""The fast inference paths give what a straightforward loop gives, on real data.

Prediction (:func:`xstilts.tasktypes.predict.row_outputs`: length-sorted, dynamically padded
batches whose outputs reach the host together) and sentence embedding
(:func:`xstilts.evaluation.embeddings.embed_sentences`: token-capped length batches) are
compared with references that run one example at a time, unpadded, so batching, ordering,
padding and the deferred host copies can only agree with them if they are right. Speed is
measured by benchmarks/eval_vs_naive.py and benchmarks/encode_vs_sentence_transformers.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from xstilts.data.batching import length_sorted_batches
from xstilts.data.feature_options import FeatureOptions
from xstilts.evaluation import embeddings
from xstilts.evaluation.embeddings import embed_sentences
from xstilts.evaluation.retrieval import load_tatoeba
from xstilts.models import load_encoder
from xstilts.models.heads import TaskModel
from xstilts.tasks import get_task
from xstilts.tasktypes import predict as predict_module
from xstilts.tasktypes.predict import predict, row_outputs
from xstilts.tasktypes.registry import handler_for

ATOL = 1e-5  # float32 sums in a different order (other batch shapes), nothing more


def _task_model(task_name: str):
    encoder, tokenizer = load_encoder("tiny:random")
    task = get_task(task_name)
    handler = handler_for(task)
    torch.manual_seed(0)
    model = TaskModel(encoder, "mean")
    model.add_head(task.name, handler.build_head(task, model.hidden_size, "mean"))
    return model, tokenizer, task, handler


@torch.no_grad()
def _one_by_one(model: TaskModel, task_name: str, features) -> list[np.ndarray]:
    """Reference: each row alone, no padding, no mask to get wrong."""
    model.eval()
    out = []
    for row in features.rows:
        ids = torch.tensor([row["input_ids"]])
        _, result = model(task_name, {"input_ids": ids, "attention_mask": torch.ones_like(ids)})
        out.append(result[0].numpy())
    return out


@pytest.mark.parametrize(("task_name", "split"), [("xnli", "dev"), ("udpos", "dev")])
def test_row_outputs_equal_one_example_at_a_time(shared_data: Path, monkeypatch, task_name,
                                                 split):
    model, tokenizer, task, handler = _task_model(task_name)
    examples = task.load(split, "de", shared_data)[:48]
    features = handler.featurize(task, examples, tokenizer, FeatureOptions(max_seq_length=64),
                                 training=False)
    assert len(set(features.lengths)) > 5  # the batches really mix lengths
    reference = _one_by_one(model, task.name, features)
    for limit in (None, 1):  # outputs copied at the end, and after every batch
        if limit is not None:
            monkeypatch.setattr(predict_module, "_PENDING_LIMIT_BYTES", limit)
        ours = row_outputs(model, task.name, handler, features,
                           pad_id=tokenizer.pad_token_id, batch_size=8)
        for mine, ref in zip(ours, reference, strict=True):
            # a tagging row is padded to its batch's longest row; its own positions must match
            np.testing.assert_allclose(mine[:len(ref)], ref, atol=ATOL)
        assert (predict(model, task, handler, examples, features, pad_id=tokenizer.pad_token_id,
                        batch_size=8)
                == handler.decode(task, examples, features, reference))


@torch.no_grad()
def _embed_one_by_one(model, tokenizer, texts: list[str], layer: int) -> np.ndarray:
    """Reference: mean of one unpadded sentence's token states, L2-normalised."""
    model.eval()
    rows = []
    for text in texts:
        ids = tokenizer(text, truncation=True, max_length=128, return_tensors="pt")["input_ids"]
        hidden = model(input_ids=ids, output_hidden_states=True).hidden_states[layer][0]
        vector = hidden.mean(dim=0)
        rows.append((vector / vector.norm()).numpy())
    return np.stack(rows)


@pytest.mark.parametrize("layer", [-1, 1])
def test_embeddings_equal_one_sentence_at_a_time(shared_data: Path, monkeypatch, layer):
    model, tokenizer = load_encoder("tiny:random")
    pairs = load_tatoeba("de", shared_data, 40)
    texts = [p.source for p in pairs] + [p.target for p in pairs]
    reference = _embed_one_by_one(model, tokenizer, texts, layer)
    for limit in (None, 1):  # vectors copied at the end, and after every batch
        if limit is not None:
            monkeypatch.setattr(embeddings, "_PENDING_LIMIT_BYTES", limit)
        ours = embed_sentences(model, tokenizer, texts, layer=layer, batch_size=16,
                               progress=False)
        np.testing.assert_allclose(ours, reference, atol=ATOL)


def test_length_batches_cover_every_row_once_within_the_fixed_size_bounds(shared_data: Path):
    _, tokenizer = load_encoder("tiny:random")
    pairs = load_tatoeba("de", shared_data, 300)
    texts = [p.source for p in pairs] + [p.target for p in pairs]
    lengths = np.array([len(x) for x in tokenizer(texts, truncation=True,
                                                  max_length=128)["input_ids"]])
    batch_size = 32
    batches = [np.asarray(b) for b in length_sorted_batches(lengths.tolist(), batch_size)]
    assert sorted(np.concatenate(batches).tolist()) == list(range(len(texts)))
    padded = [len(b) * int(lengths[b].max()) for b in batches]
    assert all(len(b) <= batch_size for b in batches)
    budget = batch_size * lengths.mean()
    assert all(p <= max(budget, lengths[b].max()) for p, b in zip(padded, batches, strict=True))
    # fewer padded tokens than fixed batches of the same sorted order
    order = np.argsort(-lengths, kind="stable")
    fixed = sum(len(b) * int(lengths[b].max())
                for b in (order[i:i + batch_size] for i in range(0, len(order), batch_size)))
    assert sum(padded) < fixed
