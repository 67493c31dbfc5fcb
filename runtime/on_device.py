"""verify_on_device.py: the device half of ``dfard-pipeline verify --bundle``.

One self-contained script: Python 3.8+, numpy and the runtime (onnxruntime or onnxruntime-gpu for
an ``.onnx``; TensorRT with cuda-python for an ``.engine``). No PyTorch, no dfard-pipeline. It reads
the bundle beside it (``bundle.json``, ``arrays.npz``, the artifact), and on the device itself:
evaluates clean and transfer accuracy, runs the black-box Square attack against the runtime, keeps
its logits for the comparison with the PyTorch reference's, times latency (percentiles; tegrastats
power and temperatures on a Jetson), and writes ``device_result.json`` and ``device_logits.npz``.
``dfard-pipeline verify --collect`` turns that into verify.json and verify.md.

    python3 verify_on_device.py             # on the device named by the bundle's profile
    python3 verify_on_device.py --emulate   # anywhere: latency is marked as host, not device

Exit codes: 0 done; 2 bad bundle or options; 3 the runtime is missing or cannot run the artifact;
4 this is not the device the profile is for.

This file is also the package module ``dfard_pipeline.runtime.on_device``: the workstation side
imports its Jetson detection, tegrastats sampler and latency statistics, so both sides share them.
"""

import argparse
import json
import math
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

if __package__:  # imported as dfard_pipeline.runtime.on_device on the workstation
    from dfard_pipeline.square_schedule import p_selection
    from dfard_pipeline.worst_case import summarise
else:  # run as verify_on_device.py in a bundle: --bundle copies the modules beside this script
    from square_schedule import p_selection
    from worst_case import summarise

RESULT_SCHEMA = "dfard-pipeline.device-result/1"
BUNDLE_SCHEMA = "dfard-pipeline.bundle/1"
UNSTABLE_CV = 0.25  # std/mean above this: the latency figures are not to be trusted as a budget
BATCH = 500


class DeviceError(Exception):
    def __init__(self, message, code=2):
        super().__init__(message)
        self.code = code


# --- the device: Jetson identity and tegrastats ------------------------------------------------

_POWER = re.compile(r"(VDD_IN|POM_5V_IN|VIN_SYS_5V0)\s+(\d+)mW")
_TEMP = re.compile(r"(\w+)@(-?[\d.]+)C")
# L4T (R<major>.<minor>) -> JetPack, for the releases whose engines this tool builds (TensorRT 10).
_JETPACK = {"36.4": "6.1/6.2", "36.3": "6.0", "36.2": "6.0 DP", "35.6": "5.1.4", "35.5": "5.1.3", "35.4": "5.1.2"}


def parse_tegra_release(text):
    """'# R36 (release), REVISION: 4.3, ...' -> '36.4.3'."""
    match = re.search(r"R(\d+)\s*\(release\),\s*REVISION:\s*([\d.]+)", text)
    return f"{match.group(1)}.{match.group(2)}" if match else None


def detect_jetson(root=Path("/")):
    """{"model", "l4t", "jetpack", "power_mode", "clocks"} on a Jetson (read from its files and
    NVIDIA's tools), None on any other host."""
    release_file, model_file = root / "etc/nv_tegra_release", root / "proc/device-tree/model"
    if not release_file.is_file() and not model_file.is_file():
        return None
    model = model_file.read_text(errors="replace").strip("\x00\n ") if model_file.is_file() else "unknown Jetson"
    l4t = parse_tegra_release(release_file.read_text(errors="replace")) if release_file.is_file() else None
    jetpack = _JETPACK.get(".".join(l4t.split(".")[:2])) if l4t else None
    return {"model": model, "l4t": l4t, "jetpack": jetpack, "power_mode": _power_mode(), "clocks": _clocks(root)}


def _power_mode():
    if not shutil.which("nvpmodel"):
        return None
    try:
        out = subprocess.run(["nvpmodel", "-q"], capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"NV Power Mode:\s*(\S+)", out)
    return match.group(1) if match else out.strip() or None


def _clocks(root):
    clocks = {}
    cpu = root / "sys/devices/system/cpu/cpu0/cpufreq/scaling_cur_freq"
    if cpu.is_file():
        clocks["cpu0_khz"] = cpu.read_text().strip()
    for gpu in sorted((root / "sys/devices").glob("*gpu*/devfreq/*/cur_freq"))[:1]:
        clocks["gpu_hz"] = gpu.read_text().strip()
    return clocks


def parse_tegrastats(line):
    """One tegrastats line -> {'power_mw': total input power, 'temps_c': {sensor: celsius}}."""
    power = _POWER.search(line)
    return {"power_mw": int(power.group(2)) if power else None,
            "temps_c": {name: float(value) for name, value in _TEMP.findall(line)}}


class TegrastatsSampler:
    """``with TegrastatsSampler() as s: ...`` runs tegrastats during the block; ``s.summary()``
    gives mean/max power and max temperatures. Does nothing where tegrastats is absent."""

    def __init__(self, interval_ms=100, enabled=True):
        self.interval_ms, self.enabled = interval_ms, enabled
        self.readings = []
        self._proc = None

    def __enter__(self):
        if self.enabled and shutil.which("tegrastats"):
            self._proc = subprocess.Popen(["tegrastats", "--interval", str(self.interval_ms)],
                                          stdout=subprocess.PIPE, text=True)
            self._thread = threading.Thread(target=self._read, daemon=True)
            self._thread.start()
        return self

    def _read(self):
        for line in self._proc.stdout:
            self.readings.append(parse_tegrastats(line))

    def __exit__(self, *exc):
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(timeout=5)
            self._thread.join(timeout=5)

    def summary(self):
        if not self.readings:
            return None
        power = [r["power_mw"] for r in self.readings if r["power_mw"] is not None]
        temps = {}
        for reading in self.readings:
            for name, value in reading["temps_c"].items():
                temps[name] = max(temps.get(name, value), value)
        return {"samples": len(self.readings), "power_mw_mean": sum(power) / len(power) if power else None,
                "power_mw_max": max(power) if power else None, "temp_c_max": temps}


def usable_cpus():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


# --- latency -----------------------------------------------------------------------------------

def latency_stats(times_ms, batch):
    """Percentiles, spread and throughput of timed runs (milliseconds) at ``batch``.

    The samples are rounded to the nanosecond first and every figure is computed from the rounded
    samples, so a reader recomputes the same statistics from ``samples_ms``."""
    times = np.asarray(times_ms, dtype=np.float64).round(6)
    mean, std = float(times.mean()), float(times.std())
    cv = std / mean if mean > 0 else 0.0
    return {"batch": batch, "iterations": len(times), "p50_ms": float(np.percentile(times, 50)),
            "p90_ms": float(np.percentile(times, 90)), "p99_ms": float(np.percentile(times, 99)),
            "mean_ms": mean, "std_ms": std, "cv": cv, "unstable": cv > UNSTABLE_CV,
            "throughput": batch / (mean / 1e3) if mean > 0 else 0.0, "samples_ms": times.tolist()}


def time_runs(infer, shape, batch, warmup, iterations, seed):
    x = np.random.default_rng(seed).random((batch, *shape), dtype=np.float32)
    for _ in range(warmup):
        infer(x)
    times = []
    for _ in range(iterations):
        start = time.perf_counter()
        infer(x)
        times.append((time.perf_counter() - start) * 1e3)
    return latency_stats(times, batch)


# --- Square attack (numpy) ----------------------------------------------------------------------
# The same algorithm as dfard_pipeline.attacks.square (Andriushchenko et al., ECCV 2020: L-inf,
# margin loss, the paper's p schedule), on numpy arrays so that it runs where PyTorch does not.

def _margin(logits, y):
    true = logits[np.arange(len(y)), y]
    other = logits.copy()
    other[np.arange(len(y)), y] = -np.inf
    return true - other.max(1)


def square_linf(predict, x, y, eps, n_queries, p_init, rng):
    """(x_adv, queries per image) for images x (N, C, H, W) in [0, 1] and labels y (N,)."""
    x = x.astype(np.float32)
    n, c, h, w = x.shape
    signs = rng.integers(0, 2, (n, c, 1, w)).astype(np.float32) * 2 - 1  # vertical stripes
    x_best = np.clip(x + eps * signs, 0, 1).astype(np.float32)
    margin = _margin(predict(x_best), y)
    queries = np.ones(n, dtype=np.int64)
    for query in range(1, n_queries):
        active = np.flatnonzero(margin > 0)
        if active.size == 0:
            break
        p = p_selection(p_init, query, n_queries)
        side = max(int(round(math.sqrt(p * h * w))), 1)
        side = min(side, h - 1, w - 1) if min(h, w) > 1 else 1
        row, col = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
        x_orig = x[active]
        delta = x_best[active] - x_orig
        delta[:, :, row:row + side, col:col + side] = (rng.integers(0, 2, (len(active), c, 1, 1)) * 2 - 1) * eps
        x_new = np.clip(np.clip(x_orig + delta, x_orig - eps, x_orig + eps), 0, 1).astype(np.float32)
        margin_new = _margin(predict(x_new), y[active])
        queries[active] += 1
        better = margin_new < margin[active]
        x_best[active[better]] = x_new[better]
        margin[active[better]] = margin_new[better]
    return x_best, queries


# --- runtimes ----------------------------------------------------------------------------------

def open_onnxruntime(path, providers, threads):
    try:
        import onnxruntime as ort
    except ImportError:
        raise DeviceError("onnxruntime is not installed here: pip install onnxruntime (or onnxruntime-gpu on a "
                          "CUDA device)", 3) from None
    missing = [p for p in providers if p not in ort.get_available_providers()]
    if missing:
        raise DeviceError(f"ONNX Runtime here has no {', '.join(missing)} (available: "
                          f"{', '.join(ort.get_available_providers())})", 3)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.log_severity_level = 3
    try:
        session = ort.InferenceSession(str(path), options, providers=providers)
    except Exception as exc:  # noqa: BLE001 - ORT raises several types for files it cannot run
        raise DeviceError(f"{path.name}: ONNX Runtime cannot load it ({str(exc).splitlines()[0]})", 3) from None
    used = session.get_providers()
    dropped = [p for p in providers if p not in used]
    if dropped:
        raise DeviceError(f"ONNX Runtime did not use {', '.join(dropped)} (it used {', '.join(used)})", 3)
    name = session.get_inputs()[0].name
    fixed = session.get_inputs()[0].shape[0]
    info = {"runtime": "onnxruntime", "providers_used": used, "threads": threads,
            "versions": {"onnxruntime": ort.__version__, "numpy": np.__version__}}
    return _batched(lambda x: session.run(None, {name: x})[0], fixed if isinstance(fixed, int) else None), info


def open_tensorrt(path):
    try:
        import tensorrt as trt
        from cuda import cudart
    except ImportError:
        raise DeviceError("TensorRT with cuda-python is needed for an engine (JetPack ships TensorRT; "
                          "pip install cuda-python)", 3) from None

    def check(result):
        err, *rest = result if isinstance(result, tuple) else (result,)
        if int(err) != 0:
            raise DeviceError(f"CUDA error {err}", 3)
        return rest[0] if len(rest) == 1 else rest

    engine = trt.Runtime(trt.Logger(trt.Logger.WARNING)).deserialize_cuda_engine(path.read_bytes())
    if engine is None:
        raise DeviceError(f"{path.name}: TensorRT {trt.__version__} cannot deserialise it (built by another "
                          "TensorRT version or GPU?)", 3)
    context = engine.create_execution_context()
    names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
    input_name = next(n for n in names if engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT)
    output_name = next(n for n in names if engine.get_tensor_mode(n) == trt.TensorIOMode.OUTPUT)
    stream = check(cudart.cudaStreamCreate())  # not the default stream: TensorRT would sync on it

    def infer(x):
        x = np.ascontiguousarray(x, dtype=np.float32)
        context.set_input_shape(input_name, x.shape)
        out = np.empty(tuple(context.get_tensor_shape(output_name)), dtype=np.float32)
        d_in, d_out = check(cudart.cudaMalloc(x.nbytes)), check(cudart.cudaMalloc(out.nbytes))
        try:
            h2d, d2h = cudart.cudaMemcpyKind.cudaMemcpyHostToDevice, cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost
            check(cudart.cudaMemcpyAsync(d_in, x.ctypes.data, x.nbytes, h2d, stream))
            context.set_tensor_address(input_name, d_in)
            context.set_tensor_address(output_name, d_out)
            if not context.execute_async_v3(stream):
                raise DeviceError("TensorRT execution failed", 3)
            check(cudart.cudaMemcpyAsync(out.ctypes.data, d_out, out.nbytes, d2h, stream))
            check(cudart.cudaStreamSynchronize(stream))
        finally:
            cudart.cudaFree(d_in)
            cudart.cudaFree(d_out)
        return out

    fixed = engine.get_tensor_shape(input_name)[0]
    info = {"runtime": "tensorrt", "providers_used": ["tensorrt"], "threads": None,
            "versions": {"tensorrt": trt.__version__, "numpy": np.__version__}}
    return _batched(infer, None if fixed < 0 else int(fixed)), info


def build_engine(onnx_path, precision, engine_path, max_batch, log=lambda _m: None):
    """A TensorRT engine built here, on the device, from the bundle's ONNX file: FP16 with the FP16
    flag; INT8 from the graph's own Q/DQ scales (explicit quantization: the export's data-free
    calibration travels inside the ONNX file, no calibrator runs here); a dynamic batch 1..max_batch.
    Returns what the build used, for the record."""
    try:
        import tensorrt as trt
    except ImportError:
        raise DeviceError("building the engine needs TensorRT's Python API on the device (JetPack ships it; "
                          "on x86, NVIDIA's tensorrt wheel)", 3) from None
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)  # TensorRT 10: explicit batch is the only mode
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(Path(onnx_path).read_bytes()):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise DeviceError(f"TensorRT {trt.__version__} cannot parse {Path(onnx_path).name}: {errors[:300]}", 3)
    config = builder.create_builder_config()
    flags = []
    if precision in ("fp16", "int8"):
        config.set_flag(trt.BuilderFlag.FP16)  # INT8 engines keep their float layers in FP16
        flags.append("FP16")
    if precision == "int8":
        config.set_flag(trt.BuilderFlag.INT8)
        flags.append("INT8")
    tensor = network.get_input(0)
    shape = tuple(tensor.shape)
    profile_shapes = None
    if shape[0] < 0:  # a dynamic batch: one optimisation profile covering every batch verify runs
        item = tuple(shape[1:])
        profile_shapes = {"min": (1, *item), "opt": (1, *item), "max": (max_batch, *item)}
        profile = builder.create_optimization_profile()
        profile.set_shape(tensor.name, profile_shapes["min"], profile_shapes["opt"], profile_shapes["max"])
        config.add_optimization_profile(profile)
    log(f"building a TensorRT {trt.__version__} engine ({precision}, flags {'+'.join(flags) or 'none'}) "
        f"from {Path(onnx_path).name}")
    started = time.perf_counter()
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise DeviceError(f"TensorRT {trt.__version__} could not build an engine from {Path(onnx_path).name}", 3)
    Path(engine_path).write_bytes(bytes(serialized))
    return {"tensorrt": trt.__version__, "precision": precision, "flags": flags,
            "int8_scales": "the ONNX graph's Q/DQ (explicit quantization)" if precision == "int8" else None,
            "input": tensor.name,
            "profile": {k: list(v) for k, v in profile_shapes.items()} if profile_shapes else None,
            "engine": Path(engine_path).name, "engine_bytes": Path(engine_path).stat().st_size,
            "build_seconds": time.perf_counter() - started}


def _batched(run, fixed):
    """``infer(x)`` for any N: chunks of at most BATCH, padded to a fixed exported batch where there is one."""
    step = fixed or BATCH

    def infer(x):
        outputs = []
        for start in range(0, len(x), step):
            chunk = x[start:start + step]
            if fixed and len(chunk) < fixed:
                chunk = np.concatenate([chunk, np.repeat(chunk[-1:], fixed - len(chunk), axis=0)])
            outputs.append(np.asarray(run(np.ascontiguousarray(chunk, dtype=np.float32)))[: min(step, len(x) - start)])
        return np.concatenate(outputs).astype(np.float32, copy=False)

    return infer


# --- the evaluation ----------------------------------------------------------------------------

def check_device(bundle, emulate, root=Path("/")):
    jetson = detect_jetson(root)
    wanted = bundle["profile"].get("jetson_model")
    if emulate or not wanted:
        return jetson
    if jetson is None:
        raise DeviceError(f"this is not a Jetson; the bundle's profile {bundle['profile']['name']} is for a "
                          f"{wanted}: run it there, or pass --emulate", 4)
    if wanted.lower() not in jetson["model"].lower():
        raise DeviceError(f"this is a {jetson['model']}, the bundle's profile is for a {wanted}", 4)
    return jetson


def evaluate(bundle_dir, emulate=False, log=print):
    bundle_dir = Path(bundle_dir)
    try:
        bundle = json.loads((bundle_dir / "bundle.json").read_text())
        arrays = np.load(bundle_dir / "arrays.npz", allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise DeviceError(f"{bundle_dir}: not a verify bundle ({exc})") from None
    if bundle.get("schema") != BUNDLE_SCHEMA:
        raise DeviceError(f"{bundle_dir}/bundle.json: not a {BUNDLE_SCHEMA} bundle")
    started = time.perf_counter()
    profile = bundle["profile"]
    jetson = check_device(bundle, emulate)
    artifact = bundle_dir / bundle["artifact"]["file"]
    engine_build = None
    if profile["runtime"] == "tensorrt" and artifact.suffix == ".onnx":  # the engine is built here, on the device
        engine = artifact.with_suffix(".engine")
        max_batch = max([BATCH, *profile["batch_sizes"]])
        engine_build = build_engine(artifact, bundle["artifact"]["precision"], engine, max_batch, log)
        infer, info = open_tensorrt(engine)
    elif profile["runtime"] == "tensorrt":
        infer, info = open_tensorrt(artifact)
    else:
        infer, info = open_onnxruntime(artifact, profile["providers"], usable_cpus())
    x, y, eps = arrays["x"], arrays["y"], float(bundle["eps"])
    attacks = profile["attacks"]
    log(f"clean and transfer accuracy on {len(x)} images ({info['runtime']})")
    clean_logits = infer(x)
    if y.ndim != 1 or len(y) != len(x) or (len(y) and (y.min() < 0 or y.max() >= clean_logits.shape[1])):
        raise DeviceError(f"{bundle_dir}/arrays.npz: labels do not fit the artifact's "
                          f"{clean_logits.shape[1]} classes and {len(x)} images")
    # every set's logits go back to the workstation, which recomputes each accuracy from them
    outputs = {"clean": clean_logits}
    for name in bundle["transfer"]:
        outputs[f"transfer_{name}"] = infer(arrays[f"transfer_{name}"])
    correct = {"clean": clean_logits.argmax(1) == y}
    correct.update({k: v.argmax(1) == y for k, v in outputs.items() if k != "clean"})
    log(f"Square ({attacks['square_queries']} queries) on {info['runtime']}")
    rng = np.random.default_rng(bundle["seed"])
    squares, queries = [], []
    for i in range(0, len(x), BATCH):
        x_adv, used = square_linf(infer, x[i:i + BATCH], y[i:i + BATCH], eps, attacks["square_queries"],
                                  attacks["square_p_init"], rng)
        squares.append(x_adv)
        queries.append(used)
    square_x = np.concatenate(squares).astype(np.float32)
    outputs["square"] = infer(square_x)
    correct["square"] = outputs["square"].argmax(1) == y
    metrics = {**summarise(correct), "eps": eps, "square_queries_mean": float(np.concatenate(queries).mean())}
    logits = {**outputs, "adversarial": outputs[f"transfer_{bundle['parity_attack']}"], "square_x": square_x}
    agreement = {k: float((arrays[f"reference_logits_{k}"].argmax(1) == logits[k].argmax(1)).mean())
                 for k in ("clean", "adversarial")}
    latency = {}
    with TegrastatsSampler(enabled=jetson is not None and not emulate) as sampler:
        for batch in profile["batch_sizes"]:
            log(f"timing batch {batch} ({profile['iterations']} runs)")
            latency[str(batch)] = time_runs(infer, tuple(x.shape[1:]), batch, profile["warmup"],
                                            profile["iterations"], bundle["seed"])
    try:
        import resource

        peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    except ImportError:  # not on Linux
        peak_rss = None
    result = {"schema": RESULT_SCHEMA, "bundle_id": bundle["id"], "emulated": bool(emulate), "metrics": metrics,
            "top1_agreement_with_reference": agreement, "latency": latency, "readings": sampler.summary(),
            "peak_rss_mib": peak_rss,
            "runtime": info, "host": {"hostname": socket.gethostname(), "platform": platform.platform(),
                                      "machine": platform.machine(), "python": platform.python_version(),
                                      "jetson": jetson},
            "torch_imported": "torch" in sys.modules, "wall_time_s": time.perf_counter() - started,
            "engine_build": engine_build}
    return result, logits


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle", default=str(Path(__file__).resolve().parent), help="bundle folder")
    parser.add_argument("--emulate", action="store_true", help="run another device's profile here")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    log = (lambda _m: None) if args.quiet else (lambda m: print(f"  {m}", file=sys.stderr, flush=True))
    try:
        result, logits = evaluate(args.bundle, emulate=args.emulate, log=log)
    except DeviceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.code
    except (KeyError, IndexError, TypeError, ValueError, AttributeError, RecursionError) as exc:
        # a damaged or incomplete bundle, caught here at the boundary whatever the field
        print(f"error: {args.bundle}: the bundle is incomplete or damaged ({type(exc).__name__}: "
              f"{str(exc)[:120]}); make it again with dfard-pipeline verify --bundle", file=sys.stderr)
        return 2
    folder = Path(args.bundle)
    # logits first, the result last: a device_result.json always has its logits beside it
    with open(folder / ".device_logits.npz.tmp", "wb") as handle:
        np.savez(handle, **logits)
    os.replace(folder / ".device_logits.npz.tmp", folder / "device_logits.npz")
    out = folder / "device_result.json"
    tmp = out.with_name(".device_result.json.tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    os.replace(tmp, out)
    m = result["metrics"]
    print(f"device done: clean {m['clean_accuracy']:.2%}, robust {m['robust_accuracy']:.2%} in "
          f"{result['wall_time_s']:.0f} s -> {out}", file=sys.stderr)
    print("next: copy device_result.json and device_logits.npz back into the bundle folder on the workstation, "
          "then run: dfard-pipeline verify --collect BUNDLE_FOLDER", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
