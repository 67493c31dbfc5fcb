import pytest
import torch

from dfard_pipeline.artifacts.project_checkpoint import write_checkpoint
from dfard_pipeline.checkpoint import load_teacher
from dfard_pipeline.errors import CheckpointError, UsageError


def _same_logits(loaded, model):
    x = torch.rand(4, 1, 8, 8)
    with torch.no_grad():
        assert torch.allclose(loaded.module(x), model(x), atol=1e-5)


def test_project_checkpoint_round_trip(tmp_path, digits_teacher):
    path = write_checkpoint(digits_teacher, tmp_path / "t.pt", kind="teacher", eps=0.1,
                           metrics={"clean": 0.99})
    loaded = load_teacher(path)
    assert loaded.source_format == "project" and loaded.arch == "digits_cnn_teacher"
    assert loaded.eps == 0.1 and loaded.metadata["metrics"] == {"clean": 0.99}
    assert loaded.contract == digits_teacher.contract
    assert not loaded.module.training
    assert all(not p.requires_grad for p in loaded.module.parameters())
    assert len(loaded.sha256) == 64
    _same_logits(loaded, digits_teacher)


@pytest.mark.parametrize("wrap", ["plain", "module_prefix", "nested_state_dict"])
def test_state_dict_with_arch(tmp_path, digits_teacher, wrap):
    state = digits_teacher.state_dict()
    if wrap == "module_prefix":
        state = {f"module.{k}": v for k, v in state.items()}
    if wrap == "nested_state_dict":
        state = {"state_dict": {f"model.{k}": v for k, v in state.items()}, "epoch": 3}
    torch.save(state, tmp_path / "sd.pt")
    loaded = load_teacher(tmp_path / "sd.pt", arch="digits_cnn_teacher")
    assert loaded.source_format == "state_dict"
    _same_logits(loaded, digits_teacher)


def test_state_dict_without_arch_says_what_to_pass(tmp_path, digits_teacher):
    torch.save(digits_teacher.state_dict(), tmp_path / "sd.pt")
    with pytest.raises(UsageError, match="--teacher-arch"):
        load_teacher(tmp_path / "sd.pt")


def test_state_dict_for_wrong_arch_reports_keys(tmp_path, digits_teacher):
    torch.save(digits_teacher.state_dict(), tmp_path / "sd.pt")
    with pytest.raises(CheckpointError, match="does not match --teacher-arch resnet18: missing"):
        load_teacher(tmp_path / "sd.pt", arch="resnet18")


def test_state_dict_with_extra_keys_reports_unexpected(tmp_path, digits_teacher):
    state = dict(digits_teacher.state_dict(), extra_head=torch.zeros(3))
    torch.save(state, tmp_path / "sd.pt")
    with pytest.raises(CheckpointError, match="unexpected 1 keys: extra_head"):
        load_teacher(tmp_path / "sd.pt", arch="digits_cnn_teacher")


def test_torchscript(tmp_path, digits_teacher):
    torch.jit.trace(digits_teacher, torch.rand(2, 1, 8, 8)).save(str(tmp_path / "ts.pt"))
    with pytest.raises(UsageError, match="--input-shape"):
        load_teacher(tmp_path / "ts.pt")
    loaded = load_teacher(tmp_path / "ts.pt", input_shape=(1, 8, 8))
    assert loaded.source_format == "torchscript" and loaded.contract.num_classes == 10
    _same_logits(loaded, digits_teacher)


def test_torch_export_program(tmp_path, digits_teacher):
    static = torch.export.export(digits_teacher, (torch.rand(2, 1, 8, 8),))
    torch.export.save(static, tmp_path / "static.pt2")
    with pytest.raises(CheckpointError, match="static batch of 2"):
        load_teacher(tmp_path / "static.pt2", trust=True)
    batch = torch.export.Dim("batch")
    program = torch.export.export(digits_teacher, (torch.rand(2, 1, 8, 8),),
                                  dynamic_shapes={"x": {0: batch}})
    torch.export.save(program, tmp_path / "t.pt2")
    loaded = load_teacher(tmp_path / "t.pt2", trust=True)
    assert loaded.source_format == "torch_export"
    assert loaded.contract.shape == (1, 8, 8) and loaded.contract.num_classes == 10
    x = torch.rand(2, 1, 8, 8)
    with torch.no_grad():
        assert torch.allclose(loaded.module(x), digits_teacher(x), atol=1e-5)


def test_pickled_model_refused_unless_trusted(tmp_path, digits_teacher):
    torch.save(digits_teacher, tmp_path / "whole.pt")
    with pytest.raises(CheckpointError, match="--trust-checkpoint"):
        load_teacher(tmp_path / "whole.pt")
    loaded = load_teacher(tmp_path / "whole.pt", trust=True)
    assert loaded.source_format == "pickle"
    _same_logits(loaded, digits_teacher)


def test_missing_and_corrupt_files(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_teacher(tmp_path / "none.pt")
    (tmp_path / "junk.pt").write_bytes(b"\x00garbage" * 10)
    with pytest.raises(CheckpointError, match="not a readable PyTorch checkpoint"):
        load_teacher(tmp_path / "junk.pt")


class _BadShape(torch.nn.Module):
    def forward(self, x):
        return x.flatten(1)[:, :3].unsqueeze(1)


class _Dropout(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(64, 10)

    def forward(self, x):
        return torch.nn.functional.dropout(self.lin(x.flatten(1)), 0.5, training=True)


def test_teacher_checks_output_shape_and_determinism(tmp_path):
    torch.jit.trace(_BadShape(), torch.rand(2, 1, 8, 8)).save(str(tmp_path / "bad.pt"))
    with pytest.raises(CheckpointError, match=r"\(N, classes\) logits"):
        load_teacher(tmp_path / "bad.pt", input_shape=(1, 8, 8))
    torch.save(_Dropout(), tmp_path / "drop.pt")
    with pytest.raises(CheckpointError, match="differ between two identical forward passes"):
        load_teacher(tmp_path / "drop.pt", trust=True, input_shape=(1, 8, 8))
