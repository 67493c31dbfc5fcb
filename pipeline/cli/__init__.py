"""The ``dfard-pipeline`` command group: thin, lazily imported subcommands.

Each subcommand module imports only click at import time, so ``dfard-pipeline --help`` never
loads onnxruntime, TensorRT or CUDA. Expected user mistakes (``DfardError``) are caught once,
here, and shown as one line with the exit code they carry.
"""

from __future__ import annotations

import importlib
import sys

import click

from dfard_pipeline import __version__

# name -> (module, attribute); order is the order of `--help`.
SUBCOMMANDS = {
    "teacher": ("dfard_pipeline.cli.teacher_cmd", "teacher"),
    "distill": ("dfard_pipeline.cli.distill_cmd", "distill"),
    "export": ("dfard_pipeline.cli.export_cmd", "export"),
    "verify": ("dfard_pipeline.cli.verify_cmd", "verify"),
    "run": ("dfard_pipeline.cli.run_cmd", "run"),
    "models": ("dfard_pipeline.cli.models_cmd", "models"),
}

HELP = """Data-free adversarial robustness distillation: distill -> export -> verify.

\b
Examples:
  dfard-pipeline teacher --data digits --out teacher.pt
  dfard-pipeline distill --teacher teacher.pt --out runs/digits
  dfard-pipeline run configs/digits.yaml

Settings are taken in this order of precedence: command-line option > environment variable
(DFARD_<COMMAND>_<OPTION>, e.g. DFARD_DISTILL_EPOCHS=5) > config file (--config) > built-in
default. The resolved config is written beside every output.
"""


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(SUBCOMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in SUBCOMMANDS:
            return None
        module_name, attribute = SUBCOMMANDS[name]
        return getattr(importlib.import_module(module_name), attribute)


@click.group(cls=LazyGroup, help=HELP, context_settings={"help_option_names": ["-h", "--help"],
                                                          "auto_envvar_prefix": "DFARD"})
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help="Pipeline config (YAML); subcommands may also take their own --config.")
@click.version_option(__version__, prog_name="dfard-pipeline")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None) -> None:
    ctx.obj = {"config_path": config_path}


def environment_names() -> set[str]:
    """Every ``DFARD_*`` variable an option reads: ``DFARD_<COMMAND>_<OPTION>`` (click's auto names)
    and the group's ``DFARD_CONFIG``; safety switches are not among them (command line only)."""
    names = {"DFARD_CONFIG"}
    for name in SUBCOMMANDS:
        command = cli.get_command(click.Context(cli), name)
        for param in command.params:
            if isinstance(param, click.Option) and param.allow_from_autoenv and param.name:
                names.add(f"DFARD_{name.upper()}_{param.name.upper()}")
    return names


def warn_unknown_environment(environ=None) -> list[str]:
    """One warning line for each ``DFARD_*`` variable that no option reads (a typo would otherwise
    start a default run silently), naming the closest valid name."""
    import os

    from dfard_pipeline.registry import closest

    environ = os.environ if environ is None else environ
    present = [key for key in environ if key.startswith("DFARD_")]
    if not present:
        return []
    valid = environment_names()
    lines = []
    for key in sorted(set(present) - valid):
        if key.endswith(("_OVERWRITE", "_TRUST_CHECKPOINT")):
            lines.append(f"warning: environment variable {key} is ignored: --overwrite and --trust-checkpoint "
                         "are taken from the command line only")
            continue
        hint = closest(key, sorted(valid))
        lines.append(f"warning: environment variable {key} is read by no option"
                     + (f"; did you mean {hint}?" if hint else ""))
    return lines


class Terminated(KeyboardInterrupt):
    """SIGTERM, turned into the same unwinding as Ctrl-C: checkpoints are saved, locks released."""


def _on_sigterm(signum, frame):
    raise Terminated()


def _os_error_line(exc: OSError) -> str:
    """One line for a file-system failure: what, on which file, and the system's reason."""
    where = f" {exc.filename}" if exc.filename else ""
    return f"cannot access{where}: {exc.strerror or exc}"


def main(argv: list[str] | None = None) -> None:
    """Console entry point: runs the group, turning expected errors into one-line messages."""
    import signal

    from dfard_pipeline.errors import DfardError

    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        for line in warn_unknown_environment():
            click.secho(line, fg="yellow", err=True)
        cli.main(args=argv, prog_name="dfard-pipeline", standalone_mode=False)
    except DfardError as exc:
        click.secho(f"error: {exc}", fg="red", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort as exc:  # click turns Ctrl-C (and our SIGTERM) into Abort
        if isinstance(exc.__cause__, Terminated):
            click.echo("terminated.", err=True)
            sys.exit(143)
        click.echo("aborted.", err=True)
        sys.exit(130)
    except click.UsageError as exc:  # a bad option or value: one line, as every other refusal (exit 2)
        message = " ".join(exc.format_message().split())
        hint = f" (see {exc.ctx.command_path} --help)" if exc.ctx is not None else ""
        click.secho(f"error: {message[:300] + ('...' if len(message) > 300 else '')}{hint}", fg="red", err=True)
        sys.exit(2)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt as exc:
        click.echo("terminated." if isinstance(exc, Terminated) else "interrupted.", err=True)
        sys.exit(143 if isinstance(exc, Terminated) else 130)
    except OSError as exc:  # a read-only folder, a full disk, a file that vanished
        click.secho(f"error: {_os_error_line(exc)}", fg="red", err=True)
        sys.exit(2)
    finally:
        signal.signal(signal.SIGTERM, previous)
