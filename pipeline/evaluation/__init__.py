"""Evaluation of PyTorch models (white-box)."""

from dfard_pipeline.evaluation.robustness import (
    DEFAULT_ATTACKS,
    RobustnessResult,
    evaluate_robustness,
)

__all__ = ["DEFAULT_ATTACKS", "RobustnessResult", "evaluate_robustness"]
