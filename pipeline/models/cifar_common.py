"""Shared constructor arguments of the CIFAR-style models.

These are written here rather than taken from torchvision because torchvision's ImageNet stems
(7x7 stride-2 conv + max-pool) destroy 32x32 inputs, and torchvision's wheels do not import
beside the CPU torch build this project pins.
"""

from __future__ import annotations

from dfard_pipeline.models.contract import InputContract, channel_stats

CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2471, 0.2435, 0.2616)


def cifar_contract(in_chans: int = 3, image_size: int = 32, num_classes: int = 10,
                   mean=None, std=None) -> InputContract:
    mean, std = channel_stats(in_chans, mean, std, CIFAR_MEAN, CIFAR_STD)
    return InputContract((in_chans, image_size, image_size), num_classes, mean, std)
