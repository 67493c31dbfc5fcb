"""PyTorch -> ONNX with the dynamo exporter (``torch.onnx.export(..., dynamo=True)``), then the
checks a runtime relies on: the opset really written, a truly dynamic batch axis, one file,
``onnx.checker`` and strict shape inference."""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from dfard_pipeline.errors import ValidationError

INPUT_NAME, OUTPUT_NAME, BATCH_AXIS = "input", "logits", "batch"
SINGLE_FILE_LIMIT = 2 * 1024**3  # protobuf's 2 GB limit: above it ONNX needs external data


@dataclass(frozen=True)
class OnnxGraphInfo:
    exporter: str  # "dynamo" or "torchscript"
    fallback_reason: str | None
    opset: int
    inputs: list[dict]
    outputs: list[dict]

    def to_dict(self) -> dict:
        return asdict(self)


@contextlib.contextmanager
def _quiet_torch_onnx():
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _export(model, example, path: Path, opset: int, dynamic: bool, dynamo: bool) -> None:
    kwargs = dict(input_names=[INPUT_NAME], output_names=[OUTPUT_NAME], opset_version=opset)
    if dynamo:
        shapes = ({0: torch.export.Dim(BATCH_AXIS)},) if dynamic else None
        # The exporter prints progress lines and logs a warning per missing torchvision op; they
        # would bury our own output.
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings(), _quiet_torch_onnx():
            warnings.simplefilter("ignore", FutureWarning)
            torch.onnx.export(model, (example,), str(path), dynamo=True, dynamic_shapes=shapes,
                              external_data=False, verbose=False, **kwargs)
    else:
        axes = {INPUT_NAME: {0: BATCH_AXIS}, OUTPUT_NAME: {0: BATCH_AXIS}} if dynamic else None
        torch.onnx.export(model, (example,), str(path), dynamo=False, dynamic_axes=axes, **kwargs)


def export_onnx(model: torch.nn.Module, shape: tuple[int, int, int], path: Path, *, opset: int,
                dynamic_batch: bool, batch: int | None,
                log: Callable[[str], None] = lambda _message: None) -> OnnxGraphInfo:
    """Export ``model`` (eval mode, logits out, normalisation inside) to ``path``.

    A dynamic export traces with a batch of 2 so the exporter cannot specialise on batch 1.
    Falls back to the TorchScript exporter only when dynamo fails, recording why.
    """
    model = model.eval()
    example = torch.rand(2 if dynamic_batch else (batch or 1), *shape, generator=torch.Generator().manual_seed(0))
    exporter, reason = "dynamo", None
    try:
        _export(model, example, path, opset, dynamic_batch, dynamo=True)
    except Exception as exc:  # noqa: BLE001 - the dynamo exporter raises many internal types
        reason = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        log(f"warning: dynamo exporter failed ({reason}); falling back to the TorchScript exporter")
        exporter = "torchscript"
        _export(model, example, path, opset, dynamic_batch, dynamo=False)
    return check_onnx(path, opset=opset, dynamic_batch=dynamic_batch, exporter=exporter, fallback_reason=reason)


def _io(values) -> list[dict]:
    import onnx

    out = []
    for value in values:
        dims = [d.dim_param if d.dim_param else d.dim_value for d in value.type.tensor_type.shape.dim]
        out.append({"name": value.name, "shape": dims,
                    "dtype": onnx.helper.tensor_dtype_to_np_dtype(value.type.tensor_type.elem_type).name})
    return out


def check_onnx(path: Path, *, opset: int, dynamic_batch: bool, exporter: str = "dynamo",
               fallback_reason: str | None = None) -> OnnxGraphInfo:
    """Structural checks of an exported file; a ``ValidationError`` says which failed."""
    import onnx

    path = Path(path)
    leftovers = [p.name for p in path.parent.iterdir() if p != path and p.name.startswith(path.name)
                 and not p.name.endswith((".json", ".tmp"))]
    if leftovers:
        raise ValidationError(f"{path.name}: exporter wrote external data ({', '.join(leftovers)}); "
                              "models under 2 GB must be a single file")
    if path.stat().st_size > SINGLE_FILE_LIMIT:
        raise ValidationError(f"{path.name} is over 2 GB; external-data export is not supported")
    model = onnx.load(str(path))
    written = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
    if written != opset:
        raise ValidationError(f"asked for opset {opset} but the exporter wrote opset {written}; "
                              f"pass --opset {written} or a torch version that writes {opset}")
    try:
        onnx.checker.check_model(model, full_check=True)
        onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
    except Exception as exc:  # noqa: BLE001 - checker and inference raise their own error types
        raise ValidationError(f"{path.name} fails onnx.checker / shape inference: {exc}") from None
    inputs, outputs = _io(model.graph.input), _io(model.graph.output)
    batch_dim = inputs[0]["shape"][0]
    if dynamic_batch and not isinstance(batch_dim, str):
        raise ValidationError(f"{path.name}: batch axis was exported as the constant {batch_dim}, not dynamic")
    if not dynamic_batch and isinstance(batch_dim, str):
        raise ValidationError(f"{path.name}: batch axis is dynamic ({batch_dim}) but a fixed batch was asked")
    return OnnxGraphInfo(exporter, fallback_reason, written, inputs, outputs)
