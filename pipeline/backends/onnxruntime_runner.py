"""ONNX Runtime runner. Requested execution providers are checked against the ones the session
really uses: asking for CUDA and silently getting the CPU is an error, not a fallback."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dfard_pipeline.backends.base import Runner, RunnerInfo, file_size
from dfard_pipeline.cpus import usable_cpus
from dfard_pipeline.errors import UsageError

SHORT_NAMES = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider",
               "tensorrt": "TensorrtExecutionProvider"}


def provider_name(name: str) -> str:
    return SHORT_NAMES.get(name.lower(), name)


def missing_providers(providers) -> list[str]:
    """The requested providers (short or full names) this ONNX Runtime does not have, full names."""
    import onnxruntime as ort

    available = ort.get_available_providers()
    return [provider_name(p) for p in providers if provider_name(p) not in available]


class OnnxRuntimeRunner(Runner):
    runtime = "onnxruntime"

    def __init__(self, path: str | Path, contract, providers: tuple[str, ...] = ("cpu",),
                 threads: int | None = None, precision: str = "fp32", spinning: bool = True):
        super().__init__(contract)
        self.path = Path(path)
        self.providers = [provider_name(p) for p in providers]
        self.threads = threads
        # ONNX Runtime's pool threads spin between runs by default: the lowest latency for back-to-back
        # inference, but CPU taken from whatever the process does between runs (an attack's own work)
        self.spinning = spinning
        self.precision = precision
        self.session = None

    def _activate(self) -> RunnerInfo:
        import onnxruntime as ort

        missing = missing_providers(self.providers)
        if missing:
            raise UsageError(
                f"ONNX Runtime here has no {', '.join(missing)} (available: "
                f"{', '.join(ort.get_available_providers())}); "
                "install onnxruntime-gpu in place of onnxruntime on a CUDA machine, or pick the cpu profile")
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = self.threads or usable_cpus().count  # not os.cpu_count(): see cpus.py
        options.log_severity_level = 3
        options.add_session_config_entry("session.intra_op.allow_spinning", "1" if self.spinning else "0")
        try:
            self.session = ort.InferenceSession(str(self.path), options, providers=self.providers)
        except Exception as exc:  # noqa: BLE001 - ORT raises Fail/InvalidGraph/... for bad files
            raise UsageError(f"{self.path}: ONNX Runtime cannot load it ({str(exc).splitlines()[0]})") from None
        used = self.session.get_providers()
        dropped = [p for p in self.providers if p not in used]
        if dropped:
            raise UsageError(f"ONNX Runtime did not use the requested {', '.join(dropped)} "
                             f"(it used {', '.join(used)}); refusing to fall back silently")
        model_input = self.session.get_inputs()[0]
        self._check_graph_shapes(model_input.shape, self.session.get_outputs()[0].shape)
        batch_dim = model_input.shape[0]
        return RunnerInfo(runtime="onnxruntime", artifact=str(self.path), precision=self.precision,
                          providers_requested=list(self.providers), providers_used=list(used),
                          threads=options.intra_op_num_threads, file_bytes=file_size(self.path),
                          fixed_batch=batch_dim if isinstance(batch_dim, int) else None,
                          versions={"onnxruntime": ort.__version__}, extra={"spinning": self.spinning})

    def _check_graph_shapes(self, input_shape, output_shape) -> None:
        """The graph must take (N, *contract.shape) and give (N, classes), where it fixes them at all."""
        expected_in = (None, *self.contract.shape)
        expected_out = (None, self.contract.num_classes)
        for what, got, expected in (("input", input_shape, expected_in), ("output", output_shape, expected_out)):
            fixed = [isinstance(d, int) and e is not None and d != e for d, e in zip(got, expected, strict=False)]
            if len(got) != len(expected) or any(fixed):
                raise UsageError(f"{self.path.name}: the model's {what} is {list(got)} but its manifest says "
                                 f"(N, {', '.join(map(str, expected[1:]))}); the artifact and its "
                                 f"{self.path.name}.json do not belong together: re-export it")

    def _run(self, x: np.ndarray) -> np.ndarray:
        name = self.session.get_inputs()[0].name
        return self.session.run(None, {name: x})[0]

    def _deactivate(self) -> None:
        self.session = None
