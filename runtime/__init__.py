"""``dfard_pipeline.runtime`` (this folder, ``runtime/``, is mapped onto that package name by
pyproject.toml's ``package-dir``): device profiles, verification (``verify.verify_artifact``), the
on-device bundle and its torch-free device script, and reports."""
