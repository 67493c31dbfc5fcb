"""verify's two halves apart: ``write_bundle`` does on the workstation everything that needs
PyTorch (the reference's white-box and Square attacks, the transfer sets, reference logits) and
writes a self-contained folder; the device runs its ``verify_on_device.py`` (numpy and the runtime
only); ``collect_bundle`` turns the device's result into the usual verify.json, with the same gates.

Bundle folder: the artifact and its manifest, ``bundle.json`` (profile, eps, seed, the reference's
results, what was requested), ``arrays.npz`` (images, labels, transfer sets, reference logits) and
``verify_on_device.py``. The device adds ``device_result.json`` and ``device_logits.npz``.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np

from dfard_pipeline import square_schedule, worst_case
from dfard_pipeline.errors import UsageError
from dfard_pipeline.runtime import on_device, verdict

DEVICE_FILES = ("device_result.json", "device_logits.npz")
RECORD_SCHEMA = "dfard-pipeline.bundle-record/1"
# device results are JSON of a few KB and logits of a few MB: anything far larger is not ours
MAX_JSON_BYTES = 16 << 20


def _profile_for_bundle(device: str, artifact: Path):
    from dfard_pipeline.backends import ARTIFACT_KINDS
    from dfard_pipeline.runtime.profiles import load_profile

    if device == "jetson":
        raise UsageError("--bundle needs the device's own profile (jetson-orin-nano, jetson-orin-nx, "
                         "jetson-agx-orin, or a profile YAML): the bundle is made before the device is seen")
    profile = load_profile(device)
    kind = ARTIFACT_KINDS.get(artifact.suffix)
    if kind not in ("onnxruntime", "tensorrt"):
        raise UsageError(f"{artifact.name}: a bundle carries an .onnx or .engine artifact, not {artifact.suffix}")
    if kind == "tensorrt" and profile.runtime != "tensorrt":
        raise UsageError(f"{artifact.name} runs on tensorrt, profile {profile.name} on {profile.runtime}: bundle the "
                         ".onnx for it")
    # an .onnx for a TensorRT profile is the Jetson workflow: the device script builds the engine there
    return profile


def write_bundle(request, folder: Path, *, overwrite: bool = False,
                 progress: Callable[[str], None] = lambda _m: None, bars: bool = False) -> Path:
    """Everything verify needs PyTorch for, done here; the bundle for the device written at ``folder``."""
    import torch

    from dfard_pipeline.artifacts.export_manifest import manifest_path, read_manifest
    from dfard_pipeline.artifacts.provenance import file_sha256
    from dfard_pipeline.config import to_dict
    from dfard_pipeline.runtime.verify import (
        _check_contracts,
        autoattack_accuracy,
        is_other_reference,
        reference_half,
        verify_inputs,
    )

    started = time.perf_counter()
    artifact = request.artifact
    if not artifact.is_file():
        raise UsageError(f"model artifact not found: {artifact}")
    check_bundle_folder(folder, overwrite, (artifact, manifest_path(artifact), request.reference, request.teacher))
    profile = _profile_for_bundle(request.device, artifact)
    manifest = read_manifest(artifact)
    if manifest is None:
        raise UsageError(f"{artifact.name} has no manifest ({artifact.name}.json); re-export it")
    inputs = verify_inputs(request, profile, manifest)
    precision, reference_path, reference = inputs.precision, inputs.reference_path, inputs.reference
    eps, data, data_note = inputs.eps, inputs.data, inputs.data_note
    from dfard_pipeline.artifacts.generator_file import generator_beside

    check_bundle_folder(folder, overwrite, (reference_path, generator_beside(reference_path)))
    _check_contracts(manifest.contract, reference.contract, data, artifact)
    x, y, budget = data.x, data.y, profile.attacks
    suite = request.suite or budget.suite
    transfer, reference_suite = reference_half(reference.module, x, y, eps, budget, suite, request.seed, progress,
                                               bars)
    with torch.no_grad():
        parity_attack = f"pgd{budget.pgd_steps}"
        logits_clean = reference.module(x).float().numpy()
        logits_adv = reference.module(transfer[parity_attack]).float().numpy()
    reference_metrics = reference_suite.to_dict()
    bundle = {
        "schema": on_device.BUNDLE_SCHEMA, "id": uuid.uuid4().hex,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "artifact": {"file": artifact.name, "path": str(artifact), "sha256": file_sha256(artifact),
                     "bytes": artifact.stat().st_size,
                     "format": manifest.format or artifact.suffix.lstrip("."),
                     "precision": precision},
        "profile": _profile_record(profile),
        "profile_full": to_dict(profile), "eps": float(eps), "seed": request.seed,
        "transfer": sorted(transfer), "parity_attack": parity_attack,
        "data": {"spec": request.data, "name": data.name, "n": len(x), "synthetic": request.data == "synthetic"},
        "data_note": data_note,
        "reference": {"path": str(reference_path), "sha256": reference.sha256,
                      "is_export_source": not is_other_reference(request, manifest, reference.sha256),
                      **reference_metrics,
                      "whitebox_pgd": reference_metrics["attacks"][parity_attack],
                      **autoattack_accuracy(reference_metrics)},
        "suite": suite,
        "workstation_seconds": None,
    }
    arrays = {"x": x.numpy().astype(np.float32), "y": y.numpy().astype(np.int64),
              "reference_logits_clean": logits_clean, "reference_logits_adversarial": logits_adv,
              **{f"transfer_{k}": v.numpy().astype(np.float32) for k, v in transfer.items()}}
    bundle["workstation_seconds"] = time.perf_counter() - started
    return _write_folder(folder, [artifact, manifest_path(artifact)], arrays, bundle)


def check_bundle_folder(folder: Path, overwrite: bool, inputs) -> None:
    """Refuse, before any attack runs, a bundle folder that exists (without ``overwrite``), that holds
    one of the command's inputs (replacing it would delete them), or that cannot be written."""
    from dfard_pipeline.atomic import folder_writable

    target = folder.resolve()
    for source in inputs:
        if source is not None and Path(source).exists():
            resolved = Path(source).resolve()
            if resolved == target or target in resolved.parents:
                raise UsageError(f"--bundle {folder} holds {Path(source).name}, an input of this command; "
                                 "choose another bundle folder")
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"--bundle {folder} is a file; name a folder")
    if folder.exists() and not overwrite:
        raise UsageError(f"{folder} already exists; pass --overwrite to replace it")
    if not folder_writable(folder.parent):
        raise UsageError(f"cannot write the bundle {folder}: its folder is not writable")


def record_path(folder: Path) -> Path:
    """The workstation's record of what ``--bundle`` wrote (file -> sha256), kept beside the folder
    (never inside it: the folder travels to the device, the record stays here)."""
    return folder.with_name(folder.name + ".sha256.json")


def _profile_record(profile) -> dict:
    """What the device half needs of the profile: its runtime, providers, batches and Square budget."""
    from dfard_pipeline.backends.onnxruntime_runner import provider_name

    budget = profile.attacks
    return {"name": profile.name, "runtime": profile.runtime, "jetson_model": profile.jetson_model,
            "providers": [provider_name(p) for p in profile.providers], "batch_sizes": list(profile.batch_sizes),
            "warmup": profile.warmup, "iterations": profile.iterations,
            "attacks": {"square_queries": budget.square_queries, "square_p_init": budget.square_p_init}}


def _write_folder(folder: Path, files: list[Path], arrays: dict, bundle: dict) -> Path:
    """The bundle staged in a temporary folder beside ``folder`` (on its file system: the move is a
    rename), then moved into place whole, with the workstation's record of every file's sha256."""
    from dfard_pipeline.artifacts.provenance import file_sha256
    from dfard_pipeline.atomic import write_json_atomic

    folder.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder.parent, prefix=f".{folder.name}.") as tmp:
        staging = Path(tmp) / "bundle"
        staging.mkdir()
        for file in files:
            shutil.copy2(file, staging / file.name)
        np.savez(staging / "arrays.npz", **arrays)
        shutil.copy2(on_device.__file__, staging / "verify_on_device.py")
        for module in (square_schedule, worst_case):  # the modules it imports, which import only numpy
            shutil.copy2(module.__file__, staging / Path(module.__file__).name)
        (staging / "bundle.json").write_text(json.dumps(bundle, indent=2, allow_nan=False) + "\n")
        record = {"schema": RECORD_SCHEMA, "bundle_id": bundle["id"],
                  "files": {p.name: file_sha256(p) for p in sorted(staging.iterdir())}}
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(staging, folder)
        write_json_atomic(record_path(folder), record)
    return folder


def _read_json(path: Path, schema: str) -> dict:
    try:
        if path.stat().st_size > MAX_JSON_BYTES:
            raise UsageError(f"{path}: {path.stat().st_size / 2**20:.0f} MiB, far larger than any file verify writes")
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise UsageError(f"{path} is missing") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise UsageError(f"{path}: unreadable ({type(exc).__name__})") from None
    if not isinstance(data, dict) or data.get("schema") != schema:
        raise UsageError(f"{path}: not a {schema} file")
    return data


def _check_record(folder: Path, bundle: dict) -> None:
    """Every file ``--bundle`` wrote is byte for byte what it wrote (the record beside the folder)."""
    from dfard_pipeline.artifacts.provenance import file_sha256

    record_file = record_path(folder)
    if not record_file.is_file():
        raise UsageError(f"{folder}: no record of this bundle beside it ({record_file.name}); collect where "
                         "--bundle made it, or make the bundle again")
    record = _read_json(record_file, RECORD_SCHEMA)
    files = record.get("files")
    if record.get("bundle_id") != bundle.get("id") or not isinstance(files, dict) or "bundle.json" not in files:
        raise UsageError(f"{record_file} records another bundle; make the bundle again")
    for name, digest in files.items():
        path = folder / str(name)
        if not _plain_name(str(name)) or not path.is_file() or file_sha256(path) != digest:
            raise UsageError(f"{path} is not the file --bundle wrote (changed or missing since); make the bundle "
                             "again")


def _plain_name(name: str) -> bool:
    return bool(name) and name not in (".", "..") and "/" not in name and "\\" not in name and "\x00" not in name


def _accuracies(folder: Path, arrays, logits, bundle: dict) -> dict:
    """The device's accuracies recomputed here from its logits and the labels --bundle wrote: clean,
    each transfer set, Square and the per-sample worst case. The Square examples must lie in the
    eps-ball of the images and in [0, 1]."""
    y, x, eps = arrays["y"], arrays["x"], float(bundle["eps"])
    names = ["clean", *[f"transfer_{name}" for name in bundle["transfer"]], "square"]
    correct = {}
    for name in names:
        values = np.asarray(logits[name])
        if values.ndim != 2 or len(values) != len(y) or values.shape[1] <= int(y.max(initial=0)):
            raise UsageError(f"{folder}/device_logits.npz: {name} logits have shape {values.shape}, not "
                             f"({len(y)}, classes)")
        if not np.isfinite(values).all():
            raise UsageError(f"{folder}/device_logits.npz: the artifact returned NaN or inf logits on the {name} "
                             "images on the device; the artifact or its runtime is broken")
        correct[name] = values.argmax(1) == y
    square_x = np.asarray(logits["square_x"], dtype=np.float32)
    if square_x.shape != x.shape or not np.isfinite(square_x).all() or square_x.min(initial=0) < 0 \
            or square_x.max(initial=0) > 1 or np.abs(square_x - x).max(initial=0) > eps + 1e-6:
        raise UsageError(f"{folder}/device_logits.npz: the Square examples are not inside the eps-ball of the "
                         "bundle's images; the device's result is not to be trusted")
    return {**worst_case.summarise(correct), "eps": eps}


def _check_claims(folder: Path, claimed: dict, recomputed: dict) -> None:
    """The device's own figures must be the ones its logits give: a mismatch is a forged or damaged result."""
    def same(a, b) -> bool:
        return isinstance(a, int | float) and not isinstance(a, bool) and abs(float(a) - b) <= 1e-9

    pairs = [(claimed.get(k), recomputed[k]) for k in ("clean_accuracy", "robust_accuracy")]
    pairs += [((claimed.get("attacks") or {}).get(k), v) for k, v in recomputed["attacks"].items()]
    if not all(same(a, b) for a, b in pairs):
        raise UsageError(f"{folder}/device_result.json: its accuracies do not match its logits; the result was "
                         "edited or damaged: run verify_on_device.py again")


def _check_latency(folder: Path, latency: dict) -> None:
    for size, stats in latency.items():
        values = [v for k, v in stats.items() if k != "samples_ms"]
        numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
        if not str(size).isdigit() or any(not (np.isfinite(v) and v >= 0) for v in numbers):
            raise UsageError(f"{folder}/device_result.json: latency for batch {size} holds values that are not "
                             "finite, non-negative numbers")


def collect_bundle(folder: Path):
    """The device's result, checked against its bundle, as a ``VerifyResult`` (verify.json's schema)."""
    from dfard_pipeline.artifacts.verify_result import make_result
    from dfard_pipeline.backends.parity import compare_logits
    from dfard_pipeline.config import from_dict
    from dfard_pipeline.errors import DfardError
    from dfard_pipeline.runtime.profiles import DeviceProfile

    folder = Path(folder)
    bundle = _read_json(folder / "bundle.json", on_device.BUNDLE_SCHEMA)
    device = _read_json(folder / "device_result.json", on_device.RESULT_SCHEMA)
    if device.get("bundle_id") != bundle.get("id"):
        raise UsageError(f"{folder}/device_result.json was made from another bundle; run verify_on_device.py "
                         "in this folder again")
    try:
        name = str(bundle["artifact"]["file"])
        if not _plain_name(name):
            raise UsageError(f"{folder}/bundle.json names the artifact {name!r}, which is not a file in the bundle")
        _check_record(folder, bundle)
        profile = from_dict(DeviceProfile, bundle["profile_full"], where="bundle profile")
        arrays = np.load(folder / "arrays.npz", allow_pickle=False)
        from dfard_pipeline.archive_members import check_members

        check_members(folder / "device_logits.npz")
        logits = np.load(folder / "device_logits.npz", allow_pickle=False)
        precision = bundle["artifact"]["precision"]
        metrics = _accuracies(folder, arrays, logits, bundle)
        _check_claims(folder, device["metrics"], metrics)
        metrics["square_queries_mean"] = float(device["metrics"].get("square_queries_mean", 0.0))
        metrics["flat_logits_fraction"] = verdict.flat_logits_fraction(logits["clean"])
        parity = {name: compare_logits(arrays[f"reference_logits_{key}"], logits[key], name=name,
                                       min_agreement=profile.gates.parity_floor(precision, name)).to_dict()
                  for name, key in (("clean", "clean"), ("adversarial", "adversarial"))}
        reference = bundle["reference"]
        latency = {size: {k: v for k, v in stats.items() if k != "samples_ms"}
                   for size, stats in device["latency"].items()}
        _check_latency(folder, latency)
        gates = verdict.evaluate_gates(profile, precision, metrics, reference, parity, latency, device["emulated"])
        warnings = verdict.warnings_for(metrics, reference, latency, bundle.get("data_note"))
    except DfardError:
        raise
    except Exception as exc:  # noqa: BLE001 - whatever field a damaged bundle lacks: one line, at this boundary
        raise UsageError(f"{folder}: the bundle or the device's result is incomplete or damaged "
                         f"({type(exc).__name__}: {str(exc)[:120]})") from None
    runtime = device["runtime"]
    payload = {
        "artifact": {k: v for k, v in bundle["artifact"].items() if k != "file"},
        "device": {"profile": profile.name, "description": profile.description, "runtime": runtime["runtime"],
                   "emulated": device["emulated"], "latency_source": "host" if device["emulated"] else "device",
                   "host": device["host"], "providers_requested": bundle["profile"]["providers"],
                   "providers_used": runtime["providers_used"], "threads": runtime["threads"],
                   "versions": runtime["versions"], "readings": device["readings"],
                   "torch_imported": device["torch_imported"], "engine_build": device.get("engine_build")},
        "data": bundle["data"],
        "metrics": metrics,
        "reference": reference,
        "parity": parity,
        "latency": latency,
        "latency_samples_ms": {size: stats["samples_ms"] for size, stats in device["latency"].items()},
        "resources": {"model_bytes": bundle["artifact"]["bytes"], "threads": runtime["threads"],
                      "peak_rss_mib": device.get("peak_rss_mib")},
        "gates": gates,
        "warnings": warnings,
        "robust_vs_whitebox_pgd": metrics["robust_accuracy"] - reference["whitebox_pgd"],
        "suite": bundle["suite"],
        "bundle": {"path": str(folder), "id": bundle["id"], "workstation_seconds": bundle["workstation_seconds"],
                   "device_seconds": device["wall_time_s"]},
        "wall_time_s": bundle["workstation_seconds"] + device["wall_time_s"],
    }
    return make_result(verdict.passed(gates), **payload)
