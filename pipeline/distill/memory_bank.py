"""A ring buffer of earlier synthetic batches, mixed into student steps so the student does not
forget regions the generator has moved away from (as in CMI / Fast data-free KD).

Each batch is kept with the teacher's logits on it, computed once when it is added: the teacher is
frozen, so a student step need not run it again on the half of its batch drawn from here (on the
paper-scale pair, the teacher's forward is about 30 % of a student step's FLOPs).
"""

from __future__ import annotations

from collections.abc import Callable

import torch


class MemoryBank:
    def __init__(self, capacity_batches: int):
        self.capacity = capacity_batches
        self.batches: list[torch.Tensor] = []
        self.logits: list[torch.Tensor] = []  # the teacher's float logits on each batch
        self._next = 0
        self._pool: tuple[torch.Tensor, torch.Tensor] | None = None  # both lists concatenated, built once per add

    def __len__(self) -> int:
        return len(self.batches)

    def add(self, batch: torch.Tensor, logits: torch.Tensor) -> None:
        """Keep ``batch`` (N, C, H, W) and the teacher's ``logits`` (N, K) on it, on the host."""
        if self.capacity == 0:
            return
        if len(batch) != len(logits):
            raise ValueError(f"memory bank: {len(batch)} samples but {len(logits)} logits")
        batch, logits = batch.detach().cpu(), logits.detach().float().cpu()
        if len(self.batches) < self.capacity:
            self.batches.append(batch)
            self.logits.append(logits)
        else:
            self.batches[self._next], self.logits[self._next] = batch, logits
        self._next = (self._next + 1) % self.capacity
        self._pool = None

    def sample(self, count: int, rng: torch.Generator) -> tuple[torch.Tensor, torch.Tensor] | None:
        """``count`` samples drawn uniformly from every stored batch, with their teacher logits
        (None when empty)."""
        if not self.batches:
            return None
        if self._pool is None:
            # One copy of the bank per add (once an epoch), not per student step: a full paper-scale
            # bank is 50 batches of 256 CIFAR images, 157 MB. The stored batches become views of it.
            self._pool = torch.cat(self.batches), torch.cat(self.logits)
            self.batches = list(self._pool[0].split([len(b) for b in self.batches]))
            self.logits = list(self._pool[1].split([len(b) for b in self.logits]))
        inputs, logits = self._pool
        index = torch.randint(len(inputs), (count,), generator=rng)
        return inputs[index], logits[index]

    def state_dict(self) -> dict:
        # copies, not views of the pool: pickling a view writes its whole storage (distributed
        # checkpoints gather each rank's bank by pickling), 50 views of a full bank 50 times over
        return {"batches": [b.clone() for b in self.batches], "logits": [t.clone() for t in self.logits],
                "next": self._next}

    def load_state_dict(self, state: dict,
                        teacher_logits: Callable[[torch.Tensor], torch.Tensor] | None = None) -> None:
        """Restores a bank. A checkpoint from before the bank kept logits has none: they are computed
        with ``teacher_logits`` (batch -> logits)."""
        # kept on the host, as `add` keeps them (a checkpoint may be loaded onto the training device)
        batches = [b.cpu() for b in state["batches"]]
        logits = state.get("logits")
        if logits is None:
            if teacher_logits is None:
                raise KeyError("logits")
            logits = [teacher_logits(b) for b in batches]
        logits = [t.detach().float().cpu() for t in logits]
        if len(logits) != len(batches) or any(len(t) != len(b) for t, b in zip(logits, batches, strict=True)):
            raise ValueError("memory bank: batches and logits do not match")
        self.batches, self.logits, self._next, self._pool = batches, logits, int(state["next"]), None
