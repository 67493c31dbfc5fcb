"""The lock that keeps a second ``run`` out of a folder in use (its record, run.json, is
``artifacts/run_manifest.py``)."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

from dfard_pipeline.errors import UsageError


@contextmanager
def run_lock(folder: Path):
    """One ``run`` per folder at a time: a second one is refused instead of writing into it. A lock
    whose process is gone (killed, or a crashed machine), or that holds no pid, is taken over."""
    folder.mkdir(parents=True, exist_ok=True)
    lock = folder / ".run.lock"
    _acquire(lock)
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)


def _acquire(lock: Path) -> None:
    # The pid is written to a private file that is then linked into place: the lock never exists
    # empty, so an empty lock can only be debris and is safe to take over.
    tmp = lock.with_name(f"{lock.name}.{os.getpid()}.tmp")
    tmp.write_text(str(os.getpid()))
    try:
        for _ in range(2):
            try:
                os.link(tmp, lock)
                return
            except FileExistsError:
                pid = _lock_pid(lock)
                if pid is not None and _alive(pid):
                    raise UsageError(f"{lock.parent} is in use by another `dfard-pipeline run` (pid {pid}); wait "
                                     "for it, or pass another --out") from None
                import click

                reason = f"pid {pid} is not running" if pid is not None else "it names no process"
                click.echo(f"note: taking over the stale lock {lock} ({reason})", err=True)
                lock.unlink(missing_ok=True)
        raise UsageError(f"could not take the lock {lock}: another run took it first")
    finally:
        tmp.unlink(missing_ok=True)


def _lock_pid(lock: Path) -> int | None:
    try:
        text = lock.read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
