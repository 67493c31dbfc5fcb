"""The exported digits student that the verify tests share."""

import shutil
import sys

import pytest

from dfard_pipeline.cli import main


@pytest.fixture(scope="module")
def exported(digits_run, tmp_path_factory):
    """student.fp32.onnx (with its manifest) exported from the session's small digits run."""
    run = tmp_path_factory.mktemp("exported") / "run"
    shutil.copytree(digits_run, run)
    with pytest.raises(SystemExit) as info:
        main(["export", "--checkpoint", str(run / "student.pt"), "--precision", "fp32", "--quiet"]) or sys.exit(0)
    assert info.value.code in (0, None)
    return run / "student.fp32.onnx"
