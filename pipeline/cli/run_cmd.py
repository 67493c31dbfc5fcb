"""``dfard-pipeline run``: every stage of the pipeline, cached, resumable, with a report."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from dfard_pipeline.cli.options import quiet_option, trust_option
from dfard_pipeline.outputs import run_out
from dfard_pipeline.stages.definitions import STAGE_NAMES


@click.command(help="""Run the whole pipeline: teacher (when the config names no checkpoint) -> distill ->
export (every target the config lists) -> verify (every device profile that can run here) -> report.

\b
Examples:
  dfard-pipeline run                                   # configs/digits.yaml into runs/digits
  dfard-pipeline run configs/digits.yaml --out runs/exp1
  dfard-pipeline run configs/digits.yaml --from export # re-run export, verify and report
  dfard-pipeline run configs/digits.yaml --only report
  dfard-pipeline run configs/cifar10_cpu.yaml --data folder:data/cifar10   # CIFAR-10 on 2 CPU cores

Each stage is skipped when its inputs (file hashes and its resolved config, recorded in
OUT/run.json) are unchanged; changing an option re-runs that stage and all after it. An
interrupted run resumes where it stopped. Writes OUT/report.md and a self-contained report.html.
Exits 1 when any verify gate fails.""")
@click.argument("config", required=False, type=click.Path(dir_okay=False))
@click.option("--out", type=click.Path(file_okay=False), help="Run folder.  [default: runs/CONFIG_NAME]")
@click.option("--from", "from_stage", type=click.Choice(STAGE_NAMES), help="Re-run from this stage on.")
@click.option("--only", type=click.Choice(STAGE_NAMES), help="Run only this stage (earlier outputs must exist).")
@click.option("--force", is_flag=True, help="Ignore the cache: re-run every selected stage.")
@click.option("--data", help="Labelled data for the teacher stage and verify (replaces the config's "
                             "teacher.dataset and verify.data), e.g. folder:data/cifar10.")
@trust_option
@quiet_option
@click.pass_context
def run(ctx, config, out, from_stage, only, force, data, trust_checkpoint, quiet):
    from dfard_pipeline.config import load_config, with_overrides
    from dfard_pipeline.configs import shipped_config
    from dfard_pipeline.errors import UsageError
    from dfard_pipeline.stages.run import run_pipeline

    if config is None:
        config = "configs/digits.yaml" if Path("configs/digits.yaml").is_file() else str(shipped_config("digits.yaml"))
    config_path = Path(config)
    if not config_path.is_file():
        raise UsageError(f"config not found: {config_path}")
    folder = Path(out) if out else run_out(config_path)
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"--out {folder} is a file; a run folder is needed")
    loaded = load_config(config_path)
    if data is not None:
        loaded = with_overrides(loaded, {"teacher.dataset": data, "verify.data": data})
    outcome = run_pipeline(loaded, folder, config_path=config_path, from_stage=from_stage,
                           only=only, force=force, quiet=quiet, trust_teacher=trust_checkpoint,
                           progress=lambda message: click.echo(message, err=True), result=click.echo)
    parts = [f"ran {', '.join(outcome.ran)}" if outcome.ran else "nothing to run",
             f"cached {', '.join(outcome.cached)}" if outcome.cached else ""]
    verdict = ("PASSED" if outcome.gates_passed else "FAILED") if outcome.verified else "done (not verified)"
    click.echo(f"run {verdict} in {outcome.seconds:.0f} s "
               f"({'; '.join(p for p in parts if p)}) -> {folder / 'report.html'}")
    if not outcome.gates_passed:
        click.echo(f"{outcome.verdict_note or 'a verify gate failed'}: see {folder / 'report.md'}", err=True)
        sys.exit(1)
