"""A teacher whose loss turns non-finite stops at once and writes nothing."""

import pytest
import torch

from dfard_pipeline.cli import main
from dfard_pipeline.teacher import train


def test_non_finite_loss_stops_and_leaves_the_earlier_checkpoint(tmp_path, monkeypatch, capsys):
    out = tmp_path / "teacher.pt"
    out.write_bytes(b"an earlier good teacher")
    monkeypatch.setattr(train, "_loss", lambda *args: torch.tensor(float("nan"), requires_grad=True))
    with pytest.raises(SystemExit) as info:
        main(["teacher", "--epochs", "1", "--out", str(out), "--overwrite", "--quiet"])
    err = capsys.readouterr().err
    assert info.value.code == 1 and "non-finite loss (nan) at epoch 1, step 1" in err and "Traceback" not in err
    assert out.read_bytes() == b"an earlier good teacher"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["teacher.pt"]
