"""The eval-mode forward of a model with every Conv2d -> BatchNorm2d pair folded into one convolution.

In eval mode a BatchNorm is a per-channel affine map, so ``bn(conv(x))`` equals a convolution with
weights ``w * s`` and bias ``(b - mean) * s + beta`` (``s = gamma / sqrt(var + eps)``): the same
function, one pass over the activations instead of two forward and two backward. Distill's attacks
(PGD on the student, the generator's student term) differentiate the eval-mode student with respect
to its input tens of times per student step, so that pass is what they save. The folded copy shares
every other module with the live model and ``refresh()`` recomputes the folded weights from the live
ones (call it after each optimizer step, before use). Use it while the live model is in eval mode:
the modules it shares (unfolded norms, dropout) follow the live model's mode. Models torch.fx cannot
trace are not folded (``FoldedEval.of`` returns the model itself).
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class FoldedEval(nn.Module):
    """``FoldedEval.of(model)`` -> a module computing ``model.eval()(x)`` with conv-bn pairs folded.
    Input (N, C, H, W), output as the model's. Only for input gradients: folded weights never train."""

    def __init__(self, graph: torch.fx.GraphModule, pairs: list[tuple[nn.Conv2d, nn.Conv2d, nn.BatchNorm2d]]):
        super().__init__()
        self.graph_module = graph
        self._pairs = pairs  # (folded conv, live conv, live bn); a plain list: not registered twice

    @property
    def folded_pairs(self) -> int:
        return len(self._pairs)

    @classmethod
    def of(cls, model: nn.Module, dtype: torch.dtype | None = None) -> nn.Module:
        """The folded forward of ``model``, or ``model`` itself when it has no pair or cannot be traced.

        ``dtype``: the autocast dtype the caller always runs it under (bf16, fp16). The folded
        weights are then kept in it, rounded once per ``refresh`` exactly as autocast would round
        them at every call: the same outputs, without a cast kernel per convolution per call."""
        try:
            graph = torch.fx.symbolic_trace(model)
        except Exception:  # noqa: BLE001 - data-dependent control flow: attack the model as it is
            return model
        modules = dict(graph.named_modules())
        pairs = []
        for node in list(graph.graph.nodes):
            conv_node = node.args[0] if node.op == "call_module" and node.args else None
            if not (isinstance(conv_node, torch.fx.Node) and conv_node.op == "call_module"):
                continue
            bn, conv = modules.get(node.target), modules.get(conv_node.target)
            if not (type(bn) is nn.BatchNorm2d and type(conv) is nn.Conv2d and bn.track_running_stats
                    and len(conv_node.users) == 1 and conv.out_channels == bn.num_features):
                continue
            folded = copy.deepcopy(conv).requires_grad_(False)
            if folded.bias is None:
                folded.bias = nn.Parameter(torch.zeros(conv.out_channels, device=conv.weight.device,
                                                       dtype=conv.weight.dtype), requires_grad=False)
            if dtype is not None:
                folded.to(dtype)
            name = f"folded_{len(pairs)}"
            graph.add_submodule(name, folded)
            conv_node.target = name
            node.replace_all_uses_with(conv_node)
            graph.graph.erase_node(node)
            pairs.append((folded, conv, bn))  # fx's graph holds the live modules themselves
        if not pairs:
            return model
        graph.delete_all_unused_submodules()
        graph.graph.lint()
        graph.recompile()
        folded_model = cls(graph, pairs)
        folded_model.refresh()
        return folded_model

    @torch.no_grad()
    def refresh(self) -> None:
        """Recompute each folded convolution from the live conv and bn (weights and running stats)."""
        for folded, conv, bn in self._pairs:
            scale = torch.rsqrt(bn.running_var + bn.eps)
            if bn.weight is not None:
                scale = scale * bn.weight
            folded.weight.copy_(conv.weight * scale.reshape(-1, 1, 1, 1))
            shift = -bn.running_mean if conv.bias is None else conv.bias - bn.running_mean
            shift = shift * scale
            folded.bias.copy_(shift if bn.bias is None else shift + bn.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.graph_module(x)
