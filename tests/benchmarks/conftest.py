"""benchmarks/ is a folder of scripts, not a package: its tests load the script they check by path."""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def load_script(name: str):
    """benchmarks/NAME.py as a module."""
    spec = importlib.util.spec_from_file_location(f"{name}_benchmark", ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def cifar10_bench():
    """benchmarks/cifar10.py as a module."""
    return load_script("cifar10")


@pytest.fixture
def step_profile_bench():
    """benchmarks/step_profile.py as a module."""
    return load_script("step_profile")


@pytest.fixture
def distill_phases_bench():
    """benchmarks/distill_phases.py as a module."""
    return load_script("distill_phases")


@pytest.fixture
def teacher_ceiling_bench():
    """benchmarks/teacher_ceiling.py as a module."""
    return load_script("teacher_ceiling")
