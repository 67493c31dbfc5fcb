"""Atomic file writes: write to a temporary file in the target folder, then rename.

A reader (or a resumed run after ``kill -9``) never sees a half-written artifact.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is renamed onto ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600 files; outputs are ordinary files
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)


class AlreadyThere(FileExistsError):
    """``publish`` without overwrite found the destination taken (by another writer, meanwhile)."""


def publish(source: Path, dest: Path, overwrite: bool) -> None:
    """Move a finished file into place. With ``overwrite`` a rename (atomic, replacing); without it
    the file is linked to ``dest``, which fails when ``dest`` exists, so a concurrent writer that
    got there first is never silently replaced (``AlreadyThere``), then the source name removed."""
    if overwrite:
        os.replace(source, dest)
        return
    try:
        os.link(source, dest)
    except FileExistsError:
        raise AlreadyThere(str(dest)) from None
    os.unlink(source)


def folder_writable(folder: str | os.PathLike) -> bool:
    """Whether a file can be created in ``folder`` (or, when it does not exist yet, in the nearest
    ancestor that does, which ``mkdir -p`` would write into). Tried for real with a temporary file
    that is removed at once: ``os.access`` says yes to root on read-only mounts and pseudo-filesystems."""
    folder = Path(folder).absolute()
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        return False
    try:
        with tempfile.TemporaryFile(dir=folder, prefix=".dfard-write-probe."):
            return True
    except OSError:
        return False


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def strict_json(data: Any) -> Any:
    """``data`` with every NaN or infinite float replaced by None: JSON has no token for them, and the
    ``NaN`` Python writes by default is refused by strict parsers (jq, JavaScript, most CI tools)."""
    if isinstance(data, float):
        return data if data == data and data not in (float("inf"), float("-inf")) else None
    if isinstance(data, dict):
        return {k: strict_json(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [strict_json(v) for v in data]
    return data


def write_json_atomic(path: str | os.PathLike, data: Any) -> Path:
    return write_text_atomic(path, json.dumps(strict_json(data), indent=2, sort_keys=False, allow_nan=False) + "\n")


def save_torch_atomic(obj: Any, path: str | os.PathLike) -> Path:
    import errno

    import torch

    with atomic_path(path) as tmp:
        try:
            torch.save(obj, tmp)
        except RuntimeError as exc:  # torch's writer reports a full disk or a vanished folder as RuntimeError
            if "write" not in str(exc).lower() and "file" not in str(exc).lower():
                raise
            free = shutil_disk_free(Path(path).parent)
            raise OSError(errno.ENOSPC if free == 0 else errno.EIO,
                          "no space left on the device" if free == 0 else "the file could not be written",
                          str(path)) from None
    return Path(path)


def shutil_disk_free(folder: Path) -> int | None:
    import shutil

    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None
