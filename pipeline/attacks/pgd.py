"""Projected gradient descent, L-inf (Madry et al., "Towards Deep Learning Models Resistant to
Adversarial Attacks", ICLR 2018).

Inputs and outputs are (N, C, H, W) float tensors in [0, 1]; ``eps`` and ``step_size`` are in the
same pixel units. Written here rather than taken from torchattacks because the distillation hot
loop needs a custom loss (KL to the teacher's soft labels), a seeded random start and no
model.eval()/train() side effects; torchattacks stays the reference in the tests.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from dfard_pipeline.attacks.losses import cross_entropy

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def pgd(model: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, target: torch.Tensor, *,
        eps: float, step_size: float | None = None, steps: int = 20, random_start: bool = True,
        loss_fn: LossFn = cross_entropy, generator: torch.Generator | None = None) -> torch.Tensor:
    """Maximise ``loss_fn(model(x_adv), target)`` over the L-inf ball of radius ``eps``.

    ``step_size`` defaults to eps/4 (the protocol's PGD-20 step). The model is used as given:
    callers choose eval or train mode. Returns a detached tensor in [0, 1].
    """
    step_size = eps / 4 if step_size is None else step_size
    x = x.detach()
    if random_start:
        noise = torch.rand(x.shape, generator=generator, device="cpu", dtype=torch.float32)
        x_adv = (x + (noise.to(x.device, x.dtype) * 2 - 1) * eps).clamp_(0.0, 1.0)
    else:
        x_adv = x.clone()
    for _ in range(steps):
        x_adv.requires_grad_(True)
        loss = loss_fn(model(x_adv).float(), target)
        (grad,) = torch.autograd.grad(loss, x_adv)
        with torch.no_grad():
            x_adv = x_adv + step_size * grad.sign()
            x_adv = torch.min(torch.max(x_adv, x - eps), x + eps).clamp_(0.0, 1.0)
    return x_adv.detach()
