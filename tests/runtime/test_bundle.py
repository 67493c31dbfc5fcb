"""verify --bundle / verify_on_device.py / verify --collect: the device half runs with numpy and
ONNX Runtime only, and the collected verify.json has the schema and the numbers of a local verify."""

import json
import shutil
import subprocess

import pytest
from cli_run import cli
from device_env import torch_free_env

FAST = ("name: fast\nruntime: onnxruntime\nbatch_sizes: [1, 16]\nwarmup: 2\niterations: 20\n"
        "attacks: {pgd_steps: 10, cw_steps: 10, square_queries: 100}\n"
        "gates: {max_p99_ms_batch1: 1000.0}\n")


@pytest.fixture
def fast(tmp_path):
    path = tmp_path / "fast.yaml"
    path.write_text(FAST)
    return str(path)


def run_device(bundle, env_dir, *args, with_onnxruntime=True):
    command, env = torch_free_env(env_dir, with_onnxruntime)
    return subprocess.run([*command, str(bundle / "verify_on_device.py"), *args], env=env, capture_output=True,
                          text=True, timeout=300)


def test_bundle_runs_without_torch_and_collects_to_the_local_verdict(exported, fast, tmp_path, capsys):
    command, env = torch_free_env(tmp_path / "check")
    probe = subprocess.run([*command, "-c", "import torch"], env=env, capture_output=True, text=True)
    assert probe.returncode != 0 and "No module named 'torch'" in probe.stderr  # the environment has no torch

    common = ["--artifact", str(exported), "--device", fast, "--n", "60", "--quiet"]
    code, out = cli(["verify", *common, "--bundle", str(tmp_path / "b")], capsys)
    assert code == 0 and "verify_on_device.py" in out, out
    done = run_device(tmp_path / "b", tmp_path / "env")
    assert done.returncode == 0, done.stderr
    code, out = cli(["verify", "--collect", str(tmp_path / "b"), "--json", str(tmp_path / "ci.json")], capsys)
    assert code == 0, out
    collected = json.loads((tmp_path / "b" / "verify.json").read_text())
    assert json.loads((tmp_path / "ci.json").read_text()) == collected
    code, out = cli(["verify", *common, "--out", str(tmp_path / "local")], capsys)
    assert code == 0, out
    local = json.loads((tmp_path / "local" / "verify.json").read_text())
    assert set(local) <= set(collected) and set(collected) - set(local) == {"bundle"}
    assert collected["device"]["torch_imported"] is False and collected["schema"] == local["schema"]
    for key in ("clean_accuracy", "n", "eps"):
        assert collected["metrics"][key] == pytest.approx(local["metrics"][key], abs=1e-6)
    for attack in ("transfer_pgd10", "transfer_cw"):  # the same transfer sets, evaluated on the same runtime
        assert collected["metrics"]["attacks"][attack] == pytest.approx(local["metrics"]["attacks"][attack], abs=1e-6)
    assert abs(collected["metrics"]["attacks"]["square"] - local["metrics"]["attacks"]["square"]) <= 0.05
    assert collected["reference"] == {**local["reference"], "path": collected["reference"]["path"]}
    assert [g["name"] for g in collected["gates"]] == [g["name"] for g in local["gates"]]
    assert collected["parity"]["clean"]["max_abs"] < 1e-3 and collected["passed"] is True


def test_device_half_refuses_the_wrong_device_and_a_missing_runtime(exported, tmp_path, capsys):
    code, _ = cli(["verify", "--artifact", str(exported), "--device", "jetson-orin-nano", "--n", "20", "--quiet",
                   "--bundle", str(tmp_path / "b")], capsys)
    assert code == 2  # the Jetson profiles run TensorRT engines: an .onnx is refused before any work
    profile = tmp_path / "nano.yaml"
    profile.write_text("name: nano-onnx\nruntime: onnxruntime\njetson_model: Orin Nano\nbatch_sizes: [1]\n"
                       "iterations: 5\nwarmup: 1\nattacks: {pgd_steps: 5, cw_steps: 0, square_queries: 20}\n"
                       "gates: {max_p99_ms_batch1: 50.0}\n")
    code, out = cli(["verify", "--artifact", str(exported), "--device", str(profile), "--n", "20", "--quiet",
                     "--bundle", str(tmp_path / "b")], capsys)
    assert code == 0, out
    wrong = run_device(tmp_path / "b", tmp_path / "env1")
    assert wrong.returncode == 4 and "not a Jetson" in wrong.stderr and "--emulate" in wrong.stderr
    missing = run_device(tmp_path / "b", tmp_path / "env2", "--emulate", with_onnxruntime=False)
    assert missing.returncode == 3 and "onnxruntime is not installed" in missing.stderr
    emulated = run_device(tmp_path / "b", tmp_path / "env3", "--emulate")
    assert emulated.returncode == 0, emulated.stderr
    code, out = cli(["verify", "--collect", str(tmp_path / "b")], capsys)
    result = json.loads((tmp_path / "b" / "verify.json").read_text())
    assert result["device"]["emulated"] is True and result["device"]["latency_source"] == "host"
    assert next(g for g in result["gates"] if g["name"] == "p99_ms_batch1")["passed"] is None


def test_collect_refuses_a_result_from_another_bundle_or_a_swapped_artifact(exported, fast, tmp_path, capsys):
    for name in ("a", "b"):
        code, out = cli(["verify", "--artifact", str(exported), "--device", fast, "--n", "20", "--quiet", "--bundle",
                         str(tmp_path / name)], capsys)
        assert code == 0, out
    assert run_device(tmp_path / "a", tmp_path / "env").returncode == 0
    for name in ("device_result.json", "device_logits.npz"):
        shutil.copy(tmp_path / "a" / name, tmp_path / "b" / name)
    code, out = cli(["verify", "--collect", str(tmp_path / "b")], capsys)
    assert code == 2 and "another bundle" in out and "Traceback" not in out
    (tmp_path / "a" / exported.name).write_bytes(b"swapped")
    code, out = cli(["verify", "--collect", str(tmp_path / "a")], capsys)
    assert code == 2 and "not the artifact this bundle was made for" in out
    code, out = cli(["verify", "--collect", str(tmp_path / "missing")], capsys)
    assert code == 2 and "bundle.json is missing" in out
