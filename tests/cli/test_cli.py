import subprocess
import sys

import pytest
import yaml
from click.testing import CliRunner

from dfard_pipeline.cli import cli, main


def run(args, **kwargs):
    """Invoke through ``main`` semantics: expected errors become one line + exit code."""
    runner = CliRunner()
    return runner.invoke(cli, args, catch_exceptions=True, **kwargs)


def run_main(args, capsys):
    with pytest.raises(SystemExit) as info:
        main(args)
    captured = capsys.readouterr()
    return info.value.code, captured.out, captured.err


def test_help_lists_stages_with_examples():
    result = run(["--help"])
    assert result.exit_code == 0
    for name in ("teacher", "distill", "export", "verify", "run"):
        assert name in result.output
    assert "Example" in result.output and "precedence" in result.output


@pytest.mark.parametrize("command", ["teacher", "distill", "models"])
def test_every_built_command_has_help_with_an_example(command):
    result = run([command, "--help"])
    assert result.exit_code == 0 and "Example" in result.output


@pytest.mark.parametrize("command", [[], ["teacher"], ["distill"], ["export"], ["verify"], ["run"]])
def test_help_imports_no_runtime_or_cuda(command):
    code = ("import sys; from dfard_pipeline.cli import main\n"
            f"try:\n    main({command + ['--help']!r})\nexcept SystemExit:\n    pass\n"
            "bad = [m for m in ('onnxruntime', 'tensorrt', 'torch', 'onnx') if m in sys.modules]\n"
            "print('LOADED', bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "LOADED []" in out


@pytest.mark.parametrize("command", ["teacher", "distill", "export", "verify", "run", "models"])
def test_every_command_has_help_with_an_example(command):
    result = run([command, "--help"])
    assert result.exit_code == 0 and "Example" in result.output and f"dfard-pipeline {command}" in result.output


def test_unknown_model_is_one_line_exit_2(tmp_path, capsys):
    code, _, err = run_main(["teacher", "--arch", "resnet19", "--out", str(tmp_path / "t.pt")], capsys)
    assert code == 2
    assert err.count("\n") == 1 and "Did you mean 'resnet18'" in err and "Traceback" not in err


def test_bad_config_key_is_one_line_exit_2(tmp_path, capsys):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"teacher": {"epochz": 3}}))
    code, _, err = run_main(["teacher", "--config", str(path), "--out", str(tmp_path / "t.pt")], capsys)
    assert code == 2 and "did you mean 'epochs'" in err and "Traceback" not in err


def test_wrong_option_type_exit_2():
    result = run(["teacher", "--epochs", "many"])
    assert result.exit_code == 2 and "not a valid integer" in result.output


def test_missing_teacher_file_exit_2(tmp_path, capsys):
    code, _, err = run_main(["distill", "--teacher", str(tmp_path / "none.pt"),
                             "--out", str(tmp_path / "run")], capsys)
    assert code == 2 and "teacher checkpoint not found" in err


def test_existing_output_refused_without_overwrite(tmp_path, capsys):
    (tmp_path / "t.pt").write_text("x")
    code, _, err = run_main(["teacher", "--out", str(tmp_path / "t.pt")], capsys)
    assert code == 2 and "--overwrite" in err


def test_precedence_command_line_over_environment_over_config_over_default(tmp_path, monkeypatch):
    seen = {}
    monkeypatch.setattr("dfard_pipeline.teacher.run.run_teacher_command",
                        lambda config, out, quiet=False: seen.setdefault("config", config))
    monkeypatch.setattr("dfard_pipeline.teacher.run.summary", lambda config, result, out: "trained")
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"teacher": {"epochs": 3, "lr": 0.5, "eps": 0.2}}))
    result = run(["teacher", "--config", str(path), "--epochs", "7", "--out", str(tmp_path / "t.pt")],
                 env={"DFARD_TEACHER_EPOCHS": "5", "DFARD_TEACHER_LR": "0.25"})
    assert result.exit_code == 0, result.output
    teacher = seen["config"].teacher
    assert teacher.epochs == 7  # command line beats environment and config
    assert teacher.lr == 0.25  # environment beats config
    assert teacher.eps == 0.2  # config beats default
    assert teacher.batch_size == 128  # default


def test_group_config_applies_to_subcommands(tmp_path, monkeypatch):
    seen = {}
    monkeypatch.setattr("dfard_pipeline.teacher.run.run_teacher_command",
                        lambda config, out, quiet=False: seen.setdefault("config", config))
    monkeypatch.setattr("dfard_pipeline.teacher.run.summary", lambda config, result, out: "trained")
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"seed": 11}))
    result = run(["--config", str(path), "teacher", "--out", str(tmp_path / "t.pt")])
    assert result.exit_code == 0, result.output
    assert seen["config"].seed == 11


def test_models_lists_zoo():
    result = run(["models", "digits*"])
    assert result.exit_code == 0
    assert "digits_cnn_student" in result.output and "resnet18" not in result.output
