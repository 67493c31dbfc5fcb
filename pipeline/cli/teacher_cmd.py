"""``dfard-pipeline teacher``: adversarially train a robust teacher on a labelled dataset."""

from __future__ import annotations

from pathlib import Path

import click

from dfard_pipeline import outputs
from dfard_pipeline.cli.options import (
    config_option,
    old_spelling,
    overwrite_option,
    quiet_option,
    renamed,
    resolve_config,
)
from dfard_pipeline.outputs import check_output

OPTION_KEYS = {
    "data": "teacher.dataset", "dataset_alias": "teacher.dataset", "arch": "teacher.arch", "method": "teacher.method",
    "epochs": "teacher.epochs", "batch_size": "teacher.batch_size", "lr": "teacher.lr",
    "eps": "teacher.eps", "device": "teacher.device", "seed": "seed",
}


@click.command(help="""Adversarially train a robust teacher (PGD-AT or TRADES) on a labelled set.

\b
Example:
  dfard-pipeline teacher --data digits --out teacher.pt

  dfard-pipeline teacher --config configs/cifar10_cpu.yaml --data folder:data/cifar10 --out c10.pt

DATA is digits (embedded), folder:PATH (an image-folder tree), cifar10:PATH, cifar100:PATH or
npz:PATH. Prints clean and PGD-20 test accuracy at the end and stores them in the checkpoint.""")
@click.option("--data", help="Labelled data to train on.  [config: teacher.dataset, default: digits]")
@old_spelling("--dataset", "dataset_alias")
@click.option("--out", type=click.Path(dir_okay=False), default=str(outputs.TEACHER), show_default=True,
              help="Checkpoint to write (the resolved config goes beside it).")
@click.option("--arch", help="Model zoo architecture.  [default: digits_cnn_teacher]")
@click.option("--method", type=click.Choice(["pgd_at", "trades"]),
              help="Adversarial training loss.  [default: trades]")
@click.option("--epochs", type=int, help="Training epochs.  [default: 20]")
@click.option("--batch-size", type=int, help="Batch size.  [default: 128]")
@click.option("--lr", type=float, help="Peak learning rate (one-cycle schedule).  [default: 0.003]")
@click.option("--eps", type=float, help="L-inf radius in [0,1] pixels.  [default: 0.1]")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), help="[default: auto]")
@click.option("--seed", type=int, help="Random seed.  [default: 0]")
@config_option
@overwrite_option
@quiet_option
@click.pass_context
def teacher(ctx, out, config_path, overwrite, quiet, data, dataset_alias, **_):
    from dfard_pipeline.teacher.run import run_teacher_command, summary

    renamed(data, dataset_alias, "--data", "--dataset")

    config, _ = resolve_config(ctx, config_path, OPTION_KEYS)
    out = check_output(Path(out), overwrite)
    check_output(out.with_suffix(".config.yaml"), overwrite)  # written beside the checkpoint
    click.echo(summary(config, run_teacher_command(config, out, quiet=quiet), out))
