"""Robust training in the embedding space (Huang et al. 2021, arXiv 2104.08645).

Both methods act on the output of the encoder's word-embedding layer through a forward hook,
so they work for every head without the heads knowing:

* **adversarial training** — PGD (Madry et al.): a perturbation δ in an L2 ball of radius
  ``epsilon`` per example is found by ``steps`` gradient-ascent steps of size ``step_size``;
  the update uses clean loss + adversarial loss. FreeLB (Zhu et al. 2020): the parameter
  gradients of every ascent step are accumulated (each scaled by 1/steps), no clean pass.
* **randomized smoothing with Gaussian noise** — N(0, σ²) added to the word embeddings of
  every training forward pass.

Costs are reported as forward/backward passes per update (PGD: 2 + steps forward passes).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from torch import nn

from xstilts.training.options import AdversarialOptions


@contextmanager
def embedding_offset(encoder: nn.Module,
                     offset: Callable[[torch.Tensor], torch.Tensor]) -> Iterator[None]:
    """Add ``offset(embeddings)`` to the word-embedding output while the context is open.

    Only in training mode: evaluation passes inside the context (dev scoring) stay clean.
    """
    module = encoder.get_input_embeddings()

    def hook(m: nn.Module, _inputs: object, out: torch.Tensor) -> torch.Tensor:
        return out + offset(out) if m.training else out

    handle = module.register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()


def gaussian_noise(sigma: float) -> Callable[[torch.Tensor], torch.Tensor]:
    return lambda emb: torch.randn_like(emb) * sigma


def _project(delta: torch.Tensor, epsilon: float) -> torch.Tensor:
    """Project each example's perturbation back into the L2 ball of radius epsilon."""
    flat = delta.flatten(start_dim=1)
    norms = flat.norm(dim=1).clamp(min=1e-12)
    scale = (epsilon / norms).clamp(max=1.0)
    return (flat * scale.unsqueeze(1)).view_as(delta)


def _ascend(delta: torch.Tensor, grad: torch.Tensor, step_size: float,
            epsilon: float) -> torch.Tensor:
    flat = grad.flatten(start_dim=1)
    direction = flat / flat.norm(dim=1, keepdim=True).clamp(min=1e-12)
    return _project(delta + step_size * direction.view_as(delta), epsilon).detach()


def adversarial_loss(model: nn.Module, task_name: str, batch: dict[str, torch.Tensor],
                     options: AdversarialOptions,
                     backward: Callable[[torch.Tensor], None]) -> torch.Tensor:
    """Run one robust update's forward/backward passes; return the loss to report.

    ``backward`` is the accelerator's backward, so mixed precision and gradient accumulation
    behave as in plain training. The perturbation is created lazily with the shape of the
    embedding output (multiple-choice heads embed B × C rows).
    """
    encoder = model.encoder if hasattr(model, "encoder") else model.module.encoder
    state: dict[str, torch.Tensor] = {}

    def offset(emb: torch.Tensor) -> torch.Tensor:
        if "delta" not in state:
            state["delta"] = torch.zeros_like(emb).requires_grad_(True)
        return state["delta"]

    if options.method == "pgd":
        clean, _ = model(task_name, batch)
        backward(clean)
        with embedding_offset(encoder, offset):
            for _ in range(options.steps):
                loss, _ = model(task_name, batch)
                (grad,) = torch.autograd.grad(loss, state["delta"])
                state["delta"] = _ascend(state["delta"], grad, options.step_size,
                                         options.epsilon).requires_grad_(True)
            adv, _ = model(task_name, batch)
            backward(adv)
        return (clean.detach() + adv.detach()) / 2
    # FreeLB: accumulate the parameter gradients of every ascent step.
    total = torch.zeros((), device=next(model.parameters()).device)
    with embedding_offset(encoder, offset):
        for _ in range(options.steps):
            loss, _ = model(task_name, batch)
            backward(loss / options.steps)
            total = total + loss.detach() / options.steps
            grad = state["delta"].grad
            state["delta"] = _ascend(state["delta"].detach(), grad, options.step_size,
                                     options.epsilon).requires_grad_(True)
    return total


def passes_per_update(options: AdversarialOptions | None) -> int:
    """Forward passes per optimizer update, for the cost line in the run log."""
    if options is None:
        return 1
    return options.steps + 2 if options.method == "pgd" else options.steps
