"""Every ``--help`` example and every shell block of README.md and docs/ runs verbatim, in the
order a new user would meet them, from a fresh
folder where `dfard-pipeline run` made runs/digits: the examples cannot drift from the files the
commands write. Budgets come from a tiny configs/digits.yaml in that folder and DFARD_* variables
(the precedence the README documents), never from editing the example. Examples that need what CI
has not (a GPU, TensorRT, a Jetson, a remote host, CIFAR data, a second process group) are listed
with the reason they are not run here."""

import os
import re
import shlex
import subprocess
import sys

import pytest
import yaml

from dfard_pipeline.cli import SUBCOMMANDS

TINY = {
    "seed": 0,
    "teacher": {"epochs": 1, "attack_steps": 2},
    "distill": {"epochs": 2, "generator_steps": 1, "student_steps": 2, "batch_size": 32, "probe_size": 32,
                "attack_steps": 2, "memory_bank_batches": 2, "nz": 16, "ngf": 8},
    "export": {"calibration_samples": 64},
    "verify": {"n": 40},
}
NOT_HERE = {  # a phrase in the example -> why CI cannot run it
    "torchrun": "a second process (tests/distill/test_distributed.py runs distributed distill)",
    "--remote": "a remote host (tests/runtime/test_remote.py runs it against a local sshd)",
    "jetson": "a Jetson or TensorRT (tests/runtime/test_bundle.py runs the bundle path)",
    "tensorrt": "TensorRT and a GPU", ".engine": "a TensorRT engine", "--device cuda": "a CUDA GPU",
    "wrn.pt": "a WRN-34-10 checkpoint", "cifar10": "CIFAR data (tests/stages/test_cifar10_preset.py)",
    "calib.npz": "a calibration npz of the user's", "--collect": "a bundle the device has run",
}


def examples() -> list[str]:
    from dfard_pipeline.cli import cli

    found = []
    import click

    for name in ("run", *[n for n in SUBCOMMANDS if n != "run"]):
        text = cli.get_command(click.Context(cli), name).help or ""
        lines = text.splitlines()
        joined = []
        for line in lines:
            stripped = line.strip()
            if joined and joined[-1].endswith("\\"):
                joined[-1] = joined[-1][:-1] + " " + stripped
            elif stripped.startswith(("dfard-pipeline ", "torchrun ")):
                joined.append(stripped)
        found += [re.split(r"\s+#\s", line)[0].strip() for line in joined]
    return found


@pytest.mark.slow
def test_every_help_example_runs_verbatim(tmp_path):
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "digits.yaml").write_text(yaml.safe_dump(TINY))
    env = {**os.environ, "DFARD_TEACHER_EPOCHS": "1", "DFARD_DISTILL_EPOCHS": "2", "DFARD_VERIFY_N": "40"}
    ran, skipped = [], {}
    for example in examples():
        reason = next((why for phrase, why in NOT_HERE.items() if phrase in example), None)
        if reason:
            skipped[example] = reason
            continue
        args = shlex.split(example)
        done = subprocess.run([sys.executable, "-m", "dfard_pipeline", *args[1:]], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=600)
        # exit 1 is a verify gate failing on a two-epoch student: the example itself worked
        assert done.returncode in (0, 1) and "Traceback" not in done.stderr, (example, done.stderr[-2000:])
        assert not [line for line in done.stderr.splitlines() if line.startswith("error:")], (example, done.stderr)
        ran.append(example)
    assert len(ran) >= 10, (ran, skipped)
    assert any(e.startswith("dfard-pipeline export") for e in ran) and any("verify" in e for e in ran)
    run_doc_blocks(tmp_path)  # in the same folder: the README's `run` is then served from its cache


def doc_blocks() -> list[tuple[str, list[str]]]:
    """(file, commands) of every shell code block of README.md and docs/ that runs dfard-pipeline."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    blocks = []
    for path in [root / "README.md", *sorted((root / "docs").glob("*.md"))]:
        for block in re.findall(r"```(?:bash|sh)?\n(.*?)```", path.read_text(), re.S):
            lines = []
            for line in block.splitlines():
                line = re.split(r"\s+#\s", line.strip())[0].strip()
                if lines and lines[-1].endswith("\\"):
                    lines[-1] = lines[-1][:-1] + " " + line
                elif line and not line.startswith("#"):
                    lines.append(line)
            if any("dfard-pipeline " in line for line in lines):
                blocks.append((path.name, lines))
    return blocks


def run_doc_blocks(tmp_path):
    """The docs' shell blocks, in a folder where `run` made runs/digits and the artifact a block names
    sits beside it (as it would for its reader). The device step runs in a numpy-and-onnxruntime-only
    environment with the stand-in TensorRT (tests/runtime/fake_tensorrt) and ``--emulate``, which the
    block's own comment names: this machine is not a Jetson."""
    import shutil
    from pathlib import Path

    here = Path(__file__).resolve().parent
    sys.path.insert(0, str(here.parent / "runtime"))
    from device_env import torch_free_env

    env = {**os.environ, "DFARD_VERIFY_N": "40"}
    ran = []
    for name, lines in doc_blocks():
        for line in lines:
            if "pip install" in line:  # the README's install-and-run line: CI runs the install; its last command
                line = line.split("&&")[-1].strip()
            if "cifar10" in line:
                continue  # CIFAR data: tests/stages/test_cifar10_preset.py runs the preset
            args = shlex.split(line)
            if args[0] == "dfard-pipeline":
                for token in args:
                    if token.endswith(".onnx") and not (tmp_path / token).exists():
                        for file in (tmp_path / "runs" / "digits" / "export").glob(token + "*"):
                            shutil.copy(file, tmp_path / file.name)
                done = subprocess.run([sys.executable, "-m", "dfard_pipeline", *args[1:]], cwd=tmp_path, env=env,
                                      capture_output=True, text=True, timeout=900)
            elif args[0] == "python3" and args[1].endswith("verify_on_device.py"):
                command, device_env = torch_free_env(tmp_path / f"device-env-{len(ran)}")
                device_env["PYTHONPATH"] += ":" + str(here.parent / "runtime" / "fake_tensorrt")
                done = subprocess.run([*command, *args[1:], "--emulate"], cwd=tmp_path, env=device_env,
                                      capture_output=True, text=True, timeout=900)
            else:
                pytest.fail(f"{name}: a command this test does not know how to run: {line}")
            assert done.returncode in (0, 1) and "Traceback" not in done.stderr, (name, line, done.stderr[-2000:])
            ran.append(line)
    assert any("--collect" in line for line in ran) and (tmp_path / "ci" / "verify.json").is_file()
