"""Progress that reads well in both places a command's output goes: a redrawn bar on a terminal,
and one plain line per epoch (with its rate) when stderr is a file or a CI log, where a bar's
carriage-return redraws would pile up into thousands of unreadable fragments."""

from __future__ import annotations

import sys


def on_terminal() -> bool:
    return sys.stderr.isatty()


def bar(enabled: bool, **kwargs):
    """A tqdm bar, drawn only when ``enabled`` and stderr is a terminal."""
    from tqdm.auto import tqdm

    return tqdm(disable=not (enabled and on_terminal()), **kwargs)


def log_line(enabled: bool, message: str) -> None:
    """One plain line on stderr, only when ``enabled`` and there is no bar to show it."""
    if enabled and not on_terminal():
        print(message, file=sys.stderr, flush=True)
