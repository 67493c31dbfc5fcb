"""Strict YAML configs as frozen dataclasses."""

from pathlib import Path

from dfard_pipeline.config.loader import (
    from_dict,
    load_yaml,
    to_dict,
    with_overrides,
    write_yaml_atomic,
)
from dfard_pipeline.config.schema import (
    DistillConfig,
    ExportConfig,
    ExportTarget,
    PipelineConfig,
    TeacherConfig,
    VerifyConfig,
)


def load_config(path: str | Path | None) -> PipelineConfig:
    """The pipeline config at ``path``, or the defaults when ``path`` is None."""
    return PipelineConfig() if path is None else load_yaml(path, PipelineConfig)


__all__ = [
    "DistillConfig", "ExportConfig", "ExportTarget", "PipelineConfig", "TeacherConfig",
    "VerifyConfig", "from_dict", "load_config", "load_yaml", "to_dict", "with_overrides",
    "write_yaml_atomic",
]
