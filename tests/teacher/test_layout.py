"""The teacher's training layout (teacher.memory_format) changes kernels, not the saved checkpoint."""

import torch

from dfard_pipeline.config import PipelineConfig, with_overrides
from dfard_pipeline.teacher.run import run_teacher_command


def test_a_channels_last_teacher_saves_plain_nchw_weights_close_to_a_contiguous_one(tmp_path):
    states = {}
    for layout in ("channels_last", "contiguous"):
        config = with_overrides(PipelineConfig(), {"teacher.epochs": 1, "teacher.memory_format": layout})
        run_teacher_command(config, tmp_path / f"{layout}.pt", quiet=True)
        states[layout] = torch.load(tmp_path / f"{layout}.pt", weights_only=True)["state_dict"]
    assert all(t.is_contiguous() for t in states["channels_last"].values())
    conv = next(k for k, t in states["contiguous"].items() if t.dim() == 4)
    torch.testing.assert_close(states["channels_last"][conv], states["contiguous"][conv], rtol=0.05, atol=0.02)
