"""The ``teacher`` stage as a function: train, report, write checkpoint + resolved config."""

from __future__ import annotations

from pathlib import Path

from dfard_pipeline.artifacts.project_checkpoint import write_checkpoint
from dfard_pipeline.config import PipelineConfig, to_dict, write_yaml_atomic
from dfard_pipeline.teacher.train import TeacherResult, train_teacher


def run_teacher_command(config: PipelineConfig, out: Path, quiet: bool = False) -> TeacherResult:
    cfg = config.teacher
    result = train_teacher(cfg, seed=config.seed, progress=not quiet)
    metrics = {"test": result.test.to_dict(), "dataset": cfg.dataset, "train_seconds": result.seconds,
               "precision": result.precision, "precision_choice": cfg.precision}
    write_checkpoint(result.model, out, kind="teacher", eps=cfg.eps, metrics=metrics,
                    extra={"trained_with": cfg.method, "seed": config.seed})
    write_yaml_atomic(to_dict(config), out.with_suffix(".config.yaml"))
    return result


def summary(config: PipelineConfig, result: TeacherResult, out: Path) -> str:
    """The line the CLI and ``run`` show for a trained teacher."""
    cfg, t = config.teacher, result.test
    return (f"teacher {cfg.arch} on {cfg.dataset} test ({t.n} images, eps {cfg.eps:g}): "
            f"clean {t.clean_accuracy:.2%}  PGD-20 {t.attacks['pgd20']:.2%}  "
            f"worst-case {t.robust_accuracy:.2%}  ({result.seconds:.0f} s) -> {out}")
