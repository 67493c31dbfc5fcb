"""flip_crop: each image flipped and/or shifted as a whole, seeded, differentiable."""

import torch

from dfard_pipeline.data.augment import augment, crop_padding, flip_crop


def _candidates(image: torch.Tensor, pad: int) -> list[torch.Tensor]:
    """Every flip and shift of one (C, H, W) image that flip_crop may return."""
    h, w = image.shape[1:]
    out = []
    for flipped in (image, image.flip(2)):
        padded = torch.nn.functional.pad(flipped, (pad, pad, pad, pad))
        out += [padded[:, dy:dy + h, dx:dx + w] for dy in range(2 * pad + 1) for dx in range(2 * pad + 1)]
    return out


def test_each_image_is_one_flip_and_shift_of_itself_and_the_draws_differ_per_image():
    x = torch.rand(16, 3, 32, 32)
    y = flip_crop(x, torch.Generator().manual_seed(0))
    assert y.shape == x.shape and crop_padding(32) == 4
    for image, moved in zip(x, y, strict=True):
        assert any(torch.equal(moved, c) for c in _candidates(image, 4))
    assert sum(torch.equal(a, b) for a, b in zip(x, y, strict=True)) < 4  # (1 in 162 each is unmoved)


def test_it_is_seeded_and_none_is_the_identity():
    x = torch.rand(8, 1, 8, 8)
    first, second = (flip_crop(x, torch.Generator().manual_seed(3)) for _ in range(2))
    assert torch.equal(first, second)
    assert not torch.equal(first, flip_crop(x, torch.Generator().manual_seed(4)))
    assert augment("none", x, torch.Generator()) is x


def test_gradients_reach_the_images_that_stay_in_view():
    x = torch.rand(4, 3, 16, 16, requires_grad=True)
    flip_crop(x, torch.Generator().manual_seed(1)).sum().backward()
    visible = x.grad.sum((1, 2, 3))
    assert torch.all(visible > 0) and torch.all(visible <= 3 * 16 * 16)  # shifted-out pixels get none
    assert set(x.grad.unique().tolist()) <= {0.0, 1.0}


def test_the_memory_format_is_kept():
    x = torch.rand(4, 3, 8, 8).contiguous(memory_format=torch.channels_last)
    assert flip_crop(x, torch.Generator()).is_contiguous(memory_format=torch.channels_last)
