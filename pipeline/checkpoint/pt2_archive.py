"""Open a ``torch.export`` ``.pt2`` archive: only when the user trusts the file.

A ``.pt2`` is code, not data. ``torch.export.load`` unpickles (``weights_only=False``) every
weight or constant the archive marks ``use_pickle`` and its "opaque" objects; it parses the
symbolic-shape strings of ``models/*.json`` with ``sympy.sympify``, which evaluates Python; it
resolves operator targets, custom classes and module types by the names the archive gives. A check
of each of those strings against a grammar would have to follow every field each torch release
adds to the deserialiser, and could not be shown complete; so every ``.pt2`` needs the opt-in
(``--trust-checkpoint``), and the teachers a user holds without it are state_dicts, this
project's checkpoints and TorchScript files (docs/teachers.md).
"""

from __future__ import annotations

import io
from pathlib import Path

import torch

from dfard_pipeline.artifacts.torch_files import checked_members
from dfard_pipeline.errors import CheckpointError

UNTRUSTED = ("{path} is a torch.export program, and loading one runs Python from the file (torch evaluates "
             "its shape expressions with sympy and unpickles its constants); pass --trust-checkpoint if you "
             "trust its source, or hand over its state_dict with --teacher-arch, or a TorchScript file")


def load_exported_program(path: Path, trust: bool = False):
    """The ``ExportedProgram`` in ``path``; a ``CheckpointError`` unless ``trust``, or when it is not a
    loadable program."""
    if not trust:
        raise CheckpointError(UNTRUSTED.format(path=path))
    checked_members(path)
    data = path.read_bytes()  # one read: what was checked is what is loaded
    try:
        return torch.export.load(io.BytesIO(data))
    except Exception as exc:  # noqa: BLE001 - many internal error types; one message
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CheckpointError(f"{path}: not a loadable torch.export program ({first})") from None
