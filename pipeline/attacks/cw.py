"""CW-inf: PGD on the Carlini-Wagner margin loss (Carlini & Wagner, S&P 2017; the L-inf form used
by TRADES/ARD evaluations). x: (N, C, H, W) in [0, 1]; labels (N,) int64."""

from __future__ import annotations

import torch

from dfard_pipeline.attacks.losses import margin
from dfard_pipeline.attacks.pgd import pgd


def cw_inf(model, x: torch.Tensor, y: torch.Tensor, *, eps: float, steps: int = 20,
           step_size: float | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
    return pgd(model, x, y, eps=eps, step_size=step_size, steps=steps, loss_fn=margin,
               generator=generator)
