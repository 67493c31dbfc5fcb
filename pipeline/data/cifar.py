"""CIFAR-10/100 from the standard python-pickle folders at a user path (never downloaded)."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import torch

from dfard_pipeline.data.dataset import LabelledSet
from dfard_pipeline.errors import DataError

_LAYOUT = {
    # name: (folder inside the archive, train files, test files, label key, classes)
    "cifar10": ("cifar-10-batches-py", [f"data_batch_{i}" for i in range(1, 6)], ["test_batch"],
                b"labels", 10),
    "cifar100": ("cifar-100-python", ["train"], ["test"], b"fine_labels", 100),
}


def _find_folder(root: Path, name: str) -> Path:
    inner, train_files, _, _, _ = _LAYOUT[name]
    for candidate in (root, root / inner):
        if (candidate / train_files[0]).is_file():
            return candidate
    raise DataError(f"{name}: no '{train_files[0]}' in {root} or {root / inner}; pass the folder "
                    f"extracted from the python version of the dataset (e.g. {inner}/)")


def load_cifar(name: str, path: str, split: str) -> LabelledSet:
    root = Path(path).expanduser()
    if not root.exists():
        raise DataError(f"{name}: path does not exist: {root}")
    folder = _find_folder(root, name)
    _, train_files, test_files, label_key, classes = _LAYOUT[name]
    xs, ys = [], []
    for fname in train_files if split == "train" else test_files:
        try:
            with open(folder / fname, "rb") as handle:
                batch = pickle.load(handle, encoding="bytes")
            xs.append(np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
            ys.append(np.asarray(batch[label_key], dtype=np.int64))
        except (OSError, pickle.UnpicklingError, KeyError, ValueError, EOFError) as exc:
            raise DataError(f"{name}: {folder / fname} is not a CIFAR python-pickle batch ({exc})") from None
    x = torch.from_numpy(np.concatenate(xs)).float().div_(255.0)
    return LabelledSet(f"{name}/{split}", x, torch.from_numpy(np.concatenate(ys)), classes)
