"""Fast gradient sign method (Goodfellow et al., "Explaining and Harnessing Adversarial
Examples", ICLR 2015). x, output: (N, C, H, W) in [0, 1]; labels (N,) int64."""

from __future__ import annotations

import torch

from dfard_pipeline.attacks.losses import cross_entropy


def fgsm(model, x: torch.Tensor, y: torch.Tensor, *, eps: float) -> torch.Tensor:
    x = x.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(cross_entropy(model(x).float(), y), x)
    return (x + eps * grad.sign()).clamp(0.0, 1.0).detach()
