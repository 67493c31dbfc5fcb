"""``ARTIFACT.json``: the sidecar manifest export writes beside each artifact (``model.onnx`` ->
``model.onnx.json``): what it was made from, how, with which input contract, and how well it
matched the PyTorch student. Written by export; read, checked, by verify, the device bundle and the
runners (a manifest of another format, without a contract, or recording another file's sha256 is
refused).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dfard_pipeline.artifacts.onnx_integrity import external_data_files
from dfard_pipeline.artifacts.provenance import file_sha256, library_versions
from dfard_pipeline.atomic import write_json_atomic
from dfard_pipeline.errors import CheckpointError, UsageError

MANIFEST_FORMAT = "dfard-pipeline.export-manifest"


@dataclass(frozen=True)
class ExportManifest:
    """A checked manifest (``read_manifest``) or the one export just wrote (``write_manifest``); its
    fields as properties, ``to_dict()`` the JSON. ``NO_MANIFEST`` stands for an artifact without one
    (a ``.pt`` checkpoint): fp32, no contract, no source."""

    data: dict

    @property
    def precision(self) -> str:
        return self.data.get("export", {}).get("precision", "fp32")

    @property
    def format(self) -> str | None:
        return self.data.get("export", {}).get("format")

    @property
    def source(self) -> dict:
        return self.data.get("source", {})

    @property
    def contract(self):
        """The artifact's ``InputContract``, or None without a manifest."""
        from dfard_pipeline.models.contract import InputContract

        return InputContract.from_dict(self.data["contract"]) if "contract" in self.data else None

    @property
    def eps(self) -> float | None:
        return self.data.get("contract", {}).get("eps")

    @property
    def int8_agreement(self) -> dict | None:
        return self.data.get("int8_agreement_with_fp32")

    def to_dict(self) -> dict:
        return self.data


NO_MANIFEST = ExportManifest({})


def manifest_path(artifact: str | Path) -> Path:
    """The sidecar manifest of an artifact: ``model.onnx`` -> ``model.onnx.json``."""
    artifact = Path(artifact)
    return artifact.with_name(artifact.name + ".json")


def export_versions() -> dict[str, str]:
    import onnx
    import onnxruntime

    return {**library_versions(), "onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__}


def write_manifest(artifact: Path, *, name: str, dest: Path, source: dict[str, Any], export: dict[str, Any],
                   graph: dict[str, Any],
                   contract: dict[str, Any], calibration: dict[str, Any] | None, parity: list[dict],
                   int8_agreement: dict[str, float] | None, tensorrt: dict[str, Any] | None) -> ExportManifest:
    """Write the manifest of ``artifact`` (to be published as ``name``) to ``dest`` atomically and
    return what it holds."""
    manifest = {
        "format": MANIFEST_FORMAT,
        "format_version": 1,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "artifact": {"file": name, "sha256": file_sha256(artifact), "bytes": artifact.stat().st_size,
                     **({"external_data": external_data_files(artifact)} if artifact.suffix == ".onnx" else {})},
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
    return ExportManifest(manifest)


def read_manifest(artifact: str | Path) -> ExportManifest | None:
    """The sidecar manifest written by export (``model.onnx.json``), if there is one, checked: a
    JSON object of this project's format, with an input contract, that describes this very file
    (its recorded sha256). A ``CheckpointError`` names what is wrong."""
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
    return ExportManifest(manifest)
