"""Backends: how a model file runs. One runner interface over torch, ONNX Runtime and TensorRT
(TensorRT imported lazily), and the parity of two runners' logits.

Low in the house: ``export`` checks what it wrote with these runners and ``runtime`` verifies with
them, and this package imports neither."""

from __future__ import annotations

from pathlib import Path

from dfard_pipeline.artifacts.export_manifest import NO_MANIFEST, read_manifest
from dfard_pipeline.backends.base import Runner, RunnerInfo
from dfard_pipeline.errors import UsageError

ARTIFACT_KINDS = {".onnx": "onnxruntime", ".engine": "tensorrt", ".plan": "tensorrt", ".pt": "torch"}


def open_runner(artifact: str | Path, *, providers: tuple[str, ...] = ("cpu",), contract=None,
                threads: int | None = None, spinning: bool = True) -> Runner:
    """A runner for ``artifact`` chosen by its suffix; the input contract comes from its manifest
    (or, for a ``.pt``, from the checkpoint), unless given. ``spinning`` (ONNX Runtime only): whether
    its pool threads spin between runs (its default, the lowest latency) or sleep (better when the
    process works between runs, as attacks do)."""

    artifact = Path(artifact)
    if not artifact.is_file():
        raise UsageError(f"model artifact not found: {artifact}")
    kind = ARTIFACT_KINDS.get(artifact.suffix)
    if kind is None:
        raise UsageError(f"{artifact.name}: unknown artifact type {artifact.suffix!r}; "
                         f"expected one of {', '.join(ARTIFACT_KINDS)}")
    if kind == "torch":
        from dfard_pipeline.backends.torch_runner import TorchRunner
        from dfard_pipeline.checkpoint.loaded import load_project_model

        loaded = load_project_model(artifact)
        return TorchRunner(loaded.module, loaded.contract, artifact=str(artifact),
                           file_bytes=artifact.stat().st_size)
    manifest = read_manifest(artifact) or NO_MANIFEST
    if contract is None:
        contract = manifest.contract
        if contract is None:
            raise UsageError(f"{artifact.name} has no manifest ({artifact.name}.json) to say what it takes; "
                             "re-export it with dfard-pipeline export")
    precision = manifest.precision
    if kind == "onnxruntime":
        from dfard_pipeline.backends.onnxruntime_runner import OnnxRuntimeRunner

        return OnnxRuntimeRunner(artifact, contract, providers=providers, threads=threads, precision=precision,
                                 spinning=spinning)
    from dfard_pipeline.backends.tensorrt_runner import TensorRTRunner

    return TensorRTRunner(artifact, contract, manifest=manifest.to_dict(), precision=precision)


__all__ = ["Runner", "RunnerInfo", "open_runner"]
