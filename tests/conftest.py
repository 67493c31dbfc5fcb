"""Shared fixtures: tiny models built in-process, never downloaded."""

from __future__ import annotations

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
