"""Loading models for inference: this project's checkpoints (``load_project_model``) and teachers
from the formats users hold (``load_teacher``). The checkpoint file itself, its format, reader and
writer, is ``dfard_pipeline.artifacts.project_checkpoint``."""

from dfard_pipeline.checkpoint.loaded import LoadedModel, check_teacher, load_project_model
from dfard_pipeline.checkpoint.teacher_loader import load_teacher

__all__ = ["LoadedModel", "check_teacher", "load_project_model", "load_teacher"]
