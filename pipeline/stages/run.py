"""``run_pipeline``: run the stages in order, each skipped when run.json says its inputs and outputs
are unchanged; once a stage runs, every stage after it runs too (its inputs have changed)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from dfard_pipeline.artifacts.run_manifest import RunManifest, fingerprint
from dfard_pipeline.atomic import folder_writable
from dfard_pipeline.config import PipelineConfig, to_dict, write_yaml_atomic
from dfard_pipeline.errors import UsageError
from dfard_pipeline.folder_lock import run_lock
from dfard_pipeline.stages import definitions as steps


@dataclass
class RunOutcome:
    folder: Path
    ran: list[str]
    cached: list[str]
    skipped: dict[str, str]
    gates_passed: bool
    seconds: float
    verified: bool = True  # False when the verify stage was not selected (--only, --from report)
    verdict_note: str | None = None  # why the verdict is FAILED, in a few words


def _selected(from_stage: str | None, only: str | None) -> list[str]:
    names = steps.STAGE_NAMES
    for option, value in (("--from", from_stage), ("--only", only)):
        if value is not None and value not in names:
            raise UsageError(f"{option} {value}: stages are {', '.join(names)}")
    if from_stage and only:
        raise UsageError("--from and --only contradict each other; pass one")
    if only:
        return [only]
    start = names.index(from_stage) if from_stage else 0
    return list(names[start:])


def _check_upstream(ctx: steps.RunContext, stage: steps.Stage) -> None:
    missing = [p for p in stage.needs(ctx) if not p.is_file()]
    if missing:
        raise UsageError(f"stage {stage.name} needs {', '.join(map(str, missing))}; run the earlier stages first "
                         "(drop --only/--from)")


def _verdict(ctx: steps.RunContext, manifest: RunManifest) -> tuple[bool, str | None]:
    """PASSED when every verification the config plans here (artifacts x devices, minus what this
    machine cannot run: ``steps.planned_verifications``) has a verify.json that passed, read from the
    file itself and checked against the sha256 run.json recorded when verify wrote it; at least one
    is required. Returns (passed, why not)."""
    from dfard_pipeline.artifacts.verify_result import read_verify_result
    from dfard_pipeline.errors import ResultFileError

    planned, skipped = steps.planned_verifications(ctx)
    if not planned:
        why = "; ".join(f"{k}: {v}" for k, v in skipped.items()) or "the config lists no artifact or device"
        return False, f"nothing was verified ({why})"
    recorded = manifest.stage("verify").outputs
    failed = []
    for key in planned:
        rel = f"verify/{key}/verify.json"
        path = manifest.folder / rel
        if rel not in recorded or not manifest.output_intact(rel, recorded[rel]):
            raise UsageError(f"{path} is missing, changed or not recorded since verify ran; re-run it with "
                             "--from verify")
        try:
            if not read_verify_result(path).gates_passed:
                failed.append(key)
        except ResultFileError as exc:
            raise UsageError(f"{exc}; re-run it with --from verify") from None
    return not failed, (f"failed: {', '.join(failed)}" if failed else None)


def _check_profiles(config: PipelineConfig) -> None:
    """Every device the config names is a profile that exists and loads: a typo is a usage error
    before any work, never a verification quietly skipped."""
    from dfard_pipeline.runtime.profiles import load_profile

    for device in config.verify.devices:
        if device != "jetson":  # `jetson` is resolved on the device (verify --device jetson)
            load_profile(device)


def _preflight(ctx: steps.RunContext, selected: list[str]) -> None:
    """The refusals that need no work, made before the run folder is touched."""
    config = ctx.config
    _check_profiles(config)
    if config.teacher.checkpoint and not ctx.teacher_path.is_file():
        raise UsageError(f"teacher.checkpoint {ctx.teacher_path} not found")
    first = next((stage for stage in steps.STAGES if stage.name in selected and not stage.skip_reason(ctx)), None)
    if first is not None:
        _check_upstream(ctx, first)
    if ctx.folder.exists() and not ctx.folder.is_dir():
        raise UsageError(f"--out {ctx.folder} is a file; a run folder is needed")
    if not folder_writable(ctx.folder):
        raise UsageError(f"cannot write the run folder {ctx.folder}: not writable")


def run_pipeline(config: PipelineConfig, folder: Path, *, config_path: Path | None = None,
                 from_stage: str | None = None, only: str | None = None, force: bool = False,
                 quiet: bool = False, trust_teacher: bool = False,
                 progress: Callable[[str], None] = lambda _message: None,
                 result: Callable[[str], None] = lambda _message: None) -> RunOutcome:
    """Run the selected stages into ``folder``; ``progress`` receives progress lines (not with
    ``quiet``), ``result`` each stage's result lines. Nothing is printed here."""
    started = time.perf_counter()
    selected = _selected(from_stage, only)
    ctx = steps.RunContext(config, folder, quiet=quiet, config_dir=config_path.parent if config_path else Path("."),
                           trust_teacher=trust_teacher, progress=progress, result=result)
    ran, cached, skipped = [], [], {}
    _preflight(ctx, selected)
    with run_lock(folder, progress):
        manifest = RunManifest(folder)
        manifest.config = {"path": str(config_path) if config_path else None, "sha256": fingerprint(to_dict(config))}
        write_yaml_atomic(to_dict(config), folder / "config.resolved.yaml")
        manifest.save()
        upstream_ran = False
        for index, stage in enumerate(steps.STAGES, 1):
            name, label = stage.name, f"[{index}/{len(steps.STAGES)}] {stage.name}"
            if reason := stage.skip_reason(ctx):
                skipped[name] = reason
                manifest.mark(name, "skipped", reason=reason)
                ctx.say(f"{label}: skipped, {reason}")
                continue
            if name not in selected:
                continue
            _check_upstream(ctx, stage)
            inputs = stage.inputs(ctx)
            stage_fingerprint = fingerprint(inputs)
            forced = force or from_stage == name
            if not forced and not upstream_ran and manifest.is_cached(name, stage_fingerprint):
                cached.append(name)
                ctx.notes[name] = manifest.stage(name).notes
                ctx.say(f"{label}: cached (inputs unchanged)")
                continue
            previous = manifest.stage(name)
            resume = (previous.fingerprint == stage_fingerprint
                      and previous.status in ("running", "interrupted") and stage.resumable(ctx))
            ctx.say(f"{label}: {'resuming' if resume else 'running'}")
            manifest.start(name, stage_fingerprint, inputs)
            try:
                outputs = stage.run(ctx, resume)
            except BaseException:
                manifest.mark(name, "interrupted")
                raise
            manifest.finish(name, outputs, notes=ctx.notes.get(name, {}))
            ran.append(name)
            upstream_ran = True
        verified = "verify" in selected and "verify" not in skipped
        gates_passed, why = _verdict(ctx, manifest) if verified else (True, None)
        manifest.passed = gates_passed if verified else None  # for people reading run.json; never read back
        manifest.save()
    return RunOutcome(folder, ran, cached, skipped, gates_passed, time.perf_counter() - started, verified, why)

