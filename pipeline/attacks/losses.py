"""Losses that attacks maximise. Each takes logits (N, K) and a target and returns a scalar sum
(summing, not averaging, keeps each sample's gradient independent of the batch size)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``target``: int64 (N,) labels."""
    return F.cross_entropy(logits, target, reduction="sum")


def margin(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Carlini-Wagner margin for L-inf PGD: max_{j != y} z_j - z_y (positive = misclassified)."""
    true = logits.gather(1, target[:, None]).squeeze(1)
    other = logits.masked_fill(F.one_hot(target, logits.shape[1]).bool(), float("-inf")).amax(1)
    return (other - true).sum()


def kl_to_soft_target(logits: torch.Tensor, target_probs: torch.Tensor) -> torch.Tensor:
    """KL(target || softmax(logits)): the RSLAD inner maximisation; ``target_probs`` (N, K)."""
    return F.kl_div(F.log_softmax(logits, dim=1), target_probs, reduction="sum")
