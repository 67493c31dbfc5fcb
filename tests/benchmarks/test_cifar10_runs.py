"""benchmarks/cifar10.py turns a run's name into its distill command: method, seed, budget, data,
student, and --resume only where a checkpoint waits."""

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
