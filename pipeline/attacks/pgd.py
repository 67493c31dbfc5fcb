"""Projected gradient descent, L-inf (Madry et al., "Towards Deep Learning Models Resistant to
Adversarial Attacks", ICLR 2018).

Inputs and outputs are (N, C, H, W) float tensors in [0, 1]; ``eps`` and ``step_size`` are in the
same pixel units. Written here rather than taken from torchattacks because the distillation hot
loop needs a custom loss (KL to the teacher's soft labels), a seeded random start, no
model.eval()/train() side effects and a loop that a CUDA graph can capture (``graphed_pgd.py``);
torchattacks stays the reference in the tests.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from dfard_pipeline.attacks.losses import cross_entropy, kl_to_soft_target
from dfard_pipeline.device import to_device

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def start_noise(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """The random start's uniform draw in [0, 1), shaped like ``x`` and on its device. Drawn on the
    CPU so a seeded run gives the same start on any device."""
    noise = torch.rand(x.shape, generator=generator, device="cpu", dtype=torch.float32)
    return to_device(noise, x.device, x.dtype)


def noisy_start(x: torch.Tensor, noise: torch.Tensor, eps: float) -> torch.Tensor:
    """``x`` moved uniformly inside its eps-ball (``noise`` from ``start_noise``), kept in [0, 1]."""
    return (x + (noise * 2 - 1) * eps).clamp_(0.0, 1.0)


def pgd_steps(model: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, x_adv: torch.Tensor,
              target: torch.Tensor, *, eps: float, step_size: float, steps: int, loss_fn: LossFn) -> torch.Tensor:
    """``steps`` signed-gradient ascent steps from ``x_adv``, each projected onto the eps-ball of
    ``x`` intersected with [0, 1]. No host sync and no data-dependent control flow, so a CUDA graph
    can capture it. Returns a detached tensor."""
    # One clamp against the intersected box equals clamping to the ball, then to [0, 1] (x is in [0, 1]).
    low, high = (x - eps).clamp_(min=0.0), (x + eps).clamp_(max=1.0)
    for _ in range(steps):
        x_adv = x_adv.detach().requires_grad_(True)
        loss = loss_fn(model(x_adv).float(), target)
        (grad,) = torch.autograd.grad(loss, x_adv)
        with torch.no_grad():
            x_adv = torch.clamp(torch.add(x_adv, grad.sign(), alpha=step_size), low, high)
    return x_adv.detach()


def pgd(model: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, target: torch.Tensor, *,
        eps: float, step_size: float | None = None, steps: int = 20, random_start: bool = True,
        loss_fn: LossFn = cross_entropy, generator: torch.Generator | None = None) -> torch.Tensor:
    """Maximise ``loss_fn(model(x_adv), target)`` over the L-inf ball of radius ``eps``.

    ``step_size`` defaults to eps/4 (the protocol's PGD-20 step). The model is used as given:
    callers choose eval or train mode. Returns a detached tensor in [0, 1].
    """
    step_size = eps / 4 if step_size is None else step_size
    x = x.detach()
    x_adv = noisy_start(x, start_noise(x, generator), eps) if random_start else x.clone()
    return pgd_steps(model, x, x_adv, target, eps=eps, step_size=step_size, steps=steps, loss_fn=loss_fn)


def probe_attack(model: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, teacher_logits: torch.Tensor, *,
                 eps: float, step_size: float, steps: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """``model``'s float logits on ``x`` moved by PGD against ``model`` itself, away from the teacher's
    soft labels (``teacher_logits`` at temperature 1; the RSLAD inner maximisation). Distillation's
    probe reads the student's robust agreement with the teacher from it (and the teacher's own, its
    ceiling); ``benchmarks/teacher_ceiling.py`` reads the same on other images."""
    x_adv = pgd(model, x, torch.softmax(teacher_logits, 1), eps=eps, step_size=step_size, steps=steps,
                loss_fn=kl_to_soft_target, generator=generator)
    with torch.no_grad():
        return model(x_adv).float()
