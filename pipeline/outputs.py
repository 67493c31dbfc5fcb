"""Where each command writes when ``--out`` is not given: decided here, once, for the CLI, the
stages of ``run`` and the library (export's default artifact path)."""

from __future__ import annotations

from pathlib import Path

TEACHER = Path("teacher.pt")  # dfard-pipeline teacher
DISTILL = Path("runs") / "distill"  # dfard-pipeline distill
SUFFIX = {"onnx": ".onnx", "tensorrt": ".engine"}  # export format -> artifact suffix


def artifact_name(stem: str, precision: str, fmt: str) -> str:
    """``student`` + int8 + onnx -> ``student.int8.onnx``: the artifact name export and run use."""
    return f"{stem}.{precision}{SUFFIX[fmt]}"


def export_out(student: Path, precision: str, fmt: str) -> Path:
    """Export's artifact beside the checkpoint it came from."""
    return student.with_name(artifact_name(student.stem, precision, fmt))


def verify_out(artifact: Path, device: str) -> Path:
    """verify.json and verify.md: a folder beside the artifact, named for it and the device profile."""
    return artifact.with_name(f"verify-{artifact.name}-{device.replace('/', '_')}")


def run_out(config_path: Path) -> Path:
    """run's folder: ``runs/CONFIG_NAME``."""
    return Path("runs") / config_path.stem
