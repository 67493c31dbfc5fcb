"""Distillation temperature rules: fixed (baseline) and ITA, Interactive Temperature Adjustment.

ITA here is our reconstruction of the paper's one-sentence description ("inspired by human
education", adjusted each epoch from the student's state); see docs/method.md.
Each rule maps the epoch's probe to a temperature tau >= 1.
"""

from __future__ import annotations

from dfard_pipeline.config.schema import DistillConfig
from dfard_pipeline.distill.probe import Probe
from dfard_pipeline.registry import Registry

TEMPERATURE_RULES: Registry = Registry("temperature rule")


@TEMPERATURE_RULES.register("fixed")
def fixed_temperature(probe: Probe | None, cfg: DistillConfig) -> float:
    return cfg.fixed_tau


@TEMPERATURE_RULES.register("entropy_match")
def entropy_match(probe: Probe | None, cfg: DistillConfig, iterations: int = 40) -> float:
    """Our first rule, "teach at the student's level": the tau in [1, tau_max] at which the teacher's mean
    entropy equals the student's mean entropy on adversarial probe inputs (bisection; the
    teacher's entropy grows monotonically with tau)."""
    if probe is None:
        return cfg.tau_max  # before any probe the student knows nothing: speak softly
    target = probe.student_entropy
    low, high = 1.0, cfg.tau_max
    if target <= probe.teacher_entropy(low):
        return low
    if target >= probe.teacher_entropy(high):
        return high
    for _ in range(iterations):
        mid = 0.5 * (low + high)
        if probe.teacher_entropy(mid) < target:
            low = mid
        else:
            high = mid
    return 0.5 * (low + high)


@TEMPERATURE_RULES.register("agreement")
def agreement_temperature(probe: Probe | None, cfg: DistillConfig) -> float:
    """tau = 1 + (tau_max - 1) * (1 - robust agreement): the teacher speaks softly while the student
    still disagrees under attack and sharpens as it catches up. The default (measured on digits at
    80 epochs: PGD-20 86.1 vs 84.1 with ``entropy_match``; benchmarks/results/ablation*.md)."""
    if probe is None:
        return cfg.tau_max
    return 1.0 + (cfg.tau_max - 1.0) * (1.0 - probe.agreement)
