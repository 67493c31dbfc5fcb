"""``dfard-pipeline verify`` end to end on a small trained digits student exported to ONNX."""

import json
import shutil
import sys

import numpy as np
import pytest
import yaml

from dfard_pipeline.artifacts.project_checkpoint import write_checkpoint
from dfard_pipeline.cli import main
from dfard_pipeline.models import create_model

FAST = {"name": "fast", "runtime": "onnxruntime", "providers": ["cpu"], "batch_sizes": [1, 64], "warmup": 2,
        "iterations": 20, "attacks": {"pgd_steps": 10, "cw_steps": 10, "square_queries": 100, "square_p_init": 0.3},
        "gates": {"min_parity_agreement": 0.99, "max_clean_drop": 0.02, "max_robust_drop": 0.02,
                  "max_p99_ms_batch1": 1000.0}}


@pytest.fixture(scope="module")
def exported(digits_run, tmp_path_factory):
    run = tmp_path_factory.mktemp("verify") / "run"
    shutil.copytree(digits_run, run)
    main_args = ["export", "--checkpoint", str(run / "student.pt"), "--quiet"]
    with pytest.raises(SystemExit) as info:
        main([*main_args, "--precision", "fp32"]) or sys.exit(0)
    assert info.value.code in (0, None)
    return run


@pytest.fixture
def profile(tmp_path):
    def make(**gates):
        data = {**FAST, "gates": {**FAST["gates"], **gates}}
        path = tmp_path / f"profile{len(list(tmp_path.glob('profile*')))}.yaml"
        path.write_text(yaml.safe_dump(data))
        return str(path)
    return make


def run_cli(args, capsys):
    with pytest.raises(SystemExit) as info:
        main(args) or sys.exit(0)
    captured = capsys.readouterr()
    return info.value.code or 0, captured.out, captured.err


def test_fp32_onnx_passes_and_writes_the_documented_json(exported, profile, tmp_path, capsys):
    code, out, err = run_cli(["verify", "--artifact", str(exported / "student.fp32.onnx"), "--device", profile(),
                              "--n", "100", "--out", str(tmp_path / "v"), "--json", str(tmp_path / "ci.json")], capsys)
    assert code == 0, out + err
    result = json.loads((tmp_path / "v" / "verify.json").read_text())
    assert json.loads((tmp_path / "ci.json").read_text()) == result
    assert result["passed"] is True and result["schema"] == "dfard-pipeline.verify/1"
    device = result["device"]
    assert device["providers_requested"] == ["CPUExecutionProvider"] == device["providers_used"]
    assert device["emulated"] is False and "onnxruntime" in device["versions"]
    pools, usable = device["thread_pools"], len(__import__("os").sched_getaffinity(0))
    assert pools["runtime"] == device["threads"] <= usable and 1 <= pools["torch"] <= usable == pools["affinity"]
    assert pools["runtime_spinning"] == {"attacks": False, "latency": True}
    assert set(device["phases"]) == {"open", "reference_attacks", "runtime_attacks", "parity", "latency"}
    assert all(p["wall_s"] >= 0 and p["cpu_s"] >= 0 for p in device["phases"].values())
    metrics, reference = result["metrics"], result["reference"]
    assert set(metrics["attacks"]) == {"transfer_pgd10", "transfer_cw", "transfer_apgd_ce", "square"}  # standard
    assert result["suite"] == "standard" and "autoattack_accuracy" not in reference
    assert metrics["n"] == 100 and metrics["eps"] == 0.1
    assert metrics["robust_accuracy"] <= min(metrics["attacks"].values()) <= metrics["clean_accuracy"]
    # FP32 ONNX is the same function as the reference: the same numbers within a point
    assert abs(metrics["clean_accuracy"] - reference["clean_accuracy"]) <= 0.01
    assert abs(metrics["robust_accuracy"] - reference["robust_accuracy"]) <= 0.02
    assert result["parity"]["clean"]["max_abs"] < 1e-3 and result["parity"]["adversarial"]["top1_agreement"] >= 0.99
    assert set(result["latency"]) == {"1", "64"}
    for size, stats in result["latency"].items():  # the figures are the recorded runs' statistics
        samples = np.asarray(result["latency_samples_ms"][size])
        assert len(samples) == stats["iterations"] > 0
        for q in (50, 90, 99):
            assert stats[f"p{q}_ms"] == pytest.approx(np.percentile(samples, q), rel=1e-9)
        assert stats["throughput"] == pytest.approx(int(size) / (samples.mean() / 1e3), rel=1e-9)
    assert {g["name"] for g in result["gates"]} == {"parity_top1_clean", "parity_top1_adversarial",
                                                   "clean_accuracy_drop", "robust_accuracy_drop", "p99_ms_batch1"}
    md = (tmp_path / "v" / "verify.md").read_text()
    assert md.startswith("# verify: PASS") and "| clean accuracy |" in md and "PASS |" in md


def test_a_failing_gate_exits_1_and_says_which(exported, profile, tmp_path, capsys):
    code, out, _ = run_cli(["verify", "--artifact", str(exported / "student.fp32.onnx"), "--device",
                            profile(max_p99_ms_batch1=1e-6), "--n", "50", "--out", str(tmp_path / "v")], capsys)
    assert code == 1 and "FAIL p99_ms_batch1" in out
    assert json.loads((tmp_path / "v" / "verify.json").read_text())["passed"] is False
    assert "**FAIL**" in (tmp_path / "v" / "verify.md").read_text()


def test_emulated_jetson_marks_latency_as_host_and_does_not_gate_it(exported, tmp_path, capsys):
    code, out, err = run_cli(["verify", "--artifact", str(exported / "student.fp32.onnx"), "--device",
                              "jetson-orin-nano", "--emulate", "--n", "30", "--out", str(tmp_path / "v"),
                              "--quiet"], capsys)
    result = json.loads((tmp_path / "v" / "verify.json").read_text())
    assert result["device"]["emulated"] and result["device"]["latency_source"] == "host"
    latency_gate = next(g for g in result["gates"] if g["name"] == "p99_ms_batch1")
    assert latency_gate["passed"] is None and "host latency" in latency_gate["note"]
    assert "EMULATED" in (tmp_path / "v" / "verify.md").read_text()


def test_synthetic_data_uses_the_generator_and_says_so(exported, profile, tmp_path, capsys, digits_teacher):
    teacher = write_checkpoint(digits_teacher, tmp_path / "teacher.pt", kind="teacher", eps=0.1)
    code, out, err = run_cli(["verify", "--artifact", str(exported / "student.fp32.onnx"), "--device", profile(),
                              "--data", "synthetic", "--n", "40", "--teacher", str(teacher),
                              "--out", str(tmp_path / "v")], capsys)
    result = json.loads((tmp_path / "v" / "verify.json").read_text())
    assert result["data"]["synthetic"] and result["metrics"]["n"] == 40
    assert any("synthetic" in w for w in result["warnings"]) and "synthetic" in out


def test_bad_input_is_one_line_exit_2(exported, tmp_path, capsys):
    onnx_model = str(exported / "student.fp32.onnx")
    other = write_checkpoint(create_model("resnet18", in_chans=3, image_size=32), tmp_path / "r.pt",
                            kind="student", eps=0.03)
    np.savez(tmp_path / "rgb.npz", x=np.zeros((4, 3, 8, 8), np.float32), y=np.zeros(4, np.int64))
    (tmp_path / "bad.onnx").write_bytes(b"junk")
    shutil.copy(exported / "student.fp32.onnx.json", tmp_path / "bad.onnx.json")
    cases = [
        (["--device", "tpu"], "unknown device 'tpu'"),
        (["--device", "jetson"], "not a Jetson"),
        (["--device", "jetson-orin-nx"], "pass --emulate"),
        (["--checkpoint", str(other)], "is not the checkpoint"),
        (["--checkpoint", str(other), "--other-reference"], "not the same model"),
        (["--data", f"npz:{tmp_path / 'rgb.npz'}"], "the model takes (1, 8, 8)"),
        (["--data", f"npz:{tmp_path / 'missing.npz'}"], "file not found"),
        (["--n", "0"], "verify.n must be in 1-10,000,000"),
    ]
    if "CUDAExecutionProvider" not in __import__("onnxruntime").get_available_providers():
        cases.append((["--device", "cuda"], "no CUDAExecutionProvider"))
    for extra, message in cases:
        code, _, err = run_cli(["verify", "--artifact", onnx_model, "--out", str(tmp_path / "v"), *extra], capsys)
        assert code == 2 and message in err and "Traceback" not in err, (extra, err)
    code, _, err = run_cli(["verify", "--artifact", str(tmp_path / "bad.onnx"), "--checkpoint",
                            str(exported / "student.pt")], capsys)
    assert code == 2 and "describes another file" in err  # the manifest records the real artifact's sha256


def test_reference_is_found_beside_a_moved_artifact_and_must_be_the_exported_one(
        exported, profile, tmp_path, capsys, monkeypatch):
    (tmp_path / "a").mkdir()
    shutil.copy(exported / "student.pt", tmp_path / "a" / "student.pt")
    monkeypatch.chdir(tmp_path / "a")  # the manifest records the path as typed: relative to this folder
    code, _, err = run_cli(["export", "--checkpoint", "student.pt", "--precision", "fp32", "--quiet"], capsys)
    assert code == 0, err
    shutil.move(tmp_path / "a", tmp_path / "b")
    monkeypatch.chdir(tmp_path)
    args = ["verify", "--artifact", "b/student.fp32.onnx", "--device", profile(), "--n", "30", "--out", "v"]
    code, out, err = run_cli(args, capsys)
    assert code == 0, out + err
    reference = json.loads((tmp_path / "v" / "verify.json").read_text())["reference"]["path"]
    assert reference.endswith("student.pt") and (tmp_path / reference).resolve() == tmp_path / "b" / "student.pt"
    write_checkpoint(create_model("digits_cnn_student"), tmp_path / "b" / "student.pt", kind="student", eps=0.1)
    code, _, err = run_cli([*args, "--overwrite"], capsys)
    assert code == 2 and "sha256 changed" in err and "Traceback" not in err


def test_artifact_option_old_name_and_config_defaults(exported, profile, tmp_path, capsys):
    """--artifact is the option; --model, its old name, still works (hidden); --config supplies
    verify.n (and data, seed) unless the command line gives them."""
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({"verify": {"n": 37}, "seed": 3}))
    artifact = str(exported / "student.fp32.onnx")
    code, out, err = run_cli(["verify", "--artifact", artifact, "--device", profile(), "--config", str(config),
                              "--out", str(tmp_path / "v")], capsys)
    assert code == 0, out + err
    assert json.loads((tmp_path / "v" / "verify.json").read_text())["data"]["n"] == 37
    code, out, err = run_cli(["verify", "--artifact", artifact, "--device", profile(), "--config", str(config),
                              "--n", "20", "--out", str(tmp_path / "w")], capsys)
    assert code == 0, out + err
    assert json.loads((tmp_path / "w" / "verify.json").read_text())["data"]["n"] == 20
