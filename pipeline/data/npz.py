"""A user's own labelled arrays: ``x`` (N,C,H,W or N,H,W,C; uint8 0-255 or float 0-1), ``y``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from dfard_pipeline.archive_members import ArchiveError, check_members
from dfard_pipeline.data.dataset import LabelledSet
from dfard_pipeline.errors import DataError

_CHANNELS = (1, 3, 4)


def _open(path: str, keys: tuple[str, ...]) -> tuple[Path, dict[str, np.ndarray]]:
    file = Path(path).expanduser()
    if not file.is_file():
        raise DataError(f"npz: file not found: {file}")
    try:
        check_members(file)
    except ArchiveError as exc:
        raise DataError(f"npz: {file}: {exc}") from None
    try:
        with np.load(file, allow_pickle=False) as arrays:
            if any(key not in arrays for key in keys):
                raise DataError(f"npz: {file} must hold arrays {' and '.join(map(repr, keys))} "
                                f"(it has {sorted(arrays)})")
            return file, {key: arrays[key] for key in keys}
    except (OSError, ValueError) as exc:
        raise DataError(f"npz: cannot read {file} ({exc})") from None


def _images(x: np.ndarray) -> np.ndarray:
    """(N,C,H,W) float32 in [0, 1] from NCHW/NHWC uint8 or float input."""
    if x.ndim != 4:
        raise DataError(f"npz: x must be 4-D (N,C,H,W or N,H,W,C), got shape {x.shape}")
    if x.shape[1] not in _CHANNELS and x.shape[-1] in _CHANNELS:
        x = x.transpose(0, 3, 1, 2)
    if len(x) == 0:
        raise DataError("npz: x holds no samples (shape " + str(tuple(x.shape)) + ")")
    if x.dtype == np.uint8:
        x = x.astype(np.float32) / 255.0
    elif np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float32)
        if not bool(np.isfinite(x).all()):
            raise DataError(f"npz: x holds {int((~np.isfinite(x)).sum())} NaN or inf values; images must be "
                            "finite, in [0, 1]")
        if x.size and (x.min() < 0.0 or x.max() > 1.0):
            raise DataError(f"npz: float x must lie in [0, 1], got [{x.min():.3g}, {x.max():.3g}]")
    else:
        raise DataError(f"npz: x must be uint8 (0-255) or float (0-1), got {x.dtype}")
    return np.ascontiguousarray(x)


def load_npz_images(path: str) -> np.ndarray:
    """Unlabelled images (only ``x``), e.g. INT8 calibration samples: (N,C,H,W) float32 in [0, 1]."""
    _, arrays = _open(path, ("x",))
    return _images(arrays["x"])


def load_npz(path: str) -> LabelledSet:
    file, arrays = _open(path, ("x", "y"))
    x, y = _images(arrays["x"]), arrays["y"]
    y = np.asarray(y).reshape(-1)
    if not np.issubdtype(y.dtype, np.integer):
        raise DataError(f"npz: y must hold integer class indices, got {y.dtype}")
    if y.size and y.min() < 0:
        raise DataError("npz: y must hold non-negative class indices")
    if len(y) != len(x):
        raise DataError(f"npz: x holds {len(x)} samples but y {len(y)} labels")
    classes = int(y.max()) + 1 if y.size else 0
    return LabelledSet(f"npz:{file.name}", torch.from_numpy(x),
                       torch.from_numpy(y.astype(np.int64)), classes)
