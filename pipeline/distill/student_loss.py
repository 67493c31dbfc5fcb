"""Student objectives on a synthetic batch, each a named, swappable rule.

``rslad`` (Zi et al., "Revisiting Adversarial Robustness Distillation: Robust Soft Labels Make
Student Better", ICCV 2021): the teacher's clean soft labels supervise both the adversarial and
the clean student outputs. ``ard`` (Goldblum et al., "Adversarially Robust Distillation",
AAAI 2020): tempered KL on adversarial inputs plus CE on the teacher's argmax for clean inputs.
Both take logits (N, K) and return a scalar; ``tau`` is the distillation temperature;
``sample_weights`` (N,), when given, weight each sample's terms (normalised to mean 1 over the batch).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from dfard_pipeline.attacks.losses import cross_entropy, kl_to_soft_target
from dfard_pipeline.registry import Registry


@dataclass(frozen=True)
class StudentLoss:
    """``inner_target(teacher_logits, tau)`` is what the inner PGD attacks with ``inner_loss``;
    ``loss(...)`` is the outer objective."""

    inner_loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    inner_target: Callable[[torch.Tensor, float], torch.Tensor]
    loss: Callable[..., torch.Tensor]


STUDENT_LOSSES: Registry[StudentLoss] = Registry("student loss")


def _weighted_mean(per_sample: torch.Tensor, sample_weights: torch.Tensor | None) -> torch.Tensor:
    if sample_weights is None:
        return per_sample.mean()
    return (per_sample * sample_weights).sum() / sample_weights.sum()


def _tempered_kl(student_logits, teacher_probs, tau, sample_weights=None) -> torch.Tensor:
    if sample_weights is None:
        return F.kl_div(F.log_softmax(student_logits / tau, 1), teacher_probs, reduction="batchmean")
    per_sample = F.kl_div(F.log_softmax(student_logits / tau, 1), teacher_probs, reduction="none").sum(1)
    return _weighted_mean(per_sample, sample_weights)


def _rslad(adv_logits, clean_logits, teacher_logits, tau: float, adv_fraction: float,
           tau_adv: float | None = None, sample_weights: torch.Tensor | None = None) -> torch.Tensor:
    """``tau_adv`` (default ``tau``): the temperature of the adversarial term alone."""
    tau_adv = tau if tau_adv is None else tau_adv
    adv_term = tau_adv ** 2 * _tempered_kl(adv_logits, F.softmax(teacher_logits / tau_adv, 1), tau_adv,
                                           sample_weights)
    clean_term = tau ** 2 * _tempered_kl(clean_logits, F.softmax(teacher_logits / tau, 1), tau, sample_weights)
    return adv_fraction * adv_term + (1 - adv_fraction) * clean_term


def _ard(adv_logits, clean_logits, teacher_logits, tau: float, adv_fraction: float,
         tau_adv: float | None = None, sample_weights: torch.Tensor | None = None) -> torch.Tensor:
    tau_adv = tau if tau_adv is None else tau_adv
    teacher_probs = F.softmax(teacher_logits / tau_adv, 1)
    hard = teacher_logits.argmax(1)
    clean_term = _weighted_mean(F.cross_entropy(clean_logits, hard, reduction="none"), sample_weights)
    return (adv_fraction * tau_adv ** 2 * _tempered_kl(adv_logits, teacher_probs, tau_adv, sample_weights)
            + (1 - adv_fraction) * clean_term)


STUDENT_LOSSES.register("rslad")(StudentLoss(
    inner_loss=kl_to_soft_target,
    inner_target=lambda teacher_logits, tau: F.softmax(teacher_logits / tau, 1),
    loss=_rslad))
STUDENT_LOSSES.register("ard")(StudentLoss(
    inner_loss=cross_entropy,
    inner_target=lambda teacher_logits, tau: teacher_logits.argmax(1),
    loss=_ard))
