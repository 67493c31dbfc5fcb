"""Options renamed for one vocabulary across commands: the old spellings still work for one
release, hidden from --help, with a note; old and new naming different values is refused."""

import sys

import pytest

from dfard_pipeline.cli import main

RENAMED = [  # (command, new, old)
    ("export", "--checkpoint", "--student"),
    ("verify", "--artifact", "--model"),
    ("verify", "--checkpoint", "--reference"),
    ("teacher", "--data", "--dataset"),
]


def run_cli(args, capsys):
    with pytest.raises(SystemExit) as info:
        main(args) or sys.exit(0)
    captured = capsys.readouterr()
    return info.value.code, captured.out, captured.err


@pytest.mark.parametrize("command, new, old", RENAMED)
def test_help_shows_only_the_new_name(command, new, old, capsys):
    code, out, _ = run_cli([command, "--help"], capsys)
    assert code == 0 and new in out and f"{old} " not in out and f"{old}\n" not in out


@pytest.mark.parametrize("command, new, old", RENAMED)
def test_old_and_new_name_with_different_values_is_a_usage_error(command, new, old, capsys):
    code, _, err = run_cli([command, new, "a.pt", old, "b.pt"], capsys)
    assert code == 2 and err.strip().splitlines() == [
        f"error: {new} and {old} (its old name) give different values: pass {new} only"]


@pytest.mark.parametrize("command, old, message", [
    ("export", "--student", "checkpoint not found"),
    ("verify", "--model", "model artifact not found"),
])
def test_the_old_name_still_reaches_the_same_checks(command, old, message, tmp_path, capsys):
    code, _, err = run_cli([command, old, str(tmp_path / "missing.pt"), "--quiet"], capsys)
    new = {"--student": "--checkpoint", "--model": "--artifact"}[old]
    assert code == 2 and f"note: {old} is now {new}" in err and message in err


def test_teacher_old_data_name_reaches_the_dataset(tmp_path, capsys):
    code, _, err = run_cli(["teacher", "--dataset", f"npz:{tmp_path / 'missing.npz'}", "--out",
                            str(tmp_path / "t.pt"), "--quiet"], capsys)
    assert code == 2 and "note: --dataset is now --data" in err and "missing.npz" in err


def test_an_environment_variable_no_option_reads_is_warned_about_with_the_closest_name():
    from dfard_pipeline.cli import environment_names, warn_unknown_environment

    assert {"DFARD_DISTILL_EPOCHS", "DFARD_VERIFY_DEVICE", "DFARD_CONFIG"} <= environment_names()
    assert "DFARD_DISTILL_OVERWRITE" not in environment_names()
    lines = warn_unknown_environment({"DFARD_DISTIL_EPOCHS": "5", "DFARD_DISTILL_EPOCHS": "5", "HOME": "/root",
                                      "DFARD_RUN_TRUST_CHECKPOINT": "1"})
    assert len(lines) == 2
    assert "DFARD_DISTIL_EPOCHS" in lines[0] and "did you mean DFARD_DISTILL_EPOCHS" in lines[0]
    assert "DFARD_RUN_TRUST_CHECKPOINT is ignored" in lines[1]
    assert warn_unknown_environment({"DFARD_DISTILL_EPOCHS": "5"}) == []
