"""Which classes the conditional generator is asked for (``distill.class_sampling``), and how much
each class's samples weigh in the student loss (``distill.class_weighting``).

``uniform``: every class alike, each batch balanced by construction; ``adaptive`` draws
its counts by ``models.generator.class_counts`` (``sample_latent``).

``adaptive`` (part of AGB, ``dfard`` only): more of the classes whose samples the student keeps
least often under attack, measured against what the teacher itself keeps. Once per epoch the probe
(always drawn uniformly) gives, per teacher class k, r_k = (student keeps) / (teacher keeps), the
same robust agreement ITA and AGB read, split by class and read against the teacher's own ceiling
of that class. Its running average (``agb_momentum``) gives each class a deficit d_k = max(0, 1 - r_k),
and the classes are drawn with probability p_k = (1 - s) / K + s * d_k / sum(d) (s = ``SHARE``):
half the batch stays uniform, so no class is ever dropped; with no deficit anywhere, p is uniform.
The idea follows the class-aware reweighting of fairness-minded robust distillation such as FERD
(ICLR 2026); the rule itself is ours.

``class_weighting: adaptive`` (part of ITA, ``dfard`` only; any generator) reads the same p: each
synthetic sample's student-loss terms weigh K * p_k for its teacher class k (mean 1 over classes).
"""

from __future__ import annotations

from dfard_pipeline.distill.probe import Probe

SHARE = 0.5  # the part of each batch drawn by deficit; the rest stays uniform


class ClassBalance:
    def __init__(self, num_classes: int, adaptive: bool, momentum: float):
        self.num_classes, self.adaptive, self.momentum = num_classes, adaptive, momentum
        self.keep_ratio: list[float | None] = [None] * num_classes

    def update(self, probe: Probe) -> None:
        """Fold the probe's per-class keep ratios into the running averages (classes the probe had no
        sample of, or the teacher kept none of, keep their average)."""
        if not self.adaptive:
            return
        for k, ratio in enumerate(probe.class_keep_ratio()):
            if ratio is None:
                continue
            old = self.keep_ratio[k]
            self.keep_ratio[k] = ratio if old is None else self.momentum * old + (1 - self.momentum) * ratio

    def probabilities(self) -> list[float] | None:
        """The class probabilities to draw targets with; None: uniform and balanced (the default draw)."""
        if not self.adaptive:
            return None
        deficit = [0.0 if r is None else min(1.0, max(0.0, 1.0 - r)) for r in self.keep_ratio]
        total = sum(deficit)
        if total <= 0:
            return None
        return [(1 - SHARE) / self.num_classes + SHARE * d / total for d in deficit]

    def loss_weights(self) -> list[float] | None:
        """Per-class weights of the student loss, K * p (None: every sample alike)."""
        probabilities = self.probabilities()
        return None if probabilities is None else [self.num_classes * p for p in probabilities]

    def state_dict(self) -> dict:
        return {"keep_ratio": list(self.keep_ratio)}

    def load_state_dict(self, state: dict | None) -> None:
        """``None``: a checkpoint from before class sampling (nothing measured yet)."""
        if state is not None:
            self.keep_ratio = [None if r is None else float(r) for r in state["keep_ratio"]]
