"""``run.json``: the record ``run`` keeps in its folder. For each stage: its inputs (content hashes of
files and of its resolved config), its outputs (with hashes), library versions, start/end times and
status. Read checked (another tool's file or a damaged record is refused, never replaced), written
atomically after every change of status. ``run`` skips a stage whose fingerprint and outputs are
unchanged (``RunManifest.is_cached``)."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from dfard_pipeline.artifacts.provenance import file_sha256
from dfard_pipeline.atomic import write_json_atomic
from dfard_pipeline.errors import UsageError

FILE_NAME = "run.json"
RUN_FORMAT = "dfard-pipeline.run"


MAX_RECORD_BYTES = 16 << 20  # a run.json is a few KB


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
        if path.stat().st_size > MAX_RECORD_BYTES:
            raise refuse(f"{path.stat().st_size / 2**20:.0f} MiB, far larger than any run record")
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
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
        if record.get("status") not in (None, *STATUSES):
            raise refuse(f"stage {name}: status {record.get('status')!r} is not one of {', '.join(STATUSES)}")
    return data


STATUSES = ("running", "done", "skipped", "interrupted")


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


@dataclass
class StageRecord:
    """What run.json holds for one stage. ``fingerprint`` hashes its inputs; ``outputs`` maps each file
    it wrote (relative to the run folder) to its sha256; ``notes`` is what later stages and the report
    read back from a cached stage."""

    status: str | None = None
    fingerprint: str | None = None
    inputs: dict = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    notes: dict = field(default_factory=dict)
    started: str | None = None
    ended: str | None = None
    versions: dict = field(default_factory=dict)
    reason: str | None = None  # why it was skipped

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v not in (None, {})}

    @classmethod
    def from_dict(cls, data: dict) -> StageRecord:
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})


class RunManifest:
    """The run folder's run.json, rewritten atomically after every change of status."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.path = folder / FILE_NAME
        self.stages: dict[str, StageRecord] = {}
        self.config: dict | None = None  # the config's path and fingerprint
        self.passed: bool | None = None  # for people reading run.json; the verdict is read from verify.json
        if self.path.exists():
            data = _read_record(self.path)
            self.stages = {name: StageRecord.from_dict(record) for name, record in data["stages"].items()}
            self.config, self.passed = data.get("config"), data.get("passed")

    def to_dict(self) -> dict:
        out = {"format": RUN_FORMAT, "stages": {name: r.to_dict() for name, r in self.stages.items()}}
        if self.config is not None:
            out["config"] = self.config
        if self.passed is not None:
            out["passed"] = self.passed
        return out

    def save(self) -> None:
        write_json_atomic(self.path, self.to_dict())

    def stage(self, name: str) -> StageRecord:
        return self.stages.get(name, StageRecord())

    def is_cached(self, name: str, stage_fingerprint: str) -> bool:
        """Done before with the same inputs, and every output still there with the same content."""
        record = self.stage(name)
        if record.status != "done" or record.fingerprint != stage_fingerprint:
            return False
        return all(self.output_intact(rel, digest) for rel, digest in record.outputs.items())

    def output_intact(self, rel: str, digest: str) -> bool:
        """The output ``rel`` (relative to the run folder) is still there with the content recorded."""
        path = self.folder / rel
        return path.is_file() and file_sha256(path) == digest

    def start(self, name: str, stage_fingerprint: str, inputs: dict) -> None:
        from dfard_pipeline.artifacts.export_manifest import export_versions

        self.stages[name] = StageRecord("running", stage_fingerprint, inputs, started=_now(),
                                        versions=export_versions())
        self.save()

    def finish(self, name: str, outputs: list[Path], notes: dict | None = None) -> None:
        record = self.stages[name]
        record.status, record.ended, record.notes = "done", _now(), dict(notes or {})
        record.outputs = {str(p.relative_to(self.folder)): file_sha256(p) for p in outputs if p.is_file()}
        self.save()

    def mark(self, name: str, status: str, reason: str | None = None) -> None:
        record = self.stages.setdefault(name, StageRecord())
        record.status = status
        if reason is not None:
            record.reason = reason
        self.save()
