"""Running the CLI in-process in tests: the exit code and everything it printed."""

import sys

import pytest

from dfard_pipeline.cli import main


def cli(args, capsys):
    """Run the CLI; (exit code, stdout + stderr)."""
    with pytest.raises(SystemExit) as info:
        main(args) or sys.exit(0)
    captured = capsys.readouterr()
    return info.value.code or 0, captured.out + captured.err
