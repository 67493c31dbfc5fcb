"""TensorRT runner (TensorRT 10 name-based API: set_input_shape / set_tensor_address /
execute_async_v3). Buffers are torch CUDA tensors, so no pycuda is needed. Imported lazily."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dfard_pipeline.backends.base import Runner, RunnerInfo, file_size
from dfard_pipeline.backends.tensorrt_env import check_engine_compatible, cuda_device_info, import_tensorrt
from dfard_pipeline.errors import RuntimeFailure, UsageError


class TensorRTRunner(Runner):
    runtime = "tensorrt"

    def __init__(self, path: str | Path, contract, manifest: dict | None = None, precision: str = "fp32"):
        super().__init__(contract)
        self.path = Path(path)
        self.manifest = manifest or {}
        self.precision = precision

    def _activate(self) -> RunnerInfo:
        trt = import_tensorrt()
        device = cuda_device_info()
        check_engine_compatible(self.manifest, trt.__version__, device)
        import torch

        self._torch = torch
        # A stream of our own: on the legacy default stream enqueueV3 adds cudaStreamSynchronize
        # calls of its own (TensorRT logs a warning), which would inflate the measured latency.
        self._stream = torch.cuda.Stream()
        self._logger = trt.Logger(trt.Logger.WARNING)
        self._runtime = trt.Runtime(self._logger)
        self.engine = self._runtime.deserialize_cuda_engine(self.path.read_bytes())
        if self.engine is None:
            raise UsageError(f"{self.path}: TensorRT {trt.__version__} could not deserialise this engine "
                             "(corrupt, or built by another TensorRT version or GPU); rebuild it here")
        self.context = self.engine.create_execution_context()
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        self.input_name = next(n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT)
        self.output_name = next(n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.OUTPUT)
        batch_dim = self.engine.get_tensor_shape(self.input_name)[0]
        return RunnerInfo(runtime="tensorrt", artifact=str(self.path), precision=self.precision,
                          providers_requested=["tensorrt"], providers_used=["tensorrt"],
                          file_bytes=file_size(self.path), fixed_batch=None if batch_dim < 0 else int(batch_dim),
                          versions={"tensorrt": trt.__version__}, extra=device)

    def _run(self, x: np.ndarray) -> np.ndarray:
        torch = self._torch
        # Copy in, allocate, run and copy out all in order on one stream: no sync is needed until the end.
        with torch.cuda.stream(self._stream):
            inputs = torch.from_numpy(x).to("cuda")
            self.context.set_input_shape(self.input_name, tuple(inputs.shape))
            out_shape = tuple(self.context.get_tensor_shape(self.output_name))
            outputs = torch.empty(out_shape, dtype=torch.float32, device="cuda")
            self.context.set_tensor_address(self.input_name, inputs.data_ptr())
            self.context.set_tensor_address(self.output_name, outputs.data_ptr())
            if not self.context.execute_async_v3(self._stream.cuda_stream):
                raise RuntimeFailure(f"{self.path}: TensorRT execution failed for a batch of {len(x)}")
            logits = outputs.to("cpu", non_blocking=False)
        self._stream.synchronize()
        return logits.numpy()

    def _deactivate(self) -> None:
        self.context = None
        self.engine = None
        self._stream = None
