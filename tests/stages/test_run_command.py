"""``dfard-pipeline run`` on a tiny config (seconds) through every stage with the real components:
cache hits and misses, resume after an interruption, the lock, and the report."""

import json
import shutil
import sys
from pathlib import Path

import pytest
import yaml

from dfard_pipeline.artifacts.run_manifest import RunManifest
from dfard_pipeline.cli import main
from dfard_pipeline.distill import trainer as trainer_module

TINY = {
    "seed": 0,
    "teacher": {"epochs": 2, "attack_steps": 2},
    "distill": {"epochs": 3, "generator_steps": 2, "student_steps": 4, "batch_size": 32, "probe_size": 32,
                "attack_steps": 2, "memory_bank_batches": 4, "nz": 16, "ngf": 8},
    "export": {"targets": [{"format": "onnx", "precision": "fp32"},
                           {"format": "onnx", "precision": "int8", "int8_scheme": "cpu"},
                           {"format": "tensorrt", "precision": "fp16"}],
               "calibration_samples": 64},
    "verify": {"devices": ["cpu", "cuda", "jetson-orin-nano"], "n": 40},
}


def write_config(path, **changes):
    data = json.loads(json.dumps(TINY))
    for dotted, value in changes.items():
        section, key = dotted.split(".")
        data[section][key] = value
    path.write_text(yaml.safe_dump(data))
    return path


def run(args, capsys):
    try:
        main(["run", "--quiet", *args])
        code = 0
    except SystemExit as exc:
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.out + captured.err


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pipeline")
    config = write_config(folder / "tiny.yaml")
    try:
        main(["run", str(config), "--out", str(folder / "run"), "--quiet"])
    except SystemExit as exc:
        assert exc.code in (0, None, 1)
    return folder


@pytest.fixture
def run_copy(finished_run, tmp_path):
    shutil.copytree(finished_run, tmp_path / "p")
    return tmp_path / "p"


def test_all_stages_ran_and_wrote_their_outputs(finished_run):
    run = finished_run / "run"
    manifest = json.loads((run / "run.json").read_text())
    stages = manifest["stages"]
    assert [stages[s]["status"] for s in ("teacher", "distill", "export", "verify", "report")] == ["done"] * 5
    for name in ("teacher.pt", "distill/student.pt", "distill/generator.pt", "export/student.fp32.onnx",
                 "export/student.int8.onnx", "verify/student.fp32.onnx-cpu/verify.json", "report.md", "report.html"):
        assert (run / name).is_file(), name
    assert all(len(digest) == 64 for digest in stages["distill"]["outputs"].values())
    assert stages["distill"]["inputs"]["teacher"] == stages["teacher"]["outputs"]["teacher.pt"]
    assert "torch" in stages["export"]["versions"] and stages["export"]["started"] <= stages["export"]["ended"]
    # what cannot run here is listed as skipped, with the reason
    assert "TensorRT" in stages["export"]["notes"]["skipped"]["student.fp16.engine"]
    skipped = stages["verify"]["notes"]["skipped"]
    assert "CUDAExecutionProvider" in skipped["student.fp32.onnx-cuda"]
    assert "not a Jetson" in skipped["student.fp32.onnx-jetson-orin-nano"]
    # the reference half is computed once for both artifacts of the student, and is the same for both
    fp32, int8 = (json.loads((run / "verify" / f"student.{p}.onnx-cpu" / "verify.json").read_text())["reference"]
                  for p in ("fp32", "int8"))
    assert fp32 == int8


def test_report_has_every_section_and_embedded_images(finished_run):
    run = finished_run / "run"
    md, page = (run / "report.md").read_text(), (run / "report.html").read_text()
    for section in ("Teacher and student", "Training", "Generator samples", "Robust accuracy vs eps",
                    "Verify on each device", "Latency distributions"):
        assert f"## {section}" in md and section in page
    assert page.count("data:image/png;base64,") == 4 and "src=\"report_files" not in page
    for image in ("training", "samples", "robustness_vs_eps", "latency"):
        assert (run / "report_files" / f"{image}.png").read_bytes().startswith(b"\x89PNG")
    assert "student.fp32.onnx" in md and ("PASS" in md or "FAIL" in md) and "Skipped here" in md


def test_second_run_is_all_cache_hits(run_copy, capsys):
    code, out = run([str(run_copy / "tiny.yaml"), "--out", str(run_copy / "run")], capsys)
    assert "nothing to run; cached teacher, distill, export, verify, report" in out
    assert code == (0 if json.loads((run_copy / "run" / "run.json").read_text())["passed"] else 1)


def test_changing_an_export_option_reruns_export_and_after_only(run_copy, capsys):
    config = write_config(run_copy / "tiny.yaml", **{"export.opset": 17})
    before = RunManifest(run_copy / "run").stage("distill").ended
    _, out = run([str(config), "--out", str(run_copy / "run")], capsys)
    assert "ran export, verify, report" in out and "cached teacher, distill" in out
    assert RunManifest(run_copy / "run").stage("distill").ended == before
    manifest = json.loads((run_copy / "run" / "export" / "student.fp32.onnx.json").read_text())
    assert manifest["export"]["opset"] == 17


def test_interrupted_run_resumes_where_it_stopped(run_copy, capsys, monkeypatch):
    config = write_config(run_copy / "tiny.yaml", **{"distill.epochs": 4})
    original, calls = trainer_module.DistillTrainer._end_epoch, {"n": 0}

    def interrupt_after_two_epochs(self, state):
        original(self, state)
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(trainer_module.DistillTrainer, "_end_epoch", interrupt_after_two_epochs)
    code, _ = run([str(config), "--out", str(run_copy / "run")], capsys)
    assert code == 130
    assert RunManifest(run_copy / "run").stage("distill").status == "interrupted"
    monkeypatch.setattr(trainer_module.DistillTrainer, "_end_epoch", original)
    print("resume", file=sys.stderr)
    code, out = run([str(config), "--out", str(run_copy / "run")], capsys)
    assert "ran distill, export, verify, report" in out and "cached teacher" in out
    history = (run_copy / "run" / "distill" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in history] == [1, 2, 3, 4]


def test_only_from_and_the_lock(run_copy, capsys):
    config, out_dir = str(run_copy / "tiny.yaml"), str(run_copy / "run")
    _, out = run([config, "--out", out_dir, "--from", "report"], capsys)
    assert "(ran report)" in out  # stages before --from are left as they are
    _, out = run([config, "--out", out_dir, "--only", "report", "--force"], capsys)
    assert "ran report" in out and "cached" not in out
    (run_copy / "run" / ".run.lock").write_text(str(__import__("os").getppid()))  # a live process holds it
    code, out = run([config, "--out", out_dir], capsys)
    assert code == 2 and "in use by another" in out


def test_only_a_later_stage_without_its_inputs_is_a_usage_error(tmp_path, capsys):
    config = write_config(tmp_path / "tiny.yaml")
    code, out = run([str(config), "--out", str(tmp_path / "fresh"), "--only", "export"], capsys)
    assert code == 2 and "run the earlier stages first" in out


def test_verdict_comes_from_the_verify_files_not_from_run_json(run_copy, capsys):
    config, out_dir = str(run_copy / "tiny.yaml"), run_copy / "run"
    verify_files = sorted((out_dir / "verify").glob("*/verify.json"))
    truth = all(json.loads(p.read_text())["passed"] for p in verify_files)
    record = json.loads((out_dir / "run.json").read_text())
    record["passed"] = not truth  # forged both ways: the flag and the per-stage notes
    notes = record["stages"]["verify"]["notes"]
    notes["passed"] = {k: not truth for k in notes["passed"]}
    (out_dir / "run.json").write_text(json.dumps(record))
    code, out = run([config, "--out", str(out_dir)], capsys)
    assert "nothing to run" in out and code == (0 if truth else 1)
    # a forged verify.json no longer matches the sha256 run.json records: verify runs again
    forged = json.loads(verify_files[0].read_text())
    forged["passed"] = not forged["passed"]
    verify_files[0].write_text(json.dumps(forged))
    code, out = run([config, "--out", str(out_dir)], capsys)
    assert "ran verify, report" in out and code == (0 if truth else 1)
    assert json.loads(verify_files[0].read_text())["passed"] == (not forged["passed"])


def test_an_emptied_verify_record_is_never_a_pass(run_copy, capsys):
    config, out_dir = str(run_copy / "tiny.yaml"), run_copy / "run"
    record = json.loads((out_dir / "run.json").read_text())
    record["stages"]["verify"]["outputs"] = {}  # the verify results the verdict must find, hidden
    record["stages"]["verify"]["notes"] = {"skipped": {}, "passed": {}}
    (out_dir / "run.json").write_text(json.dumps(record))
    code, out = run([config, "--out", str(out_dir)], capsys)
    assert "PASSED" not in out and code != 0, out


def test_verify_folders_stay_inside_the_run_whatever_the_device_string():
    from dfard_pipeline.stages.definitions import verify_key

    for device in ("../../x.yaml", "/abs/path/../p.yml", "cpu", "..", "a/../../b"):
        key = verify_key(Path("student.fp32.onnx"), device)
        assert "/" not in key and not key.startswith(".") and key, (device, key)
    assert verify_key(Path("student.fp32.onnx"), "cpu") == "student.fp32.onnx-cpu"


@pytest.mark.parametrize("content", ["", "999999999", "not a pid", "OWN_PID", "9" * 4000])
def test_a_stale_or_empty_lock_is_taken_over_with_a_note(run_copy, capsys, content):
    # OWN_PID: a restarted container's process has the pid (1, say) the lock of the one before names
    content = str(__import__("os").getpid()) if content == "OWN_PID" else content
    (run_copy / "run" / ".run.lock").write_text(content)
    code, out = run([str(run_copy / "tiny.yaml"), "--out", str(run_copy / "run")], capsys)
    assert "taking over the stale lock" in out and "nothing to run" in out
    assert not (run_copy / "run" / ".run.lock").exists()


@pytest.mark.slow
def test_sigterm_releases_the_lock_like_ctrl_c(tmp_path):
    import os
    import signal
    import subprocess
    import time

    config = write_config(tmp_path / "tiny.yaml", **{"teacher.epochs": 200})
    process = subprocess.Popen([sys.executable, "-m", "dfard_pipeline", "run", str(config), "--out",
                                str(tmp_path / "run"), "--quiet"], stderr=subprocess.PIPE, text=True)
    lock, record = tmp_path / "run" / ".run.lock", tmp_path / "run" / "run.json"

    def teacher_running():
        try:
            return json.loads(record.read_text())["stages"]["teacher"]["status"] == "running"
        except (OSError, ValueError, KeyError):
            return False

    deadline = time.monotonic() + 120
    while not teacher_running() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.2)
    assert lock.exists() and teacher_running(), process.stderr.read() if process.poll() is not None else "timeout"
    time.sleep(1.0)
    os.kill(process.pid, signal.SIGTERM)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 143 and "terminated." in err and "Traceback" not in err, err
    assert not lock.exists()
    assert RunManifest(tmp_path / "run").stage("teacher").status == "interrupted"


@pytest.mark.slow
def test_run_takes_a_torchscript_teacher_with_its_input_shape_from_the_config(tmp_path, digits_teacher, capsys):
    """A teacher file that does not say its input (TorchScript) goes through every stage of `run`,
    including verify on synthetic data (the teacher reloaded as distill read it) and the report."""
    import torch

    teacher = tmp_path / "teacher.ts"
    torch.jit.save(torch.jit.trace(digits_teacher, torch.rand(2, 1, 8, 8)), teacher)
    config = write_config(tmp_path / "ts.yaml", **{"teacher.checkpoint": str(teacher)})
    data = yaml.safe_load(config.read_text())
    data["export"]["targets"] = data["export"]["targets"][:1]
    data["verify"] = {"devices": ["cpu"], "n": 20, "data": "synthetic"}
    config.write_text(yaml.safe_dump(data))
    code, out = run([str(config), "--out", str(tmp_path / "no-shape")], capsys)
    assert code == 2 and "teacher.ts: this format carries no input contract" in out
    assert "config: teacher.input_shape" in out
    data["teacher"]["input_shape"] = [1, 8, 8]
    config.write_text(yaml.safe_dump(data))
    code, out = run([str(config), "--out", str(tmp_path / "run")], capsys)
    assert code in (0, 1), out
    assert "ran distill, export, verify, report" in out and (tmp_path / "run" / "report.html").is_file()
    verified = json.loads((tmp_path / "run" / "verify" / "student.fp32.onnx-cpu" / "verify.json").read_text())
    assert verified["data"]["synthetic"] is True and verified["data"]["n"] == 20
