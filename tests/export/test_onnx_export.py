import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from dfard_pipeline.errors import ValidationError
from dfard_pipeline.export.onnx_export import check_onnx, export_onnx


def test_dynamic_batch_export_is_really_dynamic(tmp_path, digits_student):
    path = tmp_path / "m.onnx"
    info = export_onnx(digits_student, (1, 8, 8), path, opset=18, dynamic_batch=True, batch=None)
    assert info.exporter == "dynamo" and info.fallback_reason is None and info.opset == 18
    model = onnx.load(str(path))
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param  # a name, not a number
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for batch in (1, 7):
        x = torch.rand(batch, 1, 8, 8)
        out = session.run(None, {"input": x.numpy()})[0]
        with torch.no_grad():
            np.testing.assert_allclose(out, digits_student(x).numpy(), rtol=1e-4, atol=1e-5)
    assert [p.name for p in tmp_path.iterdir()] == ["m.onnx"]  # one file, no external data


def test_fixed_batch_and_other_opset(tmp_path, digits_student):
    info = export_onnx(digits_student, (1, 8, 8), tmp_path / "m.onnx", opset=17, dynamic_batch=False, batch=4)
    assert info.opset == 17 and info.inputs[0]["shape"] == [4, 1, 8, 8]
    assert info.outputs[0] == {"name": "logits", "shape": [4, 10], "dtype": "float32"}


def test_check_onnx_catches_a_wrong_opset_and_a_static_batch(tmp_path, digits_student):
    path = tmp_path / "m.onnx"
    export_onnx(digits_student, (1, 8, 8), path, opset=18, dynamic_batch=False, batch=2)
    with pytest.raises(ValidationError, match="wrote opset 18"):
        check_onnx(path, opset=17, dynamic_batch=False)
    with pytest.raises(ValidationError, match="not dynamic"):
        check_onnx(path, opset=18, dynamic_batch=True)


@pytest.mark.parametrize("count, batch, fixed, sizes", [
    (20, 64, False, [20]),          # fewer samples than a batch: once zero batches, now all 20
    (100, 64, False, [64, 36]),     # once 64 of the 100 the manifest recorded
    (100, 64, True, [64, 64]),      # a fixed-batch graph: the last batch filled from its own samples
    (128, 64, False, [64, 64]),
])
def test_int8_calibration_reads_every_sample(count, batch, fixed, sizes):
    import numpy as np

    from dfard_pipeline.export.int8 import _Reader

    samples = np.arange(count, dtype=np.float32).reshape(count, 1, 1, 1)
    reader = _Reader(samples, "x", batch, fixed=fixed)
    seen = []
    while (feed := reader.get_next()) is not None:
        seen.append(feed["x"])
    assert [len(b) for b in seen] == sizes and reader.batches_used == len(sizes)
    assert set(np.concatenate(seen).ravel().tolist()) == set(range(count))
