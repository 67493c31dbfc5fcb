import pytest
import torch

from dfard_pipeline.artifacts.project_checkpoint import (
    FORMAT_VERSION,
    ProjectCheckpoint,
    read_checkpoint,
    write_checkpoint,
)
from dfard_pipeline.checkpoint import load_project_model, load_teacher
from dfard_pipeline.errors import CheckpointError


@pytest.fixture
def student_file(tmp_path, digits_student):
    return write_checkpoint(digits_student, tmp_path / "student.pt", kind="student", eps=0.1,
                            metrics={"clean": 0.5}, extra={"note": "x"})


def test_round_trip_keeps_every_field_and_the_function(student_file, digits_student):
    checkpoint = read_checkpoint(student_file)
    assert (checkpoint.kind, checkpoint.arch, checkpoint.eps) == ("student", "digits_cnn_student", 0.1)
    assert checkpoint.contract == digits_student.contract
    assert checkpoint.metrics == {"clean": 0.5} and checkpoint.meta["note"] == "x"
    assert "torch" in checkpoint.meta["versions"]
    x = torch.rand(3, *digits_student.contract.shape)
    with torch.no_grad():
        assert torch.equal(checkpoint.build_model(student_file)(x), digits_student(x))
    assert read_checkpoint(student_file, kind="student").kind == "student"


def test_a_checkpoint_of_the_other_kind_is_refused_by_name(student_file):
    with pytest.raises(CheckpointError, match="is a student checkpoint; a teacher is needed"):
        read_checkpoint(student_file, kind="teacher")


def _payload(path):
    return torch.load(path, weights_only=True)


@pytest.mark.parametrize("change, message", [
    (lambda p: p.pop("arch"), "field 'arch' is missing"),
    (lambda p: p.update(state_dict=[1, 2]), "field 'state_dict' is a list"),
    (lambda p: p.update(eps=3.0), "eps 3.0 is not in"),
    (lambda p: p.update(kind="generator"), "kind 'generator' is not one of"),
    (lambda p: p["contract"].pop("num_classes"), "input contract"),
    (lambda p: p.update(metrics=[0.5]), "metrics and meta must be mappings"),
    (lambda p: p.update(format_version=FORMAT_VERSION + 1), "newer than this dfard-pipeline reads"),
])
def test_every_damaged_field_is_refused_naming_the_file(student_file, change, message):
    payload = _payload(student_file)
    change(payload)
    torch.save(payload, student_file)
    with pytest.raises(CheckpointError, match=message) as info:
        ProjectCheckpoint.from_payload(payload, student_file)
    assert str(student_file) in str(info.value)


def test_weights_that_do_not_fit_the_architecture_are_refused(student_file):
    payload = _payload(student_file)
    name = next(iter(payload["state_dict"]))
    payload["state_dict"][name] = torch.zeros(1)
    with pytest.raises(CheckpointError, match="damaged project checkpoint"):
        ProjectCheckpoint.from_payload(payload, student_file).build_model(student_file)


def test_other_files_are_named_for_what_they_are(tmp_path, digits_teacher):
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    plain = tmp_path / "plain.pt"
    torch.save(digits_teacher.state_dict(), plain)
    program = tmp_path / "teacher.pt2"
    torch.export.save(torch.export.export(digits_teacher, (torch.rand(2, 1, 8, 8),)), program)
    with pytest.raises(CheckpointError, match="not found"):
        read_checkpoint(tmp_path / "missing.pt")
    with pytest.raises(CheckpointError, match="not a readable PyTorch checkpoint"):
        read_checkpoint(junk)
    with pytest.raises(CheckpointError, match="is not a dfard-pipeline checkpoint; expected a distilled"):
        read_checkpoint(plain)
    with pytest.raises(CheckpointError, match="is a torch.export program"):
        read_checkpoint(program)


def test_students_load_only_as_project_checkpoints_teachers_in_any_format(tmp_path, digits_teacher, student_file):
    plain = tmp_path / "plain.pt"
    torch.save(digits_teacher.state_dict(), plain)
    assert load_teacher(plain, arch="digits_cnn_teacher").source_format == "state_dict"
    with pytest.raises(CheckpointError, match="not a dfard-pipeline checkpoint"):
        load_project_model(plain)
    loaded = load_project_model(student_file, kind="student")
    assert loaded.source_format == "project" and loaded.checkpoint.kind == "student"
    assert loaded.metadata == {"kind": "student", "metrics": {"clean": 0.5}}
    assert not any(p.requires_grad for p in loaded.module.parameters())
