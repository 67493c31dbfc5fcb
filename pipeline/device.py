"""Device and precision resolution, shared by every stage (CUDA is used only if present)."""

from __future__ import annotations

import contextlib

import torch

from dfard_pipeline.errors import UsageError


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA when a GPU is visible, else the CPU; ``cuda`` without one is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UsageError("--device cuda: no CUDA GPU is visible to PyTorch on this machine "
                         "(use --device cpu or auto)")
    if name not in ("cpu",) and not name.startswith("cuda"):
        raise UsageError(f"unknown device '{name}': use auto, cpu or cuda")
    return torch.device(name)


_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def check_precision(device: torch.device, precision: str) -> None:
    """Raise a ``UsageError`` for a precision the device cannot run (fp16 needs CUDA)."""
    if precision == "fp16" and device.type != "cuda":
        raise UsageError("fp16 autocast needs a CUDA GPU; on the CPU use --precision bf16 or fp32")


def autocast(device: torch.device, precision: str):
    """Mixed-precision context for forward passes: bf16 on CPU or CUDA, fp16 on CUDA only."""
    check_precision(device, precision)
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=_DTYPES[precision])
