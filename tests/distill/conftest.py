"""A distill trainer on the digits pair, on the CPU, built directly (no run folder)."""

from pathlib import Path

import pytest
import torch

from dfard_pipeline.config import PipelineConfig, with_overrides
from dfard_pipeline.distill.distributed import DistContext
from dfard_pipeline.distill.trainer import DistillTrainer


@pytest.fixture
def digits_trainer(digits_teacher, digits_student):
    """``digits_trainer(overrides)``: a trainer for the digits pair with these config overrides."""

    def make(overrides: dict) -> DistillTrainer:
        cfg = with_overrides(PipelineConfig(), overrides).distill
        return DistillTrainer(cfg, digits_teacher, digits_student, 10, (1, 8, 8), torch.device("cpu"),
                              DistContext(), 0, Path("/dev/null"), "test", progress=False)

    return make
