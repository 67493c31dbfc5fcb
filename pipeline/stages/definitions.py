"""The five stages of ``run``. Each names its inputs (what its fingerprint hashes), its outputs,
and how to produce them; ``pipeline.py`` decides whether it runs or is served from the cache."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dfard_pipeline import __version__
from dfard_pipeline.artifacts.provenance import file_sha256
from dfard_pipeline.config import PipelineConfig, to_dict
from dfard_pipeline.outputs import GENERATOR_FILE, RUN_DISTILL, RUN_EXPORT, TEACHER, run_artifact, run_student


@dataclass
class RunContext:
    config: PipelineConfig
    folder: Path
    quiet: bool = False
    config_dir: Path = Path(".")
    trust_teacher: bool = False  # run --trust-checkpoint: the teacher file may hold pickled Python
    notes: dict[str, Any] = field(default_factory=dict)  # per stage: skipped items and results
    # the two channels a caller gives: progress lines (silenced by quiet) and result lines (always);
    # library code prints nothing itself (the CLI passes click.echo to stderr and stdout)
    progress: Callable[[str], None] = lambda _message: None
    result: Callable[[str], None] = lambda _message: None

    def say(self, message: str) -> None:
        if not self.quiet:
            self.progress(message)

    @property
    def teacher_path(self) -> Path:
        given = self.config.teacher.checkpoint
        if not given:
            return self.folder / TEACHER.name
        path = Path(given).expanduser()
        return path if path.is_absolute() or path.exists() else self.config_dir / path

    @property
    def distill_dir(self) -> Path:
        return self.folder / RUN_DISTILL

    def artifacts(self) -> list[Path]:
        return [run_artifact(self.folder, t.precision, t.format) for t in self.config.export.targets]


def _hash(path: Path) -> str | None:
    return file_sha256(path) if path.is_file() else None


# --- inputs: what each stage's fingerprint covers --------------------------------------------

def teacher_cache_inputs(ctx: RunContext) -> dict:
    return {"teacher": to_dict(ctx.config.teacher), "seed": ctx.config.seed, "version": __version__}


def distill_cache_inputs(ctx: RunContext) -> dict:
    return {"distill": to_dict(ctx.config.distill), "seed": ctx.config.seed, "teacher": _hash(ctx.teacher_path),
            "version": __version__}


def export_cache_inputs(ctx: RunContext) -> dict:
    d = ctx.distill_dir
    return {"export": to_dict(ctx.config.export), "seed": ctx.config.seed, "student": _hash(run_student(ctx.folder)),
            "generator": _hash(d / GENERATOR_FILE), "version": __version__}


def verify_cache_inputs(ctx: RunContext) -> dict:
    return {"verify": to_dict(ctx.config.verify), "seed": ctx.config.seed, "version": __version__,
            "artifacts": {p.name: _hash(p) for p in ctx.artifacts()}, "student": _hash(run_student(ctx.folder))}


def report_cache_inputs(ctx: RunContext) -> dict:
    d = ctx.distill_dir
    files = [ctx.teacher_path, run_student(ctx.folder), d / GENERATOR_FILE, d / "metrics.jsonl", *ctx.artifacts(),
             *sorted((ctx.folder / "verify").glob("*/verify.json"))]
    # keyed by path inside the run folder, so a moved or copied run folder stays cached
    return {"files": {_relative(p, ctx.folder): _hash(p) for p in files}, "verify": to_dict(ctx.config.verify),
            "version": __version__}


def _relative(path: Path, folder: Path) -> str:
    try:
        return str(path.relative_to(folder))
    except ValueError:
        return str(path)


# --- the work ---------------------------------------------------------------------------------

def run_teacher(ctx: RunContext, resume: bool = False) -> list[Path]:
    from dfard_pipeline.teacher.run import run_teacher_command, summary

    result = run_teacher_command(ctx.config, ctx.teacher_path, quiet=ctx.quiet)
    ctx.result(summary(ctx.config, result, ctx.teacher_path))
    return [ctx.teacher_path]


def run_distill_stage(ctx: RunContext, resume: bool) -> list[Path]:
    from dfard_pipeline.distill.run import run_distill

    out = run_distill(ctx.config, str(ctx.teacher_path), ctx.distill_dir, trust=ctx.trust_teacher, resume=resume,
                      overwrite=not resume, quiet=ctx.quiet, log=ctx.progress)
    for warning in out.warnings:
        ctx.progress(f"warning: {warning}")
    for line in out.summary:
        ctx.result(line)
    return [out.student, out.generator, out.metrics]


def run_export(ctx: RunContext, resume: bool = False) -> list[Path]:
    from dfard_pipeline.artifacts.export_manifest import manifest_path
    from dfard_pipeline.errors import ToolchainMissing
    from dfard_pipeline.export.api import export_model
    from dfard_pipeline.export.spec import ExportRequest

    (ctx.folder / RUN_EXPORT).mkdir(exist_ok=True)
    outputs, skipped = [], {}
    cfg = ctx.config.export
    for target, path in zip(cfg.targets, ctx.artifacts(), strict=True):
        request = ExportRequest.from_config(ctx.config, run_student(ctx.folder), target, out=path,
                                            overwrite=True)
        try:  # a format whose toolchain or device is missing here is skipped, not an error of the run
            result = export_model(request, log=lambda msg: ctx.say(f"    {msg}"))
        except ToolchainMissing as exc:  # export_model checks it first, before any work
            skipped[path.name] = str(exc)
            ctx.say(f"  skipped {path.name}: {exc}")
            continue
        ctx.say(f"  {path.name}: parity " + ", ".join(f"{p.name} {p.top1_agreement:.2%}" for p in result.parity))
        outputs += [result.path, manifest_path(result.path)]
    ctx.notes["export"] = {"skipped": skipped}
    return outputs


def _can_run_here(device: str, artifact: Path) -> str | None:
    """None when verify can run ``artifact`` on ``device`` here, else the reason it cannot."""
    from dfard_pipeline.errors import UsageError
    from dfard_pipeline.runtime.target import resolve_target

    try:
        target = resolve_target(device, artifact, emulate=False)
    except UsageError as exc:
        return str(exc)
    if target.profile.runtime == "onnxruntime":
        from dfard_pipeline.backends.onnxruntime_runner import missing_providers

        missing = missing_providers(target.providers)
        if missing:
            return f"ONNX Runtime here has no {', '.join(missing)}"
    return None


def verify_key(artifact: Path, device: str) -> str:
    """The folder name of one verification inside ``RUN/verify``: the artifact and the device profile's
    name (a profile file's stem), with anything but letters, digits, ``.``, ``_`` and ``-`` replaced:
    a device string can never name a folder outside the run."""
    from dfard_pipeline.outputs import device_label, safe_name

    return safe_name(f"{artifact.name}-{device_label(device)}").lstrip(".") or "verify"


def _export_skip_reason(ctx: RunContext, artifact: Path) -> str | None:
    """Why ``artifact`` was not exported here (its toolchain is missing), recomputed, never read back."""
    from dfard_pipeline.errors import ToolchainMissing
    from dfard_pipeline.export.formats import FORMATS

    target = next(t for t, p in zip(ctx.config.export.targets, ctx.artifacts(), strict=True) if p == artifact)
    try:
        FORMATS[target.format].check_environment()
    except ToolchainMissing as exc:
        return str(exc)
    return None


def planned_verifications(ctx: RunContext) -> tuple[dict[str, tuple[Path, str]], dict[str, str]]:
    """What the verify stage must produce, derived from the config (artifacts x devices) and this
    machine: ``{key: (artifact, device)}``, and ``{key: reason}`` for the pairs that cannot run here
    (a toolchain or execution provider this machine lacks). ``run``'s verdict requires every planned
    one; nothing in run.json can remove one."""
    planned, skipped = {}, {}
    for artifact in ctx.artifacts():
        for device in ctx.config.verify.devices:
            key = verify_key(artifact, device)
            reason = _export_skip_reason(ctx, artifact) if not artifact.is_file() else _can_run_here(device, artifact)
            if reason:
                skipped[key] = reason
            else:
                planned[key] = (artifact, device)
    return planned, skipped


def run_verify(ctx: RunContext, resume: bool = False) -> list[Path]:
    from dfard_pipeline.runtime.verify import VerifyRequest, verify_artifact
    from dfard_pipeline.runtime.writing import write_verify_outputs

    cfg = ctx.config.verify
    outputs, results, reference_cache = [], {}, {}
    planned, skipped = planned_verifications(ctx)
    for key, reason in skipped.items():
        ctx.say(f"  skipped {key}: {reason}")
    for key, (artifact, device) in planned.items():
        ctx.say(f"  verifying {artifact.name} on {device}")
        result = verify_artifact(VerifyRequest(artifact=artifact, device=device, data=cfg.data, n=cfg.n,
                                               reference=run_student(ctx.folder), seed=ctx.config.seed,
                                               trust_teacher=ctx.trust_teacher),
                                 progress=lambda msg: ctx.say(f"    {msg}"), bars=not ctx.quiet,
                                 reference_cache=reference_cache)
        json_file, md_file = write_verify_outputs(result, ctx.folder / "verify" / key)
        results[key] = result.passed
        ctx.say(f"    {result.headline()}")
        for line in result.problems():
            ctx.say(f"      {line}")
        outputs += [json_file, md_file]
    ctx.notes["verify"] = {"skipped": skipped, "passed": results}
    return outputs


def run_report(ctx: RunContext, resume: bool = False) -> list[Path]:
    from dfard_pipeline.runtime.run_report import write_run_report

    return write_run_report(ctx)


# --- the registry: what run, its cache and --from/--only read -------------------------------

def _distill_resumable(ctx: RunContext) -> bool:
    from dfard_pipeline.distill.run import resumable_checkpoint

    return resumable_checkpoint(ctx.distill_dir) is not None


def _teacher_given(ctx: RunContext) -> str | None:
    given = ctx.config.teacher.checkpoint
    return f"the config names a teacher checkpoint ({ctx.teacher_path})" if given else None


@dataclass(frozen=True)
class Stage:
    """One stage of ``run``: its name, the files it needs from earlier stages, what its cache
    fingerprint covers, how it runs (``resume``: continue an interrupted run of the same inputs),
    and when the config makes it unnecessary."""

    name: str
    inputs: Callable[[RunContext], dict]
    run: Callable[[RunContext, bool], list[Path]]
    needs: Callable[[RunContext], list[Path]] = lambda ctx: []
    skip_reason: Callable[[RunContext], str | None] = lambda ctx: None
    resumable: Callable[[RunContext], bool] = lambda ctx: False


def _student(ctx: RunContext) -> list[Path]:
    return [run_student(ctx.folder)]


STAGES: tuple[Stage, ...] = (
    Stage("teacher", teacher_cache_inputs, run_teacher, skip_reason=_teacher_given),
    Stage("distill", distill_cache_inputs, run_distill_stage, needs=lambda ctx: [ctx.teacher_path],
          resumable=_distill_resumable),
    Stage("export", export_cache_inputs, run_export, needs=_student),
    Stage("verify", verify_cache_inputs, run_verify, needs=_student),
    Stage("report", report_cache_inputs, run_report, needs=_student),
)
STAGE_NAMES = tuple(stage.name for stage in STAGES)
