"""Comparing a runtime's logits with the PyTorch reference: a result object that is truthy when it
passes and carries its statistics (after Polygraphy's comparators)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

# Top-1 agreement floors with the PyTorch student: one source for export's parity check and the
# device profiles' gates. INT8 changes logits by design and adversarial inputs sit on decision
# boundaries, so INT8 gets its own, lower floors.
MIN_AGREEMENT = 0.99
MIN_AGREEMENT_INT8 = 0.95
MIN_AGREEMENT_INT8_ADVERSARIAL = 0.90


@dataclass(frozen=True)
class ParityResult:
    """On ``n`` inputs of ``name``: max / mean |delta logit|, ``max_abs_rel`` = max |delta| /
    max(1, max |reference|), and top-1 agreement. A disagreement where the reference's top-2 margin
    is within the logit tolerance is a tie, not a disagreement (``ties``)."""

    name: str
    n: int
    max_abs: float
    mean_abs: float
    max_abs_rel: float
    top1_agreement: float
    ties: int
    tolerance_rel: float | None
    min_agreement: float | None

    @property
    def passed(self) -> bool:
        logits_ok = self.tolerance_rel is None or self.max_abs_rel <= self.tolerance_rel
        decisions_ok = self.min_agreement is None or self.top1_agreement >= self.min_agreement
        return logits_ok and decisions_ok

    def __bool__(self) -> bool:
        return self.passed

    def failure(self) -> str:
        """What failed and by how much (empty when it passed)."""
        parts = []
        if self.tolerance_rel is not None and self.max_abs_rel > self.tolerance_rel:
            parts.append(f"max |delta logit| {self.max_abs:.3g} = {self.max_abs_rel:.3g} relative "
                         f"(tolerance {self.tolerance_rel:.3g}, {self.max_abs_rel / self.tolerance_rel:.1f}x over)")
        if self.min_agreement is not None and self.top1_agreement < self.min_agreement:
            parts.append(f"top-1 agreement {self.top1_agreement:.2%} < {self.min_agreement:.2%}")
        return f"{self.name}: " + "; ".join(parts) if parts else ""

    def to_dict(self) -> dict:
        return {**asdict(self), "passed": self.passed}


def compare_logits(reference: np.ndarray, candidate: np.ndarray, *, name: str,
                   tolerance_rel: float | None = None, min_agreement: float | None = None) -> ParityResult:
    """``reference`` and ``candidate``: (N, classes) logits of the same inputs."""
    reference = np.asarray(reference, dtype=np.float64)
    candidate = np.asarray(candidate, dtype=np.float64)
    if reference.shape != candidate.shape:
        raise ValueError(f"logit shapes differ: {reference.shape} vs {candidate.shape}")
    delta = np.abs(reference - candidate)
    scale = max(1.0, float(np.abs(reference).max()) if reference.size else 1.0)
    max_abs = float(delta.max()) if delta.size else 0.0
    disagree = reference.argmax(1) != candidate.argmax(1)
    ties = 0
    if tolerance_rel is not None and disagree.any():
        top2 = np.sort(reference, axis=1)[:, -2:]
        tie = (top2[:, 1] - top2[:, 0]) <= 2 * tolerance_rel * scale
        ties = int((disagree & tie).sum())
        disagree &= ~tie
    return ParityResult(name=name, n=len(reference), max_abs=max_abs,
                        mean_abs=float(delta.mean()) if delta.size else 0.0, max_abs_rel=max_abs / scale,
                        top1_agreement=1.0 - float(disagree.mean()) if len(reference) else 1.0, ties=ties,
                        tolerance_rel=tolerance_rel, min_agreement=min_agreement)
