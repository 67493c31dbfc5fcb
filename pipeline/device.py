"""Device and precision resolution, shared by every stage (CUDA is used only if present)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path

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


def cpuinfo_field(key: str, cpuinfo: Path = Path("/proc/cpuinfo")) -> str | None:
    """The first ``key`` line of Linux's /proc/cpuinfo (e.g. "flags", "model name"); None where absent."""
    try:
        for line in cpuinfo.read_text().splitlines():
            name, _, value = line.partition(":")
            if name.strip() == key:
                return value.strip()
    except OSError:
        pass
    return None


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> set[str] | None:
    """The CPU's instruction-set flags as Linux reports them; None where they cannot be read."""
    flags = cpuinfo_field("flags", cpuinfo)
    return None if flags is None else set(flags.split())


def precision_warning(device: torch.device, precision: str, flags: set[str] | None = None) -> str | None:
    """A warning for bf16 on a CPU without native bf16 (no AVX-512 BF16 / AMX): PyTorch then converts
    around every op and was measured several times slower than fp32 (benchmarks/results/throughput_epyc_avx2.md)."""
    if device.type != "cpu" or precision != "bf16":
        return None
    flags = cpu_flags() if flags is None else flags
    if flags is None or flags & NATIVE_BF16_FLAGS:
        return None
    capability = torch.backends.cpu.get_cpu_capability()
    return (f"this CPU has no native bf16 (no avx512_bf16 or amx_bf16; PyTorch runs {capability} kernels): "
            "bf16 autocast will be several times slower than fp32 here; use --precision fp32")


NATIVE_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


def resolve_precision(device: torch.device, choice: str, flags: set[str] | None = None) -> str:
    """The precision ``choice`` names on ``device``; ``auto`` is bf16 autocast where it runs natively
    (a CUDA GPU with bf16, a CPU with AVX-512 BF16 or AMX) and fp32 elsewhere: on a CPU without native
    bf16 PyTorch converts around every op, several times slower than fp32 (benchmarks/results/ has
    the readings)."""
    if choice != "auto":
        return choice
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    flags = cpu_flags() if flags is None else flags
    return "bf16" if flags and flags & NATIVE_BF16_FLAGS else "fp32"


def memory_format(device: torch.device, choice: str, flags: set[str] | None = None) -> torch.memory_format:
    """The layout of the weights and activations of models being trained (teacher stage, distill).
    ``auto`` picks channels_last on CUDA (cuDNN's fast path) and on x86 CPUs with AVX2 or AVX-512,
    where oneDNN's NHWC kernels were faster on every kind measured (the readings:
    benchmarks/results/throughput*.md, ablation_avx2_*.md). Other CPUs (none measured) stay contiguous."""
    if choice != "auto":
        return torch.channels_last if choice == "channels_last" else torch.contiguous_format
    if device.type == "cuda":
        return torch.channels_last
    flags = cpu_flags() if flags is None else flags
    return torch.channels_last if flags and flags & {"avx2", "avx512f"} else torch.contiguous_format


def set_deterministic(enabled: bool) -> Callable[[], None]:
    """``distill.deterministic`` / ``teacher.deterministic``: the same seed gives the same weights on
    a GPU too. PyTorch is asked for deterministic algorithms only (an op without one is an error, not
    a silent variation), cuDNN's autotuner is off, and cuBLAS gets the fixed workspace its
    deterministic mode requires (set before the first cuBLAS call). Measured on an H200
    (benchmarks/results/step_profile_h200.md): the paper-scale bf16 student step somewhat slower. On a
    CPU PyTorch's kernels are already deterministic for these models: nothing measurable changes.
    cuDNN's autotuner (``cudnn.benchmark``) stays off either way: on the H200 it made the student step
    slower, not faster (same file). Returns a function that restores the previous flags."""
    import os

    previous = (torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.deterministic,
                torch.backends.cudnn.benchmark)
    ours = enabled and "CUBLAS_WORKSPACE_CONFIG" not in os.environ
    if ours:
        os.environ["CUBLAS_WORKSPACE_CONFIG"] = ":4096:8"
    torch.use_deterministic_algorithms(enabled)
    torch.backends.cudnn.deterministic = enabled
    torch.backends.cudnn.benchmark = False

    def restore() -> None:
        if ours:  # the variable we set goes; one the caller had set stays as it was
            os.environ.pop("CUBLAS_WORKSPACE_CONFIG", None)
        torch.use_deterministic_algorithms(previous[0])
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = previous[1:]

    return restore


def autocast_dtype(precision: str) -> torch.dtype | None:
    """The dtype autocast runs matrix products in for ``precision`` (None for fp32: no autocast)."""
    return _DTYPES.get(precision)


def autocast(device: torch.device, precision: str):
    """Mixed-precision context for forward passes: bf16 on CPU or CUDA, fp16 on CUDA only."""
    check_precision(device, precision)
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=_DTYPES[precision])


def to_device(tensor: torch.Tensor, device: torch.device | str, dtype: torch.dtype | None = None) -> torch.Tensor:
    """``tensor.to(device, dtype)`` that does not wait for the GPU. A plain copy from ordinary host memory
    to a CUDA device synchronises the host with the device first, which empties the queue of launched
    work (distill draws its random numbers on the CPU, several times per step). Staged through pinned
    memory, the copy is queued like a kernel; PyTorch's pinned-memory pool keeps the staging buffer until
    the copy has run. Elsewhere, a plain ``to``."""
    device = torch.device(device)
    if device.type != "cuda" or tensor.device.type != "cpu":
        return tensor.to(device, dtype)
    return tensor.pin_memory().to(device, dtype, non_blocking=True)
