"""Robust training in the embedding space (Huang et al. 2021, arXiv 2104.08645).

Both methods act on the output of the encoder's word-embedding layer through a forward hook,
so they work for every head without the heads knowing:

* **adversarial training** — PGD (Madry et al.): a perturbation δ in an L2 ball of radius
  ``epsilon`` per example (per text for siamese pairs, whose two texts are embedded apart)
  is found by ``steps`` gradient-ascent steps of size ``step_size``;
  the update uses clean loss + adversarial loss. FreeLB (Zhu et al. 2020): the parameter
  gradients of every ascent step are accumulated (each scaled by 1/steps), no clean pass.
* **randomized smoothing with Gaussian noise** — N(0, σ²) added to the word embeddings of
  every training forward pass.

Costs are reported as forward/backward passes per update (PGD: 2 + steps forward passes).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
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


class Perturbations:
    """One perturbation per word-embedding call of a forward pass, matched by call order.

    Why a list: a siamese head embeds each text of a pair in its own encoder call, and the two
    sides have their own shapes (each side is padded on its own), so one shared δ cannot fit
    both. Every forward pass of an update embeds the same batch in the same order, so the k-th
    call always meets the k-th δ; each δ lives in its own L2 ball per example.
    """

    def __init__(self) -> None:
        self.deltas: list[torch.Tensor] = []
        self._calls = 0

    def start_pass(self) -> None:
        self._calls = 0

    def __call__(self, emb: torch.Tensor) -> torch.Tensor:
        k = self._calls
        self._calls += 1
        if k == len(self.deltas):  # created lazily, with the shape of that call's embeddings
            self.deltas.append(torch.zeros_like(emb).requires_grad_(True))
        delta = self.deltas[k]
        if delta.shape != emb.shape:  # a head whose calls change between passes: a bug
            raise RuntimeError(f"adversarial training: embedding call {k} has shape "
                               f"{tuple(emb.shape)}, its perturbation {tuple(delta.shape)}")
        return delta

    def ascend(self, grads: Sequence[torch.Tensor | None], step_size: float,
               epsilon: float) -> None:
        """One ascent step of every δ (a δ that got no gradient stays where it is)."""
        self.deltas = [
            (_ascend(d.detach(), g, step_size, epsilon) if g is not None else d.detach())
            .requires_grad_(True)
            for d, g in zip(self.deltas, grads, strict=True)]


def adversarial_loss(model: nn.Module, task_name: str, batch: dict[str, torch.Tensor],
                     options: AdversarialOptions,
                     backward: Callable[[torch.Tensor], None]) -> torch.Tensor:
    """Run one robust update's forward/backward passes; return the loss to report.

    ``backward`` is the accelerator's backward, so mixed precision and gradient accumulation
    behave as in plain training. Each embedding call of a forward pass gets its own
    perturbation with the shape of its embedding output (multiple-choice heads embed B × C
    rows in one call; siamese heads embed the two texts of a pair in two calls).
    """
    encoder = model.encoder if hasattr(model, "encoder") else model.module.encoder
    perturb = Perturbations()

    def forward() -> torch.Tensor:
        perturb.start_pass()
        loss, _ = model(task_name, batch)
        return loss

    if options.method == "pgd":
        clean, _ = model(task_name, batch)
        backward(clean)
        with embedding_offset(encoder, perturb):
            for _ in range(options.steps):
                loss = forward()
                grads = torch.autograd.grad(loss, perturb.deltas, allow_unused=True)
                perturb.ascend(grads, options.step_size, options.epsilon)
            adv = forward()
            backward(adv)
        return (clean.detach() + adv.detach()) / 2
    # FreeLB: accumulate the parameter gradients of every ascent step.
    total = torch.zeros((), device=next(model.parameters()).device)
    with embedding_offset(encoder, perturb):
        for _ in range(options.steps):
            loss = forward()
            backward(loss / options.steps)
            total = total + loss.detach() / options.steps
            perturb.ascend([d.grad for d in perturb.deltas], options.step_size,
                           options.epsilon)
    return total


def passes_per_update(options: AdversarialOptions | None) -> int:
    """Forward passes per optimizer update, for the cost line in the run log."""
    if options is None:
        return 1
    return options.steps + 2 if options.method == "pgd" else options.steps
