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


class RunManifest:
    """The run folder's run.json, rewritten atomically after every change of status."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.path = folder / "run.json"
        if self.path.is_file():
            try:
                self.data = json.loads(self.path.read_text())
            except json.JSONDecodeError:
                self.data = {}
        else:
            self.data = {}
        if self.data.get("format") != RUN_FORMAT:
            self.data = {"format": RUN_FORMAT, "stages": {}}

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
        from dfard_pipeline.export.manifest import export_versions

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
    """One ``run`` per folder at a time: a second one is refused instead of writing into it."""
    folder.mkdir(parents=True, exist_ok=True)
    lock = folder / ".run.lock"
    try:
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        pid = lock.read_text().strip() or "?"
        if pid.isdigit() and not _alive(int(pid)):
            lock.unlink(missing_ok=True)  # left by a killed run: take it over
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        else:
            raise UsageError(f"{folder} is in use by another `dfard-pipeline run` (pid {pid}); wait for it, or "
                             "pass another --out") from None
    try:
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        yield
    finally:
        lock.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
