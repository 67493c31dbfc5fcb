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
    class_names: tuple[str, ...] | None = None  # when the source names them (an image folder)

    def __post_init__(self) -> None:
        if self.x.ndim != 4 or self.x.shape[0] != self.y.shape[0]:
            raise DataError(f"{self.name}: x must be (N,C,H,W) with one label per sample, "
                            f"got x {tuple(self.x.shape)} and y {tuple(self.y.shape)}")

    def __len__(self) -> int:
        return int(self.x.shape[0])

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.x.shape[1:])

    def subset(self, n: int | None, seed: int = 0) -> LabelledSet:
        """``n`` samples (all when None) drawn seeded and class-stratified, in their original order:
        never the first ``n``, which in a class-sorted set (an image folder, most npz files) would be
        the first classes only. The same ``n`` and ``seed`` give the same samples, so runs on a subset
        stay comparable."""
        if n is None or n >= len(self):
            return self
        index = stratified_indices(self.y, n, seed)
        return LabelledSet(self.name, self.x[index], self.y[index], self.num_classes, self.class_names)


def stratified_indices(y: torch.Tensor, n: int, seed: int) -> torch.Tensor:
    """``n`` sorted indices into ``y`` with each class's share as close to its share of ``y`` as whole
    numbers allow (largest remainders), a seeded random draw within each class."""
    generator = torch.Generator().manual_seed(seed)
    classes, counts = torch.unique(y, return_counts=True)
    exact = counts.double() * n / len(y)
    take = exact.floor().long()
    remainder = int(n - take.sum())
    if remainder > 0:  # the classes with the largest fractional parts get one more (ties: lower class)
        order = torch.argsort(exact - take.double(), descending=True, stable=True)
        take[order[:remainder]] += 1
    picked = []
    for cls, k in zip(classes.tolist(), take.tolist(), strict=True):
        members = torch.nonzero(y == cls).flatten()
        picked.append(members[torch.randperm(len(members), generator=generator)[:k]])
    return torch.sort(torch.cat(picked)).values
