"""Small CNNs for the embedded digits dataset (1x8x8, 10 classes, inputs in [0,1]).

The teacher has BatchNorm layers on purpose: their running statistics are the data information
the DFARD generator's `bn` term mines. The student stays under a few tens of thousands of
parameters, the size an edge deployment of an 8x8 classifier calls for.
"""

from __future__ import annotations

from torch import nn

from dfard_pipeline.models.contract import InputContract, ZooModel, channel_stats
from dfard_pipeline.models.registry import register_model

# Statistics of the digits training split in [0,1] (all pixels pooled).
DIGITS_MEAN = (0.3052,)
DIGITS_STD = (0.3760,)


def _conv_bn(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU())


def _pool_to_2x2(size: int) -> nn.Module:
    """Average pooling of a size x size map to 2 x 2. A fixed-kernel AvgPool2d where size is even: the
    adaptive op computes the same numbers, but its CUDA backward has no deterministic kernel (it stops
    distill.deterministic) and torch's TorchScript converter cannot take its traced form."""
    return nn.AvgPool2d(size // 2) if size % 2 == 0 else nn.AdaptiveAvgPool2d(2)


class DigitsCNN(ZooModel):
    def __init__(self, widths: tuple[int, int, int], hidden: int, in_chans: int = 1,
                 image_size: int = 8, num_classes: int = 10, mean=None, std=None):
        mean, std = channel_stats(in_chans, mean, std, DIGITS_MEAN, DIGITS_STD)
        super().__init__(InputContract((in_chans, image_size, image_size), num_classes, mean, std))
        w1, w2, w3 = widths
        self.features = nn.Sequential(
            _conv_bn(in_chans, w1), _conv_bn(w1, w2), nn.MaxPool2d(2),
            _conv_bn(w2, w3), _pool_to_2x2(image_size // 2),
        )
        head = [nn.Flatten()]
        head += [nn.Linear(w3 * 4, hidden), nn.ReLU(), nn.Linear(hidden, num_classes)] if hidden else [
            nn.Linear(w3 * 4, num_classes)]
        self.head = nn.Sequential(*head)

    def body(self, x):
        return self.head(self.features(x))


@register_model("digits_cnn_teacher")
def digits_cnn_teacher(**kwargs) -> DigitsCNN:
    """About 0.36 M parameters."""
    return DigitsCNN(widths=(32, 64, 64), hidden=128, **kwargs)


@register_model("digits_cnn_student")
def digits_cnn_student(**kwargs) -> DigitsCNN:
    """About 15 k parameters."""
    return DigitsCNN(widths=(16, 32, 32), hidden=0, **kwargs)
