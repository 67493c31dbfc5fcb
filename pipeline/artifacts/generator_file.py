"""``generator.pt``: the generator a distill run trained, saved beside its student.

Written by distill, read by INT8 calibration (export), verify's ``generator`` data source and the
run report. A ``{"format", "generator", "state_dict", "teacher_sha256"}`` mapping of plain tensors,
so ``torch.load(weights_only=True)`` reads it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from dfard_pipeline import outputs
from dfard_pipeline.errors import CheckpointError

GENERATOR_FORMAT = "dfard-pipeline.generator"


def generator_beside(checkpoint: str | Path) -> Path:
    """Where a distill run keeps the generator of the student at ``checkpoint``: beside it."""
    return Path(checkpoint).with_name(outputs.GENERATOR_FILE)


def write_generator(generator, teacher_sha256: str | None, path: Path) -> None:
    """Save ``generator`` (a ``models.generator.Generator``) atomically at ``path``."""
    from dfard_pipeline.artifacts.torch_files import plain_state_dict
    from dfard_pipeline.atomic import save_torch_atomic

    save_torch_atomic({"format": GENERATOR_FORMAT, "generator": generator.describe(),
                       "state_dict": plain_state_dict(generator), "teacher_sha256": teacher_sha256}, path)


def read_generator(path: Path):
    """The generator saved at ``path``, in eval mode; a ``CheckpointError`` names what is wrong."""
    from dfard_pipeline.artifacts.torch_files import load_error, load_plain
    from dfard_pipeline.models.generator import load_generator

    if not path.is_file():
        raise CheckpointError(f"generator not found: {path}")
    payload = load_plain(path, lambda exc: f"{path}: not a readable generator checkpoint ({load_error(exc)})")
    if not isinstance(payload, dict) or payload.get("format") != GENERATOR_FORMAT:
        raise CheckpointError(f"{path} is not a dfard-pipeline generator (expected a distill run's generator.pt)")
    try:
        return load_generator(payload)
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{path}: damaged generator ({str(exc).strip().splitlines()[0][:120]})") from None


def generator_samples(generator, count: int, seed: int) -> np.ndarray:
    """``count`` seeded generator samples, (N, C, H, W) float32 in [0, 1]."""
    from dfard_pipeline.models.generator import sample_latent

    rng = torch.Generator().manual_seed(seed)
    z, y = sample_latent(count, generator.nz, generator.num_classes, rng, torch.device("cpu"))
    with torch.no_grad():
        return generator(z, y).clamp(0, 1).numpy().astype(np.float32)
