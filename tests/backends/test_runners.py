import numpy as np
import pytest
import torch

from dfard_pipeline.backends import open_runner
from dfard_pipeline.backends.onnxruntime_runner import OnnxRuntimeRunner
from dfard_pipeline.backends.torch_runner import TorchRunner
from dfard_pipeline.errors import UsageError
from dfard_pipeline.export.onnx_export import export_onnx


@pytest.fixture
def onnx_path(tmp_path, digits_student):
    path = tmp_path / "m.onnx"
    export_onnx(digits_student, (1, 8, 8), path, opset=18, dynamic_batch=False, batch=4)
    return path


def test_fixed_batch_artifacts_take_any_batch_by_splitting_and_padding(onnx_path, digits_student):
    x = torch.rand(10, 1, 8, 8).numpy()
    with OnnxRuntimeRunner(onnx_path, digits_student.contract) as runner:
        assert runner.info.fixed_batch == 4 and runner.info.providers_used == ["CPUExecutionProvider"]
        logits = runner.infer(x)
    with TorchRunner(digits_student, digits_student.contract) as reference:
        np.testing.assert_allclose(logits, reference.infer(x), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("x, message", [
    (np.zeros((2, 3, 8, 8), np.float32), "does not match"),
    (np.zeros((2, 1, 8, 8), np.float64), "float32"),
    (np.full((2, 1, 8, 8), 255, np.float32), r"must lie in \[0.0, 1.0\]"),
])
def test_input_contract_is_checked(onnx_path, digits_student, x, message):
    with OnnxRuntimeRunner(onnx_path, digits_student.contract) as runner, pytest.raises(UsageError, match=message):
        runner.infer(x)


@pytest.mark.skipif("CUDAExecutionProvider" in __import__("onnxruntime").get_available_providers(),
                    reason="this ONNX Runtime has CUDA; the test checks the refusal where it has not")
def test_a_missing_gpu_provider_is_an_error_not_a_silent_cpu_fallback(onnx_path, digits_student):
    with pytest.raises(UsageError, match="no CUDAExecutionProvider"):
        OnnxRuntimeRunner(onnx_path, digits_student.contract, providers=("cuda", "cpu")).__enter__()


def test_open_runner_by_suffix_and_bad_artifacts(tmp_path, onnx_path, digits_run):
    with open_runner(digits_run / "student.pt") as runner:
        assert runner.info.runtime == "torch" and runner.infer(np.zeros((3, 1, 8, 8), np.float32)).shape == (3, 10)
    with pytest.raises(UsageError, match="no manifest"):
        open_runner(onnx_path)
    (tmp_path / "m.tflite").write_bytes(b"x")
    with pytest.raises(UsageError, match="unknown artifact type"):
        open_runner(tmp_path / "m.tflite")
    (tmp_path / "bad.onnx").write_bytes(b"garbage")
    from dfard_pipeline.models import create_model

    with pytest.raises(UsageError, match="cannot load"):
        open_runner(tmp_path / "bad.onnx", contract=create_model("digits_cnn_student").contract).__enter__()


@pytest.mark.parametrize("spinning, entry", [(True, "1"), (False, "0")])
def test_onnxruntime_pool_threads_spin_or_sleep_as_asked(onnx_path, digits_student, spinning, entry):
    with OnnxRuntimeRunner(onnx_path, digits_student.contract, threads=2, spinning=spinning) as runner:
        options = runner.session.get_session_options()
        assert options.get_session_config_entry("session.intra_op.allow_spinning") == entry
        assert runner.info.extra == {"spinning": spinning} and runner.info.threads == 2
