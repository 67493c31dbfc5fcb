"""A model loaded for inference: frozen, checked, with its contract and where it came from; and
``load_project_model``, which loads this project's checkpoints (students and teachers alike).
Teachers in the formats users hold load through ``teacher_loader.load_teacher``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from dfard_pipeline.artifacts.project_checkpoint import ProjectCheckpoint, read_checkpoint
from dfard_pipeline.artifacts.provenance import file_sha256
from dfard_pipeline.errors import CheckpointError
from dfard_pipeline.models import InputContract


@dataclass
class LoadedModel:
    """A frozen model ready for inference, with its contract and where it came from."""

    module: nn.Module
    contract: InputContract
    source_format: str  # project | state_dict | torchscript | torch_export | pickle
    sha256: str
    arch: str | None = None
    eps: float | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    checkpoint: ProjectCheckpoint | None = None  # set for this project's checkpoints


def from_checkpoint(checkpoint: ProjectCheckpoint, sha256: str, path: Path) -> LoadedModel:
    module = freeze(checkpoint.build_model(path), path)
    check_teacher(module, checkpoint.contract, path, what=checkpoint.kind)
    return LoadedModel(module, checkpoint.contract, "project", sha256, checkpoint.arch, checkpoint.eps,
                       {"kind": checkpoint.kind, "metrics": checkpoint.metrics}, checkpoint)


def load_project_model(path: str | Path, kind: str | None = None) -> LoadedModel:
    """A project checkpoint (of ``kind``, when given) loaded for inference; any other file is a
    ``CheckpointError`` (students are only ever this project's checkpoints)."""
    path = Path(path)
    return from_checkpoint(read_checkpoint(path, kind), file_sha256(path), path)


def freeze(module: nn.Module, path: Path | str) -> nn.Module:
    """Eval mode, no gradients, and finite weights (or a ``CheckpointError``)."""
    try:
        module.eval()
    except (NotImplementedError, RuntimeError):
        pass  # torch.export modules are already frozen in eval form
    for param in module.parameters():
        param.requires_grad_(False)
    bad = [name for name, tensor in _named_tensors(module) if tensor.is_floating_point()
           and not bool(torch.isfinite(tensor).all())]
    if bad:
        raise CheckpointError(f"{path}: non-finite weights (NaN or inf) in {', '.join(bad[:3])}"
                              f"{f' (+{len(bad) - 3} more)' if len(bad) > 3 else ''}; the file is damaged "
                              "or the training diverged")
    return module


def check_teacher(module: nn.Module, contract: InputContract, path: Path | str = "teacher",
                  what: str = "teacher") -> None:
    """Deterministic (N, classes) logits on a probe batch, or a ``CheckpointError``."""
    probe = torch.rand(4, *contract.shape, generator=torch.Generator().manual_seed(0))
    try:
        with torch.no_grad():
            first, second = module(probe), module(probe)
    except Exception as exc:  # noqa: BLE001 - a user model may raise anything on a wrong input
        raise CheckpointError(f"{path}: forward pass on a {tuple(probe.shape)} probe failed: {exc}") from None
    if not isinstance(first, torch.Tensor) or first.shape != (4, contract.num_classes):
        shape = tuple(first.shape) if isinstance(first, torch.Tensor) else type(first).__name__
        raise CheckpointError(f"{path}: {what} must return (N, classes) logits, got {shape} "
                              f"for a batch of 4")
    if not bool(torch.isfinite(first).all()):
        raise CheckpointError(f"{path}: {what} returns non-finite logits (NaN or inf) on a probe batch of "
                              "[0, 1] images")
    if not torch.allclose(first, second, atol=1e-5):
        raise CheckpointError(f"{path}: {what} logits differ between two identical forward passes "
                              "(dropout or BN still in training mode?)")


def _named_tensors(module: nn.Module):
    yield from module.named_parameters()
    yield from module.named_buffers()
