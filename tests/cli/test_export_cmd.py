"""``dfard-pipeline export`` through the CLI, on a small trained digits student."""

import json
import shutil

import numpy as np
import onnx
import pytest
import torch

from dfard_pipeline.artifacts.provenance import file_sha256
from dfard_pipeline.cli import main


def run_cli(args, capsys):
    with pytest.raises(SystemExit) as info:
        main(args)
    captured = capsys.readouterr()
    return info.value.code, captured.out, captured.err


def export(args, capsys):
    try:
        main(["export", "--quiet", *args])
    except SystemExit as exc:
        pytest.fail(f"export exited {exc.code}: {capsys.readouterr().err}")
    return capsys.readouterr().out


@pytest.fixture
def run(tmp_path, digits_run):
    copy = tmp_path / "run"
    shutil.copytree(digits_run, copy)
    return copy


def test_fp32_onnx_and_its_manifest(run, capsys):
    out = export(["--checkpoint", str(run / "student.pt")], capsys)
    artifact = run / "student.fp32.onnx"
    manifest = json.loads((run / "student.fp32.onnx.json").read_text())
    assert str(artifact) in out and "top-1 agreement 100.00%" in out
    assert manifest["artifact"]["sha256"] == file_sha256(artifact)
    assert manifest["source"]["sha256"] == file_sha256(run / "student.pt")
    expected = {"format": "onnx", "precision": "fp32", "opset": 18, "exporter": "dynamo", "dynamic_batch": True}
    assert expected.items() <= manifest["export"].items()
    assert manifest["inputs"][0]["shape"][0] == "batch" and manifest["outputs"][0]["name"] == "logits"
    assert manifest["contract"]["eps"] == 0.1 and manifest["contract"]["value_range"] == [0.0, 1.0]
    assert {p["name"] for p in manifest["parity"]} == {"random", "generator"}
    for parity in manifest["parity"]:
        assert parity["passed"] and parity["max_abs_rel"] <= 1e-4 and parity["top1_agreement"] >= 0.999
    assert {"torch", "onnx", "onnxruntime"} <= set(manifest["versions"])
    assert manifest["calibration"] is None and manifest["tensorrt"] is None


def test_fp16_keeps_float32_io(run, capsys):
    export(["--checkpoint", str(run / "student.pt"), "--precision", "fp16"], capsys)
    model = onnx.load(str(run / "student.fp16.onnx"))
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert model.graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    weights = [t for t in model.graph.initializer if len(t.dims) == 4]
    assert weights and all(t.data_type == onnx.TensorProto.FLOAT16 for t in weights)
    manifest = json.loads((run / "student.fp16.onnx.json").read_text())
    assert all(p["passed"] and p["max_abs_rel"] <= 1e-2 for p in manifest["parity"])


def test_int8_is_qdq_symmetric_per_channel_and_calibrated_on_the_generator(run, capsys):
    export(["--checkpoint", str(run / "student.pt"), "--precision", "int8", "--calibration-samples", "128"], capsys)
    model = onnx.load(str(run / "student.int8.onnx"))
    ops = {n.op_type for n in model.graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    inits = {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer}
    zero_points = [inits[n.input[2]] for n in model.graph.node if n.op_type == "QuantizeLinear"]
    assert zero_points and all(z.dtype == np.int8 and not z.any() for z in zero_points)  # symmetric int8
    weight_scales = [inits[n.input[1]] for n in model.graph.node
                     if n.op_type == "DequantizeLinear" and n.input[0] in inits and inits[n.input[0]].ndim == 4]
    assert weight_scales and all(s.size > 1 for s in weight_scales)  # per output channel
    manifest = json.loads((run / "student.int8.onnx.json").read_text())
    kept = manifest["export"]["quantization"]["kept_in_float"]
    assert len(kept) == 2  # the first conv and the last linear layer stay float by default
    dq_outputs = {n.output[0] for n in model.graph.node if n.op_type == "DequantizeLinear"}
    convs = [n for n in model.graph.node if n.op_type == "Conv"]
    assert convs[0].input[1] in inits and convs[0].input[1] not in dq_outputs  # float weight
    assert all(c.input[1] in dq_outputs for c in convs[1:])  # the others read int8 weights
    assert manifest["calibration"]["count"] == 128
    assert manifest["calibration"]["source"] == f"generator:{run / 'generator.pt'}"
    agreement = manifest["int8_agreement_with_fp32"]
    assert set(agreement) == {"random", "generator", "digits_test"}
    # INT8 keeps the FP32 graph's answers on real and generator images (a broken quantisation would not)
    assert agreement["digits_test"] >= 0.9 and agreement["generator"] >= 0.9, agreement


def test_int8_from_an_npz_calibration_set_keeps_the_student_accurate(run, tmp_path, capsys):
    # The fixture's generator is untrained, so this test calibrates on in-distribution images to
    # check the quantiser itself: calibrated well, INT8 must keep the student's decisions.
    from dfard_pipeline.data import load_dataset

    train = load_dataset("digits", "train")
    np.savez(tmp_path / "calib.npz", x=(train.x[:256].numpy() * 255).round().astype(np.uint8))
    export(["--checkpoint", str(run / "student.pt"), "--precision", "int8", "--calibration",
            f"npz:{tmp_path / 'calib.npz'}", "--out", str(tmp_path / "q.onnx")], capsys)
    manifest = json.loads((tmp_path / "q.onnx.json").read_text())
    assert manifest["calibration"]["count"] == 256 and manifest["calibration"]["adversarial_fraction"] == 0
    assert manifest["int8_agreement_with_fp32"]["digits_test"] >= 0.95


def test_parity_failure_exits_1_and_leaves_nothing(run, capsys, monkeypatch):
    from dfard_pipeline.export import onnx_export

    real_export = onnx_export.export_onnx

    def export_a_different_model(model, *args, **kwargs):
        return real_export(_perturbed(model), *args, **kwargs)

    monkeypatch.setattr(onnx_export, "export_onnx", export_a_different_model)
    code, _, err = run_cli(["export", "--checkpoint", str(run / "student.pt"), "--quiet"], capsys)
    assert code == 1 and "parity check failed" in err and "x over" in err
    assert sorted(p.name for p in run.iterdir()) == ["generator.pt", "student.pt"]


def _perturbed(model):
    import copy

    other = copy.deepcopy(model)
    with torch.no_grad():
        for param in other.parameters():
            param.add_(0.05 * torch.randn_like(param))
    return other


@pytest.mark.parametrize("extra, message", [
    (["--precision", "int8"], "no generator.pt beside"),
    (["--precision", "bf16"], "supported combinations are onnx: fp32, fp16, int8"),
    (["--batch", "4", "--dynamic-batch"], "pass one"),
    (["--calibration", "g.pt"], "only applies to --precision int8"),
])
def test_usage_errors_exit_2(tmp_path, digits_run, capsys, extra, message):
    student = tmp_path / "student.pt"
    shutil.copy(digits_run / "student.pt", student)  # no generator beside this one
    code, _, err = run_cli(["export", "--checkpoint", str(student), *extra], capsys)
    assert code == 2 and message in err and "Traceback" not in err


def test_missing_output_folders_are_made(run, tmp_path, capsys):
    out = tmp_path / "new" / "deeper" / "m.onnx"
    export(["--checkpoint", str(run / "student.pt"), "--out", str(out)], capsys)
    assert out.is_file() and (out.parent / "m.onnx.json").is_file()


def test_existing_output_needs_overwrite_and_bad_checkpoints_are_refused(run, tmp_path, capsys):
    export(["--checkpoint", str(run / "student.pt")], capsys)
    code, _, err = run_cli(["export", "--checkpoint", str(run / "student.pt")], capsys)
    assert code == 2 and "--overwrite" in err
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    code, _, err = run_cli(["export", "--checkpoint", str(tmp_path / "junk.pt")], capsys)
    assert code == 2 and "not a readable PyTorch checkpoint" in err
    torch.save(torch.load(run / "student.pt", weights_only=True)["state_dict"], tmp_path / "sd.pt")
    code, _, err = run_cli(["export", "--checkpoint", str(tmp_path / "sd.pt")], capsys)
    assert code == 2 and "not a dfard-pipeline checkpoint" in err
    code, _, err = run_cli(["export", "--checkpoint", str(tmp_path / "missing.pt")], capsys)
    assert code == 2 and "not found" in err


def test_int8_cpu_scheme_uses_uint8_activations_and_is_onnx_only(run, capsys):
    export(["--checkpoint", str(run / "student.pt"), "--precision", "int8", "--int8-scheme", "cpu",
            "--calibration-samples", "64"], capsys)
    model = onnx.load(str(run / "student.int8.onnx"))
    inits = {t.name: onnx.numpy_helper.to_array(t) for t in model.graph.initializer}
    zero_points = [inits[n.input[2]] for n in model.graph.node if n.op_type == "QuantizeLinear"]
    assert zero_points and all(z.dtype == np.uint8 for z in zero_points)
    manifest = json.loads((run / "student.int8.onnx.json").read_text())
    assert manifest["export"]["quantization"]["scheme"] == "cpu"
    code, _, err = run_cli(["export", "--checkpoint", str(run / "student.pt"), "--format", "tensorrt", "--precision",
                            "int8", "--int8-scheme", "cpu"], capsys)
    assert code == 2 and "TensorRT needs the symmetric scheme" in err
