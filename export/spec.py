"""What an export is asked to produce, checked before any work starts (optimum-style export spec):
which format/precision pairs exist, their parity tolerances, and where the artifact goes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dfard_pipeline.backends.parity import MIN_AGREEMENT_INT8
from dfard_pipeline.config.schema import INT8_SCHEMES, check_export_numbers
from dfard_pipeline.errors import UsageError
from dfard_pipeline.outputs import export_out

# format -> precisions it can produce. bf16 is a TensorRT builder flag (Ampere and newer); ONNX
# Runtime has no bf16 kernels for these ops, so an ONNX bf16 model would not run anywhere we verify.
SUPPORTED = {"onnx": ("fp32", "fp16", "int8"), "tensorrt": ("fp32", "fp16", "bf16", "int8")}


@dataclass(frozen=True)
class Tolerance:
    """Parity of an artifact with the PyTorch student. ``max_abs_rel``: max |delta logit| allowed,
    relative to max(1, max |reference logit|); None: not bounded (INT8 changes logits by design,
    only the decisions are gated). ``min_agreement``: top-1 agreement floor."""

    max_abs_rel: float | None
    min_agreement: float


TOLERANCES = {
    "fp32": Tolerance(1e-4, 0.999),
    "fp16": Tolerance(1e-2, 0.99),
    "bf16": Tolerance(5e-2, 0.98),
    "int8": Tolerance(None, MIN_AGREEMENT_INT8),  # the device profiles' clean INT8 floor (backends/parity.py)
}


@dataclass(frozen=True)
class ExportRequest:
    student: Path
    format: str = "onnx"
    precision: str = "fp32"
    calibration: str | None = None  # "PATH/generator.pt", "generator:PATH" or "npz:PATH"
    calibration_samples: int = 512
    int8_scheme: str = "symmetric"  # or "cpu" (uint8 activations, ONNX Runtime CPU only): see export/int8.py
    int8_keep_first_last: bool = True  # first conv and last linear stay float (export/int8.py)
    opset: int = 18
    batch: int | None = None  # fixed batch; None with dynamic_batch
    dynamic_batch: bool = True
    out: Path | None = None
    overwrite: bool = False
    seed: int = 0
    workspace_mib: int = 1024
    timing_cache: Path | None = None

    @classmethod
    def from_config(cls, config, student: str | Path, target=None, **given) -> ExportRequest:
        """The request for ``student`` from a ``PipelineConfig``'s export section (and one of its
        ``targets``), under what the command line gave (``given``; None means not given). A fixed
        ``batch`` turns the config's dynamic batch off unless ``dynamic_batch`` is given too."""
        fields = {"calibration_samples": config.export.calibration_samples, "opset": config.export.opset,
                  "dynamic_batch": config.export.dynamic_batch, "seed": config.seed}
        if target is not None:
            fields.update(format=target.format, precision=target.precision, int8_scheme=target.int8_scheme)
        if given.get("batch") is not None and given.get("dynamic_batch") is None:
            fields["dynamic_batch"] = False
        fields.update({key: value for key, value in given.items() if value is not None})
        return cls(student=Path(student), **fields)

    def __post_init__(self) -> None:
        if self.format not in SUPPORTED:
            raise UsageError(f"unknown format {self.format!r}; choose one of {', '.join(SUPPORTED)}")
        if self.precision not in SUPPORTED[self.format]:
            combos = "; ".join(f"{fmt}: {', '.join(precs)}" for fmt, precs in SUPPORTED.items())
            raise UsageError(f"--format {self.format} cannot produce {self.precision}; "
                             f"supported combinations are {combos}")
        if self.batch is not None and self.dynamic_batch:
            raise UsageError("--batch N fixes the batch size and --dynamic-batch frees it: pass one")
        if self.batch is not None and self.batch < 1:
            raise UsageError(f"--batch must be >= 1, got {self.batch}")
        try:  # the bounds live in the config schema: one source for both paths
            check_export_numbers(self.opset, self.calibration_samples, where="--")
        except ValueError as exc:
            raise UsageError(str(exc).replace("--calibration_samples", "--calibration-samples")) from None
        if self.calibration and self.precision != "int8":
            raise UsageError("--calibration only applies to --precision int8")
        if self.int8_scheme not in INT8_SCHEMES:
            raise UsageError(f"unknown INT8 scheme {self.int8_scheme!r}; choose {' or '.join(INT8_SCHEMES)}")
        if self.int8_scheme == "cpu" and (self.format != "onnx" or self.precision != "int8"):
            raise UsageError("--int8-scheme cpu (uint8 activations) applies to --format onnx --precision int8 "
                             "only; TensorRT needs the symmetric scheme")

    @property
    def output_path(self) -> Path:
        if self.out is not None:
            return Path(self.out)
        return export_out(self.student, self.precision, self.format)

    @property
    def timing_cache_path(self) -> Path:
        """The TensorRT timing cache: the one asked for, else ``tensorrt.timing_cache`` beside the engine."""
        return Path(self.timing_cache) if self.timing_cache else self.output_path.with_name("tensorrt.timing_cache")

    @property
    def tolerance(self) -> Tolerance:
        return TOLERANCES[self.precision]

