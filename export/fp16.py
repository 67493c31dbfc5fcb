"""FP32 ONNX -> FP16 ONNX whose inputs and outputs stay float32 (what GPU runtimes want: the
caller's code does not change). Uses ONNX Runtime's own converter rather than hand-written graph
surgery."""

from __future__ import annotations

from pathlib import Path


def convert_fp16(fp32_path: Path, out_path: Path) -> None:
    import onnx
    import onnx_ir
    from onnxruntime.transformers.float16 import convert_float_to_float16

    model = onnx.load(str(fp32_path))
    half = convert_float_to_float16(model, keep_io_types=True, disable_shape_infer=False)
    # The converter appends the float32->float16 input casts at the end of the node list; the
    # ONNX checker (rightly) wants nodes in topological order, so sort with onnx_ir (onnxscript's IR).
    graph_ir = onnx_ir.from_proto(half)
    graph_ir.graph.sort()
    onnx.save(onnx_ir.to_proto(graph_ir), str(out_path))
