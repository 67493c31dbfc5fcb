"""scikit-learn's digits (1797 8x8 grey images, shipped inside scikit-learn: no download)."""

from __future__ import annotations

import numpy as np
import torch

from dfard_pipeline.data.dataset import LabelledSet

SPLIT_SEED = 0
TEST_FRACTION = 0.25  # 450 test images


def load_digits_split(split: str) -> LabelledSet:
    """The fixed stratified train/test split; pixels scaled from 0..16 to [0, 1]."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    x = (bunch.data.astype(np.float32) / 16.0).reshape(-1, 1, 8, 8)
    y = bunch.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=TEST_FRACTION, random_state=SPLIT_SEED, stratify=y)
    xs, ys = (x_train, y_train) if split == "train" else (x_test, y_test)
    return LabelledSet(f"digits/{split}", torch.from_numpy(xs), torch.from_numpy(ys), 10)
