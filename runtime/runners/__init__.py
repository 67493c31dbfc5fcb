"""Runners: one interface over torch, ONNX Runtime and TensorRT (TensorRT imported lazily)."""

from __future__ import annotations

import json
from pathlib import Path

from dfard_pipeline.errors import CheckpointError, UsageError
from dfard_pipeline.runtime.runners.base import Runner, RunnerInfo

ARTIFACT_KINDS = {".onnx": "onnxruntime", ".engine": "tensorrt", ".plan": "tensorrt", ".pt": "torch"}


def read_manifest(artifact: str | Path) -> dict | None:
    """The sidecar manifest written by export (``model.onnx.json``), if there is one, checked: a
    JSON object of this project's format, with an input contract, that describes this very file
    (its recorded sha256). A ``CheckpointError`` names what is wrong."""
    from dfard_pipeline.checkpoint.project import file_sha256
    from dfard_pipeline.export.spec import MANIFEST_FORMAT, manifest_path
    from dfard_pipeline.models.contract import InputContract

    artifact = Path(artifact)
    path = manifest_path(artifact)
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{path}: corrupt manifest ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        raise CheckpointError(f"{path}: not a dfard-pipeline export manifest; re-export {artifact.name}")
    recorded = manifest.get("artifact", {}).get("sha256") if isinstance(manifest.get("artifact"), dict) else None
    if not recorded:
        raise CheckpointError(f"{path}: the manifest records no sha256 for its artifact; re-export {artifact.name}")
    if artifact.is_file() and file_sha256(artifact) != recorded:
        raise CheckpointError(f"{path} describes another file (sha256 {recorded[:12]}...), not {artifact.name}; "
                              "the artifact was replaced or its manifest copied from elsewhere: re-export it")
    if "contract" not in manifest:
        raise CheckpointError(f"{path}: the manifest lacks an input contract; re-export {artifact.name}")
    try:
        InputContract.from_dict(manifest["contract"])
    except UsageError as exc:
        raise CheckpointError(f"{path}: {exc}") from None
    for section in ("export", "source"):
        if not isinstance(manifest.get(section, {}), dict):
            raise CheckpointError(f"{path}: '{section}' must be a mapping")
    return manifest


def open_runner(artifact: str | Path, *, providers: tuple[str, ...] = ("cpu",), contract=None,
                threads: int | None = None) -> Runner:
    """A runner for ``artifact`` chosen by its suffix; the input contract comes from its manifest
    (or, for a ``.pt``, from the checkpoint), unless given."""
    from dfard_pipeline.models.contract import InputContract

    artifact = Path(artifact)
    if not artifact.is_file():
        raise UsageError(f"model artifact not found: {artifact}")
    kind = ARTIFACT_KINDS.get(artifact.suffix)
    if kind is None:
        raise UsageError(f"{artifact.name}: unknown artifact type {artifact.suffix!r}; "
                         f"expected one of {', '.join(ARTIFACT_KINDS)}")
    if kind == "torch":
        from dfard_pipeline.checkpoint.teacher_loader import load_teacher
        from dfard_pipeline.runtime.runners.torch_runner import TorchRunner

        loaded = load_teacher(artifact)
        return TorchRunner(loaded.module, loaded.contract, artifact=str(artifact),
                           file_bytes=artifact.stat().st_size)
    manifest = read_manifest(artifact) or {}
    if contract is None:
        if "contract" not in manifest:
            raise UsageError(f"{artifact.name} has no manifest ({artifact.name}.json) to say what it takes; "
                             "re-export it with dfard-pipeline export")
        contract = InputContract.from_dict(manifest["contract"])
    precision = manifest.get("export", {}).get("precision", "fp32")
    if kind == "onnxruntime":
        from dfard_pipeline.runtime.runners.onnxruntime_runner import OnnxRuntimeRunner

        return OnnxRuntimeRunner(artifact, contract, providers=providers, threads=threads, precision=precision)
    from dfard_pipeline.runtime.runners.tensorrt_runner import TensorRTRunner

    return TensorRTRunner(artifact, contract, manifest=manifest, precision=precision)


__all__ = ["Runner", "RunnerInfo", "open_runner", "read_manifest"]
