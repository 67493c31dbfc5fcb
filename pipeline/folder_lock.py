"""The lock that keeps a second writer out of an output folder in use: one ``run`` per run folder,
one ``distill`` per distill folder (run's record, run.json, is ``artifacts/run_manifest.py``)."""

from __future__ import annotations

import os
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

from dfard_pipeline.errors import UsageError


@contextmanager
def folder_lock(lock: Path, command: str, note: Callable[[str], None] = lambda _message: None):
    """One ``command`` at a time on what ``lock`` guards: a second one is refused instead of writing
    into it. A lock whose process is gone (killed, or a crashed machine), that holds no pid, or that
    names this very process (a restarted container reuses low pids: pid 1 again) is stale and taken
    over."""
    lock.parent.mkdir(parents=True, exist_ok=True)
    _acquire(lock, command, note)
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)


def run_lock(folder: Path, note: Callable[[str], None] = lambda _message: None):
    """``run``'s lock: ``.run.lock`` inside its run folder."""
    return folder_lock(folder / ".run.lock", "run", note)


def distill_lock(out_dir: Path, note: Callable[[str], None] = lambda _message: None):
    """``distill``'s lock: ``.<name>.distill.lock`` beside its output folder (the folder itself is
    swapped whole when a run is replaced)."""
    return folder_lock(out_dir.with_name(f".{out_dir.name}.distill.lock"), "distill", note)


def _acquire(lock: Path, command: str, note: Callable[[str], None]) -> None:
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
                if pid is not None and pid != os.getpid() and _alive(pid):
                    raise UsageError(f"{lock.parent} is in use by another `dfard-pipeline {command}` (pid {pid}); "
                                     "wait for it, or pass another --out") from None
                reason = ("it names this process (a restarted container)" if pid == os.getpid()
                          else f"pid {pid} is not running" if pid is not None else "it names no process")
                note(f"note: taking over the stale lock {lock} ({reason})")
                lock.unlink(missing_ok=True)
        raise UsageError(f"could not take the lock {lock}: another {command} took it first")
    finally:
        tmp.unlink(missing_ok=True)


def _lock_pid(lock: Path) -> int | None:
    try:
        text = lock.read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() and len(text) <= 10 else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
