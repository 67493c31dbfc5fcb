"""A ring buffer of earlier synthetic batches, mixed into student steps so the student does not
forget regions the generator has moved away from (as in CMI / Fast data-free KD)."""

from __future__ import annotations

import torch


class MemoryBank:
    def __init__(self, capacity_batches: int):
        self.capacity = capacity_batches
        self.batches: list[torch.Tensor] = []
        self._next = 0

    def __len__(self) -> int:
        return len(self.batches)

    def add(self, batch: torch.Tensor) -> None:
        if self.capacity == 0:
            return
        batch = batch.detach().cpu()
        if len(self.batches) < self.capacity:
            self.batches.append(batch)
        else:
            self.batches[self._next] = batch
        self._next = (self._next + 1) % self.capacity

    def sample(self, count: int, rng: torch.Generator) -> torch.Tensor | None:
        """``count`` samples drawn uniformly from every stored batch (None when empty)."""
        if not self.batches:
            return None
        pool = torch.cat(self.batches)
        return pool[torch.randint(len(pool), (count,), generator=rng)]

    def state_dict(self) -> dict:
        return {"batches": list(self.batches), "next": self._next}

    def load_state_dict(self, state: dict) -> None:
        # kept on the host, as `add` keeps them (a checkpoint may be loaded onto the training device)
        self.batches, self._next = [b.cpu() for b in state["batches"]], int(state["next"])
