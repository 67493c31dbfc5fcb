"""run_distill and verify_artifact are library calls: from one Python process, neither leaves
global state behind (the RNG, torch's thread count, the environment, hooks on a caller's module)."""

import os
import shutil
import sys

import pytest
import torch

from dfard_pipeline.artifacts.project_checkpoint import write_checkpoint
from dfard_pipeline.cli import main
from dfard_pipeline.config import PipelineConfig, with_overrides
from dfard_pipeline.distill.run import run_distill
from dfard_pipeline.distill.teacher_stats import feature_statistics
from dfard_pipeline.models import create_model
from dfard_pipeline.runtime.verify import VerifyRequest, verify_artifact

TINY = {"distill.epochs": 1, "distill.generator_steps": 1, "distill.student_steps": 2, "distill.batch_size": 16,
        "distill.probe_size": 16, "distill.attack_steps": 2, "distill.nz": 8, "distill.ngf": 8,
        "distill.memory_bank_batches": 2, "distill.deterministic": True}


def _state():
    return {"rng": torch.get_rng_state().clone(), "threads": torch.get_num_threads(),
            "env": {k: v for k, v in os.environ.items() if k.startswith(("CUBLAS", "TORCH", "OMP"))},
            "deterministic": torch.are_deterministic_algorithms_enabled()}


def _same(before, after):
    assert torch.equal(before["rng"], after["rng"]), "the global RNG moved"
    assert {k: v for k, v in before.items() if k != "rng"} == {k: v for k, v in after.items() if k != "rng"}


def test_run_distill_and_verify_leave_no_global_state(tmp_path, digits_run):
    torch.manual_seed(1234)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    teacher = create_model("digits_cnn_teacher").eval()
    write_checkpoint(teacher, tmp_path / "teacher.pt", kind="teacher", eps=0.1)
    before = _state()
    run_distill(with_overrides(PipelineConfig(), TINY), str(tmp_path / "teacher.pt"), tmp_path / "run", quiet=True)
    _same(before, _state())

    run = tmp_path / "exported"
    shutil.copytree(digits_run, run)
    with pytest.raises(SystemExit) as info:
        main(["export", "--checkpoint", str(run / "student.pt"), "--precision", "fp32", "--quiet"]) or sys.exit(0)
    assert info.value.code in (0, None)
    before = _state()
    verify_artifact(VerifyRequest(artifact=run / "student.fp32.onnx", n=20, suite="quick", threads=1))
    _same(before, _state())


def test_the_feature_statistics_hooks_come_off_the_callers_teacher():
    teacher = create_model("digits_cnn_teacher").eval()
    tapped, stats = feature_statistics(teacher, (1, 8, 8))
    assert tapped is teacher and stats.layers > 0
    assert sum(len(m._forward_hooks) for m in teacher.modules()) == stats.layers
    stats.close()
    assert sum(len(m._forward_hooks) for m in teacher.modules()) == 0
