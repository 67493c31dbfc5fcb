"""Forward hooks on the teacher's BatchNorm layers: how far a synthetic batch's feature
statistics are from the running statistics the teacher stored from its private data
(DeepInversion's feature-distribution regulariser; the `bn` generator term)."""

from __future__ import annotations

import torch
from torch import nn


class BatchNormStatistics:
    """Collects, for every BN layer, ||mean(x) - running_mean||_2 + ||var(x) - running_var||_2
    during the next forward pass. Works on eager ``nn.Module`` teachers; TorchScript and
    torch.export teachers have no hookable BN layers, so ``available`` is False for them."""

    def __init__(self, teacher: nn.Module):
        self._losses: list[torch.Tensor] = []
        self._handles = []
        self.enabled = False
        if isinstance(teacher, torch.jit.ScriptModule):
            return
        for module in teacher.modules():
            if isinstance(module, nn.BatchNorm2d) and module.running_mean is not None:
                self._handles.append(module.register_forward_hook(self._hook))

    @property
    def available(self) -> bool:
        return bool(self._handles)

    def _hook(self, module: nn.BatchNorm2d, inputs, output) -> None:
        if not self.enabled:
            return
        x = inputs[0].float()
        mean = x.mean(dim=(0, 2, 3))
        var = x.var(dim=(0, 2, 3), unbiased=False)
        self._losses.append(torch.norm(mean - module.running_mean, 2)
                            + torch.norm(var - module.running_var, 2))

    def collect(self) -> torch.Tensor | None:
        """The summed loss of the last forward pass (None when the teacher has no BN)."""
        if not self._losses:
            return None
        total = torch.stack(self._losses).sum()
        self._losses = []
        return total

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []
