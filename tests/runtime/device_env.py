"""A Python environment with numpy and (optionally) onnxruntime but no PyTorch, made without a
download: a folder of links to the installed packages, used with ``python -S`` (no site-packages)."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import numpy
import onnxruntime


def torch_free_env(folder: Path, with_onnxruntime: bool = True) -> tuple[list[str], dict]:
    """(python command, environment) that can import numpy (and onnxruntime) and nothing else installed."""
    site = folder / "site"
    site.mkdir(parents=True)
    packages = [Path(numpy.__file__).parent, *([Path(onnxruntime.__file__).parent] if with_onnxruntime else [])]
    for package in packages:
        (site / package.name).symlink_to(package)
        libs = package.with_name(package.name + ".libs")
        if libs.is_dir():
            (site / libs.name).symlink_to(libs)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(site), "HOME": str(folder)}
    return [sys.executable, "-S"], env


def python_wrapper(folder: Path, with_onnxruntime: bool = True) -> Path:
    """An executable that starts that environment's Python: what --remote-python is given."""
    command, env = torch_free_env(folder, with_onnxruntime)
    wrapper = folder / "python-no-torch"
    wrapper.write_text(f"#!/bin/sh\nPYTHONPATH={env['PYTHONPATH']} exec {' '.join(command)} \"$@\"\n")
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return wrapper
