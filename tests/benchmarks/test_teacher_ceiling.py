"""benchmarks/teacher_ceiling.py: the teacher's own robust agreement beside the student's."""

import json
import shutil
import sys

import pytest
import torch

from dfard_pipeline.artifacts.project_checkpoint import write_checkpoint
from dfard_pipeline.checkpoint import load_teacher
from dfard_pipeline.data import load_dataset
from dfard_pipeline.models import create_model


def test_a_model_measured_against_itself_keeps_what_the_teacher_keeps(teacher_ceiling_bench, digits_run):
    model = load_teacher(digits_run / "student.pt").module.eval()
    x = load_dataset("digits", "test").subset(64).x
    result = teacher_ceiling_bench.measure(model, model, x, eps=0.3, step_size=0.1, steps=3, seed=0)
    assert result["teacher_keeps"] == result["student_keeps"]
    assert result["teacher_keeps"] < 0.9  # eps 0.3 on a lightly trained digits net: the attack moves answers


def test_without_room_to_move_every_answer_is_kept(teacher_ceiling_bench, digits_teacher, digits_student):
    x = torch.rand(64, 1, 8, 8)
    y = torch.randint(10, (64,))
    result = teacher_ceiling_bench.measure(digits_teacher, digits_student, x, eps=0.0, step_size=0.1, steps=3,
                                           seed=0, y=y)
    assert result["teacher_keeps"] == 1.0
    assert result["teacher_attacked"] == result["teacher_clean"]
    for k, accuracy in enumerate(result["attacked_by_class"]["student"]):  # eps 0: the student's clean accuracy
        members = y == k
        assert accuracy is None if not members.any() else accuracy == pytest.approx(
            float((digits_student(x[members]).argmax(1) == k).float().mean()))
    answers = digits_teacher(x).argmax(1)
    same = (digits_student(x).argmax(1) == answers).float()
    for k, ratio in enumerate(result["class_keep_ratio"]):  # eps 0: the teacher keeps all, so the student's share
        members = answers == k
        assert ratio is None if not members.any() else ratio == pytest.approx(float(same[members].mean()))
    assert result["student_keeps"] == pytest.approx(float((digits_student(x).argmax(1)
                                                           == digits_teacher(x).argmax(1)).float().mean()))


def test_the_script_writes_both_inputs_of_every_run(teacher_ceiling_bench, digits_run, tmp_path, monkeypatch):
    run = tmp_path / "dfard-s0"
    shutil.copytree(digits_run, run)
    write_checkpoint(create_model("digits_cnn_teacher").eval(), tmp_path / "teacher.pt", kind="teacher", eps=0.1)
    out = tmp_path / "ceiling"
    monkeypatch.setattr(sys, "argv", ["teacher_ceiling.py", "--data", "digits", "--run", f"tiny:{run}",
                                      "--n", "40", "--out", str(out)])
    teacher_ceiling_bench.main()
    result = json.loads(out.with_suffix(".json").read_text())
    assert set(result["runs"]["tiny"]) == {"folder", "generator", "val"}
    assert result["runs"]["tiny"]["val"]["n"] == 40
    rows = [line for line in out.with_suffix(".md").read_text().splitlines() if line.startswith("| tiny |")]
    assert [row.split(" | ")[1] for row in rows][:4] == ["generator", "val", "generator", "val"]
    # the summary rows, the per-class keep ratios, then the per-class accuracies of teacher and student
    assert [row.count("|") for row in rows] == [10, 10, 13, 13, 13, 13]
    assert [row.split(" | ")[1] for row in rows][4:] == ["teacher", "student"]
    assert len(result["runs"]["tiny"]["val"]["class_keep_ratio"]) == 10
