"""The ``distill`` stage as a function: load the teacher, build the student, train, write the
run folder (student.pt, generator.pt, metrics.jsonl, config.resolved.yaml, checkpoints/)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import click
import torch

from dfard_pipeline.atomic import save_torch_atomic, write_text_atomic
from dfard_pipeline.checkpoint import load_teacher, plain_state_dict, save_checkpoint
from dfard_pipeline.config import PipelineConfig, to_dict, write_yaml_atomic
from dfard_pipeline.device import check_precision, precision_warning, resolve_device
from dfard_pipeline.distill.distributed import init_distributed, shutdown_distributed
from dfard_pipeline.distill.trainer import DistillTrainer, LoopState
from dfard_pipeline.errors import UsageError, ValidationError
from dfard_pipeline.models import count_parameters, create_model

GENERATOR_FORMAT = "dfard-pipeline.generator"
# Options that do not change the training trajectory, so a resume may differ in them.
_NOT_IN_FINGERPRINT = ("checkpoint_minutes", "eval_data")


@dataclass(frozen=True)
class DistillOutputs:
    out_dir: Path
    student: Path
    generator: Path
    metrics: Path
    final: dict


def _fingerprint(config: PipelineConfig, teacher_sha: str, world_size: int) -> str:
    distill = {k: v for k, v in to_dict(config.distill).items() if k not in _NOT_IN_FINGERPRINT}
    blob = json.dumps({"distill": distill, "seed": config.seed, "teacher": teacher_sha,
                       "world": world_size}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def _prepare_out_dir(out_dir: Path, resume: bool, overwrite: bool) -> None:
    if resume and overwrite:
        raise UsageError("--resume and --overwrite contradict each other; pass one")
    finished = (out_dir / "student.pt").exists() or (out_dir / "checkpoints" / "last.pt").exists()
    if finished and not (resume or overwrite):
        raise UsageError(f"{out_dir} already holds a distill run; pass --resume to continue it "
                         "or --overwrite to start again")
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"--out {out_dir} is a file; a run folder is needed")


def write_metrics(path: Path, history: list) -> None:
    write_text_atomic(path, "".join(json.dumps(r) + "\n" for r in history))


def run_distill(config: PipelineConfig, teacher_path: str, out_dir: Path, *,
                teacher_arch: str | None = None, trust: bool = False,
                input_shape: tuple[int, int, int] | None = None, resume: bool = False,
                overwrite: bool = False, quiet: bool = False) -> DistillOutputs:
    cfg = config.distill
    device = resolve_device(cfg.device)
    check_precision(device, cfg.precision)  # fail before any output is written
    dist = init_distributed(device.type)
    if dist.is_main and (warning := precision_warning(device, cfg.precision)):
        click.echo(f"warning: {warning}", err=True)
    try:
        if dist.enabled and device.type == "cuda":
            device = torch.device("cuda", dist.local_rank)
        if dist.is_main:
            _prepare_out_dir(out_dir, resume, overwrite)
        loaded = load_teacher(teacher_path, arch=teacher_arch, trust=trust, input_shape=input_shape)
        contract = loaded.contract
        torch.manual_seed(config.seed)  # the student's initial weights, identical on every rank
        student = create_model(cfg.student, in_chans=contract.shape[0], image_size=contract.shape[1],
                               num_classes=contract.num_classes, mean=contract.mean, std=contract.std)
        contract.check_compatible(student.contract, what=f"student '{cfg.student}'")
        teacher = loaded.module.to(device)
        metrics_path = out_dir / "metrics.jsonl"
        if dist.is_main:
            (out_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
            write_yaml_atomic(to_dict(config), out_dir / "config.resolved.yaml")
        dist.barrier()
        trainer = DistillTrainer(
            cfg, teacher, student, contract.num_classes, contract.shape, device, dist, config.seed,
            out_dir / "checkpoints" / "last.pt", _fingerprint(config, loaded.sha256, dist.world_size),
            progress=not quiet, on_epoch=lambda history: write_metrics(metrics_path, history))
        if resume:
            trainer.resume()
        state = trainer.fit()
        checksums = dist.gather_objects(_weights_checksum(trainer.final_student))
        if len(set(checksums)) != 1:
            raise ValidationError(f"distributed ranks ended with different student weights: {checksums}")
        if dist.is_main:
            outputs = _write_outputs(config, trainer, state, loaded, out_dir, metrics_path, checksums,
                                     teacher_path)
        else:
            outputs = DistillOutputs(out_dir, out_dir / "student.pt", out_dir / "generator.pt",
                                     metrics_path, {})
        # Every rank leaves together: a rank tearing down gloo while another still works aborts.
        dist.barrier()
        return outputs
    finally:
        shutdown_distributed(dist)


def _weights_checksum(model: torch.nn.Module) -> str:
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def _write_outputs(config, trainer, state: LoopState, loaded, out_dir, metrics_path, checksums, teacher_path):
    cfg = config.distill
    student = trainer.final_student.float().cpu().eval()
    generator = trainer.ctx.generator.float().cpu().eval()
    final = {"epochs": state.epoch, "tau": state.tau, "robust_agreement_synthetic": state.agreement,
             "wall_time": state.elapsed, "method": cfg.method, "world_size": len(checksums),
             "rank_weight_sha256": checksums}
    if cfg.eval_data == "digits":
        from dfard_pipeline.data import load_dataset
        from dfard_pipeline.evaluation import evaluate_robustness

        test = load_dataset("digits", "test")
        final["eval_digits_test"] = evaluate_robustness(student, test, cfg.eps, seed=config.seed).to_dict()
    teacher_info = {"teacher_sha256": loaded.sha256, "teacher_format": loaded.source_format,
                    "teacher_path": str(Path(teacher_path).resolve()),
                    "teacher_arch": loaded.arch, "seed": config.seed, "method": cfg.method,
                    "student_loss": cfg.student_loss, "precision": cfg.precision,
                    "memory_format": str(trainer.memory_format).removeprefix("torch.")}
    student_path = save_checkpoint(student, out_dir / "student.pt", kind="student", eps=cfg.eps,
                                   metrics=final, extra=teacher_info)
    generator_path = save_torch_atomic(
        {"format": GENERATOR_FORMAT, "generator": generator.describe(),
         "state_dict": plain_state_dict(generator), "teacher_sha256": loaded.sha256},
        out_dir / "generator.pt")
    write_metrics(metrics_path, state.history)
    # The summary prints even with --quiet, which only silences progress bars.
    click.echo(f"distilled {cfg.student} ({count_parameters(student):,} params) from "
               f"{loaded.arch or loaded.source_format} teacher: {state.epoch} epochs in "
               f"{state.elapsed:.0f} s, final tau {state.tau:.2f}, robust agreement on synthetic "
               f"probe {state.agreement:.1%} -> {out_dir}")
    if "eval_digits_test" in final:
        e = final["eval_digits_test"]
        click.echo(f"digits test ({e['n']} images, eps {e['eps']:g}): clean {e['clean_accuracy']:.2%}"
                   f"  PGD-20 {e['attacks']['pgd20']:.2%}  worst-case {e['robust_accuracy']:.2%}")
    return DistillOutputs(out_dir, student_path, generator_path, metrics_path, final)
