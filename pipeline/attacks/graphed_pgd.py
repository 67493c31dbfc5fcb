"""PGD against a model that keeps its tensors in place, captured once as a CUDA graph and replayed.

Each PGD step differentiates the student with respect to its input: a few hundred short kernels,
which eager PyTorch launches one at a time from Python. On a GPU the paper-scale student step
(10 PGD steps on resnet18) spends much of its time launching them (``docs/distill.md``,
"Speed on a GPU"). A graph replays the whole attack with one launch.

What a replay sees: the model's parameters and buffers as they are *now* (optimizer steps, running
statistics and ``FoldedEval.refresh`` all update them in place), and the ``x``, ``target`` and
random start copied into the graph's own input tensors. What it does not see: anything the model
decides on the host (a changed train/eval mode, a new tensor bound to an attribute). The caller
keeps the model in one mode and updates in place; ``distill`` attacks the eval-mode student that way.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass

import torch

from dfard_pipeline.attacks.pgd import LossFn, noisy_start, pgd_steps, start_noise


@dataclass
class _Captured:
    graph: torch.cuda.CUDAGraph
    x: torch.Tensor
    target: torch.Tensor
    noise: torch.Tensor
    out: torch.Tensor


class GraphedPGD:
    """``GraphedPGD(model, ...)(x, target, generator)`` returns what ``pgd(model, x, target, ...)``
    returns for the same generator state (same random start, same steps), from a CUDA graph
    captured on the first call for each input shape. CUDA only."""

    def __init__(self, model: Callable[[torch.Tensor], torch.Tensor], *, eps: float, step_size: float,
                 steps: int, loss_fn: LossFn, autocast_dtype: torch.dtype | None = None, warmup: int = 3):
        self.model, self.eps, self.step_size, self.steps, self.loss_fn = model, eps, step_size, steps, loss_fn
        self.autocast_dtype, self.warmup = autocast_dtype, warmup
        self._graphs: dict[tuple, _Captured] = {}

    @property
    def captured(self) -> int:
        """How many graphs were captured (one per input shape seen)."""
        return len(self._graphs)

    def __call__(self, x: torch.Tensor, target: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        if x.device.type != "cuda":
            raise ValueError(f"GraphedPGD runs on CUDA tensors only (got {x.device})")
        x = x.detach()
        noise = start_noise(x, generator)  # drawn eagerly: the same stream as eager pgd's
        key = (tuple(x.shape), x.dtype, tuple(target.shape), target.dtype)
        captured = self._graphs.get(key)
        if captured is None:
            captured = self._graphs[key] = self._capture(x, target, noise)
        captured.x.copy_(x)
        captured.target.copy_(target)
        captured.noise.copy_(noise)
        captured.graph.replay()
        return captured.out.clone()

    def _attack(self, x: torch.Tensor, target: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """What the graph captures (and, for the tests, what runs eagerly on any device)."""
        autocast = contextlib.nullcontext() if self.autocast_dtype is None else torch.autocast(
            x.device.type, dtype=self.autocast_dtype, cache_enabled=False)  # no cache: casts happen at every replay
        with autocast:
            return pgd_steps(self.model, x, noisy_start(x, noise, self.eps), target, eps=self.eps,
                             step_size=self.step_size, steps=self.steps, loss_fn=self.loss_fn)

    def _capture(self, x: torch.Tensor, target: torch.Tensor, noise: torch.Tensor) -> _Captured:
        static_x, static_target, static_noise = x.clone(), target.detach().clone(), noise.clone()
        # Warm up on a side stream (as torch.cuda.graphs' documentation prescribes): lazy
        # initialisation (cuDNN handles, autograd's device threads) must not happen during capture.
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(self.warmup):
                self._attack(static_x, static_target, static_noise)
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            out = self._attack(static_x, static_target, static_noise)
        return _Captured(graph, static_x, static_target, static_noise, out)
