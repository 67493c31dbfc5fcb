"""The sidecar manifest every artifact gets: what it was made from, how, and how well it matched."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from dfard_pipeline.atomic import write_json_atomic
from dfard_pipeline.checkpoint.project import file_sha256, library_versions
from dfard_pipeline.export.spec import MANIFEST_FORMAT


def export_versions() -> dict[str, str]:
    import onnx
    import onnxruntime

    return {**library_versions(), "onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__}


def write_manifest(artifact: Path, *, name: str, dest: Path, source: dict[str, Any], export: dict[str, Any],
                   graph: dict[str, Any],
                   contract: dict[str, Any], calibration: dict[str, Any] | None, parity: list[dict],
                   int8_agreement: dict[str, float] | None, tensorrt: dict[str, Any] | None) -> dict[str, Any]:
    """Write the manifest of ``artifact`` (to be published as ``name``) to ``dest`` atomically and
    return what it holds."""
    manifest = {
        "format": MANIFEST_FORMAT,
        "format_version": 1,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "artifact": {"file": name, "sha256": file_sha256(artifact), "bytes": artifact.stat().st_size},
        "source": source,
        "export": export,
        "inputs": graph["inputs"],
        "outputs": graph["outputs"],
        "contract": contract,
        "calibration": calibration,
        "parity": parity,
        "int8_agreement_with_fp32": int8_agreement,
        "tensorrt": tensorrt,
        "versions": export_versions(),
    }
    write_json_atomic(dest, manifest)
    return manifest
