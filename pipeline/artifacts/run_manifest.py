"""``run.json``: the record ``run`` keeps in its folder. For each stage: its inputs (content hashes of
files and of its resolved config), its outputs (with hashes), library versions, start/end times and
status. Read checked (another tool's file or a damaged record is refused, never replaced), written
atomically after every change of status. ``run`` skips a stage whose fingerprint and outputs are
unchanged (``RunManifest.is_cached``)."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

from dfard_pipeline.atomic import write_json_atomic
from dfard_pipeline.errors import UsageError

FILE_NAME = "run.json"
RUN_FORMAT = "dfard-pipeline.run"


def sha256_file(path: Path) -> str:
    from dfard_pipeline.artifacts.provenance import file_sha256

    return file_sha256(path)


def fingerprint(payload: Any) -> str:
    """The hash a stage's inputs are recorded and compared under."""
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
        self.path = folder / FILE_NAME
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
