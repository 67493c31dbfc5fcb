"""folder:PATH: image-folder trees as users have them, and class-stratified subsets."""

import numpy as np
import pytest
import torch
from PIL import Image

from dfard_pipeline.data import load_dataset
from dfard_pipeline.data.dataset import stratified_indices
from dfard_pipeline.errors import DataError

CLASSES = ("cat", "airplane", "dog")  # sorted: airplane 0, cat 1, dog 2


def make_tree(root, per_class=4, size=8, mode="RGB", split="train"):
    rng = np.random.default_rng(0)
    for name in CLASSES:
        folder = root / split / name
        folder.mkdir(parents=True)
        for i in range(per_class):
            channels = 3 if mode == "RGB" else 1
            pixels = rng.integers(0, 256, (size, size, channels), dtype=np.uint8).squeeze()
            Image.fromarray(pixels, mode).save(folder / f"{i}.png")
    return root


def test_reads_the_split_under_a_parent_or_the_split_folder_itself(tmp_path):
    make_tree(tmp_path, split="train")
    make_tree(tmp_path, per_class=2, split="val")
    train = load_dataset(f"folder:{tmp_path}", "train")
    test = load_dataset(f"folder:{tmp_path}", "test")  # val/ serves the test split when there is no test/
    direct = load_dataset(f"folder:{tmp_path / 'train'}", "train")
    assert train.shape == (3, 8, 8) and len(train) == 12 and len(test) == 6 and len(direct) == 12
    assert train.class_names == ("airplane", "cat", "dog") and train.num_classes == 3
    assert torch.equal(train.y, torch.tensor([0] * 4 + [1] * 4 + [2] * 4))
    pixels = np.asarray(Image.open(tmp_path / "train" / "cat" / "0.png"), dtype=np.float32) / 255
    assert torch.allclose(train.x[4], torch.from_numpy(pixels.transpose(2, 0, 1)))


@pytest.mark.parametrize("damage, message", [
    ("empty-class", "holds no images"),
    ("unreadable", "cannot read image"),
    ("mixed-size", "every image must have one size and channel count"),
    ("mixed-channels", "every image must have one size and channel count"),
    ("no-classes", "holds no class folders"),
    ("no-split", "has split folders but no train/"),
])
def test_bad_trees_are_one_clear_error(tmp_path, damage, message):
    make_tree(tmp_path)
    folder = tmp_path / "train"
    if damage == "empty-class":
        (folder / "zebra").mkdir()
    elif damage == "unreadable":
        (folder / "cat" / "9.jpg").write_bytes(b"not an image")
    elif damage == "mixed-size":
        Image.fromarray(np.zeros((9, 9, 3), np.uint8)).save(folder / "dog" / "9.png")
    elif damage == "mixed-channels":
        Image.fromarray(np.zeros((8, 8), np.uint8), "L").save(folder / "dog" / "9.png")
    elif damage == "no-classes":
        folder = tmp_path / "empty"
        folder.mkdir()
    elif damage == "no-split":
        (tmp_path / "train").rename(tmp_path / "val")
        folder = tmp_path
    with pytest.raises(DataError, match=message):
        load_dataset(f"folder:{folder if damage != 'no-split' else tmp_path}", "train")


def test_subsets_are_stratified_seeded_and_never_the_first_n():
    y = torch.tensor([0] * 500 + [1] * 300 + [2] * 200)  # sorted by class, as image folders are
    index = stratified_indices(y, 100, seed=0)
    assert torch.bincount(y[index]).tolist() == [50, 30, 20]
    assert torch.equal(index, stratified_indices(y, 100, seed=0))
    assert not torch.equal(index, stratified_indices(y, 100, seed=1))
    assert torch.equal(index, torch.sort(index).values) and len(set(index.tolist())) == 100
    odd = stratified_indices(y, 7, seed=3)
    assert len(odd) == 7 and set(torch.bincount(y[odd], minlength=3).tolist()) <= {1, 2, 3, 4}


def test_npz_takes_uint8_pixels(tmp_path):
    x = np.random.default_rng(0).integers(0, 256, (10, 8, 8, 3), dtype=np.uint8)  # N,H,W,C as users save them
    np.savez(tmp_path / "d.npz", x=x, y=np.arange(10) % 2)
    data = load_dataset(f"npz:{tmp_path / 'd.npz'}")
    expected = torch.from_numpy(x[0].transpose(2, 0, 1) / 255).float()
    assert data.shape == (3, 8, 8) and torch.allclose(data.x[0], expected)
