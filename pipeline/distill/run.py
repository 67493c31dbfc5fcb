"""The ``distill`` stage as a function: load the teacher, build the student, train, write the
run folder (student.pt, generator.pt, metrics.jsonl, config.resolved.yaml, checkpoints/)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from dfard_pipeline.artifacts.generator_file import write_generator
from dfard_pipeline.artifacts.project_checkpoint import write_checkpoint
from dfard_pipeline.artifacts.provenance import weights_sha256
from dfard_pipeline.atomic import folder_writable, write_text_atomic
from dfard_pipeline.checkpoint import load_teacher
from dfard_pipeline.config import PipelineConfig, to_dict, write_yaml_atomic
from dfard_pipeline.device import (
    check_precision,
    precision_warning,
    resolve_device,
    resolve_precision,
    set_deterministic,
)
from dfard_pipeline.distill.distributed import init_distributed, shutdown_distributed
from dfard_pipeline.distill.phases import PHASES, phase_totals
from dfard_pipeline.distill.teacher_stats import announce_priors, feature_statistics, health_warning
from dfard_pipeline.distill.trainer import DistillTrainer, LoopState
from dfard_pipeline.errors import UsageError, ValidationError
from dfard_pipeline.folder_lock import distill_lock
from dfard_pipeline.models import count_parameters, create_model
from dfard_pipeline.outputs import GENERATOR_FILE, STUDENT_FILE

# Options that do not change the training trajectory, so a resume may differ in them.
_NOT_IN_FINGERPRINT = ("checkpoint_minutes", "eval_data")
# Options added after checkpoints were already being written, with the value that reproduces the older
# trajectory: they count only when set otherwise, so a checkpoint from before them still resumes.
_ADDED_LATER = {"agreement": "absolute", "synthetic_augment": "none", "class_sampling": "uniform",
                "class_weighting": "uniform"}


@dataclass(frozen=True)
class DistillOutputs:
    out_dir: Path
    student: Path
    generator: Path
    metrics: Path
    final: dict
    summary: tuple[str, ...] = ()  # what the caller shows the user at the end (stdout)
    warnings: tuple[str, ...] = ()  # and what it warns about (stderr)


def _silent(_message: str) -> None:
    pass


def _fingerprint(config: PipelineConfig, teacher_sha: str, world_size: int) -> str:
    distill = {k: v for k, v in to_dict(config.distill).items()
               if k not in _NOT_IN_FINGERPRINT and (k not in _ADDED_LATER or v != _ADDED_LATER[k])}
    blob = json.dumps({"distill": distill, "seed": config.seed, "teacher": teacher_sha,
                       "world": world_size}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def _holds_run(folder: Path) -> bool:
    return (folder / STUDENT_FILE).exists() or (folder / "checkpoints" / "last.pt").exists()


def staging_dir(out_dir: Path) -> Path:
    """Where ``--overwrite`` builds the new run, beside the old one, until it is complete."""
    return out_dir.with_name(f".{out_dir.name}.overwrite")


def resumable_checkpoint(out_dir: Path) -> Path | None:
    """The checkpoint ``--resume`` would continue from: an interrupted ``--overwrite`` run's first."""
    for folder in (staging_dir(out_dir), out_dir):
        if (folder / "checkpoints" / "last.pt").is_file():
            return folder / "checkpoints" / "last.pt"
    return None


def _work_dir(out_dir: Path, resume: bool, overwrite: bool) -> Path:
    """The folder training writes into: ``out_dir``, or its staging folder when an existing run is
    being replaced (so an interrupted or failed run leaves the old one exactly as it was)."""
    if resume and (staging_dir(out_dir) / "checkpoints" / "last.pt").is_file():
        return staging_dir(out_dir)
    return staging_dir(out_dir) if overwrite and _holds_run(out_dir) else out_dir


def _prepare_out_dir(out_dir: Path, work_dir: Path, resume: bool, overwrite: bool) -> None:
    if resume and overwrite:
        raise UsageError("--resume and --overwrite contradict each other; pass one")
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"--out {out_dir} is a file; a run folder is needed")
    if _holds_run(out_dir) and not (resume or overwrite):
        raise UsageError(f"{out_dir} already holds a distill run; pass --resume to continue it "
                         "or --overwrite to start again")
    if not folder_writable(out_dir.parent):
        raise UsageError(f"cannot write the run folder {out_dir}: {out_dir.parent} is not writable")


def _start_work_dir(out_dir: Path, work_dir: Path, resume: bool, log: Callable[[str], None]) -> None:
    """Called once every input is known good: nothing is written or removed before."""
    if work_dir != out_dir:
        if not resume and work_dir.exists():
            shutil.rmtree(work_dir)  # an earlier --overwrite that never finished; this one replaces it
        log(f"building the new run in {work_dir}; {out_dir} is replaced only when it is complete")
    (work_dir / "checkpoints").mkdir(parents=True, exist_ok=True)


def _publish(work_dir: Path, out_dir: Path) -> None:
    """Swap a complete staged run in for the old one (two renames; the old run is removed last)."""
    if work_dir == out_dir:
        return
    retired = out_dir.with_name(f".{out_dir.name}.replaced")
    if retired.exists():
        shutil.rmtree(retired)
    if out_dir.exists():
        os.replace(out_dir, retired)
    os.replace(work_dir, out_dir)
    shutil.rmtree(retired, ignore_errors=True)


def write_metrics(path: Path, history: list) -> None:
    write_text_atomic(path, "".join(json.dumps(r) + "\n" for r in history))


def run_distill(config: PipelineConfig, teacher_path: str, out_dir: Path, *, trust: bool = False, resume: bool = False,
                overwrite: bool = False, quiet: bool = False,
                log: Callable[[str], None] = _silent) -> DistillOutputs:
    """Distill a student from the teacher file into ``out_dir``. ``log`` receives the lines meant for
    the user as the run starts (which prior is used, warnings); the returned outputs carry the
    closing summary and warnings. Only ``quiet`` progress bars are drawn here."""
    device = resolve_device(config.distill.device)
    # `auto` becomes what this machine runs (recorded in the student); everything below sees it resolved
    precision_choice, as_given = config.distill.precision, config
    config = replace(config, distill=replace(config.distill, precision=resolve_precision(device, precision_choice)))
    cfg = config.distill
    check_precision(device, cfg.precision)  # fail before any output is written
    restore_flags = set_deterministic(cfg.deterministic)  # restored on return: a library call leaves no trace
    dist = init_distributed(device.type)
    if dist.is_main and (warning := precision_warning(device, cfg.precision)):
        log(f"warning: {warning}")
    stack = contextlib.ExitStack()
    # the global RNG (seeded below for identical initial weights on every rank) comes back as it was
    stack.enter_context(torch.random.fork_rng(devices=[device.index or 0] if device.type == "cuda" else []))
    feature_stats = None
    try:
        if dist.enabled and device.type == "cuda":
            device = torch.device("cuda", dist.local_rank)
        final_dir, out_dir = out_dir, _work_dir(out_dir, resume, overwrite)
        dist.barrier()  # every rank has chosen the folder before the main rank touches it
        if dist.is_main:
            _prepare_out_dir(final_dir, out_dir, resume, overwrite)
        loaded = load_teacher(teacher_path, arch=config.teacher.checkpoint_arch, trust=trust,
                              input_shape=config.teacher.input_shape)
        contract = loaded.contract
        torch.manual_seed(config.seed)  # the student's initial weights, identical on every rank
        student = create_model(cfg.student, in_chans=contract.shape[0], image_size=contract.shape[1],
                               num_classes=contract.num_classes, mean=contract.mean, std=contract.std)
        contract.check_compatible(student.contract, what=f"student '{cfg.student}'")
        teacher, feature_stats = feature_statistics(loaded.module, contract.shape)
        teacher = teacher.to(device)
        priors = {**feature_stats.describe(), "used": feature_stats.available and cfg.feature_prior == "auto"}
        metrics_path = out_dir / "metrics.jsonl"
        trainer = DistillTrainer(
            cfg, teacher, student, contract.num_classes, contract.shape, device, dist, config.seed,
            out_dir / "checkpoints" / "last.pt", _fingerprint(config, loaded.sha256, dist.world_size),
            progress=not quiet, on_epoch=lambda history: write_metrics(metrics_path, history),
            feature_stats=feature_stats)
        if cfg.data is not None:
            trainer.ctx.real_images = _real_images(cfg.data, contract)
            log(f"with data: the student learns on {len(trainer.ctx.real_images)} real images from {cfg.data} "
                "(their labels unused), not on generator samples")
        if resume:
            trainer.resume()  # a damaged checkpoint is refused before anything is written or said
        if dist.is_main:
            stack.enter_context(distill_lock(final_dir, log))  # a second distill into this folder is refused
            _prepare_out_dir(final_dir, out_dir, resume, overwrite)  # again: another may have finished meanwhile
            log(announce_priors(priors, loaded.source_format))
            _start_work_dir(final_dir, out_dir, resume, log)
            write_yaml_atomic(to_dict(as_given), out_dir / "config.resolved.yaml")  # `auto` as given; the student
            # records what it resolved to (precision, precision_choice)
        dist.barrier()
        state = trainer.fit()
        checksums = dist.gather_objects(weights_sha256(trainer.final_student))
        if len(set(checksums)) != 1:
            raise ValidationError(f"distributed ranks ended with different student weights: {checksums}")
        final, summary = {}, ()
        if dist.is_main:
            final = _write_outputs(config, trainer, state, loaded, out_dir, metrics_path, checksums, teacher_path,
                                   priors, precision_choice)
            _publish(out_dir, final_dir)
            summary = _summary(cfg, trainer.final_student, loaded, state, final, final_dir)
        # Every rank leaves together: a rank tearing down gloo while another still works aborts.
        dist.barrier()
        warnings = (final["health_warning"],) if final.get("health_warning") else ()
        return DistillOutputs(final_dir, final_dir / STUDENT_FILE, final_dir / GENERATOR_FILE,
                              final_dir / "metrics.jsonl", final, summary, warnings)
    finally:
        if feature_stats is not None:
            feature_stats.close()
        stack.close()
        shutdown_distributed(dist)
        restore_flags()


def _real_images(spec: str, contract) -> torch.Tensor:
    """The train images of ``distill.data`` (the with-data upper bound), checked against the teacher's input."""
    from dfard_pipeline.data import load_dataset

    data = load_dataset(spec, "train")
    if tuple(data.shape) != tuple(contract.shape):
        raise UsageError(f"distill --data {spec}: images are {data.shape}, the teacher takes {contract.shape}")
    return data.x


def _write_outputs(config, trainer, state: LoopState, loaded, out_dir, metrics_path, checksums, teacher_path,
                   priors, precision_choice: str):
    cfg = config.distill
    student = trainer.final_student.float().cpu().eval()
    generator = trainer.ctx.generator.float().cpu().eval()
    final = {"epochs": state.epoch, "tau": state.tau, "robust_agreement_synthetic": state.agreement,
             "feature_prior": priors, "health": state.history[-1].get("health") if state.history else None,
             # with data the student never sees the generator's samples: their health is not its concern
             "health_warning": None if cfg.data is not None else health_warning(state.history),
             "wall_time": state.elapsed, "method": cfg.method, "world_size": len(checksums),
             "rank_weight_sha256": checksums}
    if cfg.eval_data == "digits":
        from dfard_pipeline.data import load_dataset
        from dfard_pipeline.evaluation import evaluate_robustness

        test = load_dataset("digits", "test")
        final["eval_digits_test"] = evaluate_robustness(student, test, cfg.eps, seed=config.seed).to_dict()
    teacher_info = {"teacher_sha256": loaded.sha256, "teacher_format": loaded.source_format,
                    "teacher_path": str(Path(teacher_path).resolve()),
                    "teacher_arch": loaded.arch, "teacher_input_shape": list(loaded.contract.shape),
                    "seed": config.seed, "method": cfg.method,
                    "student_loss": cfg.student_loss, "precision": cfg.precision,
                    "precision_choice": precision_choice,
                    "memory_format": str(trainer.memory_format).removeprefix("torch.")}
    write_checkpoint(student, out_dir / STUDENT_FILE, kind="student", eps=cfg.eps, metrics=final, extra=teacher_info)
    write_generator(generator, loaded.sha256, out_dir / GENERATOR_FILE)
    write_metrics(metrics_path, state.history)
    return final


def _summary(cfg, student, loaded, state: LoopState, final: dict, out_dir: Path) -> tuple[str, ...]:
    lines = [f"distilled {cfg.student} ({count_parameters(student):,} params) from "
             f"{loaded.arch or loaded.source_format} teacher: {state.epoch} epochs in "
             f"{state.elapsed:.0f} s, final tau {state.tau:.2f}, robust agreement on synthetic "
             f"probe {state.agreement:.1%} -> {out_dir}"]
    phases = phase_totals(state.history)  # CPU runs: where the distill's time went
    if phases and state.elapsed > 0:
        lines.append("time by phase: " + ", ".join(f"{name} {phases[key] / state.elapsed:.0%}"
                                                   for key, name in PHASES.items()))
    if "eval_digits_test" in final:
        e = final["eval_digits_test"]
        lines.append(f"digits test ({e['n']} images, eps {e['eps']:g}): clean {e['clean_accuracy']:.2%}"
                     f"  PGD-20 {e['attacks']['pgd20']:.2%}  worst-case {e['robust_accuracy']:.2%}")
    return tuple(lines)
