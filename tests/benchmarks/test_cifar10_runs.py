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
