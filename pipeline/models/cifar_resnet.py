"""The CIFAR ResNets of He et al. 2016 (section 4.2): a 3x3 stem of 16 channels, three stages of
``n`` basic blocks at 16, 32 and 64 channels, global average pooling; depth ``6n + 2``.

Sized for CPU work: ``resnet20`` (272 k parameters) is the CIFAR-10 CPU preset's teacher and
``resnet8`` (78 k) its student (configs/cifar10_cpu.yaml).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import nn

from dfard_pipeline.models.cifar_common import cifar_contract
from dfard_pipeline.models.contract import ZooModel
from dfard_pipeline.models.registry import register_model
from dfard_pipeline.models.resnet import BasicBlock


class CifarResNet(ZooModel):
    def __init__(self, blocks_per_stage: int, base_width: int = 16, **contract_kwargs):
        super().__init__(cifar_contract(**contract_kwargs))
        in_chans, num_classes = self.contract.shape[0], self.contract.num_classes
        self.stem = nn.Conv2d(in_chans, base_width, 3, 1, 1, bias=False)
        self.stem_bn = nn.BatchNorm2d(base_width)
        layers, cin = [], base_width
        for stage in range(3):
            width = base_width * 2 ** stage
            for block in range(blocks_per_stage):
                layers.append(BasicBlock(cin, width, 2 if (stage > 0 and block == 0) else 1))
                cin = width
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(cin, num_classes)

    def body(self, x):
        out = self.layers(F.relu(self.stem_bn(self.stem(x))))
        return self.fc(out.mean((2, 3)))  # a mean, as resnet.py: deterministic backward on CUDA


@register_model("resnet20")
def resnet20(base_width: int = 16, **kwargs) -> CifarResNet:
    """CIFAR ResNet-20 (3 blocks per stage), 272 k parameters at 10 classes: a CPU-sized teacher."""
    return CifarResNet(3, base_width, **kwargs)


@register_model("resnet8")
def resnet8(base_width: int = 16, **kwargs) -> CifarResNet:
    """CIFAR ResNet-8 (1 block per stage), 78 k parameters at 10 classes: a CPU-sized student."""
    return CifarResNet(1, base_width, **kwargs)
