import pickle

import numpy as np
import pytest
import torch

from dfard_pipeline.data import load_dataset
from dfard_pipeline.errors import DataError


def test_digits_split_is_fixed_stratified_and_unit_range():
    train, test = load_dataset("digits", "train"), load_dataset("digits", "test")
    assert (len(train), len(test)) == (1347, 450)
    assert train.shape == (1, 8, 8) and train.x.dtype == torch.float32
    assert 0.0 <= float(train.x.min()) and float(train.x.max()) <= 1.0
    assert torch.bincount(test.y).min() >= 43  # stratified: every class ~45 times
    assert torch.equal(load_dataset("digits", "test").x, test.x)


def _fake_cifar(root, name="cifar10"):
    folder = root / ("cifar-10-batches-py" if name == "cifar10" else "cifar-100-python")
    folder.mkdir()
    rng = np.random.default_rng(0)
    files = ["train", "test"]
    if name == "cifar10":
        files = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    key = b"labels" if name == "cifar10" else b"fine_labels"
    for fname in files:
        batch = {b"data": rng.integers(0, 256, (4, 3072), dtype=np.uint8), key: [0, 1, 2, 3]}
        (folder / fname).write_bytes(pickle.dumps(batch))
    return folder


@pytest.mark.parametrize("name,classes", [("cifar10", 10), ("cifar100", 100)])
def test_cifar_pickle_folders(tmp_path, name, classes):
    _fake_cifar(tmp_path, name)
    train = load_dataset(f"{name}:{tmp_path}", "train")
    test = load_dataset(f"{name}:{tmp_path}", "test")
    assert train.x.shape == ((20 if name == "cifar10" else 4), 3, 32, 32)
    assert len(test) == 4 and test.num_classes == classes
    assert float(train.x.max()) <= 1.0


def test_cifar_missing_and_wrong_format(tmp_path):
    with pytest.raises(DataError, match="path does not exist"):
        load_dataset(f"cifar10:{tmp_path / 'nope'}")
    with pytest.raises(DataError, match="python version of the dataset"):
        load_dataset(f"cifar10:{tmp_path}")
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    (folder / "data_batch_1").write_bytes(b"not a pickle")
    with pytest.raises(DataError, match="not a CIFAR python-pickle batch"):
        load_dataset(f"cifar10:{tmp_path}", "train")


@pytest.mark.parametrize("layout", ["nchw", "nhwc"])
@pytest.mark.parametrize("dtype", ["uint8", "float32"])
def test_npz_layouts_and_dtypes(tmp_path, layout, dtype):
    x = np.random.default_rng(0).random((5, 3, 6, 6)).astype(np.float32)
    stored = x if layout == "nchw" else x.transpose(0, 2, 3, 1)
    stored = (stored * 255).round().astype(np.uint8) if dtype == "uint8" else stored
    np.savez(tmp_path / "d.npz", x=stored, y=np.array([0, 1, 2, 1, 0]))
    data = load_dataset(f"npz:{tmp_path / 'd.npz'}")
    assert data.x.shape == (5, 3, 6, 6) and data.num_classes == 3
    assert np.allclose(data.x.numpy(), x, atol=1 / 255)


def test_npz_errors(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        load_dataset(f"npz:{tmp_path / 'none.npz'}")
    np.savez(tmp_path / "a.npz", images=np.zeros((2, 1, 4, 4)))
    with pytest.raises(DataError, match="must hold arrays 'x' and 'y'"):
        load_dataset(f"npz:{tmp_path / 'a.npz'}")
    np.savez(tmp_path / "b.npz", x=np.full((2, 1, 4, 4), 3.0), y=np.array([0, 1]))
    with pytest.raises(DataError, match=r"must lie in \[0, 1\]"):
        load_dataset(f"npz:{tmp_path / 'b.npz'}")


def test_unknown_kind_and_missing_path():
    with pytest.raises(DataError, match="Did you mean 'cifar10'"):
        load_dataset("cifar11:/x")
    with pytest.raises(DataError, match="needs a path"):
        load_dataset("npz")
