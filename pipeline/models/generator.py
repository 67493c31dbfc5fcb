"""The DFARD generator: z ~ N(0, I) of size nz -> image in [0, 1] of the teacher's input shape.

Linear -> (2*ngf, H/4, W/4) map, BN, two (upsample x2, conv3x3, BN, LeakyReLU 0.2) blocks,
conv3x3 to C channels, sigmoid (docs/method.md, "Parts"). Any H, W divisible by 4.

Our addition (``conditional=True``): a learned class embedding multiplies z. The `oh` term asks
each sample to carry its drawn class y; an unconditional generator cannot know which y a sample
was drawn for, so the term would only push every sample towards the uniform average.
Conditioning on y (as conditional-generator data-free KD does) makes the term meaningful and
keeps every batch class balanced by construction. The embedding *multiplies* z (as in AC-GAN)
rather than being added, because an added embedding learns to swamp z and the generator
collapses to one image per class. ``conditional=False`` is the DAFL-style alternative: y is
ignored by the generator and the `oh` target is the teacher's own argmax.
"""

from __future__ import annotations

import torch
from torch import nn

from dfard_pipeline.device import to_device
from dfard_pipeline.errors import UsageError


class Generator(nn.Module):
    def __init__(self, nz: int, ngf: int, image_shape: tuple[int, int, int], num_classes: int,
                 conditional: bool = True):
        super().__init__()
        channels, height, width = image_shape
        if height % 4 or width % 4:
            raise UsageError(f"the generator needs H and W divisible by 4, got {height}x{width}")
        self.nz, self.ngf, self.image_shape = nz, ngf, tuple(image_shape)
        self.num_classes, self.conditional = num_classes, conditional
        self.embed = nn.Embedding(num_classes, nz) if conditional else None
        if self.embed is not None:
            nn.init.ones_(self.embed.weight)
        self.init_size = (height // 4, width // 4)
        self.fc = nn.Linear(nz, 2 * ngf * self.init_size[0] * self.init_size[1])
        self.bn0 = nn.BatchNorm2d(2 * ngf)
        self.block1 = self._up_block(2 * ngf, 2 * ngf)
        self.block2 = self._up_block(2 * ngf, ngf)
        self.to_image = nn.Conv2d(ngf, channels, 3, padding=1)

    @staticmethod
    def _up_block(cin: int, cout: int) -> nn.Sequential:
        return nn.Sequential(nn.Upsample(scale_factor=2), nn.Conv2d(cin, cout, 3, padding=1, bias=False),
                             nn.BatchNorm2d(cout), nn.LeakyReLU(0.2))

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """z: (N, nz) noise, y: (N,) int64 classes -> images (N, C, H, W) in [0, 1]."""
        latent = z * self.embed(y) if self.embed is not None else z
        out = self.fc(latent).view(z.shape[0], 2 * self.ngf, *self.init_size)
        out = self.block2(self.block1(self.bn0(out)))
        return torch.sigmoid(self.to_image(out))

    def describe(self) -> dict:
        """What rebuilds this generator from a weights-only checkpoint."""
        return {"nz": self.nz, "ngf": self.ngf, "image_shape": list(self.image_shape),
                "num_classes": self.num_classes, "conditional": self.conditional}


def load_generator(payload: dict) -> Generator:
    """Rebuild a generator saved as ``{"generator": describe(), "state_dict": ...}``."""
    spec = payload["generator"]
    generator = Generator(spec["nz"], spec["ngf"], tuple(spec["image_shape"]), spec["num_classes"],
                          spec["conditional"])
    generator.load_state_dict(payload["state_dict"])
    return generator.eval()


def sample_latent(batch: int, nz: int, num_classes: int, rng: torch.Generator,
                  device: torch.device, probabilities: list[float] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Seeded (z, y): z ~ N(0, I) and class targets y, balanced (each class batch // K times, the
    remainder to the first classes) or, given ``probabilities``, in the counts ``class_counts`` gives;
    then shuffled. Drawn on the CPU generator, then moved, so runs are identical whatever the
    device's own RNG."""
    z = torch.randn(batch, nz, generator=rng)
    if probabilities is None:
        y = torch.arange(batch) % num_classes
    else:
        y = torch.repeat_interleave(torch.arange(num_classes), class_counts(batch, probabilities))
    y = y[torch.randperm(batch, generator=rng)]
    return to_device(z, device), to_device(y, device)


def class_counts(batch: int, probabilities: list[float]) -> torch.Tensor:
    """How many of ``batch`` targets each class gets: the largest-remainder rounding of batch * p, so
    the counts sum to ``batch`` and follow p as closely as whole numbers can (ties to the lower class)."""
    p = torch.tensor(probabilities, dtype=torch.float64)
    exact = batch * p / p.sum()
    counts = exact.floor().long()
    short = batch - int(counts.sum())
    if short:
        order = sorted(range(len(probabilities)), key=lambda k: (-(exact[k] - counts[k]).item(), k))
        counts[order[:short]] += 1
    return counts
