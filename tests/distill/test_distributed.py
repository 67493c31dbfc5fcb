"""Two CPU processes with gloo through torchrun: the ranks must end with identical students."""

import subprocess
import sys

import pytest
import torch
import yaml

from dfard_pipeline.artifacts.project_checkpoint import write_checkpoint

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("layout", ["contiguous", "channels_last"])
def test_two_gloo_ranks_end_with_identical_student(tmp_path, digits_teacher, layout):
    teacher = write_checkpoint(digits_teacher, tmp_path / "teacher.pt", kind="teacher", eps=0.1)
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump({"distill": {
        "epochs": 2, "generator_steps": 2, "student_steps": 3, "batch_size": 16, "probe_size": 16,
        "attack_steps": 2, "nz": 8, "ngf": 8, "device": "cpu", "memory_format": layout}}))
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "dfard_pipeline", "distill", "--teacher", str(teacher), "--out", str(out),
           "--config", str(config), "--quiet"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300,
                            env={**__import__("os").environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = torch.load(out / "student.pt", weights_only=True)["metrics"]
    assert metrics["world_size"] == 2
    assert len(set(metrics["rank_weight_sha256"])) == 1
