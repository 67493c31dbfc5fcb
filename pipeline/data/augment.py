"""Label-preserving augmentation: ``teacher.augment`` on adversarial training's batches, and
``distill.synthetic_augment`` on the images a distillation step feeds the teacher and the student.

``flip_crop`` flips each image left-right with probability 1/2 and shifts it by up to ``pad`` pixels
each way (zero padding, then a crop of the original size). On real images it is the augmentation of
CIFAR adversarial training (Madry et al., fast AT); on synthetic ones, what the field's data-free
distillation methods do (DeepInversion's jitter and flips, CMI and Fast data-free KD's crop and
flip): an image the teacher labels the same when shifted or mirrored is more like a real one than one
whose class hangs on its exact pixels. Written here rather than taken from torchvision because it
must be batched per sample, differentiable (the generator step trains through it) and seeded from
the run's own CPU generator (a resumed run draws the same shifts).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def crop_padding(height: int) -> int:
    """The largest shift: 4 pixels for 32-pixel images (the CIFAR convention), 1 for 8-pixel digits."""
    return max(1, height // 8)


def flip_crop(x: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
    """``x`` (N, C, H, W), each image flipped with probability 1/2 and shifted by a seeded offset in
    [-pad, pad] on each axis (pixels shifted in are 0). Gradients flow back to ``x``."""
    n, _, h, w = x.shape
    pad = crop_padding(h)
    flip = torch.rand(n, generator=rng) < 0.5
    dy, dx = (torch.randint(0, 2 * pad + 1, (n,), generator=rng) for _ in range(2))
    flip, dy, dx = (t.to(x.device) for t in (flip, dy, dx))
    x = torch.where(flip[:, None, None, None], x.flip(3), x)
    padded = F.pad(x, (pad, pad, pad, pad))
    rows = (dy[:, None] + torch.arange(h, device=x.device))[:, :, None]  # (N, H, 1)
    cols = (dx[:, None] + torch.arange(w, device=x.device))[:, None, :]  # (N, 1, W)
    batch = torch.arange(n, device=x.device)[:, None, None]
    channels_last = x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()
    out = padded.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2)  # (N, H, W, C) gathered
    return out.contiguous(memory_format=torch.channels_last if channels_last else torch.contiguous_format)


def augment(kind: str, x: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
    """``x`` under the augmentation ``kind`` names (``none``: ``x`` itself)."""
    return flip_crop(x, rng) if kind == "flip_crop" else x
