"""verify --bundle / verify_on_device.py / verify --collect: the device half runs with numpy and
ONNX Runtime only, and the collected verify.json has the schema and the numbers of a local verify."""

import json
import shutil
import subprocess
from pathlib import Path

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

    common = ["--artifact", str(exported), "--device", fast, "--n", "100", "--quiet"]
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
    assert code == 2 and "is not the file --bundle wrote" in out
    code, out = cli(["verify", "--collect", str(tmp_path / "missing")], capsys)
    assert code == 2 and "bundle.json is missing" in out


def _edit_json(path, edit):
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))


def test_collect_recomputes_from_the_logits_and_refuses_forged_or_edited_files(exported, fast, tmp_path, capsys):
    import numpy as np

    code, out = cli(["verify", "--artifact", str(exported), "--device", fast, "--n", "20", "--quiet", "--bundle",
                     str(tmp_path / "b")], capsys)
    assert code == 0, out
    assert run_device(tmp_path / "b", tmp_path / "env").returncode == 0
    pristine = {name: (tmp_path / "b" / name).read_bytes()
                for name in ("device_result.json", "device_logits.npz", "arrays.npz", "bundle.json")}

    def restore():
        for name, data in pristine.items():
            (tmp_path / "b" / name).write_bytes(data)

    def refused(message):
        code, out = cli(["verify", "--collect", str(tmp_path / "b"), "--overwrite"], capsys)
        assert code == 2 and message in out and "Traceback" not in out, out
        assert len(out.strip().splitlines()) == 1, out
        restore()

    def every_accuracy(value):
        def edit(data):
            m = data["metrics"]
            m["clean_accuracy"] = m["robust_accuracy"] = value
            m["attacks"] = {k: value for k in m["attacks"]}
        return edit

    for value in (1.0, 7.5):  # a device that reports what it likes, in range or not
        _edit_json(tmp_path / "b" / "device_result.json", every_accuracy(value))
        refused("do not match its logits")
    arrays = dict(np.load(tmp_path / "b" / "arrays.npz"))
    arrays["y"] = np.zeros_like(arrays["y"])  # relabelled after --bundle
    np.savez(tmp_path / "b" / "arrays.npz", **arrays)
    refused("arrays.npz is not the file --bundle wrote")
    _edit_json(tmp_path / "b" / "bundle.json", lambda data: data["artifact"].update(file="../../x.onnx"))
    refused("not a file in the bundle")
    logits = dict(np.load(tmp_path / "b" / "device_logits.npz"))
    logits["square_x"] = np.clip(logits["square_x"] + 0.5, 0, 1)  # "adversarial" examples outside the eps-ball
    np.savez(tmp_path / "b" / "device_logits.npz", **logits)
    refused("not inside the eps-ball")
    logits["square_x"] = pristine_square = dict(np.load(tmp_path / "b" / "device_logits.npz"))["square_x"]
    logits["clean"] = np.full_like(logits["clean"], np.nan)
    np.savez(tmp_path / "b" / "device_logits.npz", **{**logits, "square_x": pristine_square})
    refused("NaN or inf logits")
    code, out = cli(["verify", "--collect", str(tmp_path / "b")], capsys)
    assert code in (0, 1) and "Traceback" not in out  # untouched, it collects


@pytest.mark.parametrize("damage", ["missing-key", "label-out-of-range"])
def test_the_device_script_refuses_a_damaged_bundle_in_one_line(exported, fast, tmp_path, capsys, damage):
    import numpy as np

    code, out = cli(["verify", "--artifact", str(exported), "--device", fast, "--n", "20", "--quiet", "--bundle",
                     str(tmp_path / "b")], capsys)
    assert code == 0, out
    if damage == "missing-key":
        _edit_json(tmp_path / "b" / "bundle.json", lambda data: data.pop("eps"))
    else:
        arrays = dict(np.load(tmp_path / "b" / "arrays.npz"))
        arrays["y"] = arrays["y"] + 1000
        np.savez(tmp_path / "b" / "arrays.npz", **arrays)
    done = run_device(tmp_path / "b", tmp_path / "env", "--emulate")
    lines = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert done.returncode == 2 and len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert not (tmp_path / "b" / "device_result.json").exists()


def test_the_device_script_ends_with_what_to_do_next(exported, fast, tmp_path, capsys):
    code, out = cli(["verify", "--artifact", str(exported), "--device", fast, "--n", "20", "--quiet", "--bundle",
                     str(tmp_path / "b")], capsys)
    assert code == 0, out
    done = run_device(tmp_path / "b", tmp_path / "env", "--emulate")
    last = done.stderr.strip().splitlines()[-1]
    assert done.returncode == 0 and "dfard-pipeline verify --collect" in last and "device_logits.npz" in last


def test_the_verify_json_schema_in_the_docs_lists_every_key_verify_writes(exported, fast, tmp_path, capsys):
    import re
    from pathlib import Path

    code, out = cli(["verify", "--artifact", str(exported), "--device", fast, "--n", "20", "--quiet", "--out",
                     str(tmp_path / "v")], capsys)
    assert code in (0, 1), out
    written = json.loads((tmp_path / "v" / "verify.json").read_text())
    doc = (Path(__file__).resolve().parents[2] / "docs" / "verify.md").read_text()
    documented = set(re.findall(r"^\| `(\w+)` \|", doc, flags=re.MULTILINE))
    assert set(written) - {"bundle"} <= documented, set(written) - documented
    assert not [k for k in written["metrics"] if f"`{k}`" not in doc], written["metrics"].keys()


FAKE_TENSORRT = Path(__file__).resolve().parent / "fake_tensorrt"


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_a_jetson_bundle_of_an_onnx_file_builds_its_engine_on_the_device(digits_run, tmp_path, capsys, precision):
    """The Jetson workflow: ship the ONNX file, build the engine there, verify it. Run here with a fake
    ``tensorrt`` and ``cuda`` (tests/runtime/fake_tensorrt: the "engine" is the ONNX file executed by ONNX
    Runtime), which checks the control flow and the record, not TensorRT itself; it has not run on a
    real Jetson."""
    import sys

    from dfard_pipeline.cli import main

    run = tmp_path / "run"
    shutil.copytree(digits_run, run)
    with pytest.raises(SystemExit) as info:
        main(["export", "--checkpoint", str(run / "student.pt"), "--precision", precision, "--quiet"]) or sys.exit(0)
    assert info.value.code in (0, None)
    artifact = run / f"student.{precision}.onnx"
    code, out = cli(["verify", "--artifact", str(artifact), "--device", "jetson-orin-nano", "--n", "40", "--quiet",
                     "--bundle", str(tmp_path / "b")], capsys)
    assert code == 0, out
    missing = run_device(tmp_path / "b", tmp_path / "env0", "--emulate")
    assert missing.returncode == 3 and "building the engine needs TensorRT" in missing.stderr
    command, env = torch_free_env(tmp_path / "env1")
    env["PYTHONPATH"] += ":" + str(FAKE_TENSORRT)
    done = subprocess.run([*command, str(tmp_path / "b" / "verify_on_device.py"), "--emulate"], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "b" / f"student.{precision}.engine").is_file() and "building a TensorRT" in done.stderr
    code, out = cli(["verify", "--collect", str(tmp_path / "b")], capsys)
    assert code in (0, 1), out
    result = json.loads((tmp_path / "b" / "verify.json").read_text())
    build = result["device"]["engine_build"]
    assert build["tensorrt"] == "10.0.0-fake" and build["precision"] == precision
    assert build["flags"] == (["FP16", "INT8"] if precision == "int8" else [])
    assert build["profile"]["max"][0] >= 64 and result["device"]["runtime"] == "tensorrt"
    header = json.loads((tmp_path / "b" / f"student.{precision}.engine").read_bytes().split(b"\n")[1])
    assert header["flags"] == build["flags"]  # what was built is what is recorded
    import numpy as np
    import onnxruntime as ort

    x = np.load(tmp_path / "b" / "arrays.npz")["x"]
    session = ort.InferenceSession(str(artifact), providers=["CPUExecutionProvider"])
    expected = session.run(None, {session.get_inputs()[0].name: x})[0]
    device = np.load(tmp_path / "b" / "device_logits.npz")["clean"]
    assert np.allclose(device, expected, atol=1e-4)  # the engine ran the bundle's graph on every image
