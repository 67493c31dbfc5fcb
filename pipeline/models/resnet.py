"""CIFAR-style ResNet-18 (He et al. 2016) and PreAct ResNet-18 (He et al. 2016b).

3x3 stride-1 stem (no max-pool), four stages of two blocks, global average pooling, so any
square input of size >= 8 works.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import nn

from dfard_pipeline.models.cifar_common import cifar_contract
from dfard_pipeline.models.contract import ZooModel
from dfard_pipeline.models.registry import register_model


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class PreActBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.shortcut = None
        if stride != 1 or cin != cout:
            self.shortcut = nn.Conv2d(cin, cout, 1, stride, bias=False)

    def forward(self, x):
        out = F.relu(self.bn1(x))
        shortcut = self.shortcut(out) if self.shortcut is not None else x
        out = self.conv1(out)
        return self.conv2(F.relu(self.bn2(out))) + shortcut


class ResNet(ZooModel):
    def __init__(self, block, preact: bool, base_width: int = 64, **contract_kwargs):
        super().__init__(cifar_contract(**contract_kwargs))
        in_chans, num_classes = self.contract.shape[0], self.contract.num_classes
        widths = [base_width, base_width * 2, base_width * 4, base_width * 8]
        self.stem = nn.Conv2d(in_chans, widths[0], 3, 1, 1, bias=False)
        self.stem_bn = None if preact else nn.BatchNorm2d(widths[0])
        layers, cin = [], widths[0]
        for i, width in enumerate(widths):
            for j in range(2):
                layers.append(block(cin, width, 2 if (i > 0 and j == 0) else 1))
                cin = width
        self.layers = nn.Sequential(*layers)
        self.final_bn = nn.BatchNorm2d(cin) if preact else None
        self.fc = nn.Linear(cin, num_classes)

    def body(self, x):
        out = self.stem(x)
        if self.stem_bn is not None:
            out = F.relu(self.stem_bn(out))
        out = self.layers(out)
        if self.final_bn is not None:
            out = F.relu(self.final_bn(out))
        # global average pooling as a mean: adaptive_avg_pool2d's CUDA backward is not deterministic
        return self.fc(out.mean((2, 3)))


@register_model("resnet18")
def resnet18(base_width: int = 64, **kwargs) -> ResNet:
    """ResNet-18, 11.2 M parameters at base_width 64 and 10 classes."""
    return ResNet(BasicBlock, preact=False, base_width=base_width, **kwargs)


@register_model("preact_resnet18")
def preact_resnet18(base_width: int = 64, **kwargs) -> ResNet:
    """PreAct ResNet-18, the usual robust-distillation student."""
    return ResNet(PreActBlock, preact=True, base_width=base_width, **kwargs)
