"""Counting host syncs: every place Python reads a tensor's value (``item``, ``float()``, ``bool()``,
``tolist``, ``numpy``), which on a GPU waits for all queued work. Counted with a torch function mode,
so the count is the same on a CPU (where these reads are cheap) as on a GPU, and a CPU test can
hold the training step to its budget."""

from __future__ import annotations

from collections import Counter

import torch
from torch.overrides import TorchFunctionMode

_READS = {torch.Tensor.item, torch.Tensor.tolist, torch.Tensor.numpy, torch.Tensor.__float__,
          torch.Tensor.__int__, torch.Tensor.__bool__, torch.Tensor.__index__}


class HostSyncCounter(TorchFunctionMode):
    """``with HostSyncCounter() as c: ...``; ``c.count`` reads of tensor values, ``c.by_kind`` per method.

    ``device_type`` counts only reads of tensors on that device (``"cuda"``: the real syncs on a GPU);
    ``exclude`` names tensors that live on the host even in GPU training, such as the optimizers'
    step counters (PyTorch keeps them on the CPU unless ``capturable``), so a CPU run counts what a
    GPU run would."""

    def __init__(self, device_type: str | None = None, exclude: list[torch.Tensor] | tuple = ()):
        super().__init__()
        self.device_type = device_type
        self._exclude = {id(t) for t in exclude}
        self.by_kind: Counter = Counter()

    @property
    def count(self) -> int:
        return sum(self.by_kind.values())

    def __torch_function__(self, func, types, args=(), kwargs=None):
        tensor = args[0] if args and isinstance(args[0], torch.Tensor) else None
        if func in _READS and tensor is not None and id(tensor) not in self._exclude and (
                self.device_type is None or tensor.device.type == self.device_type):
            self.by_kind[func.__name__] += 1
        return func(*args, **(kwargs or {}))


def optimizer_steps(*optimizers: torch.optim.Optimizer) -> list[torch.Tensor]:
    """The per-parameter step counters of ``optimizers`` (host tensors: see ``HostSyncCounter``)."""
    return [state["step"] for opt in optimizers for state in opt.state.values()
            if isinstance(state.get("step"), torch.Tensor)]


_NO_KERNEL = {"empty", "empty_strided", "empty_like", "lift_fresh", "detach", "_reshape_alias"}


def _tensor_bytes(tree) -> int:
    from torch.utils._pytree import tree_flatten

    return sum(t.numel() * t.element_size() for t in tree_flatten(tree)[0] if isinstance(t, torch.Tensor))


class FlopCounter:
    """FLOPs of the convolutions and matrix products run inside ``with FlopCounter() as f:`` (forward
    and backward), by ``torch.utils.flop_counter``'s per-op formulas, and ``ops``: how many dispatched
    operators do work on the data (views and bare allocations not counted), about one kernel launch
    each on a GPU, and ``bytes``: what those operators read and write if each reads its tensor
    inputs once and writes its outputs once (an in-place op reads and writes its tensor), the
    memory traffic of the step done op by op, with nothing fused. A dispatch mode of our own:
    ``FlopCounterMode``'s module tracking breaks ``torch.autograd.grad``, which every PGD step uses. A
    CUDA graph's replay dispatches nothing."""

    def __enter__(self) -> FlopCounter:
        from torch.utils._python_dispatch import TorchDispatchMode
        from torch.utils.flop_counter import flop_registry

        counter = self
        self.total = self.ops = self.bytes = 0

        class _Mode(TorchDispatchMode):
            def __torch_dispatch__(self, func, types, args=(), kwargs=None):
                kwargs = kwargs or {}
                out = func(*args, **kwargs)
                if not (func.is_view or func._overloadpacket.__name__ in _NO_KERNEL):
                    counter.ops += 1
                    counter.bytes += _tensor_bytes((args, kwargs, out))
                count = flop_registry.get(func._overloadpacket)
                if count is not None:
                    counter.total += count(*args, **kwargs, out_val=out)
                return out

        self._mode = _Mode()
        self._mode.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._mode.__exit__(*exc)
