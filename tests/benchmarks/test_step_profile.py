"""benchmarks/step_profile.py: the CIFAR-10 CPU preset's pair is read from its config, and a variant
that changes a step setting the pair also sets (the attack) overrides it."""

from pathlib import Path

import torch
import yaml

from dfard_pipeline.distill import trainer as trainer_module

ROOT = Path(__file__).resolve().parents[2]


def test_the_cifar10_cpu_pair_is_the_presets(step_profile_bench):
    preset = yaml.safe_load((ROOT / "configs" / "cifar10_cpu.yaml").read_text())
    pair = step_profile_bench.PAIRS["cifar10-cpu"]
    assert (pair["teacher"], pair["student"]) == (preset["teacher"]["arch"], preset["distill"]["student"])
    assert (pair["batch"], pair["attack_steps"], pair["bank"]) == (
        preset["distill"]["batch_size"], preset["distill"]["attack_steps"], preset["distill"]["memory_bank_batches"])


def test_a_variant_overrides_the_pairs_attack(monkeypatch, step_profile_bench):
    configs = []
    init = trainer_module.DistillTrainer.__init__

    def recording_init(self, cfg, *args, **kwargs):
        configs.append(cfg)
        init(self, cfg, *args, **kwargs)

    monkeypatch.setattr(trainer_module.DistillTrainer, "__init__", recording_init)
    pair = step_profile_bench.PAIRS["cifar10-cpu"]
    row = step_profile_bench.profile_pair("cifar10-cpu", pair, torch.device("cpu"), "fp32", batch=4, steps=1,
                                          warmup=0, variant="attack_1")
    assert configs[0].attack_steps == 1 and configs[0].nz == pair["config"]["nz"]
    assert row["student_steps_per_s"] > 0 and row["generator_steps_per_s"] > 0
