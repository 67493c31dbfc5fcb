"""Shared option handling: config file + overrides, with a documented precedence
(command line > environment > config file > default)."""

from __future__ import annotations

from typing import Any

import click
from click.core import ParameterSource

config_option = click.option(
    "--config", "config_path", type=click.Path(dir_okay=False), default=None,
    help="Pipeline config (YAML). Options given here override it.")
# Safety switches come from the command line only: never DFARD_<CMD>_OVERWRITE or ..._TRUST_CHECKPOINT,
# which a shell profile or CI variable would turn on silently for every later command.
SAFETY_SWITCH = {"is_flag": True, "allow_from_autoenv": False}
overwrite_option = click.option("--overwrite", **SAFETY_SWITCH, help="Replace an existing output.")
TRUST_HELP = ("Load a teacher file that may run code: a pickled whole model, any torch.export .pt2, a TorchScript "
              "file with more than tensor operations. Only for files you trust.")
trust_option = click.option("--trust-checkpoint", **SAFETY_SWITCH, help=TRUST_HELP)
quiet_option = click.option("--quiet", "-q", is_flag=True, help="No progress bars.")


def overrides_from(ctx: click.Context, mapping: dict[str, str]) -> dict[str, Any]:
    """Dotted config overrides for each option the user set (command line or environment)."""
    out = {}
    for param, dotted in mapping.items():
        source = ctx.get_parameter_source(param)
        if source in (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT):
            value = ctx.params[param]
            out[dotted] = list(value) if isinstance(value, tuple) else value
    return out


def resolve_config(ctx: click.Context, config_path: str | None, mapping: dict[str, str]):
    """Load the config (subcommand --config, else the group's) and apply the overrides."""
    from dfard_pipeline.config import load_config, with_overrides

    path = config_path or (ctx.obj or {}).get("config_path")
    config = load_config(path)
    return with_overrides(config, overrides_from(ctx, mapping)), path


def old_spelling(name: str, dest: str, **kwargs):
    """An option's previous name, hidden and kept for one release; merge it with ``renamed``."""
    return click.option(name, dest, hidden=True, **kwargs)


def renamed(new_value, old_value, new: str, old: str):
    """The value given under an option's current name or its old one (with a note on stderr that the
    name changed); the two naming different values is a usage error."""
    from dfard_pipeline.errors import UsageError

    if old_value is None:
        return new_value
    if new_value is not None and new_value != old_value:
        raise UsageError(f"{new} and {old} (its old name) give different values: pass {new} only")
    click.echo(f"note: {old} is now {new}; the old name goes in the next release", err=True)
    return old_value
