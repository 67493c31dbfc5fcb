"""An image-folder tree a user already has: one sub-folder per class (sorted names are the label
order), any format Pillow reads. ``PATH`` is the split folder itself, or its parent holding
``train/`` and ``val/`` or ``test/``. Every image is decoded once, here, into memory.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from dfard_pipeline.data.dataset import LabelledSet
from dfard_pipeline.errors import DataError

# the split a command asks for -> the folder names that hold it, in order of preference
_SPLIT_FOLDERS = {"train": ("train",), "test": ("test", "val")}
# a 32x32 RGB image is 3 KB; this bounds one decoded image (a decompression bomb in a PNG)
MAX_PIXELS = 4096 * 4096


def split_folder(root: Path, split: str) -> Path:
    """The folder of ``split``: ``root/<split name>`` when ``root`` has one, else ``root`` itself."""
    if not root.is_dir():
        raise DataError(f"folder: not a folder: {root}")
    for name in _SPLIT_FOLDERS[split]:
        if (root / name).is_dir():
            return root / name
    if any((root / name).is_dir() for names in _SPLIT_FOLDERS.values() for name in names):
        wanted = " or ".join(f"{name}/" for name in _SPLIT_FOLDERS[split])
        raise DataError(f"folder: {root} has split folders but no {wanted} (the {split} split)")
    return root


def _decode(path: Path, image_module) -> np.ndarray:
    try:
        with image_module.open(path) as image:
            if image.width * image.height > MAX_PIXELS:
                raise DataError(f"folder: {path} is {image.width}x{image.height}, larger than any classifier input")
            if image.mode not in ("L", "RGB"):
                image = image.convert("RGBA" if "A" in image.mode else "RGB")
            pixels = np.asarray(image, dtype=np.uint8)
    except (OSError, ValueError, image_module.DecompressionBombError) as exc:
        raise DataError(f"folder: cannot read image {path} ({type(exc).__name__}: {str(exc)[:100]})") from None
    return pixels[:, :, None] if pixels.ndim == 2 else pixels


def load_image_folder(path: str, split: str) -> LabelledSet:
    """The ``split`` of the tree at ``path`` as (N, C, H, W) float32 in [0, 1] with class indices."""
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - Pillow is a declared dependency
        raise DataError("folder: reading image folders needs Pillow (pip install pillow)") from None
    folder = split_folder(Path(path).expanduser(), split)
    classes = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise DataError(f"folder: {folder} holds no class folders (expected {folder}/<class>/<image>)")
    images, labels, first = [], [], None
    for label, class_dir in enumerate(classes):
        files = sorted(p for p in class_dir.iterdir() if p.is_file() and not p.name.startswith("."))
        if not files:
            raise DataError(f"folder: class folder {class_dir} holds no images")
        for file in files:
            pixels = _decode(file, Image)
            if first is None:
                first = (file, pixels.shape)
            elif pixels.shape != first[1]:
                raise DataError(f"folder: {file} is {_describe(pixels.shape)} but {first[0]} is "
                                f"{_describe(first[1])}; every image must have one size and channel count")
            images.append(pixels)
            labels.append(label)
    x = torch.from_numpy(np.stack(images).transpose(0, 3, 1, 2).copy()).float().div_(255.0)
    return LabelledSet(f"folder:{folder}", x, torch.tensor(labels, dtype=torch.int64), len(classes),
                       tuple(p.name for p in classes))


def _describe(shape: tuple[int, ...]) -> str:
    return f"{shape[1]}x{shape[0]} with {shape[2]} channel{'s' if shape[2] != 1 else ''}"
