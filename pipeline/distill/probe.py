"""The per-epoch probe: fresh synthetic samples, their adversarial versions against the student,
and the statistics ITA and AGB read from them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import torch
import torch.nn.functional as F

ReduceMean = Callable[[torch.Tensor], torch.Tensor]


def identity_reduce(value: torch.Tensor) -> torch.Tensor:
    return value


def mean_entropy(logits: torch.Tensor, tau: float = 1.0) -> torch.Tensor:
    """Mean over the batch of H(softmax(logits / tau)), in nats."""
    log_probs = F.log_softmax(logits.float() / tau, 1)
    return -(log_probs.exp() * log_probs).sum(1).mean()


@dataclass
class Probe:
    """``teacher_logits``: T(x) on clean synthetic x (N, K); ``student_adv_logits``: S(x_adv)."""

    teacher_logits: torch.Tensor
    student_adv_logits: torch.Tensor
    reduce_mean: ReduceMean = identity_reduce
    bn_distance_raw: torch.Tensor | None = None  # per-layer mean feature-statistics distance (teacher BN)
    teacher_adv_logits: torch.Tensor | None = None  # T(x_adv_T), the teacher under the same attack
    relative: bool = True  # `agreement` reads against the teacher's own (when it was measured)

    # Cached: ITA, AGB and the log all read these; each read would be another all-reduce.
    @cached_property
    def robust_agreement(self) -> float:
        """Fraction of probe samples where argmax S(x_adv) == argmax T(x) (all ranks)."""
        agree = (self.student_adv_logits.argmax(1) == self.teacher_logits.argmax(1)).float().mean()
        return float(self.reduce_mean(agree))

    @cached_property
    def teacher_agreement(self) -> float | None:
        """Fraction where argmax T(x_adv_T) == argmax T(x): what the teacher itself keeps under the
        attack (all ranks); None unless the probe attacked the teacher."""
        if self.teacher_adv_logits is None:
            return None
        agree = (self.teacher_adv_logits.argmax(1) == self.teacher_logits.argmax(1)).float().mean()
        return float(self.reduce_mean(agree))

    @property
    def agreement(self) -> float:
        """The signal ITA and AGB read: the robust agreement, relative to the teacher's own (capped at
        1) when the probe measured that (``distill.agreement: relative``), absolute otherwise."""
        reference = self.teacher_agreement
        if reference is None or not self.relative:
            return self.robust_agreement
        return min(1.0, self.robust_agreement / max(reference, 1e-6))

    def class_keep_ratio(self) -> list[float | None]:
        """Per teacher class k (argmax T(x)): how often the student keeps the teacher's answer under
        attack divided by how often the teacher keeps its own (all ranks); None where the probe held
        no sample of k or the teacher kept none. Needs ``teacher_adv_logits``."""
        if self.teacher_adv_logits is None:
            raise ValueError("class_keep_ratio needs the teacher attacked on the probe")
        answer = self.teacher_logits.argmax(1)
        classes = torch.arange(self.teacher_logits.shape[1], device=answer.device)
        member = (answer[:, None] == classes).float()  # (N, K) one-hot of the teacher's class
        kept = torch.stack([(self.student_adv_logits.argmax(1) == answer).float(),
                            (self.teacher_adv_logits.argmax(1) == answer).float()])  # (2, N)
        student, teacher = self.reduce_mean(kept @ member).tolist()  # per-class sums (a rank mean)
        return [s / t if t > 0 else None for s, t in zip(student, teacher, strict=True)]

    @cached_property
    def student_entropy(self) -> float:
        return float(self.reduce_mean(mean_entropy(self.student_adv_logits)))

    def teacher_entropy(self, tau: float) -> float:
        return float(self.reduce_mean(mean_entropy(self.teacher_logits, tau)))

    def health(self) -> dict:
        """Data-free signs that the samples look like the teacher's data (all ranks): the mean
        per-layer distance of their feature statistics from the teacher's BatchNorm statistics
        (None without BN), the teacher's mean top-1 probability, and the fraction of classes the
        teacher assigns at least one sample to."""
        probs = F.softmax(self.teacher_logits.float(), 1)
        classes = self.teacher_logits.shape[1]
        # which classes occur (not bincount: no deterministic CUDA kernel for it under distill.deterministic)
        coverage = (probs.argmax(1)[:, None] == torch.arange(classes, device=probs.device)).any(0).float().mean()
        distance = None if self.bn_distance_raw is None else float(self.reduce_mean(self.bn_distance_raw.float()))
        return {"bn_distance": distance, "teacher_confidence": float(self.reduce_mean(probs.max(1).values.mean())),
                "class_coverage": float(self.reduce_mean(coverage))}
