"""Student losses kept on the device between checks.

Reading a loss back to the host makes the host wait for every kernel queued before it; on a GPU
that wait, once per student step, leaves the GPU idle while the host launches the next step. So a
student step only queues its loss here, and the trainer reads all of them in one go at the end of
each epoch and before every save. A non-finite loss still stops the run, naming its step, before
anything is saved: the last good checkpoint stays what it was. The steps run after a non-finite
loss within the same epoch are wasted work, never saved.
"""

from __future__ import annotations

import torch

from dfard_pipeline.distill.distributed import DistContext
from dfard_pipeline.distill.steps import NON_FINITE_ADVICE, check_finite
from dfard_pipeline.errors import ValidationError


class PendingLosses:
    def __init__(self, dist: DistContext):
        self.dist = dist
        self._losses: list[torch.Tensor] = []
        self._where: list[str] = []

    def __len__(self) -> int:
        return len(self._losses)

    def add(self, loss: torch.Tensor, where: str) -> None:
        """Queue a detached scalar loss and where it came from (for the error message)."""
        self._losses.append(loss.detach().float().reshape(()))
        self._where.append(where)

    def read(self) -> list[float]:
        """The queued losses as host floats, one read for all; raises ValidationError at the first
        non-finite one (on every rank when any rank has one, so no rank is left waiting)."""
        if not self._losses:
            return []
        values = torch.stack(self._losses)
        bad_anywhere = self.dist.mean((~torch.isfinite(values)).any().float()).reshape(1)
        *values, bad_anywhere = torch.cat([values, bad_anywhere]).tolist()  # the one host sync
        where = self._where
        self._losses, self._where = [], []
        if bad_anywhere > 0:
            for value, at in zip(values, where, strict=True):
                check_finite(value, at)  # raises at this rank's first non-finite loss
            raise ValidationError(f"non-finite loss on another rank, by {where[-1]}; {NON_FINITE_ADVICE}")
        return values
