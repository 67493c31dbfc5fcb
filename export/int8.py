"""Static INT8 quantisation with ONNX Runtime: QDQ format, symmetric int8 activations and weights,
per-channel weights (the explicit-quantisation form TensorRT also consumes)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np


class _Reader:
    """ONNX Runtime's CalibrationDataReader protocol: ``get_next()`` -> feed dict or None."""

    def __init__(self, samples: np.ndarray, input_name: str, batch: int):
        self._batches = iter([{input_name: samples[i:i + batch]} for i in range(0, len(samples), batch)
                              if len(samples[i:i + batch]) == batch])

    def get_next(self):
        return next(self._batches, None)

    def rewind(self):  # pragma: no cover - part of the protocol, unused by MinMax
        pass


def quantize_int8(fp32_path: Path, out_path: Path, samples: np.ndarray, *, input_name: str,
                  batch: int | None) -> dict:
    """Write the QDQ INT8 model; returns the settings used (recorded in the manifest)."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    settings = {"quant_format": "QDQ", "activation_type": "int8", "weight_type": "int8",
                "activation_symmetric": True, "weight_symmetric": True, "per_channel": True,
                "calibrate_method": "MinMax", "preprocess": "onnxruntime quant_pre_process"}
    with tempfile.TemporaryDirectory() as tmp:
        prepared = Path(tmp) / "prepared.onnx"
        # Folds constants and infers shapes so every Conv/Gemm gets quantised (ORT's recommended step).
        quant_pre_process(str(fp32_path), str(prepared), skip_symbolic_shape=True)
        quantize_static(
            str(prepared), str(out_path), _Reader(samples, input_name, batch or 64),
            quant_format=QuantFormat.QDQ, activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
            per_channel=True, calibrate_method=CalibrationMethod.MinMax,
            extra_options={"ActivationSymmetric": True, "WeightSymmetric": True},
        )
    return settings
