"""run.json: for each stage, its inputs (content hashes of files and of its resolved config), its
outputs (with hashes), library versions, start/end times and status. A stage whose fingerprint
and outputs are unchanged is skipped."""

from __future__ import annotations

import hashlib
import json
import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dfard_pipeline.atomic import write_json_atomic
from dfard_pipeline.errors import UsageError

RUN_FORMAT = "dfard-pipeline.run"


def sha256_file(path: Path) -> str:
    from dfard_pipeline.checkpoint.project import file_sha256

    return file_sha256(path)


def fingerprint(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def _read_record(path: Path) -> dict:
    """run.json as written by ``RunManifest``; anything else is refused, never silently replaced
    (it may be another tool's file, or a damaged record of a run worth keeping)."""
    def refuse(why: str):
        return UsageError(f"{path} is not a dfard-pipeline run record ({why}); move it away, or pass "
                          "another --out")

    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise refuse(type(exc).__name__) from None
    if not isinstance(data, dict) or data.get("format") != RUN_FORMAT:
        raise refuse("no 'format': \"dfard-pipeline.run\"")
    stages = data.get("stages")
    if not isinstance(stages, dict) or not all(isinstance(v, dict) for v in stages.values()):
        raise refuse("'stages' must map stage names to records")
    for name, record in stages.items():
        outputs = record.get("outputs", {})
        if not isinstance(outputs, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                    for k, v in outputs.items()):
            raise refuse(f"stage {name}: 'outputs' must map file names to sha256")
        if any(Path(k).is_absolute() or ".." in Path(k).parts for k in outputs):
            raise refuse(f"stage {name}: an output lies outside the run folder")
        if not isinstance(record.get("notes", {}), dict):
            raise refuse(f"stage {name}: 'notes' must be a mapping")
    return data


class RunManifest:
    """The run folder's run.json, rewritten atomically after every change of status."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.path = folder / "run.json"
        self.data = {"format": RUN_FORMAT, "stages": {}}
        if self.path.exists():
            self.data = _read_record(self.path)

    def save(self) -> None:
        write_json_atomic(self.path, self.data)

    def stage(self, name: str) -> dict:
        return self.data["stages"].get(name, {})

    def is_cached(self, name: str, stage_fingerprint: str) -> bool:
        """Done before with the same inputs, and every output still there with the same content."""
        record = self.stage(name)
        if record.get("status") != "done" or record.get("fingerprint") != stage_fingerprint:
            return False
        for rel, digest in record.get("outputs", {}).items():
            path = self.folder / rel
            if not path.is_file() or sha256_file(path) != digest:
                return False
        return True

    def start(self, name: str, stage_fingerprint: str, inputs: dict) -> None:
        from dfard_pipeline.artifacts.export_manifest import export_versions

        self.data["stages"][name] = {"status": "running", "fingerprint": stage_fingerprint, "inputs": inputs,
                                     "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                                     "versions": export_versions()}
        self.save()

    def finish(self, name: str, outputs: list[Path], status: str = "done", **extra) -> None:
        record = self.data["stages"][name]
        record.update(status=status, ended=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                      outputs={str(p.relative_to(self.folder)): sha256_file(p) for p in outputs if p.is_file()},
                      **extra)
        self.save()

    def mark(self, name: str, status: str, **extra) -> None:
        self.data["stages"].setdefault(name, {}).update(status=status, **extra)
        self.save()


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
