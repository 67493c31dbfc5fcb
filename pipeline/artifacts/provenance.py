"""Where a file came from: its content hash and the library versions that wrote it."""

from __future__ import annotations

import hashlib
import platform
from pathlib import Path


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def weights_sha256(model) -> str:
    """A hash of a torch module's weights and buffers alone (names and bytes, in name order): equal for
    equal weights whatever file or wrapper holds them, unlike ``file_sha256`` of a checkpoint."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def library_versions() -> dict[str, str]:
    import numpy
    import torch

    from dfard_pipeline import __version__

    return {"dfard_pipeline": __version__, "torch": str(torch.__version__), "numpy": str(numpy.__version__),
            "python": platform.python_version()}
