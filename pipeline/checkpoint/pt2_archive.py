"""Open a ``torch.export`` ``.pt2`` archive without running code from it.

``torch.export.load`` unpickles, with ``weights_only=False``, every weight or constant the archive
marks ``use_pickle``, and ``pickle.loads`` its "opaque" objects; the sample inputs and legacy
weight files fall back to ``weights_only=False`` when a safe load fails. Any of those runs
arbitrary Python chosen by whoever made the file. So the archive is read into memory once,
inspected, and only handed to ``torch.export.load`` (from those same bytes, with
``TORCH_FORCE_WEIGHTS_ONLY_LOAD`` set as a second line of defence) when every payload is a plain
tensor, unless the user trusts the file.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path

import torch

from dfard_pipeline.errors import CheckpointError

# Constants stored by Python's pickle or TorchScript's object pickler (custom classes).
_OBJECT_PREFIXES = ("custom_obj_", "opaque_obj_")
# Files torch.export.load passes to torch.load, falling back to weights_only=False.
_TORCH_SAVED_DIRS = ("data/sample_inputs/", "data/weights/", "data/constants/")


def _relative(name: str) -> str:
    """The member's path below the archive's root folder (``model/data/x`` -> ``data/x``)."""
    return name.split("/", 1)[1] if "/" in name else name


def pickled_payloads(data: bytes, path: Path) -> list[str]:
    """What in the archive would be unpickled as Python objects: empty when it is safe to load."""
    found = []
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for name in archive.namelist():
                rel = _relative(name)
                if rel.startswith(("data/weights/", "data/constants/")) and rel.endswith("_config.json"):
                    config = json.loads(archive.read(name)).get("config", {})
                    for fqn, meta in config.items():
                        if meta.get("use_pickle") or str(meta.get("path_name", "")).startswith(_OBJECT_PREFIXES):
                            found.append(f"{fqn} ({rel})")
                elif rel.endswith(".pt") and rel.startswith(_TORCH_SAVED_DIRS):
                    try:
                        torch.load(io.BytesIO(archive.read(name)), map_location="cpu", weights_only=True)
                    except Exception:  # noqa: BLE001 - any failure means torch would retry unsafely
                        found.append(rel)
    except (zipfile.BadZipFile, json.JSONDecodeError, AttributeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{path}: not a readable torch.export archive ({type(exc).__name__})") from None
    return found


@contextlib.contextmanager
def _weights_only_everywhere() -> Iterator[None]:
    """Make every ``torch.load`` inside weights-only, even where torch's code asks otherwise."""
    saved = os.environ.get("TORCH_FORCE_WEIGHTS_ONLY_LOAD")
    os.environ["TORCH_FORCE_WEIGHTS_ONLY_LOAD"] = "1"
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("TORCH_FORCE_WEIGHTS_ONLY_LOAD", None)
        else:
            os.environ["TORCH_FORCE_WEIGHTS_ONLY_LOAD"] = saved


def load_exported_program(path: Path, trust: bool = False):
    """The ``ExportedProgram`` in ``path``; a ``CheckpointError`` when it holds pickled objects
    (unless ``trust``) or is not a loadable program."""
    data = path.read_bytes()  # one read: what is inspected is what is loaded
    unsafe = pickled_payloads(data, path)
    if unsafe and not trust:
        shown = ", ".join(unsafe[:3]) + (f" (+{len(unsafe) - 3} more)" if len(unsafe) > 3 else "")
        raise CheckpointError(
            f"{path} holds pickled Python objects ({shown}), which run arbitrary code when loaded; "
            "re-export it with plain tensor weights, or pass --trust-checkpoint if you trust its source")
    guard = contextlib.nullcontext() if trust else _weights_only_everywhere()
    try:
        with guard:
            return torch.export.load(io.BytesIO(data))
    except Exception as exc:  # noqa: BLE001 - many internal error types; one message
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CheckpointError(f"{path}: not a loadable torch.export program ({first})") from None
