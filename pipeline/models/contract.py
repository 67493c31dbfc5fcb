"""The input contract every model carries, so nothing is guessed downstream (cf. timm's
``pretrained_cfg``): what goes in, in which range, and what comes out."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from dfard_pipeline.errors import UsageError


@dataclass(frozen=True)
class InputContract:
    """Inputs are float tensors of shape (N, *shape) in ``value_range``; the model normalises
    them itself with ``mean``/``std`` and returns (N, num_classes) logits."""

    shape: tuple[int, int, int]  # (C, H, W)
    num_classes: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    value_range: tuple[float, float] = (0.0, 1.0)

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InputContract:
        """The contract a file records; a ``UsageError`` naming the field when it is malformed."""
        import math

        if not isinstance(data, dict):
            raise UsageError(f"input contract must be a mapping, got {type(data).__name__}")
        missing = [k for k in ("shape", "num_classes", "mean", "std") if k not in data]
        if missing:
            raise UsageError(f"input contract lacks {', '.join(missing)}")
        try:
            contract = cls(
                shape=tuple(int(v) for v in data["shape"]),
                num_classes=int(data["num_classes"]),
                mean=tuple(float(v) for v in data["mean"]),
                std=tuple(float(v) for v in data["std"]),
                value_range=tuple(float(v) for v in data.get("value_range", (0.0, 1.0))),
            )
        except (TypeError, ValueError) as exc:
            raise UsageError(f"input contract has a malformed value ({exc})") from None
        values = (*contract.mean, *contract.std, *contract.value_range)
        if (len(contract.shape) != 3 or min(contract.shape) < 1 or contract.num_classes < 2
                or len(contract.mean) != contract.shape[0] or len(contract.std) != contract.shape[0]
                or not all(math.isfinite(v) for v in values) or min(contract.std) <= 0
                or len(contract.value_range) != 2):
            raise UsageError(f"input contract is out of range (shape {list(contract.shape)}, "
                             f"{contract.num_classes} classes, mean {list(contract.mean)}, std {list(contract.std)})")
        return contract

    def check_compatible(self, other: InputContract, what: str = "student") -> None:
        """Raise a ``UsageError`` when ``other`` (e.g. the student's) takes different inputs."""
        if self.shape != other.shape or self.num_classes != other.num_classes:
            raise UsageError(
                f"{what} input contract {other.shape}->{other.num_classes} classes differs from "
                f"the teacher's {self.shape}->{self.num_classes} classes; pick a {what} built "
                f"for in_chans={self.shape[0]}, image_size={self.shape[1]}, "
                f"num_classes={self.num_classes}"
            )
        if self.value_range != other.value_range:
            raise UsageError(f"{what} expects inputs in {other.value_range}, teacher in {self.value_range}")


class Normalize(nn.Module):
    """(x - mean) / std per channel; lives inside every model so inputs stay in [0, 1]."""

    def __init__(self, mean: tuple[float, ...], std: tuple[float, ...]):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


class ZooModel(nn.Module):
    """Base of every zoo model: ``normalize`` then ``body``; carries its contract and the
    registry name + kwargs that rebuild it from a checkpoint."""

    def __init__(self, contract: InputContract):
        super().__init__()
        self.contract = contract
        self.normalize = Normalize(contract.mean, contract.std)
        self.arch_name = ""
        self.arch_kwargs: dict[str, Any] = {}

    def body(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(self.normalize(x))


def channel_stats(in_chans: int, mean: tuple[float, ...] | None, std: tuple[float, ...] | None,
                  default_mean: tuple[float, ...], default_std: tuple[float, ...]):
    """Per-channel mean/std of the right length (defaults repeated or truncated to in_chans)."""
    mean = tuple(mean) if mean is not None else tuple((default_mean * in_chans)[:in_chans])
    std = tuple(std) if std is not None else tuple((default_std * in_chans)[:in_chans])
    if len(mean) != in_chans or len(std) != in_chans:
        raise UsageError(f"mean/std need {in_chans} values (one per input channel)")
    return mean, std
