"""The files the stages hand to each other, one module per kind: its format tag, path convention,
writer and validating reader. Low in the house: it imports models, checkpoint helpers and errors,
never a stage (distill, export, runtime), so every stage, the CLI and the report read a file the
same way and no two stages import each other to share one.

- ``generator_file``: a distill run's ``generator.pt`` (read by INT8 calibration, verify's generator
  data and the report);
- ``export_manifest``: the ``ARTIFACT.json`` sidecar export writes beside each artifact (read by
  verify, the device bundle and the runners), as a typed ``ExportManifest``;
- ``verify_result``: ``verify.json`` (written by verify, read by ``run``'s verdict and the report);
- ``run_manifest``: ``run.json``, the record ``run`` keeps of its stages (its cache).
"""
