"""Helpers for the ``torch.save`` files this project writes: weights in a layout-free form, why
``torch.load(weights_only=True)`` refused a file, in a few words, and which of torch's program
archives (TorchScript, ``torch.export``) a file is, told by its entries without loading it."""

from __future__ import annotations

import zipfile
from pathlib import Path

import torch


def archive_kind(path: Path) -> str | None:
    """``torchscript`` or ``torch_export`` when ``path`` is one of those archives, else None."""
    names = []
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
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
