"""Data-free calibration samples for INT8: drawn from the distill run's generator (no real data),
or read from an npz the user names.

Generator samples are half clean and half PGD-perturbed against the student at its eps: a robust
model is verified on adversarial inputs, whose activations reach further than clean ones, and
ranges calibrated on clean samples alone would clip them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from dfard_pipeline.artifacts.generator_file import generator_beside, generator_samples, read_generator
from dfard_pipeline.errors import UsageError


@dataclass(frozen=True)
class CalibrationSet:
    samples: np.ndarray  # (N, C, H, W) float32 in [0, 1]
    source: str  # "generator:PATH" or "npz:PATH"
    sha256: str
    adversarial_fraction: float

    def describe(self) -> dict:
        info = asdict(self)
        info.pop("samples")
        info["count"] = int(len(self.samples))
        return info


def find_generator(student: Path) -> Path | None:
    candidate = generator_beside(student)
    return candidate if candidate.is_file() else None


def resolve_source(spec: str | None, student: Path) -> str:
    """``generator:PATH`` / ``npz:PATH`` from the user's spec or the generator beside the student."""
    if spec is None:
        found = find_generator(student)
        if found is None:
            raise UsageError(f"INT8 needs calibration samples and there is no generator.pt beside {student}; "
                             "pass --calibration RUN/generator.pt (a distill run's generator) or "
                             "--calibration npz:PATH (an npz holding images 'x')")
        return f"generator:{found}"
    if spec.startswith(("generator:", "npz:")):
        return spec
    if spec.endswith(".npz"):
        return f"npz:{spec}"
    return f"generator:{spec}"


def build_calibration(spec: str, student_model: torch.nn.Module, shape: tuple[int, ...], eps: float,
                      count: int, seed: int) -> CalibrationSet:
    kind, _, path_text = spec.partition(":")
    path = Path(path_text)
    if kind == "npz":
        from dfard_pipeline.data.npz import load_npz_images

        samples = load_npz_images(str(path))[:count]
        adversarial = 0.0
    else:
        generator = read_generator(path)
        samples = generator_samples(generator, count, seed)
        from dfard_pipeline.attacks import pgd

        half = count // 2
        x = torch.from_numpy(samples[half:])
        with torch.no_grad():
            target = student_model(x).argmax(1)
        x_adv = pgd(student_model, x, target, eps=eps, steps=10, generator=torch.Generator().manual_seed(seed))
        samples = np.concatenate([samples[:half], x_adv.numpy()])
        adversarial = (count - half) / count
    if tuple(samples.shape[1:]) != tuple(shape):
        raise UsageError(f"calibration samples from {spec} are {tuple(samples.shape[1:])}, the model takes {shape}")
    if len(samples) < 16:
        raise UsageError(f"calibration source {spec} holds only {len(samples)} samples; at least 16 are needed")
    import hashlib

    return CalibrationSet(samples, spec, hashlib.sha256(samples.tobytes()).hexdigest(), adversarial)
