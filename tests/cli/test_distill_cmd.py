"""``dfard-pipeline distill`` through the CLI: options reach the config, bad input is one line."""

import json

import pytest
import yaml
from click.testing import CliRunner

from dfard_pipeline.artifacts.project_checkpoint import write_checkpoint
from dfard_pipeline.cli import cli, main


@pytest.fixture
def teacher_path(tmp_path, digits_teacher):
    return write_checkpoint(digits_teacher, tmp_path / "teacher.pt", kind="teacher", eps=0.1)


@pytest.fixture
def tiny_config(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump({"distill": {
        "epochs": 1, "generator_steps": 1, "student_steps": 2, "batch_size": 16, "probe_size": 16,
        "attack_steps": 1, "nz": 8, "ngf": 8}}))
    return path


def test_distill_runs_and_options_override_config(tmp_path, teacher_path, tiny_config):
    out = tmp_path / "run"
    result = CliRunner().invoke(cli, ["distill", "--teacher", str(teacher_path), "--config",
                                      str(tiny_config), "--out", str(out), "--method", "combo",
                                      "--epochs", "2", "--quiet"])
    assert result.exit_code == 0, result.output
    resolved = yaml.safe_load((out / "config.resolved.yaml").read_text())
    assert resolved["distill"]["method"] == "combo" and resolved["distill"]["epochs"] == 2
    assert resolved["distill"]["batch_size"] == 16  # from the config file
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 2
    json.loads((out / "metrics.jsonl").read_text().splitlines()[0])


@pytest.mark.parametrize("args,message", [
    (["--eps", "0"], "distill.eps must be a finite number > 0"),
    (["--student", "tiny_student"], "unknown model 'tiny_student'"),
    (["--precision", "fp16", "--device", "cpu"], "fp16 autocast needs a CUDA GPU"),
])
def test_bad_input_is_one_line_exit_2(tmp_path, teacher_path, tiny_config, capsys, args, message):
    with pytest.raises(SystemExit) as info:
        main(["distill", "--teacher", str(teacher_path), "--config", str(tiny_config),
              "--out", str(tmp_path / "run"), "--quiet", *args])
    err = capsys.readouterr().err
    assert info.value.code == 2 and message in err and "Traceback" not in err


def test_resume_and_overwrite_together_is_an_error(tmp_path, teacher_path, tiny_config, capsys):
    with pytest.raises(SystemExit) as info:
        main(["distill", "--teacher", str(teacher_path), "--config", str(tiny_config),
              "--out", str(tmp_path / "run"), "--resume", "--overwrite"])
    assert info.value.code == 2 and "contradict" in capsys.readouterr().err


def test_redirected_output_is_plain_lines_not_bar_redraws(tmp_path, teacher_path, tiny_config):
    """`distill > log 2>&1` (as in CI): one line per epoch with its rate, no carriage returns."""
    import subprocess
    import sys

    out = tmp_path / "run"
    done = subprocess.run([sys.executable, "-m", "dfard_pipeline", "distill", "--teacher", str(teacher_path),
                           "--config", str(tiny_config), "--out", str(out), "--epochs", "3"],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300)
    assert done.returncode == 0, done.stdout
    assert "\r" not in done.stdout
    epochs = [line for line in done.stdout.splitlines() if line.startswith("distill epoch ")]
    assert [line.split(":")[0] for line in epochs] == [f"distill epoch {i}/3" for i in (1, 2, 3)]
