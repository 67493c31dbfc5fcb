"""Default output paths come from one module, so export's default artifact and run's are named alike."""

from pathlib import Path

from dfard_pipeline import outputs
from dfard_pipeline.config import PipelineConfig
from dfard_pipeline.export.spec import ExportRequest
from dfard_pipeline.stages.definitions import RunContext


def test_export_and_run_name_artifacts_alike():
    run = RunContext(PipelineConfig(), Path("r"))
    for target, artifact in zip(PipelineConfig().export.targets, run.artifacts(), strict=True):
        request = ExportRequest(student=Path("r/export/student.pt"), format=target.format, precision=target.precision)
        assert request.output_path == artifact


def test_default_paths():
    assert outputs.export_out(Path("a/student.pt"), "int8", "tensorrt") == Path("a/student.int8.engine")
    assert outputs.verify_out(Path("a/m.onnx"), "configs/x.yaml") == Path("a/verify-m.onnx-x")
    assert outputs.verify_out(Path("a/m.onnx"), "cpu", "synthetic") == Path("a/verify-m.onnx-cpu-synthetic")
    assert outputs.verify_out(Path("a/m.onnx"), "../../evil") == Path("a/verify-m.onnx-.._.._evil")
    assert outputs.run_out(Path("configs/digits.yaml")) == Path("runs/digits")
