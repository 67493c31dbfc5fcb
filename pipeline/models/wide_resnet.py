"""Wide ResNet (Zagoruyko & Komodakis 2016) as used by TRADES/ARD/RSLAD teachers: WRN-34-10."""

from __future__ import annotations

import torch.nn.functional as F
from torch import nn

from dfard_pipeline.models.cifar_common import cifar_contract
from dfard_pipeline.models.contract import ZooModel
from dfard_pipeline.models.registry import register_model
from dfard_pipeline.models.resnet import PreActBlock as WideBlock  # the same pre-activation block


class WideResNet(ZooModel):
    def __init__(self, depth: int = 34, widen_factor: int = 10, **contract_kwargs):
        super().__init__(cifar_contract(**contract_kwargs))
        if (depth - 4) % 6 != 0:
            raise TypeError(f"depth must be 6n+4, got {depth}")
        n = (depth - 4) // 6
        widths = [16, 16 * widen_factor, 32 * widen_factor, 64 * widen_factor]
        self.stem = nn.Conv2d(self.contract.shape[0], widths[0], 3, 1, 1, bias=False)
        blocks, cin = [], widths[0]
        for stage, width in enumerate(widths[1:]):
            for j in range(n):
                blocks.append(WideBlock(cin, width, 2 if (stage > 0 and j == 0) else 1))
                cin = width
        self.blocks = nn.Sequential(*blocks)
        self.bn = nn.BatchNorm2d(cin)
        self.fc = nn.Linear(cin, self.contract.num_classes)

    def body(self, x):
        out = F.relu(self.bn(self.blocks(self.stem(x))))
        # global average pooling as a mean: adaptive_avg_pool2d's CUDA backward is not deterministic
        return self.fc(out.mean((2, 3)))


@register_model("wrn_34_10")
def wrn_34_10(widen_factor: int = 10, depth: int = 34, **kwargs) -> WideResNet:
    """WRN-34-10 (46 M parameters); ``widen_factor`` < 10 gives the reduced-width variants."""
    return WideResNet(depth=depth, widen_factor=widen_factor, **kwargs)
