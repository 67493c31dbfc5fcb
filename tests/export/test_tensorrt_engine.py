"""TensorRT: the real build runs only where TensorRT and a CUDA GPU exist; everything around it
(option handling, profiles, compatibility checks, error messages) runs everywhere."""

import importlib.util
import json
import shutil

import pytest
import torch

from dfard_pipeline.backends.tensorrt_env import check_engine_compatible
from dfard_pipeline.cli import main
from dfard_pipeline.errors import UsageError
from dfard_pipeline.export.tensorrt_engine import optimization_profile

HAS_TENSORRT = importlib.util.find_spec("tensorrt") is not None
HAS_CUDA = torch.cuda.is_available()


def test_optimization_profile():
    assert optimization_profile((3, 32, 32), True, None) == {
        "min": [1, 3, 32, 32], "opt": [64, 3, 32, 32], "max": [256, 3, 32, 32]}
    assert optimization_profile((1, 8, 8), False, 4)["max"] == [4, 1, 8, 8]


def test_engine_from_another_tensorrt_or_gpu_is_refused():
    manifest = {"tensorrt": {"version": "10.3.0", "compute_capability": "8.7", "gpu_name": "Orin"}}
    check_engine_compatible(manifest, "10.3.0", {"compute_capability": "8.7", "gpu_name": "Orin"})
    with pytest.raises(UsageError, match="TensorRT 10.3.0 .this machine has 10.7.0"):
        check_engine_compatible(manifest, "10.7.0", {"compute_capability": "8.7", "gpu_name": "Orin"})
    with pytest.raises(UsageError, match="compute capability 8.7 .*this GPU is 8.9"):
        check_engine_compatible(manifest, "10.3.0", {"compute_capability": "8.9", "gpu_name": "L4"})


@pytest.mark.skipif(HAS_TENSORRT, reason="TensorRT is installed here; this checks the message shown without it")
def test_without_tensorrt_export_exits_2_and_says_how_to_get_it(tmp_path, digits_run, capsys):
    shutil.copytree(digits_run, tmp_path / "run")
    with pytest.raises(SystemExit) as info:
        main(["export", "--checkpoint", str(tmp_path / "run" / "student.pt"), "--format", "tensorrt"])
    err = capsys.readouterr().err
    assert info.value.code == 2 and "TensorRT is not installed" in err and "JetPack" in err
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["generator.pt", "student.pt"]


@pytest.mark.skipif(not HAS_TENSORRT or HAS_CUDA, reason="needs TensorRT installed on a machine without a GPU")
def test_tensorrt_without_gpu_exits_2(tmp_path, digits_run, capsys):
    with pytest.raises(SystemExit) as info:
        main(["export", "--checkpoint", str(digits_run / "student.pt"), "--format", "tensorrt",
              "--out", str(tmp_path / "m.engine")])
    assert info.value.code == 2 and "needs a CUDA GPU" in capsys.readouterr().err


@pytest.mark.skipif(not (HAS_TENSORRT and HAS_CUDA), reason="needs TensorRT and a CUDA GPU (none on this machine)")
@pytest.mark.parametrize("precision", ["fp32", "fp16", "int8"])
def test_engine_builds_matches_pytorch_and_records_the_gpu(tmp_path, digits_run, precision):
    shutil.copytree(digits_run, tmp_path / "run")
    main_args = ["export", "--checkpoint", str(tmp_path / "run" / "student.pt"), "--format", "tensorrt",
                 "--precision", precision, "--quiet"]
    with pytest.raises(SystemExit) as info:
        main(main_args)
    assert info.value.code in (0, None)
    engine = tmp_path / "run" / f"student.{precision}.engine"
    manifest = json.loads(engine.with_name(engine.name + ".json").read_text())
    assert manifest["tensorrt"]["gpu_name"] and manifest["tensorrt"]["compute_capability"]
    assert all(p["passed"] for p in manifest["parity"])
    assert (tmp_path / "run" / "tensorrt.timing_cache").is_file()
