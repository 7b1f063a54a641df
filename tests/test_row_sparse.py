"""Row-sparse AdamW on the word embeddings against torch's dense step (training/row_sparse.py).

Exact resume of the row-sparse path (the default on a CPU) is tested in test_trainer.py.

The reference is the dense path of the same training loop (``XSTILTS_ROW_SPARSE_EMBEDDINGS=0``):
torch's fused AdamW over the dense embedding gradient autograd builds.
"""

from __future__ import annotations

import pytest
import torch

from xstilts.models import load_encoder
from xstilts.tasks import get_task
from xstilts.tasktypes import FeatureOptions, handler_for
from xstilts.training import row_sparse
from xstilts.training import trainer as trainer_module
from xstilts.training.options import AdversarialOptions, TrainingOptions
from xstilts.training.phases import _model_with_heads
from xstilts.training.trainer import TrainingLoop, TrainingStream, train_model

# A learning rate large enough that every touched row moves visibly; weight decay on, so the
# rows no batch touches move too (decay only).
UNCLIPPED = TrainingOptions(epochs=2, batch_size=8, max_seq_length=24, learning_rate=1e-3,
                            warmup_ratio=0.0, weight_decay=0.1, max_grad_norm=1e9)


def _stream(tokenizer, n: int = 40) -> TrainingStream:
    task = get_task("cldr-continents")
    handler = handler_for(task)
    options = FeatureOptions(max_seq_length=24)
    train = task.load("train", "en")[:n]
    return TrainingStream(task, handler,
                          handler.featurize(task, train, tokenizer, options, training=True))


def _train(options: TrainingOptions, sparse: bool, monkeypatch: pytest.MonkeyPatch,
           seed: int = 0, **kwargs):
    monkeypatch.setenv(row_sparse.ENV_SWITCH, "1" if sparse else "0")
    encoder, tokenizer = load_encoder("tiny:random")
    stream = _stream(tokenizer)
    model = _model_with_heads(encoder, [stream], "mean", seed)
    before = model.encoder.get_input_embeddings().weight.detach().clone()
    train_model(model, [stream], options, seed=seed, pad_id=tokenizer.pad_token_id, **kwargs)
    return model, before, stream, tokenizer


def _state(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_unclipped_training_is_bit_identical_to_the_dense_step(monkeypatch) -> None:
    dense, before, stream, tokenizer = _train(UNCLIPPED, False, monkeypatch)
    sparse, _, _, _ = _train(UNCLIPPED, True, monkeypatch)
    dense_state, sparse_state = _state(dense), _state(sparse)
    assert dense_state.keys() == sparse_state.keys()
    different = [k for k in dense_state if not torch.equal(dense_state[k], sparse_state[k])]
    assert different == []
    # The comparison has teeth: touched rows trained, untouched rows decayed, both moved.
    weight = sparse.encoder.get_input_embeddings().weight.detach()
    seen = torch.unique(torch.tensor([i for r in stream.train.rows for i in r["input_ids"]]))
    unseen = torch.ones(len(weight), dtype=torch.bool)
    unseen[seen] = False
    assert not torch.equal(weight[seen], before[seen])
    decayed = before[unseen] * (1 - 1e-3 * 0.1)
    assert not torch.equal(weight[unseen], before[unseen])
    assert torch.allclose(weight[unseen], before[unseen], rtol=1e-3)
    assert unseen.sum() > 0 and decayed.numel() > 0


def test_clipped_training_agrees_with_the_dense_step_to_float_rounding(monkeypatch) -> None:
    clipped = UNCLIPPED.model_copy(update={"max_grad_norm": 0.5})
    dense, _, _, _ = _train(clipped, False, monkeypatch)
    sparse, _, _, _ = _train(clipped, True, monkeypatch)
    for key, value in _state(dense).items():
        assert torch.allclose(value, _state(sparse)[key], rtol=1e-4, atol=1e-6), key


def test_the_resume_file_holds_the_touched_rows_moments_only(tmp_path, monkeypatch) -> None:
    """The resume file written at the end of epoch 1 of 2 carries the moments of the rows
    looked up (not 250k dense rows)."""
    monkeypatch.setenv(row_sparse.ENV_SWITCH, "1")
    monkeypatch.setattr(trainer_module, "CHECKPOINT_MIN_SECONDS", 0.0)  # save at epoch ends
    encoder, tokenizer = load_encoder("tiny:random")
    stream = _stream(tokenizer)
    model = _model_with_heads(encoder, [stream], "mean", 0)
    loop = TrainingLoop(model, [stream], UNCLIPPED, seed=0, pad_id=tokenizer.pad_token_id,
                        resume_dir=tmp_path / "resume")
    assert loop.embedding_rows is not None
    index = loop.embedding_rows._index()
    loop.run()
    saved = torch.load(tmp_path / "resume" / "optimizer.pt", weights_only=True)["optimizer"]
    compact = saved[row_sparse.STATE_KEY]
    seen = {i for r in stream.train.rows for i in r["input_ids"]} - {tokenizer.pad_token_id}
    assert set(compact["rows"].tolist()) == seen
    width = model.encoder.get_input_embeddings().weight.shape[1]
    assert compact["exp_avg"].shape == (len(seen), width)
    assert bool((compact["exp_avg_sq"] > 0).any(1).all())
    assert int(compact["step"]) == loop.total_steps // 2
    assert index not in saved["state"]  # no dense copy as well


def _embedding_and_optimizer() -> tuple[torch.nn.Embedding, torch.optim.AdamW]:
    torch.manual_seed(0)
    embedding = torch.nn.Embedding(50, 32, padding_idx=1)
    optimizer = torch.optim.AdamW([{"params": [embedding.weight], "weight_decay": 0.1}],
                                  lr=1e-2, fused=True)
    return embedding, optimizer


def test_a_resume_file_of_the_dense_step_is_taken_over_exactly() -> None:
    """State written by torch's dense AdamW (an older xstilts, or the switch off) resumes
    row-sparsely with the same arithmetic."""
    torch.manual_seed(1)
    batches = [torch.tensor([[2, 3, 5, 3, 1]]), torch.tensor([[5, 7, 1, 9, 2]]),
               torch.tensor([[11, 3, 12, 1, 1]])]
    targets = [torch.randn(1, 5, 32) for _ in batches]
    dense, dense_optimizer = _embedding_and_optimizer()
    for ids, target in zip(batches[:1], targets[:1], strict=True):
        (dense(ids) * target).sum().backward()
        dense_optimizer.step()
        dense_optimizer.zero_grad()
    sparse, sparse_optimizer = _embedding_and_optimizer()
    with torch.no_grad():
        sparse.weight.copy_(dense.weight)
    rows = row_sparse.RowSparseEmbeddingAdamW(sparse, sparse_optimizer)
    sparse_optimizer.load_state_dict(dense_optimizer.state_dict())
    assert sorted(rows.rows.tolist()) == [2, 3, 5]
    for ids, target in zip(batches[1:], targets[1:], strict=True):
        (dense(ids) * target).sum().backward()
        dense_optimizer.step()
        dense_optimizer.zero_grad()
        (sparse(ids) * target).sum().backward()
        rows.step()
    rows.flush()  # the deferred decay of rows no batch looked up
    assert torch.equal(dense.weight, sparse.weight)
    assert not torch.equal(dense.weight[0], _embedding_and_optimizer()[0].weight[0])


def test_the_hook_is_removed_after_training(monkeypatch) -> None:
    model, _, _, _ = _train(UNCLIPPED.model_copy(update={"epochs": 1}), True, monkeypatch)
    assert not model.encoder.get_input_embeddings()._forward_hooks


@pytest.mark.parametrize("case", ["frozen", "adversarial", "tied", "switched_off"])
def test_dense_path_where_row_sparse_would_not_be_exact(case: str, monkeypatch) -> None:
    encoder, tokenizer = load_encoder("tiny:random")
    stream = _stream(tokenizer)
    model = _model_with_heads(encoder, [stream], "mean", 0)
    embedding = model.encoder.get_input_embeddings()
    options = UNCLIPPED
    if case == "frozen":
        options = options.model_copy(update={"freeze_embeddings": True})
    elif case == "adversarial":
        options = options.model_copy(update={"adversarial": AdversarialOptions()})
    elif case == "tied":
        model.decoder = torch.nn.Linear(embedding.weight.shape[1], embedding.weight.shape[0])
        model.decoder.weight = embedding.weight
    else:
        monkeypatch.setenv(row_sparse.ENV_SWITCH, "0")
    loop = TrainingLoop(model, [stream], options, seed=0, pad_id=tokenizer.pad_token_id)
    assert loop.embedding_rows is None


@pytest.mark.parametrize("max_pending", [2, 64])
def test_deferred_decay_gives_the_dense_steps_bits(max_pending: int, monkeypatch) -> None:
    """Rows first looked up late (7 after three steps, 13 never), the padding row (looked up,
    never a gradient) and rows looked up again: each lookup sees the dense step's row, and a
    flush leaves the dense step's matrix, with and without the periodic flushes."""
    monkeypatch.setattr(row_sparse, "MAX_PENDING", max_pending)
    monkeypatch.setattr(row_sparse, "FLUSH_BLOCK_ROWS", 16)  # several blocks of 50 rows
    torch.manual_seed(2)
    batches = [[[2, 3, 1]], [[3, 5, 1]], [[2, 2, 9]], [[7, 1, 3]], [[7, 11, 2]],
               [[40, 1, 1]], [[5, 7, 49]]]
    targets = [torch.randn(1, 3, 32) for _ in batches]
    dense, dense_optimizer = _embedding_and_optimizer()
    sparse, sparse_optimizer = _embedding_and_optimizer()
    rows = row_sparse.RowSparseEmbeddingAdamW(sparse, sparse_optimizer)
    for ids, target in zip(map(torch.tensor, batches), targets, strict=True):
        dense_out, sparse_out = dense(ids), sparse(ids)
        assert torch.equal(dense_out, sparse_out)  # the looked-up rows are up to date
        (dense_out * target).sum().backward()
        dense_optimizer.step()
        dense_optimizer.zero_grad()
        (sparse_out * target).sum().backward()
        rows.step()
    assert len(rows.pending) == (1 if max_pending == 2 else 7)  # flushed every 2 steps or not
    untouched = torch.ones(50, dtype=torch.bool)
    untouched[[1, 2, 3, 5, 7, 9, 11, 40, 49]] = False
    if rows.pending:  # the rows no batch looked up still lack their decay
        assert not torch.equal(dense.weight[untouched], sparse.weight[untouched])
    rows.flush()
    assert rows.pending == []
    assert torch.equal(dense.weight, sparse.weight)


def test_checkpoints_do_not_change_the_weights(tmp_path, monkeypatch) -> None:
    """Saving flushes the deferred decay: bit-identical to not saving (checkpoint frequency is
    bookkeeping, outside the run id)."""
    plain, _, _, _ = _train(UNCLIPPED, True, monkeypatch)
    saving, _, _, _ = _train(UNCLIPPED.model_copy(update={"checkpoint_every_steps": 1}), True,
                             monkeypatch, resume_dir=tmp_path / "resume")
    assert (tmp_path / "resume" / "state.json").is_file()
    plain_state, saving_state = _state(plain), _state(saving)
    assert all(torch.equal(plain_state[k], saving_state[k]) for k in plain_state)
