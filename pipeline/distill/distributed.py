"""torch.distributed plumbing: initialise from torchrun's environment, reduce scalars, and
decide who writes. Without torchrun everything degrades to a single process."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    created_group: bool = False  # init_distributed made the process group (and shutdown destroys it)

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def mean(self, value: torch.Tensor) -> torch.Tensor:
        """All-reduce mean of a tensor (a no-op in a single process)."""
        if not self.enabled:
            return value
        value = value.detach().clone().float()
        dist.all_reduce(value, op=dist.ReduceOp.SUM)
        return value / self.world_size

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    def sync_buffers(self, module: torch.nn.Module) -> None:
        """Copy rank 0's buffers (BN running statistics) to every rank: each rank's last
        train-mode forward updated them with its own batch."""
        if self.enabled:
            for buffer in module.buffers():
                dist.broadcast(buffer, src=0)

    def gather_objects(self, obj) -> list:
        if not self.enabled:
            return [obj]
        out = [None] * self.world_size
        dist.all_gather_object(out, obj)
        return out


def init_distributed(device_type: str) -> DistContext:
    """Join the process group torchrun set up (nccl on GPUs, gloo on CPUs); else single process."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return DistContext()
    created = not dist.is_initialized()
    if created:
        dist.init_process_group(backend="nccl" if device_type == "cuda" else "gloo")
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device_type == "cuda":
        torch.cuda.set_device(local_rank)
    return DistContext(dist.get_rank(), dist.get_world_size(), local_rank, created)


# How long the ranks' gloo workers get to finish with the last collectives before the group goes.
_DRAIN_S = 0.2


def shutdown_distributed(ctx: DistContext) -> None:
    """Destroy the process group, after giving gloo's worker threads time to let go of the last
    collectives. A worker frees a finished collective's tensors after the caller has moved on, and
    freeing a tensor Python has seen takes the GIL; the group's destructor (run here, or when DDP
    drops its reference) joins those workers while holding the GIL. Without the pause, a two-rank CPU
    run hung at exit about one time in ten (gdb: ``~ProcessGroupGloo`` joining a ``pt_gloo_runloop``
    thread blocked in ``TensorImpl::decref_pyobject``). Sleeping releases the GIL to them."""
    if ctx.enabled and ctx.created_group and dist.is_initialized():  # a caller's own group stays theirs
        time.sleep(_DRAIN_S)
        dist.destroy_process_group()
