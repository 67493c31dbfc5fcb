"""teacher.augment: every training batch goes through the named augmentation before its attack."""

import torch

from dfard_pipeline.config import PipelineConfig, with_overrides
from dfard_pipeline.teacher import train
from dfard_pipeline.teacher.run import run_teacher_command


def test_flip_crop_reaches_every_training_batch_and_changes_the_teacher(tmp_path, monkeypatch):
    calls, real = [], train.augment

    def record(kind, x, rng):
        out = real(kind, x, rng)
        calls.append((kind, len(x), torch.equal(out, x)))
        return out

    monkeypatch.setattr(train, "augment", record)
    states = {}
    for kind in ("none", "flip_crop"):
        config = with_overrides(PipelineConfig(), {"teacher.epochs": 1, "teacher.attack_steps": 1, "teacher.eval_n": 20,
                                                   "teacher.augment": kind})
        run_teacher_command(config, tmp_path / f"{kind}.pt", quiet=True)
        states[kind] = torch.load(tmp_path / f"{kind}.pt", weights_only=True)["state_dict"]
    steps = len(calls) // 2
    assert steps > 1 and [c[0] for c in calls] == ["none"] * steps + ["flip_crop"] * steps
    assert all(unchanged for _, _, unchanged in calls[:steps])
    assert not any(unchanged for _, _, unchanged in calls[steps:])
    conv = next(k for k, t in states["none"].items() if t.dim() == 4 and t.numel() > 1)
    assert not torch.equal(states["none"][conv], states["flip_crop"][conv])
