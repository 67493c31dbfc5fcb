"""Finding TensorRT and a CUDA GPU, lazily, with messages that say how to get them.

Nothing here imports TensorRT at module import time: ``dfard-pipeline --help`` and every CPU-only
path stay free of it.
"""

from __future__ import annotations

from typing import Any

from dfard_pipeline.errors import UsageError

INSTALL_HINT = ("on a Jetson, TensorRT comes with JetPack (`sudo apt install nvidia-jetpack`, then use the "
                "system Python or a venv with --system-site-packages); on x86 Linux with an NVIDIA GPU, "
                "`pip install tensorrt` (NVIDIA's package index, pulled in by the pypi.nvidia.com wheels) "
                "or `pip install 'dfard-pipeline[tensorrt]'`")


def import_tensorrt():
    """The ``tensorrt`` module, or a ``UsageError`` (exit 2) explaining how to install it."""
    try:
        import tensorrt
    except ImportError as exc:
        raise UsageError(f"TensorRT is not installed here ({exc.msg}); {INSTALL_HINT}") from None
    return tensorrt


def cuda_device_info() -> dict[str, Any]:
    """Name and compute capability of the current CUDA GPU, or a ``UsageError`` when there is none."""
    import torch

    if not torch.cuda.is_available():
        raise UsageError("TensorRT needs a CUDA GPU and this machine has none (torch.cuda.is_available() "
                         "is False); build engines on the target (e.g. the Jetson itself) or export "
                         "--format onnx here and build there")
    index = torch.cuda.current_device()
    major, minor = torch.cuda.get_device_capability(index)
    return {"gpu_name": torch.cuda.get_device_name(index), "compute_capability": f"{major}.{minor}"}


def check_engine_compatible(manifest: dict[str, Any], trt_version: str, device: dict[str, Any]) -> None:
    """Refuse an engine built by another TensorRT version or for another GPU (engines are not
    portable: deserialising one anyway can crash the process)."""
    built = manifest.get("tensorrt", {})
    problems = []
    if built.get("version") and built["version"] != trt_version:
        problems.append(f"TensorRT {built['version']} (this machine has {trt_version})")
    if built.get("compute_capability") and built["compute_capability"] != device["compute_capability"]:
        problems.append(f"compute capability {built['compute_capability']} ({built.get('gpu_name')}; "
                        f"this GPU is {device['compute_capability']}, {device['gpu_name']})")
    if problems:
        raise UsageError("engine was built with " + " and ".join(problems) +
                         "; rebuild it here with `dfard-pipeline export --format tensorrt`")
