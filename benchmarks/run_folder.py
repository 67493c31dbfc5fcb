"""The files of a `dfard-pipeline run` folder that the verify benchmarks read."""

from __future__ import annotations

import sys
from pathlib import Path


def fp32_artifact(run: Path) -> Path:
    """RUN/export/student.fp32.onnx; exits with one line when the run has not made it."""
    artifact = run / "export" / "student.fp32.onnx"
    if not artifact.is_file():
        sys.exit(f"{artifact} not found: run `dfard-pipeline run` first (or pass --run)")
    return artifact
