import pytest
import torch

from dfard_pipeline.distill.distributed import DistContext
from dfard_pipeline.distill.pending_losses import PendingLosses
from dfard_pipeline.errors import ValidationError
from dfard_pipeline.profiling import HostSyncCounter


def queued(values, dist=None):
    pending = PendingLosses(dist or DistContext())
    for i, v in enumerate(values):
        pending.add(torch.tensor(v, requires_grad=True) * 1.0, f"step {i}")
    return pending


def test_all_queued_losses_come_back_in_order_in_one_read():
    pending = queued([0.5, 0.25, 2.0])
    with HostSyncCounter() as reads:
        assert pending.read() == [0.5, 0.25, 2.0]
    assert reads.count == 1
    assert len(pending) == 0
    with HostSyncCounter() as reads:
        assert pending.read() == []
    assert reads.count == 0


def test_the_first_non_finite_loss_is_named_and_the_queue_is_emptied():
    pending = queued([0.5, float("nan"), float("inf")])
    with pytest.raises(ValidationError, match=r"^non-finite loss \(nan\) at step 1; the last good checkpoint is kept"):
        pending.read()
    assert len(pending) == 0


class _AnotherRankIsBad:
    """A stand-in for a process group in which another rank queued a non-finite loss."""
    enabled, world_size = True, 2

    def mean(self, value):
        return torch.ones_like(value)


def test_every_rank_stops_when_any_rank_has_a_non_finite_loss():
    with pytest.raises(ValidationError, match=r"non-finite loss on another rank, by step 1"):
        queued([0.5, 0.25], _AnotherRankIsBad()).read()
