"""This project's checkpoint format: weights + architecture + input contract + metadata.

Stored as a plain dict of tensors and primitives so it loads with ``torch.load(weights_only=True)``
(no pickled code is ever executed).
"""

from __future__ import annotations

import hashlib
import platform
import time
from pathlib import Path
from typing import Any

import torch

from dfard_pipeline import __version__
from dfard_pipeline.atomic import save_torch_atomic
from dfard_pipeline.models import ZooModel, create_model
from dfard_pipeline.models.contract import InputContract

FORMAT = "dfard-pipeline.checkpoint"
FORMAT_VERSION = 1


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def plain_state_dict(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Detached CPU tensors in plain contiguous (NCHW) layout, whatever ``memory_format`` the module
    was trained in, so a saved file never depends on the training machine's layout choice."""
    return {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}


def load_error(exc: Exception) -> str:
    """Why ``torch.load(weights_only=True)`` refused a file, in a few words for a one-line message."""
    import pickle

    text = str(exc)
    if isinstance(exc, pickle.UnpicklingError) and "global" in text.lower():
        return "it holds pickled Python objects, which run code when loaded"
    first = text.strip().splitlines()[0] if text.strip() else ""
    return f"{type(exc).__name__}: {first}"[:200]


def library_versions() -> dict[str, str]:
    import numpy

    return {"dfard_pipeline": __version__, "torch": str(torch.__version__), "numpy": str(numpy.__version__),
            "python": platform.python_version()}


def save_checkpoint(model: ZooModel, path: str | Path, *, kind: str, eps: float,
                    metrics: dict[str, Any] | None = None, extra: dict[str, Any] | None = None) -> Path:
    """Atomically write ``model`` (a zoo model) as a project checkpoint of ``kind``
    (``teacher`` or ``student``); ``eps`` is the L-inf radius it was trained for."""
    state = plain_state_dict(model)
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "kind": kind,
        "arch": model.arch_name,
        "arch_kwargs": dict(model.arch_kwargs),
        "contract": model.contract.to_dict(),
        "eps": float(eps),
        "state_dict": state,
        "metrics": metrics or {},
        "meta": {"created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                 "versions": library_versions(), **(extra or {})},
    }
    return save_torch_atomic(payload, path)


def is_project_checkpoint(obj: Any) -> bool:
    return isinstance(obj, dict) and obj.get("format") == FORMAT


_REQUIRED = {"arch": str, "arch_kwargs": dict, "contract": dict, "state_dict": dict}


def model_from_payload(payload: dict[str, Any], path: str | Path = "checkpoint") -> ZooModel:
    """Rebuild the zoo model a project checkpoint describes and load its weights (strict).
    Every way the payload can be damaged is a ``CheckpointError`` naming ``path``."""
    from dfard_pipeline.errors import CheckpointError, DfardError

    for key, kind in _REQUIRED.items():
        if not isinstance(payload.get(key), kind):
            found = "missing" if key not in payload else f"a {type(payload[key]).__name__}"
            raise CheckpointError(f"{path}: damaged project checkpoint, field '{key}' is {found} "
                                  f"(expected a {kind.__name__})")
    eps = payload.get("eps")
    if eps is not None and not (isinstance(eps, int | float) and 0.0 < float(eps) <= 1.0):
        raise CheckpointError(f"{path}: damaged project checkpoint, eps {eps!r} is not in (0, 1]")
    try:
        model = create_model(payload["arch"], **payload["arch_kwargs"])
        model.load_state_dict(payload["state_dict"])
        saved = InputContract.from_dict(payload["contract"])
    except DfardError as exc:
        raise CheckpointError(f"{path}: {exc}") from None
    except (RuntimeError, TypeError, ValueError, KeyError) as exc:
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        detail = "; ".join(lines[:3]) if lines else type(exc).__name__
        raise CheckpointError(f"{path}: damaged project checkpoint ({detail})") from None
    if saved != model.contract:
        model.contract = saved  # the checkpoint's record wins over the factory's defaults
    return model.eval()
