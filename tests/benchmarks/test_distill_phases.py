"""benchmarks/distill_phases.py times a variant's epochs on the real loop and scales them to its run."""

import statistics

import pytest
import yaml

from dfard_pipeline.artifacts.project_checkpoint import write_checkpoint

TINY = {"epochs": 120, "generator_steps": 2, "student_steps": 3, "batch_size": 16, "probe_size": 16, "attack_steps": 2,
        "memory_bank_batches": 2, "nz": 8, "ngf": 8, "checkpoint_minutes": 2.0}


def test_a_variant_is_timed_phase_by_phase_and_scaled_to_its_own_epochs(tmp_path, digits_teacher, distill_phases_bench):
    bench = distill_phases_bench
    bench.PRESET = tmp_path / "preset.yaml"
    bench.PRESET.write_text(yaml.safe_dump({"distill": TINY}))  # the digits default, cut small
    teacher = write_checkpoint(digits_teacher, tmp_path / "teacher.pt", kind="teacher", eps=0.1)
    epochs = bench.time_variant("dfardb128", teacher, epochs=3, seed=0)
    assert len(epochs) == 2  # the first epoch is the warm-up
    for epoch in epochs:
        assert {"probe", "generator", "student"} <= set(epoch) and epoch["seconds"] > 0
    row = bench.summarise("dfardb128", [epochs])
    assert (row["batch"], row["epochs_full"]) == (128, 60)  # the variant's settings, not the preset's
    assert row["student_step"] == pytest.approx(statistics.median(e["student"] for e in epochs) / 3)
    assert row["full_distill_minutes"] == pytest.approx(row["epoch_seconds"] * 60 / 60)
    preset = bench.summarise("preset", [epochs[:1], epochs[1:]])
    assert preset["epochs_full"] == 120 and preset["epoch_seconds_by_run"] == [e["seconds"] for e in epochs]
    # b128 runs 60 epochs to the preset's 120: its full distill, run by run, over the preset's
    b128 = {**row, "epoch_seconds_by_run": [1.0, 2.0]}
    ratios = bench.ratio_lines([preset, b128])[-1]
    assert ratios == ("- batch 128 for 60 epochs (the same images, half the steps): "
                      f"{0.5 / epochs[0]['seconds']:.2f}x, {1 / epochs[1]['seconds']:.2f}x")
    text = bench.markdown([preset, b128], {"command": "c", "machine": {"cpu": "x", "cores": 2, "torch_threads": 2,
                                                               "torch": "t", "date": "d"},
                                  "note": "n", "epochs": 3, "repeat": 1})
    assert "| batch 128 for 60 epochs" in text and "(60) |" in text
