"""Shared fixtures: tiny models built in-process, never downloaded."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from dfard_pipeline.models import create_model


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture
def digits_teacher():
    """An untrained digits teacher in eval mode (real architecture, random weights)."""
    return create_model("digits_cnn_teacher").eval()


@pytest.fixture
def digits_student():
    return create_model("digits_cnn_student").eval()


CIFAR_JPEG_COPY = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "cifar10-jpeg"


@pytest.fixture
def cifar_jpeg_slice():
    """``make(out, split, per_class)``: that many images of each class of the CIFAR-10 JPEG copy beside
    the repository, written as OUT/<split>/<class>/<n>.jpg (seeded); skips where the copy is absent."""
    if not (CIFAR_JPEG_COPY / "train.npz").is_file():
        pytest.skip("the CIFAR-10 JPEG copy is not beside the repository (shared/data/cifar10-jpeg next to it)")

    def make(out: Path, split: str, per_class: int, seed: int = 0) -> None:
        packed = np.load(CIFAR_JPEG_COPY / f"{'train' if split == 'train' else 'val'}.npz")
        jpeg, offsets, y, classes = packed["jpeg"], packed["offsets"], packed["y"], packed["classes"]
        rng = np.random.default_rng(seed)
        for label, name in enumerate(classes):
            for i in rng.choice(np.flatnonzero(y == label), per_class, replace=False):
                path = out / split / str(name) / f"{i:05d}.jpg"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(jpeg[offsets[i]:offsets[i + 1]].tobytes())

    return make


def pytest_addoption(parser):
    parser.addoption("--run-slow", action="store_true", default=False,
                     help="also run tests marked slow (CI does; the README's test command does)")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--run-slow"):
        return
    skip = pytest.mark.skip(reason="slow end-to-end run: pass --run-slow (CI always does)")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def digits_run(tmp_path_factory):
    """A run folder as distill leaves it: student.pt (a digits student trained for a few seconds on
    real digits, so accuracies mean something) and generator.pt (an untrained generator: its
    samples are valid [0, 1] images, which is all export and verify need from it)."""
    import torch.nn.functional as F

    from dfard_pipeline.artifacts.generator_file import GENERATOR_FORMAT
    from dfard_pipeline.artifacts.project_checkpoint import write_checkpoint
    from dfard_pipeline.data import load_dataset
    from dfard_pipeline.models.generator import Generator

    run = tmp_path_factory.mktemp("run")
    torch.manual_seed(0)
    model = create_model("digits_cnn_student")
    train = load_dataset("digits", "train")
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(4):
        for idx in torch.randperm(len(train)).split(64):
            loss = F.cross_entropy(model(train.x[idx]), train.y[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    write_checkpoint(model.eval(), run / "student.pt", kind="student", eps=0.1)
    generator = Generator(8, 8, (1, 8, 8), 10, False)
    torch.save({"format": GENERATOR_FORMAT, "generator": generator.describe(),
                "state_dict": generator.state_dict(), "teacher_sha256": "0" * 64}, run / "generator.pt")
    return run
