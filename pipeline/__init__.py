"""dfard-pipeline: data-free adversarial robustness distillation, export and verification.

The import package is ``dfard_pipeline``; its subpackages map onto the repository's top-level
folders (``pipeline/`` -> ``dfard_pipeline``, ``export/`` -> ``dfard_pipeline.export``,
``runtime/`` -> ``dfard_pipeline.runtime``).
"""

__version__ = "0.1.0"
