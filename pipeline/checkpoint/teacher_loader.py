"""Load a teacher from any of the formats users hold, safely.

Accepted: this project's checkpoint; a plain ``state_dict`` (or one under a ``state_dict`` /
``model`` key) with ``arch=``; a TorchScript file; a ``torch.export`` ``.pt2`` program. No Python
code from the file runs unless ``trust=True``: every zip's directory is checked first
(``archive_members``), pickles load with ``weights_only=True``, a ``.pt2`` is code and loads only
with ``trust`` (``pt2_archive.py``), and TorchScript is loaded only when its code defines no
``__setstate__`` and every operation of every method is a pure tensor operation
(``torchscript_check.py``). Every loaded model
must have finite weights and give finite, deterministic ``(N, classes)`` logits.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from dfard_pipeline.artifacts.project_checkpoint import ProjectCheckpoint, is_project_checkpoint
from dfard_pipeline.artifacts.provenance import file_sha256
from dfard_pipeline.artifacts.torch_files import archive_kind, holds_pickled_objects, load_error
from dfard_pipeline.checkpoint.loaded import LoadedModel, check_teacher, freeze, from_checkpoint
from dfard_pipeline.checkpoint.pt2_archive import load_exported_program
from dfard_pipeline.checkpoint.torchscript_check import load_torchscript
from dfard_pipeline.errors import CheckpointError, UsageError
from dfard_pipeline.models import InputContract, create_model

PREFIXES = ("module.", "model.")


def strip_prefixes(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Drop DataParallel/wrapper prefixes (``module.``, ``model.``), repeatedly."""
    out = {}
    for key, value in state.items():
        changed = True
        while changed:
            changed = False
            for prefix in PREFIXES:
                if key.startswith(prefix):
                    key, changed = key[len(prefix):], True
        out[key] = value
    return out


def _infer_arch_kwargs(state: dict[str, torch.Tensor]) -> dict[str, int]:
    """Input channels from the first conv, classes from the last linear layer."""
    kwargs = {}
    convs = [v for v in state.values() if v.ndim == 4]
    linears = [v for k, v in state.items() if v.ndim == 2 and k.endswith("weight")]
    if convs:
        kwargs["in_chans"] = int(convs[0].shape[1])
    if linears:
        kwargs["num_classes"] = int(linears[-1].shape[0])
    return kwargs


def _from_state_dict(state: dict, arch: str | None, path: Path) -> nn.Module:
    if arch is None:
        raise UsageError(f"{path} holds a plain state_dict: name its architecture with --teacher-arch NAME "
                         "(config: teacher.checkpoint_arch; see `dfard-pipeline models`)")
    if "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    elif "model" in state and isinstance(state["model"], dict):
        state = state["model"]
    if not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path}: not a state_dict (values must all be tensors)")
    state = strip_prefixes(state)
    from dfard_pipeline.checkpoint.key_maps import KEY_MAPS

    extra = {}
    mapped = KEY_MAPS[arch](state) if arch in KEY_MAPS else None
    if mapped is not None:
        state, extra = mapped
    model = create_model(arch, **{**_infer_arch_kwargs(state), **extra})
    try:
        result = model.load_state_dict(state, strict=False)
    except RuntimeError as exc:  # shapes that do not fit: name the first few
        sizes = [line.strip() for line in str(exc).splitlines() if "size mismatch" in line]
        detail = "; ".join(sizes[:3]) + (f" (+{len(sizes) - 3} more)" if len(sizes) > 3 else "")
        raise CheckpointError(f"{path} does not fit --teacher-arch {arch}: {detail or str(exc).splitlines()[0]}") \
            from None
    if result.missing_keys or result.unexpected_keys:
        def show(keys):
            return ", ".join(keys[:5]) + (f" (+{len(keys) - 5} more)" if len(keys) > 5 else "")
        parts = []
        if result.missing_keys:
            parts.append(f"missing {len(result.missing_keys)} keys: {show(result.missing_keys)}")
        if result.unexpected_keys:
            parts.append(f"unexpected {len(result.unexpected_keys)} keys: {show(result.unexpected_keys)}")
        raise CheckpointError(f"{path} does not match --teacher-arch {arch}: " + "; ".join(parts))
    return model


def _contract_for_external(module: nn.Module, arch: str | None, input_shape, path: Path) -> InputContract:
    if arch is not None:
        shape = create_model(arch).contract.shape
    elif input_shape is not None:
        shape = tuple(int(v) for v in input_shape)
    else:
        raise UsageError(f"{path}: this format carries no input contract; pass --input-shape C,H,W "
                         "(config: teacher.input_shape)")
    with torch.no_grad():
        classes = int(module(torch.rand(2, *shape)).shape[-1])
    # Normalisation is inside the user's model: the contract records identity statistics.
    return InputContract(shape, classes, (0.0,) * shape[0], (1.0,) * shape[0])


def _export_input_shape(program, path: Path) -> tuple[int, ...] | None:
    """(C, H, W) of the program's image input; its batch dimension must be dynamic."""
    for node in program.graph.nodes:
        if node.op == "placeholder" and node.name in program.graph_signature.user_inputs:
            value = node.meta.get("val")
            if value is not None and len(value.shape) == 4:
                if isinstance(value.shape[0], int):
                    raise CheckpointError(
                        f"{path}: exported with a static batch of {value.shape[0]}; re-export with "
                        "dynamic_shapes={'x': {0: torch.export.Dim('batch')}} so any batch runs")
                return tuple(int(s) for s in value.shape[1:])
    return None


def load_teacher(path: str | Path, arch: str | None = None, trust: bool = False,
                 input_shape: tuple[int, int, int] | None = None) -> LoadedModel:
    """Load, freeze (eval, no grads) and check a teacher in any accepted format."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"teacher checkpoint not found: {path}")
    sha = file_sha256(path)
    fmt = archive_kind(path)
    if fmt == "torchscript":
        module = load_torchscript(path, trust=trust)
    elif fmt == "torch_export":
        program = load_exported_program(path, trust=trust)
        module = program.module()
        input_shape = _export_input_shape(program, path) or input_shape
    else:
        try:
            obj = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - torch raises many types for corrupt files
            if not holds_pickled_objects(exc):  # garbage bytes, not a pickled object
                raise CheckpointError(f"{path}: not a readable PyTorch checkpoint ({load_error(exc)})") from None
            if not trust:
                raise CheckpointError(
                    f"{path} is a pickled Python object (e.g. a whole model), which can run "
                    "arbitrary code when loaded; re-save it as a state_dict, or pass "
                    "--trust-checkpoint if you trust its source") from None
            obj = torch.load(path, map_location="cpu", weights_only=False)
        if is_project_checkpoint(obj):
            return from_checkpoint(ProjectCheckpoint.from_payload(obj, path), sha, path)
        if isinstance(obj, nn.Module):
            fmt, module = "pickle", obj
        elif isinstance(obj, dict):
            fmt, module = "state_dict", _from_state_dict(obj, arch, path)
        else:
            raise CheckpointError(f"{path}: holds a {type(obj).__name__}, not a model or state_dict")
    module = freeze(module, path)
    contract = getattr(module, "contract", None)
    if not isinstance(contract, InputContract):
        contract = _contract_for_external(module, arch if fmt == "state_dict" else None, input_shape, path)
    check_teacher(module, contract, path)
    return LoadedModel(module, contract, fmt, sha, arch)


def teacher_hints(student_meta: dict) -> dict:
    """How distill read the teacher a student records in its ``meta``, as ``load_teacher``'s keyword
    arguments: the architecture of a plain state_dict, and the input shape (used by formats without one)."""
    shape = student_meta.get("teacher_input_shape")
    return {"arch": student_meta.get("teacher_arch") if student_meta.get("teacher_format") == "state_dict" else None,
            "input_shape": tuple(shape) if isinstance(shape, list) and len(shape) == 3 else None}
