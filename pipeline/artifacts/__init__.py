"""The files the stages hand to each other, one module per kind: its format tag, path convention,
writer and validating reader. Low in the house: it imports models and errors, never a stage
(distill, export, runtime) nor the loaders in ``checkpoint``, so every stage, the CLI and the report
read a file the same way and no two stages import each other to share one.

- ``project_checkpoint``: ``teacher.pt`` and ``student.pt``, as a typed ``ProjectCheckpoint`` (loaded
  for inference by ``checkpoint.load_project_model``);
- ``generator_file``: a distill run's ``generator.pt`` (read by INT8 calibration, verify's generator
  data and the report);
- ``export_manifest``: the ``ARTIFACT.json`` sidecar export writes beside each artifact (read by
  verify, the device bundle and the runners), as a typed ``ExportManifest``;
- ``verify_result``: ``verify.json`` (written by verify, read by ``run``'s verdict and the report);
- ``run_manifest``: ``run.json``, the record ``run`` keeps of its stages (its cache).

Beside them: ``provenance`` (content hashes, library versions) and ``torch_files`` (layout-free
weights; why ``torch.load(weights_only=True)`` refused a file).
"""
