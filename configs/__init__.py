"""Shipped configs, installed as package data (``dfard_pipeline.configs``) so the pipeline finds
its default config and the device profiles from any working directory and any install mode."""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def shipped_config(name: str) -> Path:
    """Path of a shipped config file, e.g. ``shipped_config("digits.yaml")`` or ``"devices/cpu.yaml"``."""
    return Path(str(resources.files(__name__).joinpath(name)))
