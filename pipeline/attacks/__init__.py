"""White-box L-inf attacks, each in its own module, and a registry of the evaluation suite.

Every suite entry has the signature ``attack(model, x, y, eps, generator) -> x_adv``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from dfard_pipeline.attacks.cw import cw_inf
from dfard_pipeline.attacks.fgsm import fgsm
from dfard_pipeline.attacks.pgd import pgd
from dfard_pipeline.registry import Registry

Attack = Callable[..., torch.Tensor]
ATTACKS: Registry[Attack] = Registry("attack")


@ATTACKS.register("fgsm")
def _fgsm(model, x, y, eps, generator=None):
    return fgsm(model, x, y, eps=eps)


@ATTACKS.register("pgd20")
def _pgd20(model, x, y, eps, generator=None):
    return pgd(model, x, y, eps=eps, steps=20, step_size=eps / 4, generator=generator)


@ATTACKS.register("cw")
def _cw(model, x, y, eps, generator=None):
    return cw_inf(model, x, y, eps=eps, steps=20, generator=generator)


__all__ = ["ATTACKS", "cw_inf", "fgsm", "pgd"]
