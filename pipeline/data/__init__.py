"""Labelled data, for teacher training and verification only: distill never reads data.

Specs: ``digits`` (embedded), ``folder:PATH`` (an image-folder tree), ``cifar10:PATH``,
``cifar100:PATH`` (the official python batches), ``npz:PATH``.
"""

from __future__ import annotations

from dfard_pipeline.data.dataset import LabelledSet
from dfard_pipeline.errors import DataError
from dfard_pipeline.registry import unknown_name_message

KINDS = ("digits", "folder", "cifar10", "cifar100", "npz")


def load_dataset(spec: str, split: str = "test") -> LabelledSet:
    """Load the labelled set named by ``spec``; ``split`` is ``train`` or ``test``
    (an npz file is one set and ignores it)."""
    if split not in ("train", "test"):
        raise DataError(f"split must be 'train' or 'test', got {split!r}")
    kind, _, path = spec.partition(":")
    if kind not in KINDS:
        raise DataError(unknown_name_message("dataset", kind, list(KINDS)) +
                        " Use digits, folder:PATH, cifar10:PATH, cifar100:PATH or npz:PATH.")
    if kind == "digits":
        if path:
            raise DataError("digits is embedded and takes no path: use --data digits")
        from dfard_pipeline.data.digits import load_digits_split

        return load_digits_split(split)
    if not path:
        raise DataError(f"{kind} needs a path: {kind}:PATH")
    if kind == "folder":
        from dfard_pipeline.data.image_folder import load_image_folder

        return load_image_folder(path, split)
    if kind == "npz":
        from dfard_pipeline.data.npz import load_npz

        return load_npz(path)
    from dfard_pipeline.data.cifar import load_cifar

    return load_cifar(kind, path, split)


__all__ = ["KINDS", "LabelledSet", "load_dataset"]
