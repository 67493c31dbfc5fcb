"""Checkpoints: this project's format, and loading teachers from the formats users hold."""

from dfard_pipeline.checkpoint.project import (
    FORMAT,
    file_sha256,
    is_project_checkpoint,
    library_versions,
    model_from_payload,
    plain_state_dict,
    save_checkpoint,
)
from dfard_pipeline.checkpoint.teacher_loader import LoadedModel, check_teacher, load_teacher

__all__ = ["FORMAT", "LoadedModel", "check_teacher", "file_sha256", "is_project_checkpoint",
           "library_versions", "load_teacher", "model_from_payload", "plain_state_dict", "save_checkpoint"]
