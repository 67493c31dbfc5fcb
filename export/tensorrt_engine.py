"""ONNX -> serialized TensorRT engine with the TensorRT Python API (TensorRT 10 names).

FP32 and FP16/BF16 engines are built from the FP32 ONNX; INT8 engines from the QDQ ONNX
(explicit quantisation: the scales come from the graph, no TensorRT calibrator runs). A timing
cache is read and written back so rebuilds on the same GPU are fast. TensorRT is imported lazily
and its absence is a usage error that says how to get it.
"""

from __future__ import annotations

from pathlib import Path

from dfard_pipeline.backends.tensorrt_env import cuda_device_info, import_tensorrt
from dfard_pipeline.errors import ValidationError
from dfard_pipeline.export.onnx_export import INPUT_NAME

MAX_DYNAMIC_BATCH = 256


def optimization_profile(shape: tuple[int, int, int], dynamic_batch: bool, batch: int | None) -> dict:
    """min / opt / max input shapes: any batch 1..256 (tuned for 64) when dynamic, else the fixed one."""
    if dynamic_batch:
        return {"min": [1, *shape], "opt": [64, *shape], "max": [MAX_DYNAMIC_BATCH, *shape]}
    fixed = [batch or 1, *shape]
    return {"min": fixed, "opt": fixed, "max": fixed}


def build_engine(onnx_path: Path, engine_path: Path, *, precision: str, shape: tuple[int, int, int],
                 dynamic_batch: bool, batch: int | None, workspace_mib: int = 1024,
                 timing_cache: Path | None = None) -> dict:
    """Write the serialized engine to ``engine_path``; returns what the manifest records."""
    trt = import_tensorrt()
    device = cuda_device_info()
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    flags = 0
    if int(trt.__version__.split(".")[0]) < 10:  # explicit batch is the only mode from TensorRT 10 on
        flags = 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(Path(onnx_path).read_bytes()):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise ValidationError(f"TensorRT's ONNX parser rejected {Path(onnx_path).name}: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, workspace_mib << 20)
    if precision in ("fp16", "int8"):  # int8: layers without Q/DQ fall back to fp16, not fp32
        config.set_flag(trt.BuilderFlag.FP16)
    if precision == "bf16":
        config.set_flag(trt.BuilderFlag.BF16)
    if precision == "int8":
        config.set_flag(trt.BuilderFlag.INT8)
    cache_bytes = timing_cache.read_bytes() if timing_cache and timing_cache.is_file() else b""
    try:
        cache_reused = bool(cache_bytes) and bool(config.set_timing_cache(config.create_timing_cache(cache_bytes),
                                                                          ignore_mismatch=False))
    except (RuntimeError, TypeError):  # a truncated or foreign file
        cache_reused = False
    if not cache_reused:  # none yet, or one from another GPU / TensorRT version: start an empty one
        config.set_timing_cache(config.create_timing_cache(b""), ignore_mismatch=False)
    shapes = optimization_profile(shape, dynamic_batch, batch)
    profile = builder.create_optimization_profile()
    profile.set_shape(INPUT_NAME, tuple(shapes["min"]), tuple(shapes["opt"]), tuple(shapes["max"]))
    config.add_optimization_profile(profile)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise ValidationError(f"TensorRT {trt.__version__} failed to build a {precision} engine from "
                              f"{Path(onnx_path).name} (see the TensorRT log above)")
    Path(engine_path).write_bytes(bytes(serialized))
    if timing_cache is not None:
        from dfard_pipeline.atomic import atomic_path

        with atomic_path(timing_cache) as tmp:
            tmp.write_bytes(bytes(config.get_timing_cache().serialize()))
    return {"version": trt.__version__, **device, "workspace_mib": workspace_mib,
            "timing_cache": str(timing_cache) if timing_cache else None, "timing_cache_reused": cache_reused,
            "profile": shapes}
