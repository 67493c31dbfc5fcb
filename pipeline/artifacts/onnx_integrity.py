"""What an ONNX artifact's graph says about itself, checked against its manifest before verify
trusts either: the files its tensors load from (external data, which the artifact's own sha256
does not cover) and the precision its weights and operators are in (the manifest's precision picks
the gates an artifact is judged by)."""

from __future__ import annotations

from pathlib import Path

from dfard_pipeline.artifacts.provenance import file_sha256
from dfard_pipeline.errors import CheckpointError

_QUANTIZED_OPS = frozenset({"QuantizeLinear", "DequantizeLinear", "QLinearConv", "QLinearMatMul", "ConvInteger",
                            "MatMulInteger", "DynamicQuantizeLinear", "QGemm", "QLinearAdd"})


def _graph(path: Path):
    import onnx

    try:
        return onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # noqa: BLE001 - onnx raises DecodeError, ValueError, OSError...
        raise CheckpointError(f"{path}: not a readable ONNX model ({type(exc).__name__})") from None


def external_data_files(path: Path, model=None) -> dict[str, str]:
    """``{file name: sha256}`` of every file the graph's tensors load from (empty for a single file)."""
    from onnx.external_data_helper import uses_external_data

    model = _graph(path) if model is None else model
    names = set()
    for tensor in model.graph.initializer:
        if uses_external_data(tensor):
            names.update(entry.value for entry in tensor.external_data if entry.key == "location")
    files = {}
    for name in sorted(names):
        file = path.parent / name
        if Path(name).is_absolute() or ".." in Path(name).parts or not file.is_file():
            raise CheckpointError(f"{path} loads its weights from {name!r}, which is not a file beside it")
        files[name] = file_sha256(file)
    return files


def graph_precision(model) -> str:
    """int8 when the graph quantizes, fp16 / bf16 when its weights are in that type, else fp32."""
    import onnx

    if any(node.op_type in _QUANTIZED_OPS for node in model.graph.node):
        return "int8"
    types = {tensor.data_type for tensor in model.graph.initializer}
    if onnx.TensorProto.FLOAT16 in types:
        return "fp16"
    if onnx.TensorProto.BFLOAT16 in types:
        return "bf16"
    return "fp32"


def check_onnx_artifact(path: Path, manifest) -> None:
    """Refuse an ONNX artifact whose external data differs from what its manifest records, or whose
    graph is in another precision than the manifest says."""
    model = _graph(path)
    recorded = manifest.data.get("artifact", {}).get("external_data") or {}
    found = external_data_files(path, model)
    if found != recorded:
        changed = sorted(set(found) ^ set(recorded) | {k for k in found if recorded.get(k) != found[k]})
        raise CheckpointError(f"{path.name}'s external data ({', '.join(changed)}) is not what its manifest "
                              "records; the weights were changed or copied from elsewhere: re-export it")
    actual = graph_precision(model)
    if actual != manifest.precision:
        raise CheckpointError(f"{path.name} is an {actual} graph but its manifest says {manifest.precision}; the "
                              "manifest would pick the wrong gates: re-export it")
