"""Export of trained students: one module per format (ONNX, TensorRT)."""
