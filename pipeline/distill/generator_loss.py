"""The generator's loss terms on a synthetic batch x = G(z) (docs/method.md).

- ``adv``: -D(S(x), T(x)), teacher-student disagreement (L1 of logits as in DFAD, or KL).
- ``bn``:  distance of the batch's teacher-BN statistics to the stored running statistics.
- ``oh``:  CE(T(x), y) for uniformly drawn class targets y.
- ``ent``: log K - H(mean softmax T(x)) >= 0; minimising it keeps classes balanced (the same
  gradient as -H; the log K shift only makes it non-negative so magnitudes compare).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

HARDNESS_TERMS = ("adv",)
INFORMATION_TERMS = ("bn", "oh", "ent")


def disagreement(student_logits: torch.Tensor, teacher_logits: torch.Tensor, kind: str) -> torch.Tensor:
    if kind == "l1":
        return F.l1_loss(student_logits, teacher_logits)
    return F.kl_div(F.log_softmax(student_logits, 1), F.softmax(teacher_logits, 1), reduction="batchmean")


def generator_terms(teacher_logits: torch.Tensor, student_logits: torch.Tensor,
                    targets: torch.Tensor, bn_loss: torch.Tensor | None,
                    adv_kind: str = "l1") -> dict[str, torch.Tensor]:
    """Logits: (N, K) float; targets: (N,) int64. Returns {term: scalar}; ``bn`` only when the
    teacher has BN layers."""
    teacher_logits, student_logits = teacher_logits.float(), student_logits.float()
    mean_probs = F.softmax(teacher_logits, 1).mean(0)
    entropy = -(mean_probs * torch.log(mean_probs.clamp_min(1e-12))).sum()
    terms = {
        "adv": -disagreement(student_logits, teacher_logits, adv_kind),
        "oh": F.cross_entropy(teacher_logits, targets),
        "ent": math.log(teacher_logits.shape[1]) - entropy,
    }
    if bn_loss is not None:
        terms["bn"] = bn_loss
    return terms
