"""The CIFAR-10 CPU preset, end to end from an image folder, on a tiny slice of the CIFAR-10 JPEG
copy (a few hundred images, one epoch each): every stage of `run` works on natural 32x32 colour
images. The full benchmark is benchmarks/cifar10.py, never a test."""

import json
from pathlib import Path

import pytest
import yaml

from dfard_pipeline.cli import main

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_cifar10_preset_runs_end_to_end_from_an_image_folder(tmp_path, capsys, cifar_jpeg_slice):
    data = tmp_path / "cifar10"
    cifar_jpeg_slice(data, "train", 30)
    cifar_jpeg_slice(data, "val", 10)
    preset = yaml.safe_load((ROOT / "configs" / "cifar10_cpu.yaml").read_text())
    preset["teacher"].update(epochs=1, eval_n=50)
    preset["distill"].update(epochs=1, student_steps=3, generator_steps=1, memory_bank_batches=2)
    preset["verify"]["n"] = 50
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(preset))
    code = 0
    try:
        main(["run", str(config), "--data", f"folder:{data}", "--out", str(tmp_path / "run"), "--quiet"])
    except SystemExit as exc:
        code = exc.code
    out = capsys.readouterr()
    assert code in (0, 1), out.err  # a gate may fail on a one-epoch student; the run completed
    run = tmp_path / "run"
    student = run / "distill" / "student.pt"
    assert student.is_file() and (run / "report.html").is_file()
    for precision in ("fp32", "int8"):
        result = json.loads((run / "verify" / f"student.{precision}.onnx-cpu" / "verify.json").read_text())
        assert result["data"]["n"] == 50 and result["suite"] == "standard"
        assert result["data"]["name"].startswith("folder:") and result["artifact"]["precision"] == precision
    teacher = json.loads((run / "run.json").read_text())["stages"]
    assert set(teacher) == {"teacher", "distill", "export", "verify", "report"}
