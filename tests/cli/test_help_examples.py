"""Every ``--help`` example runs verbatim, in the order a new user would meet them, from a fresh
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
