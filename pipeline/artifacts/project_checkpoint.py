"""This project's checkpoint (``teacher.pt``, ``student.pt``: names in ``outputs``): weights,
architecture, input contract, eps and metadata, as a typed ``ProjectCheckpoint``.

On disk it is a plain dict of tensors and primitives, so it loads with
``torch.load(weights_only=True)``: no pickled code is ever executed. Written atomically; read
checked: every way a file can be damaged, or be something else, is a ``CheckpointError`` naming it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from dfard_pipeline.artifacts.provenance import library_versions
from dfard_pipeline.artifacts.torch_files import (
    archive_kind,
    holds_pickled_objects,
    load_error,
    load_plain,
    plain_state_dict,
)
from dfard_pipeline.errors import CheckpointError, DfardError
from dfard_pipeline.models import ZooModel, create_model
from dfard_pipeline.models.contract import InputContract

FORMAT = "dfard-pipeline.checkpoint"
FORMAT_VERSION = 1
KINDS = ("teacher", "student")
WHAT = "a distilled student.pt or a teacher trained by `dfard-pipeline teacher`"


@dataclass(frozen=True)
class ProjectCheckpoint:
    """One checkpoint of ``kind`` (teacher or student); ``eps`` is the L-inf radius it was trained for."""

    kind: str
    arch: str
    arch_kwargs: dict[str, Any]
    contract: InputContract
    state_dict: dict[str, torch.Tensor]
    eps: float | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_model(cls, model: ZooModel, *, kind: str, eps: float, metrics: dict[str, Any] | None = None,
                   extra: dict[str, Any] | None = None) -> ProjectCheckpoint:
        if kind not in KINDS:
            raise ValueError(f"checkpoint kind must be one of {KINDS}, got {kind!r}")
        meta = {"created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "versions": library_versions(),
                **(extra or {})}
        return cls(kind, model.arch_name, dict(model.arch_kwargs), model.contract, plain_state_dict(model),
                   float(eps), dict(metrics or {}), meta)

    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "format_version": FORMAT_VERSION, "kind": self.kind, "arch": self.arch,
                "arch_kwargs": dict(self.arch_kwargs), "contract": self.contract.to_dict(), "eps": self.eps,
                "state_dict": self.state_dict, "metrics": self.metrics, "meta": self.meta}

    def write(self, path: str | Path) -> Path:
        from dfard_pipeline.atomic import save_torch_atomic

        return save_torch_atomic(self.to_dict(), path)

    @classmethod
    def from_payload(cls, payload: dict[str, Any], path: str | Path = "checkpoint") -> ProjectCheckpoint:
        """The checkpoint a loaded payload holds, with every field checked."""
        def damaged(why: str) -> CheckpointError:
            return CheckpointError(f"{path}: damaged project checkpoint, {why}")

        version = payload.get("format_version", FORMAT_VERSION)
        if isinstance(version, int) and version > FORMAT_VERSION:
            raise CheckpointError(f"{path}: checkpoint format {version} is newer than this dfard-pipeline reads "
                                  f"({FORMAT_VERSION}); upgrade dfard-pipeline")
        for key, kind in _REQUIRED.items():
            if not isinstance(payload.get(key), kind):
                found = "missing" if key not in payload else f"a {type(payload[key]).__name__}"
                raise damaged(f"field '{key}' is {found} (expected a {kind.__name__})")
        eps = payload.get("eps")
        if eps is not None and not (isinstance(eps, int | float) and 0.0 < float(eps) <= 1.0):
            raise damaged(f"eps {eps!r} is not in (0, 1]")
        kind = payload.get("kind", "student")
        if kind not in KINDS:
            raise damaged(f"kind {kind!r} is not one of {', '.join(KINDS)}")
        try:
            contract = InputContract.from_dict(payload["contract"])
        except (DfardError, TypeError, ValueError) as exc:
            raise damaged(f"input contract: {exc}") from None
        metrics, meta = payload.get("metrics") or {}, payload.get("meta") or {}
        if not isinstance(metrics, dict) or not isinstance(meta, dict):
            raise damaged("metrics and meta must be mappings")
        return cls(kind, payload["arch"], payload["arch_kwargs"], contract, payload["state_dict"],
                   None if eps is None else float(eps), metrics, meta)

    def build_model(self, path: str | Path = "checkpoint") -> ZooModel:
        """The zoo model this checkpoint describes with its weights loaded (strict), in eval mode."""
        try:
            model = create_model(self.arch, **self.arch_kwargs)
            model.load_state_dict(self.state_dict)
        except DfardError as exc:
            raise CheckpointError(f"{path}: {exc}") from None
        except (RuntimeError, TypeError, ValueError, KeyError) as exc:
            lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
            detail = "; ".join(lines[:3]) if lines else type(exc).__name__
            raise CheckpointError(f"{path}: damaged project checkpoint ({detail})") from None
        model.contract = self.contract  # the checkpoint's record wins over the factory's defaults
        return model.eval()


_REQUIRED = {"arch": str, "arch_kwargs": dict, "contract": dict, "state_dict": dict}


def is_project_checkpoint(obj: Any) -> bool:
    return isinstance(obj, dict) and obj.get("format") == FORMAT


def write_checkpoint(model: ZooModel, path: str | Path, *, kind: str, eps: float,
                     metrics: dict[str, Any] | None = None, extra: dict[str, Any] | None = None) -> Path:
    """Atomically write ``model`` (a zoo model) as a project checkpoint of ``kind``."""
    return ProjectCheckpoint.from_model(model, kind=kind, eps=eps, metrics=metrics, extra=extra).write(path)


def read_checkpoint(path: str | Path, kind: str | None = None) -> ProjectCheckpoint:
    """The project checkpoint at ``path`` (of ``kind``, when given), or a ``CheckpointError`` saying why not."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    payload = load_plain(path, lambda exc: f"{path} is not a dfard-pipeline checkpoint: {_what_else(path, exc)}; "
                                           f"expected {WHAT}")
    if not is_project_checkpoint(payload):
        raise CheckpointError(f"{path} is not a dfard-pipeline checkpoint; expected {WHAT}")
    checkpoint = ProjectCheckpoint.from_payload(payload, path)
    if kind is not None and checkpoint.kind != kind:
        raise CheckpointError(f"{path} is a {checkpoint.kind} checkpoint; a {kind} is needed here")
    return checkpoint


def _what_else(path: Path, exc: Exception) -> str:
    """What a file ``torch.load(weights_only=True)`` refused is instead, without loading it further."""
    if holds_pickled_objects(exc):
        return load_error(exc)
    kind = archive_kind(path)
    if kind is not None:
        what = {"torch_export": "a torch.export program", "torchscript": "a TorchScript file"}[kind]
        return f"it is {what} (a teacher format; students are this project's checkpoints)"
    return f"not a readable PyTorch checkpoint ({load_error(exc)})"
