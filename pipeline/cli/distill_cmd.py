"""``dfard-pipeline distill``: data-free adversarial robustness distillation."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from types import SimpleNamespace

import click

from dfard_pipeline import outputs
from dfard_pipeline.cli.options import config_option, overwrite_option, quiet_option, resolve_config, trust_option
from dfard_pipeline.config.schema import DistillConfig

# the one source of the defaults shown in --help: the schema's (read without building a config, which
# would import the registries and torch)
DEFAULTS = SimpleNamespace(**{f.name: f.default for f in dataclasses.fields(DistillConfig)})
OPTION_KEYS = {
    "student": "distill.student", "method": "distill.method", "epochs": "distill.epochs",
    "device": "distill.device", "precision": "distill.precision", "eps": "distill.eps",
    "eval_data": "distill.eval_data", "seed": "seed", "data": "distill.data",
    "teacher_arch": "teacher.checkpoint_arch", "input_shape": "teacher.input_shape",
}


def _parse_shape(ctx, param, value):
    if value is None:
        return None
    try:
        shape = tuple(int(v) for v in value.split(","))
    except ValueError:
        shape = ()
    if len(shape) != 3:
        raise click.BadParameter("expected C,H,W, e.g. 3,32,32")
    return shape


@click.command(help="""Distill a small robust student from a robust teacher without any data (or, with
--data, with some: the comparison a data-free result is judged by).

\b
Examples:
  dfard-pipeline distill --teacher teacher.pt --out runs/digits
  dfard-pipeline distill --teacher wrn.pt --teacher-arch wrn_34_10 \\
      --config configs/cifar10_wrn34-10_to_resnet18.yaml --device cuda --precision bf16
  torchrun --standalone --nproc_per_node=2 -m dfard_pipeline distill --teacher teacher.pt --out runs/ddp

Writes OUT/student.pt, generator.pt, metrics.jsonl, config.resolved.yaml and checkpoints/.
Ctrl-C saves a checkpoint; --resume continues a stopped run from its last checkpoint.""")
@click.option("--teacher", "teacher_path", required=True, type=click.Path(dir_okay=False),
              help="Teacher: a project checkpoint, a state_dict (with --teacher-arch), TorchScript or .pt2.")
@click.option("--teacher-arch", help="Zoo architecture of a plain state_dict teacher.  [config: "
                                    "teacher.checkpoint_arch]")
@click.option("--input-shape", callback=_parse_shape, help="C,H,W for TorchScript/pickled teachers.  [config: "
                                                           "teacher.input_shape]")
@trust_option
@click.option("--out", type=click.Path(file_okay=False), default=str(outputs.DISTILL), show_default=True,
              help="Run folder.")
@click.option("--student", help=f"Student architecture.  [default: {DEFAULTS.student}]")
@click.option("--method", type=click.Choice(["dfard", "combo", "combo+ita", "combo+agb"]),
              help="dfard = ITA + AGB; the others are the baselines.  [default: dfard]")
@click.option("--epochs", type=int, help=f"Epochs.  [default: {DEFAULTS.epochs}]")
@click.option("--eps", type=float, help=f"L-inf radius in [0,1] pixels.  [default: {DEFAULTS.eps}]")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), help="[default: auto]")
@click.option("--precision", type=click.Choice(["auto", "fp32", "bf16", "fp16"]),
              help="Autocast precision (fp16 needs CUDA); auto: bf16 where the device runs it natively, else fp32.  "
                   "[default: auto]")
@click.option("--eval-data", type=click.Choice(["digits"]),
              help="After training, report real digits test accuracy (the demo only).")
@click.option("--data", help="Not data-free: learn on these labelled data's train images instead of generator "
                             "samples (labels unused; the upper bound a data-free student is compared with), "
                             "e.g. folder:data/cifar10.")
@click.option("--seed", type=int, help="Seed fixing z, class targets and PGD starts.  [default: 0]")
@click.option("--resume", is_flag=True, help="Continue from OUT/checkpoints/last.pt.")
@config_option
@overwrite_option
@quiet_option
@click.pass_context
def distill(ctx, teacher_path, trust_checkpoint, out, resume, config_path, overwrite, quiet, **_):
    from dfard_pipeline.distill.run import run_distill

    config, _ = resolve_config(ctx, config_path, OPTION_KEYS)
    show_distill(run_distill(config, teacher_path, Path(out), trust=trust_checkpoint, resume=resume,
                             overwrite=overwrite, quiet=quiet, log=lambda message: click.echo(message, err=True)))


def show_distill(outputs) -> None:
    """A finished run: warnings on stderr, the summary on stdout (even with --quiet, which only
    silences progress)."""
    for warning in outputs.warnings:
        click.echo(f"warning: {warning}", err=True)
    for line in outputs.summary:
        click.echo(line)
