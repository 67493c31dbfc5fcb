"""``export_model``: the one library function the ``export`` command calls.

Checkpoint -> FP32 ONNX -> (FP16 | INT8 QDQ) ONNX -> (TensorRT engine), checked for structure and
for parity with the PyTorch student before anything is written where the user asked. Work happens
in a temporary folder beside the output; a failure leaves nothing behind.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from dfard_pipeline.artifacts.export_manifest import ExportManifest, manifest_path
from dfard_pipeline.backends.parity import ParityResult, compare_logits
from dfard_pipeline.errors import UsageError, ValidationError
from dfard_pipeline.export.spec import ExportRequest
from dfard_pipeline.outputs import check_output

PARITY_SAMPLES = 256


@dataclass
class ExportResult:
    path: Path
    manifest_path: Path
    manifest: ExportManifest
    parity: list[ParityResult]

    def summary_lines(self) -> list[str]:
        """What was written, its parity with the PyTorch student and, for INT8, its agreement with FP32."""
        m = self.manifest.to_dict()
        lines = [f"{self.manifest.precision} {self.manifest.format} ({m['export']['exporter']} exporter, "
                 f"opset {m['export']['opset']}, {m['artifact']['bytes'] / 1024:.1f} KiB) -> {self.path}"]
        for p in self.parity:
            lines.append(f"  parity on {p.n} {p.name} inputs: max |dlogit| {p.max_abs:.2e}, "
                         f"top-1 agreement {p.top1_agreement:.2%}{'' if p.min_agreement else ' (reported, not gated)'}")
        if self.manifest.int8_agreement:
            parts = ", ".join(f"{k} {v:.2%}" for k, v in self.manifest.int8_agreement.items())
            lines.append(f"  int8 top-1 agreement with fp32: {parts}")
        lines.append(f"  manifest -> {self.manifest_path}")
        return lines


def _load_checkpoint(path: Path):
    from dfard_pipeline.checkpoint.loaded import load_project_model

    return load_project_model(path)


def _parity_inputs(contract, generator_spec: str | None, seed: int) -> dict[str, np.ndarray]:
    """Seeded uniform inputs, plus generator samples when a generator is at hand."""
    from dfard_pipeline.artifacts.generator_file import generator_samples, read_generator

    rng = torch.Generator().manual_seed(seed + 1)
    inputs = {"random": torch.rand(PARITY_SAMPLES, *contract.shape, generator=rng).numpy()}
    if generator_spec and generator_spec.startswith("generator:"):
        generator = read_generator(Path(generator_spec.partition(":")[2]))
        if tuple(generator.image_shape) == tuple(contract.shape):
            inputs["generator"] = generator_samples(generator, PARITY_SAMPLES, seed + 2)
    return inputs


def _runner_logits(runner, x: np.ndarray, dynamic: bool) -> np.ndarray:
    """Logits for ``x``; a dynamic-batch artifact is run at two batch sizes (1 and N) and must agree."""
    with runner:
        batched = runner.infer(x)
        if dynamic:
            singles = np.concatenate([runner.infer(x[i:i + 1]) for i in range(min(8, len(x)))])
            if not np.allclose(singles, batched[: len(singles)], rtol=1e-3, atol=1e-3):
                raise ValidationError("the artifact gives different logits at batch 1 and batch "
                                      f"{len(x)}: its batch axis is not really dynamic")
    return batched


def _digits_agreement(contract, fp32_runner, int8_runner) -> float | None:
    """INT8 vs FP32 top-1 agreement on the digits test split (reported only; needs the digits contract)."""
    if tuple(contract.shape) != (1, 8, 8) or contract.num_classes != 10:
        return None
    from dfard_pipeline.data import load_dataset

    x = load_dataset("digits", "test").x.numpy()
    with fp32_runner, int8_runner:
        return float((fp32_runner.infer(x).argmax(1) == int8_runner.infer(x).argmax(1)).mean())


def export_model(request: ExportRequest, log: Callable[[str], None] = lambda _msg: None) -> ExportResult:
    """Checkpoint -> FP32 ONNX -> the format's ONNX precision -> the format's artifact, checked for
    parity, then published with its manifest. Every step works in a temporary folder beside the
    output; nothing is written where the user asked unless all of them succeed."""
    from dfard_pipeline.export import calibration as calib
    from dfard_pipeline.export.formats import FORMATS

    fmt = FORMATS[request.format]
    out = request.output_path
    calibration_file = request.calibration.partition(":")[2] if request.calibration and ":" in request.calibration \
        else request.calibration
    # the generator beside the student is an input too: INT8 calibrates from it, parity samples it
    inputs = (request.student, Path(calibration_file) if calibration_file else None,
              calib.find_generator(request.student))
    for path in (out, manifest_path(out)):  # refused before any work: nothing good destroyed
        check_output(path, request.overwrite, inputs)
    fmt.check_environment()  # fail before any work when, say, TensorRT or the GPU is missing
    calibration_spec = calib.resolve_source(request.calibration, request.student) \
        if request.precision == "int8" else None
    loaded = _load_checkpoint(request.student)
    generator_spec = calibration_spec or (f"generator:{g}" if (g := calib.find_generator(request.student)) else None)
    out.parent.mkdir(parents=True, exist_ok=True)  # missing folders are made, as by every CLI the user knows
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}.") as tmp_dir:
        tmp = Path(tmp_dir)
        onnx = _onnx_graph(loaded, request, fmt.onnx_precision(request.precision), calibration_spec, tmp, log)
        artifact, details = fmt.build(onnx.path, tmp, request, loaded.contract, log)
        log("checking parity with the PyTorch student")
        candidate = fmt.runner(artifact, request, loaded.contract, details)
        parity = _check_parity(loaded, candidate, request, generator_spec)
        int8_agreement = _int8_agreement(onnx, loaded.contract, parity) if fmt.artifact_is_the_graph else None
        # The manifest is made in the temporary folder too, then both are moved into place: an
        # interrupted export never leaves a new artifact beside an old manifest (or the reverse).
        manifest = _write_manifest(artifact, tmp / "manifest.json", out, request, loaded, onnx, parity,
                                   int8_agreement, details)
        _publish_pair(artifact, out, tmp / "manifest.json", manifest_path(out), request.overwrite)
    return ExportResult(out, manifest_path(out), manifest, parity)


def _publish_pair(artifact: Path, out: Path, manifest: Path, manifest_out: Path, overwrite: bool) -> None:
    """Artifact and manifest into place; without ``overwrite`` neither replaces a file another export
    put there after our check (the artifact we linked is taken back when the manifest is refused)."""
    from dfard_pipeline.atomic import AlreadyThere, publish

    try:
        publish(artifact, out, overwrite)
        try:
            publish(manifest, manifest_out, overwrite)
        except AlreadyThere:
            out.unlink()
            raise
    except AlreadyThere as exc:
        raise UsageError(f"{exc} appeared while this export ran (another export?); it was left as it is: "
                         "pass --overwrite to replace it") from None


@dataclass
class _OnnxGraph:
    path: Path  # the graph the format builds from
    fp32_path: Path
    graph: object  # OnnxGraphInfo of ``path``
    precision: str
    calibration: object | None = None  # CalibrationSet (INT8)
    quantization: dict | None = None  # INT8 settings


def _onnx_graph(loaded, request: ExportRequest, precision: str, calibration_spec: str | None, tmp: Path,
                log) -> _OnnxGraph:
    """The FP32 ONNX export, then its FP16 conversion or INT8 quantisation when ``precision`` asks."""
    from dfard_pipeline.export import calibration as calib
    from dfard_pipeline.export.onnx_export import INPUT_NAME, check_onnx, export_onnx

    model, contract, dynamic = loaded.module, loaded.contract, request.dynamic_batch
    fp32_path = tmp / "model.fp32.onnx"
    log(f"exporting {loaded.arch} to ONNX (opset {request.opset}, "
        f"{'dynamic batch' if dynamic else f'batch {request.batch or 1}'})")
    graph = export_onnx(model, contract.shape, fp32_path, opset=request.opset, dynamic_batch=dynamic,
                        batch=request.batch, log=log)
    result = _OnnxGraph(fp32_path, fp32_path, graph, precision)
    if precision == "fp16":
        from dfard_pipeline.export.fp16 import convert_fp16

        result.path = tmp / "model.fp16.onnx"
        convert_fp16(fp32_path, result.path)
    elif precision == "int8":
        from dfard_pipeline.export.int8 import quantize_int8

        log(f"calibrating INT8 on {request.calibration_samples} samples from {calibration_spec}")
        result.calibration = calib.build_calibration(calibration_spec, model, contract.shape,
                                                     float(loaded.eps or 0.0) or 8 / 255,
                                                     request.calibration_samples, request.seed)
        result.path = tmp / "model.int8.onnx"
        result.quantization = quantize_int8(fp32_path, result.path, result.calibration.samples,
                                            input_name=INPUT_NAME, batch=None if dynamic else request.batch or 1,
                                            scheme=request.int8_scheme, keep_first_last=request.int8_keep_first_last)
    if result.path != fp32_path:
        result.graph = check_onnx(result.path, opset=request.opset, dynamic_batch=dynamic,
                                  exporter=graph.exporter, fallback_reason=graph.fallback_reason)
    return result


def _check_parity(loaded, candidate, request: ExportRequest, generator_spec: str | None) -> list[ParityResult]:
    """The artifact's logits against the PyTorch student's on seeded inputs; a failure writes nothing."""
    from dfard_pipeline.backends.torch_runner import TorchRunner

    tolerance = request.tolerance
    reference = TorchRunner(loaded.module, loaded.contract)
    parity = []
    for name, x in _parity_inputs(loaded.contract, generator_spec, request.seed).items():
        with reference:
            ref_logits = reference.infer(x)
        gated = not (request.precision == "int8" and name == "random")  # int8 is calibrated for images
        parity.append(compare_logits(ref_logits, _runner_logits(candidate, x, request.dynamic_batch), name=name,
                                     tolerance_rel=tolerance.max_abs_rel if gated else None,
                                     min_agreement=tolerance.min_agreement if gated else None))
    failures = [p.failure() for p in parity if not p]
    if failures:
        raise ValidationError(f"parity check failed for the {request.precision} {request.format} artifact, "
                              f"nothing written: {'; '.join(failures)}")
    return parity


def _int8_agreement(onnx: _OnnxGraph, contract, parity: list[ParityResult]) -> dict | None:
    """INT8 against FP32 top-1 agreement: on the parity inputs, and on the digits test split if it fits."""
    if onnx.precision != "int8":
        return None
    from dfard_pipeline.backends.onnxruntime_runner import OnnxRuntimeRunner

    agreement = {p.name: p.top1_agreement for p in parity}
    digits = _digits_agreement(contract, OnnxRuntimeRunner(onnx.fp32_path, contract),
                               OnnxRuntimeRunner(onnx.path, contract))
    if digits is not None:
        agreement["digits_test"] = digits
    return agreement


def _write_manifest(artifact: Path, dest: Path, out: Path, request: ExportRequest, loaded, onnx: _OnnxGraph,
                    parity: list[ParityResult], int8_agreement: dict | None, details: dict | None):
    from dfard_pipeline.artifacts.export_manifest import write_manifest
    from dfard_pipeline.artifacts.provenance import file_sha256

    dynamic, graph = request.dynamic_batch, onnx.graph
    return write_manifest(
        artifact, name=out.name, dest=dest,
        # Also relative to the artifact, so verify finds the reference from any working directory
        # and after the run folder is moved.
        source={"checkpoint": str(request.student), "sha256": file_sha256(request.student),
                "checkpoint_from_artifact": os.path.relpath(request.student.resolve(), out.resolve().parent),
                "kind": loaded.metadata.get("kind"), "arch": loaded.arch},
        export={"format": request.format, "precision": request.precision, "opset": graph.opset,
                "exporter": graph.exporter, "exporter_fallback_reason": graph.fallback_reason,
                "dynamic_batch": dynamic, "batch": None if dynamic else request.batch or 1,
                "quantization": onnx.quantization},
        graph=graph.to_dict(),
        contract={**loaded.contract.to_dict(), "eps": float(loaded.eps or 0.0), "normalisation": "inside the model"},
        calibration=onnx.calibration.describe() if onnx.calibration else None,
        parity=[p.to_dict() for p in parity], int8_agreement=int8_agreement, tensorrt=details)
