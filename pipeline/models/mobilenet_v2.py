"""MobileNetV2 (Sandler et al. 2018), CIFAR variant: stride-1 stem and first stages, so 32x32
inputs keep enough resolution; ``width_mult`` scales every layer."""

from __future__ import annotations

from torch import nn

from dfard_pipeline.models.cifar_common import cifar_contract
from dfard_pipeline.models.contract import ZooModel
from dfard_pipeline.models.registry import register_model

# (expansion, out channels, repeats, stride): the paper's table with CIFAR strides.
_CIFAR_SETTINGS = [(1, 16, 1, 1), (6, 24, 2, 1), (6, 32, 3, 2), (6, 64, 4, 2),
                   (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]


def _round(ch: float) -> int:
    return max(8, int(ch + 4) // 8 * 8)


class InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, expansion: int):
        super().__init__()
        hidden = cin * expansion
        layers = []
        if expansion != 1:
            layers += [nn.Conv2d(cin, hidden, 1, bias=False), nn.BatchNorm2d(hidden), nn.ReLU6()]
        layers += [nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden, bias=False),
                   nn.BatchNorm2d(hidden), nn.ReLU6(),
                   nn.Conv2d(hidden, cout, 1, bias=False), nn.BatchNorm2d(cout)]
        self.block = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        out = self.block(x)
        return x + out if self.residual else out


class MobileNetV2(ZooModel):
    def __init__(self, width_mult: float = 1.0, **contract_kwargs):
        super().__init__(cifar_contract(**contract_kwargs))
        cin = _round(32 * width_mult)
        layers = [nn.Conv2d(self.contract.shape[0], cin, 3, 1, 1, bias=False),
                  nn.BatchNorm2d(cin), nn.ReLU6()]
        for expansion, cout, repeats, stride in _CIFAR_SETTINGS:
            cout = _round(cout * width_mult)
            for i in range(repeats):
                layers.append(InvertedResidual(cin, cout, stride if i == 0 else 1, expansion))
                cin = cout
        last = _round(1280 * max(1.0, width_mult))
        layers += [nn.Conv2d(cin, last, 1, bias=False), nn.BatchNorm2d(last), nn.ReLU6()]
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(last, self.contract.num_classes)

    def body(self, x):
        # global average pooling as a mean: adaptive_avg_pool2d's CUDA backward is not deterministic
        return self.fc(self.features(x).mean((2, 3)))


@register_model("mobilenet_v2")
def mobilenet_v2(width_mult: float = 1.0, **kwargs) -> MobileNetV2:
    """MobileNetV2, 2.2 M parameters at width 1.0 and 10 classes."""
    return MobileNetV2(width_mult=width_mult, **kwargs)
