"""benchmarks/cifar10.py turns a run's name into its distill command: method, seed, budget, data,
student, and --resume only where a checkpoint waits."""

import json
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def option(args: list[str], name: str) -> str | None:
    return args[args.index(name) + 1] if name in args else None


def test_run_names_pick_method_seed_budget_and_data(tmp_path, cifar10_bench):
    bench = cifar10_bench
    epochs = yaml.safe_load((ROOT / "configs" / "cifar10_cpu.yaml").read_text())["distill"]["epochs"]
    data = "folder:/somewhere"
    dfard = bench.distill_args("dfard-s2", tmp_path, data)
    assert option(dfard, "--seed") == "2" and "--method" not in dfard and "--epochs" not in dfard
    assert "--data" not in dfard and "--resume" not in dfard
    combo4x = bench.distill_args("combo4x-s0", tmp_path, data)
    assert option(combo4x, "--method") == "combo" and option(combo4x, "--epochs") == str(4 * epochs)
    assert option(combo4x, "--out") == str(tmp_path / "combo4x-s0")
    dfard4x = bench.distill_args("dfard4x-s0", tmp_path, data)
    assert "--method" not in dfard4x and option(dfard4x, "--epochs") == str(4 * epochs)
    assert option(bench.distill_args("withdata-s0", tmp_path, data), "--data") == data
    assert option(bench.distill_args("dfard@mobilenet_v2-s1", tmp_path, data), "--student") == "mobilenet_v2"
    (tmp_path / "combo4x-s0" / "checkpoints").mkdir(parents=True)
    (tmp_path / "combo4x-s0" / "checkpoints" / "last.pt").write_bytes(b"")
    assert bench.distill_args("combo4x-s0", tmp_path, data)[-1] == "--resume"


def test_every_variant_belongs_to_the_method_its_name_starts_with(cifar10_bench):
    methods = {kind: cifar10_bench.method_of(kind) for kind in cifar10_bench.VARIANTS}
    assert methods["combosharp"] == "combo" and methods["dfardsharp"] == "dfard"
    assert all(m == next(p for p in ("combo", "withdata", "dfard") if k.startswith(p)) for k, m in methods.items())
    assert cifar10_bench.method_of("withdatab64") == "withdata" and cifar10_bench.method_of("dfard4x") == "dfard"


def test_a_variant_run_distills_the_preset_with_its_settings_changed(tmp_path, cifar10_bench):
    bench = cifar10_bench
    preset = yaml.safe_load((ROOT / "configs" / "cifar10_cpu.yaml").read_text())
    args = bench.distill_args("dfardatk1-s0", tmp_path, "folder:/somewhere")
    config = yaml.safe_load(Path(option(args, "--config")).read_text())
    assert config["distill"]["attack_steps"] == 1 and config["distill"]["attack_step_size"] == 10 / 255
    changed = {k for k in preset["distill"] if config["distill"][k] != preset["distill"][k]}
    assert changed == {"attack_steps", "attack_step_size"} and config["teacher"] == preset["teacher"]
    assert option(bench.distill_args("dfard-s0", tmp_path, "x"), "--config") == str(bench.PRESET)


def test_the_report_sets_each_variant_beside_dfard_s0(cifar10_bench):
    base = {"name": "dfard-s0", "clean": 0.44, "pgd20": 0.25}
    nobank = {"name": "dfardnobank-s0", "clean": 0.43, "pgd20": 0.243, "train_seconds": 1200}
    lines = cifar10_bench.ablation_lines({"dfard": [base], "dfardnobank": [nobank]})
    row = next(line for line in lines if "dfardnobank-s0" in line)
    assert "| -0.7 |" in row and "20.0 min" in row and "24.3%" in row
    seed1 = {"name": "dfardnobank-s1", "clean": 0.4, "pgd20": 0.26, "train_seconds": None}
    lines = cifar10_bench.ablation_lines({"dfard": [base, {**base, "name": "dfard-s1", "pgd20": 0.255}],
                                          "dfardnobank": [nobank, seed1]})
    assert "| +0.5 |" in next(line for line in lines if "dfardnobank-s1" in line)  # against dfard-s1, not -s0
    assert cifar10_bench.ablation_lines({"dfard": [base]}) == []
    combo = {"name": "combo-s0", "clean": 0.44, "pgd20": 0.262}
    sharp = {"name": "combosharp-s0", "clean": 0.43, "pgd20": 0.265}
    lines = cifar10_bench.ablation_lines({"dfard": [base], "combo": [combo], "combosharp": [sharp]})
    assert "| +0.3 |" in next(line for line in lines if "combosharp-s0" in line)  # against combo-s0, not dfard-s0
    assert any("| nothing: the preset | combo-s0 |" in line for line in lines)


def test_a_run_made_on_fewer_threads_than_cores_says_so_beside_its_times(cifar10_bench):
    base = {"name": "dfard-s0", "clean": 0.44, "pgd20": 0.25}
    side_by_side = {"name": "dfardard-s0", "clean": 0.45, "pgd20": 0.26, "train_seconds": 1800,
                    "machine": {"torch_threads": 1, "cores": 2}}
    row = next(line for line in cifar10_bench.ablation_lines({"dfard": [base], "dfardard": [side_by_side]})
               if "dfardard-s0" in line)
    assert "30.0 min (1 thread of 2 cores)" in row
    alone = {**side_by_side, "machine": {"torch_threads": 2, "cores": 2}}
    row = next(line for line in cifar10_bench.ablation_lines({"dfard": [base], "dfardard": [alone]})
               if "dfardard-s0" in line)
    assert "| 30.0 min |" in row


def test_the_b128_twins_are_combo_and_withdata_at_the_earlier_presets_settings(tmp_path, cifar10_bench):
    args = cifar10_bench.distill_args("combob128-s1", tmp_path, "folder:/somewhere")
    assert option(args, "--method") == "combo" and option(args, "--seed") == "1"
    config = yaml.safe_load(Path(option(args, "--config")).read_text())["distill"]
    assert (config["batch_size"], config["epochs"]) == (128, 60)
    assert "--method" not in cifar10_bench.distill_args("dfardb128-s1", tmp_path, "x")
    withdata = cifar10_bench.distill_args("withdatab128-s0", tmp_path, "folder:/somewhere")
    assert option(withdata, "--data") == "folder:/somewhere" and "--method" not in withdata


def test_where_the_distill_time_went_is_summed_from_the_run_folder(tmp_path, cifar10_bench):
    run = tmp_path / "dfardb128-s0"
    run.mkdir()
    (run / "config.resolved.yaml").write_text(yaml.safe_dump({"distill": {"student_steps": 25, "generator_steps": 2}}))
    epochs = [{"epoch": 1, "wall_time": 10.0, "phase_seconds": {"probe": 1.0, "generator": 2.0, "student": 6.0}},
              {"epoch": 2, "wall_time": 20.0,
               "phase_seconds": {"probe": 1.0, "generator": 2.0, "student": 4.0, "checkpoint": 1.0}}]
    (run / "metrics.jsonl").write_text("".join(json.dumps(e) + "\n" for e in epochs))
    phases = cifar10_bench.distill_phases(run)
    assert phases == {"seconds": {"probe": 2.0, "generator": 4.0, "student": 10.0, "checkpoint": 1.0}, "wall": 20.0,
                      "student_steps": 50, "generator_steps": 4}
    row = cifar10_bench.phase_lines({"dfardb128-s0": {"name": "dfardb128-s0", "distill_phases": phases}})[-1]
    # 0.20 s per student step, 1.00 per generator step; shares 50/20/10/5 % and 15 % outside the phases
    assert row == "| dfardb128-s0 | 0.3 min | 0.20 s | 1.00 s | 50% | 20% | 10% | 5% | 15% |"
    (run / "metrics.jsonl").write_text(json.dumps({"epoch": 1, "wall_time": 1.0}) + "\n")  # a run from before
    assert cifar10_bench.distill_phases(run) is None and cifar10_bench.phase_lines({"x": {"name": "x"}}) == []


def test_a_report_names_the_preset_it_was_made_with_and_its_own_stage_times(tmp_path, cifar10_bench):
    # an archived table (the earlier preset beside its results) must not claim today's preset
    cifar10_bench.PRESET = tmp_path / "preset.yaml"
    cifar10_bench.PRESET.write_text(yaml.safe_dump({"distill": {"batch_size": 128, "epochs": 60, "student_steps": 25}}))
    cifar10_bench.RESULTS = tmp_path / "cifar10_b128"
    cifar10_bench.RESULTS.mkdir()
    machine = {"cpu": "x", "cores": 2, "torch": "t", "torch_threads": 2, "date": "d"}
    (cifar10_bench.RESULTS / "teacher.json").write_text(json.dumps(
        {"name": "teacher", "clean": 0.6, "pgd20": 0.3, "n": 5000, "autoattack": None, "autoattack_n": 0,
         "train_seconds": 60.0, "machine": machine}))
    assert "this preset was never timed as one `run`." in cifar10_bench.report()
    (tmp_path / "cifar10_b128_preset.md").write_text("stage times")
    text = cifar10_bench.report()
    assert "the budgets of `preset.yaml` (distill: batch 128, 60 epochs of 25 student steps)" in text
    assert "`benchmarks/results/cifar10_b128_preset.md`" in text and "cifar10_cpu.yaml" not in text
    assert "`benchmarks/results/cifar10_b128/<run>.json`" in text and "another name" not in text
    assert (tmp_path / "cifar10_b128.md").read_text() == text
    renamed = {"name": "dfard-s0", "renamed_from": "dfardb64-s0", "clean": 0.45, "pgd20": 0.26, "n": 5000,
               "autoattack": None, "autoattack_n": 0, "train_seconds": 60.0, "machine": machine}
    (cifar10_bench.RESULTS / "dfard-s0.json").write_text(json.dumps(renamed))
    assert "dfard-s0 (as dfardb64-s0)" in cifar10_bench.report()
    side_by_side = {**renamed, "name": "dfard@resnet20-s0", "machine": {**machine, "torch_threads": 1}}
    del side_by_side["renamed_from"]
    (cifar10_bench.RESULTS / "dfard@resnet20-s0.json").write_text(json.dumps(side_by_side))
    row = next(line for line in cifar10_bench.report().splitlines() if "dfard@resnet20-s0 |" in line)
    assert row.startswith("| dfard into resnet20, data-free |") and row.endswith("| 1 min (1 thread of 2 cores) |")
