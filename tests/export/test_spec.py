from pathlib import Path

import pytest

from dfard_pipeline.artifacts.export_manifest import manifest_path
from dfard_pipeline.errors import UsageError
from dfard_pipeline.export.spec import SUPPORTED, ExportRequest


def test_default_output_names_follow_precision_and_format():
    student = Path("runs/d/student.pt")
    assert ExportRequest(student).output_path == Path("runs/d/student.fp32.onnx")
    assert ExportRequest(student, format="tensorrt", precision="fp16").output_path == Path("runs/d/student.fp16.engine")
    assert manifest_path("a/m.onnx") == Path("a/m.onnx.json")


def test_unsupported_combination_lists_the_working_ones():
    with pytest.raises(UsageError, match="onnx: fp32, fp16, int8; tensorrt: fp32, fp16, bf16, int8"):
        ExportRequest(Path("s.pt"), format="onnx", precision="bf16")
    assert "bf16" in SUPPORTED["tensorrt"]


@pytest.mark.parametrize("kwargs, message", [
    ({"batch": 4, "dynamic_batch": True}, "pass one"),
    ({"batch": 0, "dynamic_batch": False}, "must be >= 1"),
    ({"opset": 9}, "outside"),
    ({"calibration": "g.pt"}, "only applies to --precision int8"),
    ({"precision": "int8", "calibration_samples": 4}, "calibration-samples must be in 16-65536"),
])
def test_bad_requests(kwargs, message):
    with pytest.raises(UsageError, match=message):
        ExportRequest(Path("s.pt"), **kwargs)
