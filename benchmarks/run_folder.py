"""The files of a `dfard-pipeline run` folder that the benchmarks read."""

from __future__ import annotations

import sys
from pathlib import Path

from dfard_pipeline.outputs import run_artifact, run_student


def _made(path: Path) -> Path:
    if not path.is_file():
        sys.exit(f"{path} not found: run `dfard-pipeline run` first (or pass --run)")
    return path


def fp32_artifact(run: Path) -> Path:
    """RUN/export/student.fp32.onnx; exits with one line when the run has not made it."""
    return _made(run_artifact(run, "fp32"))


def student(run: Path) -> Path:
    """RUN/distill/student.pt; exits with one line when the run has not made it."""
    return _made(run_student(run))


def stage_seconds(stage: dict) -> float | None:
    """Wall seconds of one stage of run.json (its ``started`` and ``ended``, 1 s resolution); None
    for a stage that has not both."""
    from datetime import datetime

    if not stage.get("started") or not stage.get("ended"):
        return None
    parse = lambda text: datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ")  # noqa: E731
    return (parse(stage["ended"]) - parse(stage["started"])).total_seconds()
