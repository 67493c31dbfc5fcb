"""One interface per output format: ``FORMATS[request.format]``.

Every format starts from an ONNX graph (FP32, FP16 or INT8 QDQ, made by ``export_model``); a format
says which ONNX precision it builds from, checks its environment before any work, turns that graph
into its artifact, and opens a runner for the parity check. Adding a format is one entry here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from dfard_pipeline.export.spec import ExportRequest


@dataclass(frozen=True)
class ExportFormat:
    name: str
    # the precision of the ONNX graph this format is built from, given the requested precision
    onnx_precision: Callable[[str], str]
    # refuses (ToolchainMissing) before any work when the toolchain or the device is missing
    check_environment: Callable[[], None]
    # (ONNX path, temporary folder, request, contract, log) -> (artifact path, format details or None)
    build: Callable[..., tuple[Path, dict | None]]
    # (artifact, request, contract, details) -> a runner of the artifact
    runner: Callable[..., object]
    # the artifact is the ONNX graph itself, so an INT8 graph's top-1 agreement with the FP32 graph
    # describes it and goes in the manifest (an engine's own parity with PyTorch already does)
    artifact_is_the_graph: bool = False


def _onnx_runner(artifact: Path, request: ExportRequest, contract, _details):
    from dfard_pipeline.backends.onnxruntime_runner import OnnxRuntimeRunner

    return OnnxRuntimeRunner(artifact, contract, precision=request.precision)


def _tensorrt_environment() -> None:
    from dfard_pipeline.backends.tensorrt_env import cuda_device_info, import_tensorrt
    from dfard_pipeline.errors import ToolchainMissing, UsageError

    try:
        import_tensorrt()
        cuda_device_info()
    except UsageError as exc:  # its refusals, as the one kind run skips a target on
        raise ToolchainMissing(str(exc)) from None


def _tensorrt_build(onnx_path: Path, tmp: Path, request: ExportRequest, contract, log) -> tuple[Path, dict]:
    from dfard_pipeline.export.tensorrt_engine import build_engine

    engine = tmp / "model.engine"
    log(f"building a TensorRT {request.precision} engine")
    details = build_engine(onnx_path, engine, precision=request.precision, shape=contract.shape,
                           dynamic_batch=request.dynamic_batch, batch=request.batch,
                           workspace_mib=request.workspace_mib, timing_cache=request.timing_cache_path)
    return engine, details


def _tensorrt_runner(artifact: Path, request: ExportRequest, contract, details):
    from dfard_pipeline.backends.tensorrt_runner import TensorRTRunner

    return TensorRTRunner(artifact, contract, manifest={"tensorrt": details}, precision=request.precision)


FORMATS = {
    "onnx": ExportFormat("onnx", onnx_precision=lambda precision: precision, check_environment=lambda: None,
                         build=lambda onnx_path, *_: (onnx_path, None), runner=_onnx_runner,
                         artifact_is_the_graph=True),
    # FP32/FP16/BF16 engines are built from the FP32 graph (TensorRT chooses the precisions), INT8
    # engines from the QDQ graph (its scales are the calibration)
    "tensorrt": ExportFormat("tensorrt", onnx_precision=lambda precision: "int8" if precision == "int8" else "fp32",
                             check_environment=_tensorrt_environment, build=_tensorrt_build,
                             runner=_tensorrt_runner),
}
