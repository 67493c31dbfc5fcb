"""``dfard_pipeline.export`` (this folder, ``export/``, is mapped onto that package name by
pyproject.toml's ``package-dir``): export of trained students, one module per format (ONNX,
TensorRT), ``api.export_model`` the entry point."""
