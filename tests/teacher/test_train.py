"""A short real teacher training run through the CLI, asserting accuracy floors."""

import pytest
import torch
from click.testing import CliRunner

from dfard_pipeline.checkpoint import load_teacher
from dfard_pipeline.cli import cli

pytestmark = pytest.mark.slow


def test_short_trades_teacher_on_digits_reaches_floors(tmp_path):
    out = tmp_path / "teacher.pt"
    result = CliRunner().invoke(cli, ["teacher", "--data", "digits", "--epochs", "8",
                                      "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    assert "clean" in result.output and "PGD-20" in result.output
    payload = torch.load(out, weights_only=True)
    test = payload["metrics"]["test"]
    # 8 of the default 20 epochs: floors below the full run's (clean >= 98 %, PGD-20 >= 85 %).
    assert test["clean_accuracy"] >= 0.95
    assert test["attacks"]["pgd20"] >= 0.75
    assert test["robust_accuracy"] <= test["attacks"]["pgd20"] <= test["clean_accuracy"]
    assert payload["eps"] == pytest.approx(0.1)
    assert (tmp_path / "teacher.config.yaml").is_file()
    loaded = load_teacher(out)
    assert loaded.source_format == "project" and loaded.arch == "digits_cnn_teacher"
