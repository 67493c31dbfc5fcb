"""benchmarks/cifar10_gpu.sh, the paper pair for a lent GPU, run end to end at its `tiny` scale on
the CPU (a slice of the CIFAR-10 JPEG copy, one epoch each): the script a GPU session would run
cannot rot unnoticed while no GPU is lent. AutoAttack is skipped (AA_N=0): on a CPU it takes
minutes per image for a ResNet-18, and its chunks are covered by test_cifar10_benchmark.py."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_gpu_script_runs_its_tiny_scale_on_the_cpu(tmp_path, cifar_jpeg_slice):
    cifar_jpeg_slice(tmp_path / "c10", "train", 20)
    cifar_jpeg_slice(tmp_path / "c10", "val", 2)
    env = {**os.environ, "CIFAR": str(tmp_path / "c10"), "WORK": str(tmp_path / "work"),
           "RESULTS": str(tmp_path / "results"), "AA_N": "0", "CUDA_VISIBLE_DEVICES": "",
           "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    done = subprocess.run(["bash", str(ROOT / "benchmarks" / "cifar10_gpu.sh"), "tiny"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "device: cpu" in done.stdout
    for run in ("teacher", "dfard-s0", "dfard@mobilenet_v2-s0"):
        result = json.loads((tmp_path / "results" / f"{run}.json").read_text())
        assert result["n"] == 20 and 0 <= result["pgd20"] <= result["clean"] <= 1 and result["autoattack"] is None
    assert (tmp_path / "work" / "dfard@mobilenet_v2-s0" / "student.pt").is_file()
    assert "dfard" in (tmp_path / "results.md").read_text()  # the report went where RESULTS said
