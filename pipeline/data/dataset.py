"""The in-memory labelled set every loader returns."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from dfard_pipeline.errors import DataError


@dataclass(frozen=True)
class LabelledSet:
    """``x``: float32 (N, C, H, W) in [0, 1]; ``y``: int64 (N,) class indices."""

    name: str
    x: torch.Tensor
    y: torch.Tensor
    num_classes: int

    def __post_init__(self) -> None:
        if self.x.ndim != 4 or self.x.shape[0] != self.y.shape[0]:
            raise DataError(f"{self.name}: x must be (N,C,H,W) with one label per sample, "
                            f"got x {tuple(self.x.shape)} and y {tuple(self.y.shape)}")

    def __len__(self) -> int:
        return int(self.x.shape[0])

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.x.shape[1:])

    def head(self, n: int | None) -> LabelledSet:
        """The first ``n`` samples (all when None), so runs on a subset stay comparable."""
        if n is None or n >= len(self):
            return self
        return LabelledSet(self.name, self.x[:n], self.y[:n], self.num_classes)
