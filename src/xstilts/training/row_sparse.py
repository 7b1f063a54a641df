"""AdamW on the word-embedding rows a run has touched, without the dense embedding gradient.

Why: the bundled encoder's word embeddings are 96 M of its 118 M parameters, but a batch looks
up a few thousand rows. The dense path builds a zeroed 250,037 × 384 gradient every step, takes
its norm, scales it, and runs AdamW over all 96 M values; measured on a 2-core CPU with native
bf16 (benchmarks/train_vs_trainer.py --profile), that is ~40 % of a training step
(``_fused_adamw_`` 25 %, the gradient's ``fill_`` 9 %, norms and scaling ~6 %).

AdamW leaves a row whose moments are zero and whose gradient is zero unchanged except for the
decoupled weight decay (``m / (sqrt(v) + eps)`` is exactly 0). So a row never looked up so far
only decays, and AdamW proper needs to run on the rows looked up at least once (``touched``).
This class does exactly that, with torch's own fused kernel on the gathered rows, so each
row's update is the same arithmetic as the dense step's: with gradient clipping inactive the
weights are bit-identical to the dense path (tests/test_row_sparse.py). The one difference is
the clipping norm: the embedding gradient's norm is reduced over its touched rows instead of
the dense matrix, which changes the total norm by float rounding (as torch's foreach and fused
AdamW differ from its for-loop). The moments are kept for touched rows only (their dense pair
is 768 MB for the bundled encoder), so memory grows with the vocabulary a study uses.

The decay of the untouched rows is deferred (:meth:`RowSparseEmbeddingAdamW.flush`): the dense
step multiplies all 250k rows by ``1 - lr * wd`` every step, a pass over 384 MB (89 ms of a
~1.1 s bf16 step on a 2-core Zen 4). Here the factors are queued; a row gets the ones it lacks,
one after another as the dense step would have applied them (so the bits are the same), when a
forward pass looks it up, and all rows get theirs at a flush: before the weights are read
whole (dev scoring, a checkpoint, the end of training) and every :data:`MAX_PENDING` steps, in
cache-sized blocks of rows, which costs a few milliseconds a step instead of one full pass each.

The gradient of the looked-up rows is captured from the embedding output (a leaf made to
require grad in a forward hook) and summed per row with ``index_add_`` in lookup order, which
is how torch's dense embedding backward sums them on a CPU.

It applies only where it is exact and measured: one process on a CPU, word embeddings trained
and not tied to another weight (an MLM decoder), no adversarial training or embedding noise
(they perturb the embedding output), no fp16 loss scaling. ``XSTILTS_ROW_SPARSE_EMBEDDINGS=0``
turns it off (benchmarks compare both paths with it).
"""

from __future__ import annotations

import os
from typing import Any

import torch
from torch import nn

ENV_SWITCH = "XSTILTS_ROW_SPARSE_EMBEDDINGS"


def row_sparse_applies(model: nn.Module, embedding: nn.Embedding, *, device: torch.device,
                       processes: int, precision: str, perturbs_embeddings: bool) -> bool:
    """Whether the word embeddings of this run can be updated row-sparsely (module docstring)."""
    if os.environ.get(ENV_SWITCH, "1") == "0":
        return False
    weight = embedding.weight
    if not weight.requires_grad or device.type != "cpu" or processes != 1:
        return False
    if precision == "fp16" or perturbs_embeddings or embedding.max_norm is not None:
        return False
    if embedding.scale_grad_by_freq or embedding.sparse:
        return False
    uses = [name for name, p in model.named_parameters(remove_duplicate=False) if p is weight]
    return len(uses) == 1  # tied to a decoder: the decoder's dense gradient needs the dense path


STATE_KEY = "xstilts_row_sparse_embeddings"
# Deferred decay factors are applied to every row at the latest after this many steps: it
# bounds the per-lookup catch-up (one small multiply per pending factor).
MAX_PENDING = 64
# Rows per block of a flush: 1024 x 384 fp32 values (1.5 MB) stay in the cores' caches while
# every pending factor is applied to them.
FLUSH_BLOCK_ROWS = 1024


class RowSparseEmbeddingAdamW:
    """The word-embedding part of an AdamW step, on touched rows; the rest of the model keeps
    torch's optimizer.

    The embedding weight stays in the optimizer's parameter group, so its learning rate follows
    the scheduler; it never gets a ``.grad``, which makes torch's step skip it. Its moments are
    kept for the touched rows only (slot ``k`` holds row ``rows[k]``): the dense pair would be
    768 MB for the bundled encoder where a CPU-scale study touches ~15 % of the rows. They
    travel with the optimizer's state dict under :data:`STATE_KEY` (a resume file written by the
    dense step, with torch's layout, is taken over too).
    """

    def __init__(self, embedding: nn.Embedding, optimizer: torch.optim.Optimizer) -> None:
        self.embedding, self.optimizer = embedding, optimizer
        self.weight = embedding.weight
        rows, width = self.weight.shape
        device, dtype = self.weight.device, self.weight.dtype
        self._captured: list[tuple[torch.Tensor, torch.Tensor]] = []
        self._gradient: tuple[torch.Tensor, torch.Tensor] | None = None
        self.slot_of = torch.full((rows,), -1, dtype=torch.long, device=device)
        self.rows = torch.empty(0, dtype=torch.long, device=device)
        self.exp_avg = torch.empty(0, width, dtype=dtype, device=device)
        self.exp_avg_sq = torch.empty(0, width, dtype=dtype, device=device)
        self.count = 0
        self.step_count = torch.zeros((), dtype=torch.float32, device=device)
        # Deferred decay: the factors of the steps since the last flush, and per row how many
        # of them it has had (touched rows have them all: the fused step decays them).
        self.pending: list[float] = []
        # int16 (MAX_PENDING is far below its range): half a MB for 250k rows, not 2 MB.
        self.applied = torch.zeros(rows, dtype=torch.int16, device=device)
        self._hooks = [embedding.register_forward_pre_hook(self._catch_up),
                       embedding.register_forward_hook(self._capture_output),
                       optimizer.register_state_dict_post_hook(self._save_into),
                       optimizer.register_load_state_dict_pre_hook(self._load_from)]

    def _group(self) -> dict[str, Any]:
        """The embedding's parameter group, looked up each step: loading a state dict (a
        resume) replaces the optimizer's group dicts, and the scheduler sets the new ones."""
        return next(g for g in self.optimizer.param_groups
                    if any(p is self.weight for p in g["params"]))

    def _index(self) -> int:
        """The weight's index in the optimizer's state dict (parameters in group order)."""
        params = [p for g in self.optimizer.param_groups for p in g["params"]]
        return next(i for i, p in enumerate(params) if p is self.weight)

    def remove(self) -> None:
        """Bring every row up to date and stop hooking the embedding."""
        self.flush()
        for hook in self._hooks:
            hook.remove()

    @torch.no_grad()
    def _catch_up(self, module: nn.Module, args: tuple[Any, ...]) -> None:
        """Before a lookup: the looked-up rows get the decay factors they lack."""
        if not self.pending:
            return
        if args and isinstance(args[0], torch.Tensor):
            self._apply_pending(torch.unique(args[0]))
        else:  # ids not seen (a keyword call): every row up to date
            self.flush()

    def _apply_pending(self, rows: torch.Tensor) -> None:
        """Apply to ``rows`` the pending factors each lacks, in the order of the steps."""
        done = self.applied[rows]
        lacking = done < len(self.pending)
        rows, done = rows[lacking], done[lacking]
        for start in torch.unique(done).tolist():
            group = rows[done == start]
            block = self.weight.index_select(0, group)
            for factor in self.pending[start:]:
                block.mul_(factor)
            self.weight.index_copy_(0, group, block)
            self.applied[group] = len(self.pending)

    @torch.no_grad()
    def flush(self) -> None:
        """Every row up to date: what the dense step's per-step decay would have left."""
        if not self.pending:
            return
        # Rows that already have some factors (touched ones: all) are set aside, the others
        # (none yet: the bulk) get all factors block by block, then the set-aside rows theirs.
        partial = (self.applied > 0).nonzero().squeeze(1)
        kept = self.weight.index_select(0, partial)
        for start in range(0, len(self.weight), FLUSH_BLOCK_ROWS):
            block = self.weight[start:start + FLUSH_BLOCK_ROWS]
            for factor in self.pending:
                block.mul_(factor)
        self.weight.index_copy_(0, partial, kept)
        self._apply_pending(partial)
        self.pending = []
        self.applied.zero_()

    def _capture_output(self, module: nn.Module, args: tuple[Any, ...],
                        output: torch.Tensor) -> torch.Tensor | None:
        """Cut the graph to the weight (no dense gradient) and keep the output's gradient."""
        if not (module.training and torch.is_grad_enabled()):
            return None
        ids = args[0]
        leaf = output.detach().requires_grad_()
        leaf.register_hook(lambda grad: self._captured.append((ids, grad)))
        return leaf

    def gradient(self) -> tuple[torch.Tensor, torch.Tensor] | None:
        """(sorted unique rows, their summed gradient) of what was back-propagated since the
        last step; None if nothing was."""
        if self._gradient is None and self._captured:
            self._gradient = self._sum_rows(self._captured)
        return self._gradient

    def _sum_rows(self, captured: list[tuple[torch.Tensor, torch.Tensor]]
                  ) -> tuple[torch.Tensor, torch.Tensor]:
        width = self.weight.shape[1]
        ids = torch.cat([i.reshape(-1) for i, _ in captured])
        rows = torch.unique(ids[ids != self.embedding.padding_idx]
                            if self.embedding.padding_idx is not None else ids)
        total = torch.zeros(len(rows), width, dtype=self.weight.dtype, device=self.weight.device)
        # One summation per backward pass, added in order: what autograd's accumulation of
        # dense gradients does over accumulated micro-batches.
        for flat_ids, grad in captured:
            flat_ids, grad = flat_ids.reshape(-1), grad.reshape(-1, width).to(total.dtype)
            if self.embedding.padding_idx is not None:
                keep = flat_ids != self.embedding.padding_idx
                flat_ids, grad = flat_ids[keep], grad[keep]
            positions = torch.searchsorted(rows, flat_ids)
            part = torch.zeros_like(total).index_add_(0, positions, grad)
            total = part if len(captured) == 1 else total.add_(part)
        return rows, total

    def zero_grad(self) -> None:
        self._captured, self._gradient = [], None

    def _add_rows(self, new: torch.Tensor) -> None:
        """Give rows touched for the first time a slot (zero moments); capacity doubles."""
        needed = self.count + len(new)
        if needed > len(self.rows):
            capacity = max(needed, 2 * len(self.rows), 1024)
            self.rows = _grown(self.rows, capacity, self.count)
            self.exp_avg = _grown(self.exp_avg, capacity, self.count)
            self.exp_avg_sq = _grown(self.exp_avg_sq, capacity, self.count)
        self.rows[self.count:needed] = new
        self.exp_avg[self.count:needed] = 0
        self.exp_avg_sq[self.count:needed] = 0
        self.slot_of[new] = torch.arange(self.count, needed, device=new.device)
        self.count = needed

    @torch.no_grad()
    def step(self) -> None:
        """AdamW on the touched rows (torch's fused kernel), decay alone on the others."""
        gradient = self.gradient()
        self.zero_grad()
        if gradient is None:  # torch skips a parameter without a gradient the same way
            return
        rows, grad = gradient
        new = rows[self.slot_of[rows] < 0]
        if len(new):
            self._add_rows(new)
        weight, group, n = self.weight, self._group(), self.count
        touched = self.rows[:n]
        params = weight.index_select(0, touched)
        grads = torch.zeros_like(params).index_copy_(0, self.slot_of[rows], grad)
        lr, weight_decay = group["lr"], group["weight_decay"]
        beta1, beta2 = group["betas"]
        self.step_count.add_(1)
        torch._fused_adamw_([params], [grads], [self.exp_avg[:n]], [self.exp_avg_sq[:n]], [],
                            [self.step_count], amsgrad=False, lr=lr, beta1=beta1, beta2=beta2,
                            weight_decay=weight_decay, eps=group["eps"], maximize=False,
                            grad_scale=None, found_inf=None)
        weight.index_copy_(0, touched, params)
        if weight_decay:  # the fused kernel's decoupled decay: param * float(1 - lr * wd)
            self.pending.append(1 - lr * weight_decay)  # the others' (deferred)
            self.applied[touched] = len(self.pending)  # the fused step decayed these
            if len(self.pending) >= MAX_PENDING:
                self.flush()

    def _save_into(self, optimizer: Any, state_dict: dict[str, Any]) -> dict[str, Any]:
        n = self.count
        state_dict[STATE_KEY] = {"step": self.step_count.clone(),
                                 "rows": self.rows[:n].clone(),
                                 "exp_avg": self.exp_avg[:n].clone(),
                                 "exp_avg_sq": self.exp_avg_sq[:n].clone()}
        return state_dict

    def _load_from(self, optimizer: Any, state_dict: dict[str, Any]) -> dict[str, Any]:
        """Take the compact moments; or torch's dense ones, from a file the dense step wrote."""
        saved = state_dict.pop(STATE_KEY, None)
        if saved is None:
            dense = state_dict["state"].pop(self._index(), None)
            if dense is None:
                return state_dict
            rows = ((dense["exp_avg"] != 0).any(1) | (dense["exp_avg_sq"] != 0).any(1))
            rows = rows.nonzero().squeeze(1)
            saved = {"step": dense["step"], "rows": rows,
                     "exp_avg": dense["exp_avg"][rows], "exp_avg_sq": dense["exp_avg_sq"][rows]}
        # Copies: the state dict's tensors may be another optimizer's own (never alias them).
        device, dtype = self.weight.device, self.weight.dtype
        self.rows = saved["rows"].to(device=device, dtype=torch.long, copy=True)
        self.count = len(self.rows)
        self.exp_avg = saved["exp_avg"].to(device=device, dtype=dtype, copy=True)
        self.exp_avg_sq = saved["exp_avg_sq"].to(device=device, dtype=dtype, copy=True)
        self.step_count = saved["step"].to(device=device, dtype=torch.float32,
                                           copy=True).reshape(())
        self.slot_of.fill_(-1)
        self.slot_of[self.rows] = torch.arange(self.count, device=device)
        self.pending = []  # saved weights are up to date
        self.applied.zero_()
        return state_dict


def _grown(buffer: torch.Tensor, capacity: int, used: int) -> torch.Tensor:
    grown = buffer.new_empty((capacity, *buffer.shape[1:]))
    grown[:used] = buffer[:used]
    return grown


def clip_gradients(params: list[nn.Parameter], max_norm: float,
                   embedding: RowSparseEmbeddingAdamW) -> torch.Tensor:
    """torch's ``clip_grad_norm_`` over the dense gradients and the touched embedding rows'
    (whose norm is the dense matrix's norm up to float rounding)."""
    grads = [p.grad for p in params if p.grad is not None]
    gradient = embedding.gradient()
    norm_of = grads + ([gradient[1]] if gradient is not None else [])
    total = torch.nn.utils.get_total_norm(norm_of, 2.0)
    if grads:
        torch.nn.utils.clip_grads_with_norm_(params, max_norm, total)
    if gradient is not None:
        coefficient = torch.clamp(max_norm / (total + 1e-6), max=1.0)
        gradient[1].mul_(coefficient)
    return total
