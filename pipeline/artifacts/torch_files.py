"""Helpers for the ``torch.save`` files this project writes: weights in a layout-free form, why
``torch.load(weights_only=True)`` refused a file, in a few words, and which of torch's program
archives (TorchScript, ``torch.export``) a file is, told by its entries without loading it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from dfard_pipeline.archive_members import ArchiveError, check_members
from dfard_pipeline.errors import CheckpointError


def checked_members(path: Path, data: bytes | None = None) -> list[str]:
    """The member names of the torch archive at ``path`` (empty for a file that is not a zip), once its
    directory is unambiguous and bounded (``archive_members``); a ``CheckpointError`` otherwise. Call it
    before any ``torch.load``/``torch.jit.load``, so what is inspected is what torch reads; pass the
    file's ``data`` when those bytes are what is loaded."""
    try:
        return check_members(path if data is None else data, single_root=True)
    except ArchiveError as exc:
        raise CheckpointError(f"{path}: {exc}") from None


def load_plain(path: Path, unreadable: Callable[[Exception], str], map_location: Any = "cpu") -> Any:
    """What the ``torch.save`` file at ``path`` holds, loaded with ``weights_only=True`` (plain tensors and
    containers: no code runs) once ``checked_members`` passed; a ``CheckpointError`` with
    ``unreadable(exc)`` as its message when torch refuses the file (damaged bytes, pickled objects)."""
    checked_members(path)
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many types for corrupt files
        raise CheckpointError(unreadable(exc)) from None


def archive_kind(path: Path) -> str | None:
    """``torchscript`` or ``torch_export`` when ``path`` is one of those archives, else None; a
    ``CheckpointError`` for an ambiguous or oversized zip directory."""
    names = checked_members(path)
    if any(n.endswith("constants.pkl") for n in names) and any("/code/" in n for n in names):
        return "torchscript"
    if path.suffix == ".pt2" or any(n.endswith("serialized_exported_program.json") or "/models/" in n
                                    for n in names):
        return "torch_export"
    return None


def plain_state_dict(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Detached CPU tensors in plain contiguous (NCHW) layout, whatever ``memory_format`` the module
    was trained in, so a saved file never depends on the training machine's layout choice."""
    return {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}


def holds_pickled_objects(exc: Exception) -> bool:
    """``torch.load(weights_only=True)`` refused the file because it names Python globals (a pickled
    object, which runs code when loaded), not because its bytes are damaged."""
    import pickle

    return isinstance(exc, pickle.UnpicklingError) and "global" in str(exc).lower()


def load_error(exc: Exception) -> str:
    """Why ``torch.load(weights_only=True)`` refused a file, in a few words for a one-line message."""
    text = str(exc)
    if holds_pickled_objects(exc):
        return "it holds pickled Python objects, which run code when loaded"
    first = text.strip().splitlines()[0] if text.strip() else ""
    return f"{type(exc).__name__}: {first}"[:200]
